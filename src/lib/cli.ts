/**
 * `bin/metrics`: the command line. Each command lives in its own module under commands/ and loads
 * what it needs when it runs, so that a plain `metrics run <collector>` starts fast.
 */
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { ConfigError, UsageError, errorMessage } from './errors.js';
import { EXIT } from './exit.js';
import { redact } from './redact.js';
import { command as listCommand } from './commands/list.js';
import { command as runCommand } from './commands/run.js';
import { command as checkCommand } from './commands/check.js';
import { command as outboxCommand } from './commands/outbox.js';
import { command as eventCommand } from './commands/event.js';
import { command as logrotateCommand } from './commands/logrotate.js';

export const EPILOG = `Exit codes: ${EXIT.OK} ok; ${EXIT.FAILED} a collector failed; ${EXIT.USAGE} usage or configuration error; ${EXIT.DEFERRED} collected, but InfluxDB was unavailable and the points wait in the outbox; ${EXIT.BUSY} skipped, another run of the collector holds its lock.`;

export function buildCli(argv: string[], scriptName = 'metrics'): Argv {
  return yargs(argv)
    .scriptName(scriptName)
    .usage('$0 <command> [options]\n\nCollect metrics and write them to InfluxDB.')
    .command(listCommand)
    .command(runCommand)
    .command(checkCommand)
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
      if (err) throw err;
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
    if (error instanceof HandledError) return;
    if (error instanceof UsageError) {
      process.stderr.write(redact(`error: ${error.message}`) + '\n');
      if (!(error instanceof ConfigError)) process.stderr.write('Run with --help for usage.\n');
      process.exitCode = EXIT.USAGE;
      return;
    }
    process.stderr.write(redact(`error: ${errorMessage(error)}`) + '\n');
    if (process.env.METRICS_DEBUG && error instanceof Error && error.stack) process.stderr.write(redact(error.stack) + '\n');
    process.exitCode = EXIT.FAILED;
  }
}
