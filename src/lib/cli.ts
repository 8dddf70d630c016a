/**
 * `bin/metrics`: the command line. Each command lives in its own module under commands/ and loads
 * what it needs when it runs, so that a plain `metrics run <collector>` starts fast.
 */
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { EXIT } from './exit.js';
import { reportError } from './main.js';
import { command as listCommand } from './commands/list.js';
import { command as runCommand, runHandler, runOptions } from './commands/run.js';
import { command as checkCommand } from './commands/check.js';
import { command as outboxCommand } from './commands/outbox.js';
import { command as eventCommand } from './commands/event.js';
import { command as logrotateCommand } from './commands/logrotate.js';
import { command as scheduleCommand } from './commands/schedule.js';
import { command as systemdCommand } from './commands/systemd.js';
import { command as daemonCommand } from './commands/daemon.js';

export const EPILOG = `Exit codes: ${EXIT.OK} ok; ${EXIT.FAILED} a collector failed; ${EXIT.USAGE} usage or configuration error; ${EXIT.DEFERRED} collected, but InfluxDB was unavailable and the points wait in the outbox; ${EXIT.BUSY} skipped, another run of the collector holds its lock.`;

export function buildCli(argv: string[], scriptName = 'metrics'): Argv {
  return yargs(argv)
    .scriptName(scriptName)
    .usage('$0 <command> [options]\n\nCollect metrics and write them to InfluxDB.')
    .command(listCommand)
    .command(runCommand)
    .command(checkCommand)
    .command(scheduleCommand)
    .command(systemdCommand)
    .command(daemonCommand)
    .command(outboxCommand)
    .command(eventCommand)
    .command(logrotateCommand)
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err, y) => {
      if (err && err.name !== 'YError') throw err;
      void y;
      process.stderr.write(`error: ${msg}\nRun with --help for usage.\n`);
      process.exitCode = EXIT.USAGE;
      throw new HandledError();
    });
}

class HandledError extends Error {}

export async function main(argv: string[], scriptName?: string): Promise<void> {
  try {
    await buildCli(argv, scriptName).parseAsync();
  } catch (error) {
    if (error instanceof HandledError) {
      process.exitCode = EXIT.USAGE;
      return;
    }
    reportError(error);
  }
}

/** `bin/<collector>`: the same as `metrics run <collector>`, with the same options and no names. */
export async function collectorMain(name: string, argv: string[]): Promise<void> {
  try {
    await runOptions(yargs(argv))
      .scriptName(name)
      .usage(`$0 [options]\n\nRun the ${name} collector once: the same as "metrics run ${name}".`)
      .example('$0 --dry-run --verbose', `show what ${name} would write, without writing it`)
      .strict()
      .help()
      .alias('h', 'help')
      .version(false)
      .epilog(EPILOG)
      .fail((msg, err) => {
        if (err && err.name !== 'YError') throw err;
        process.stderr.write(`error: ${msg}\nRun with --help for usage.\n`);
        process.exitCode = EXIT.USAGE;
        throw new HandledError();
      })
      .command('$0', false, () => {}, (args) => runHandler([name], args))
      .parseAsync();
  } catch (error) {
    if (error instanceof HandledError) {
      process.exitCode = EXIT.USAGE;
      return;
    }
    reportError(error);
  }
}
