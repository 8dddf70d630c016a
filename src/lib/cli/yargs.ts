/**
 * `bin/metrics`: the command line, parsed by yargs (the fast path of main.ts hands everything it
 * does not know here). Each command lives in its own module under commands/ and loads
 * what it needs when it runs, so that a plain `metrics run <collector>` starts fast.
 */
import yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import { EXIT } from '../platform/exit.js';
import { loadedSettings } from './context.js';
import { reportError } from './report.js';
import { command as listCommand } from './commands/list.js';
import { command as runCommand, runHandler, runOptions } from './commands/run.js';
import { command as checkCommand } from './commands/check.js';
import { command as outboxCommand } from './commands/outbox.js';
import { command as eventCommand } from './commands/event.js';
import { command as logrotateCommand } from './commands/logrotate.js';
import { command as scheduleCommand } from './commands/schedule.js';
import { command as systemdCommand } from './commands/systemd.js';
import { command as daemonCommand } from './commands/daemon.js';
import { command as kubernetesCommand } from './commands/kubernetes.js';
import { command as grafanaCommand } from './commands/grafana.js';
import { newCommand } from './commands/new.js';
import { command as testCommand } from './commands/test.js';

export const EPILOG =
  `Exit codes: ${EXIT.OK} ok; ${EXIT.FAILED} a collector failed; ${EXIT.USAGE} usage or configuration error; ` +
  `${EXIT.DEFERRED} collected, but InfluxDB was unavailable and the points wait in the outbox; ${EXIT.BUSY} skipped, another run of ` +
  `the collector holds its lock.`;

/** What both command lines share: help, no version, exit codes, usage errors → exit 2. */
function common<T>(y: Argv<T>): Argv<T> {
  return y
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err && err.name !== 'YError') throw err;
      process.stderr.write(`error: ${msg}\nRun with --help for usage.\n`);
      throw new HandledError();
    });
}

/** The commands of `bin/metrics`, in the order --help lists them. */
const COMMANDS: readonly CommandModule<object, never>[] = [
  listCommand,
  runCommand,
  checkCommand,
  scheduleCommand,
  systemdCommand,
  daemonCommand,
  newCommand(() => commandNames()),
  testCommand,
  kubernetesCommand,
  grafanaCommand,
  outboxCommand,
  eventCommand,
  logrotateCommand,
] as never;

/** The names (and aliases) of the registered commands, e.g. for names a collector must not take. */
export function commandNames(): string[] {
  const names = new Set<string>(['metrics', 'help']);
  for (const c of COMMANDS) {
    const specs = [c.command ?? [], c.aliases ?? []].flat();
    for (const spec of specs) {
      const word = spec.trim().split(/\s+/)[0];
      if (word && word !== '$0' && /^[a-z]/i.test(word)) names.add(word);
    }
  }
  return [...names].sort();
}

export function buildCli(argv: string[], scriptName = 'metrics'): Argv {
  let y = yargs(argv).scriptName(scriptName).usage('$0 <command> [options]\n\nCollect metrics and write them to InfluxDB.');
  for (const c of COMMANDS) y = y.command(c);
  return common(y.demandCommand(1, 'name a command (see --help)').recommendCommands());
}

class HandledError extends Error {}

/** Parses and runs; a usage error was already printed (exit 2), anything else is reported. */
async function parse(cli: Argv): Promise<void> {
  try {
    await cli.parseAsync();
  } catch (error) {
    if (error instanceof HandledError) {
      // set here, after yargs: it sets its own exit code on a failed check
      process.exitCode = EXIT.USAGE;
      return;
    }
    reportError(error, loadedSettings()?.debug);
  }
}

export async function main(argv: string[], scriptName?: string): Promise<void> {
  await parse(buildCli(argv, scriptName));
}

/** `bin/<collector>`: the same as `metrics run <collector>`, with the same options and no names. */
export async function collectorMain(name: string, argv: string[]): Promise<void> {
  await parse(
    common(
      runOptions(yargs(argv))
        .scriptName(name)
        .usage(`$0 [options]\n\nRun the ${name} collector once: the same as "metrics run ${name}".`)
        .example('$0 --dry-run --verbose', `show what ${name} would write, without writing it`),
    ).command(
      '$0',
      false,
      () => {},
      (args) => runHandler([name], args),
    ),
  );
}
