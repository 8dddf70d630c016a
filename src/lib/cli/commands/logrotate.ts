/**
 * `metrics logrotate install`: write the logrotate configuration of the metrics log and enable
 * logrotate.timer; `metrics logrotate print`: show the configuration without installing it.
 */
import type { Argv, CommandModule } from 'yargs';
import { settings } from '../context.js';

interface Args {
  'config-dir': string;
  systemctl: string;
  'log-path'?: string;
  rotate: number;
  frequency: string;
  maxsize?: string;
  name: string;
}

function options(y: Argv, withInstall: boolean): Argv<Args> {
  let a = y
    .option('log-path', { type: 'string', describe: 'the metrics log to rotate (default: $METRICS_LOG_PATH)' })
    .option('rotate', {
      type: 'number',
      default: 0,
      describe: 'rotated files to keep; 0 removes them at once, so Promtail never ships a rotated log twice',
    })
    .option('frequency', { choices: ['daily', 'weekly', 'monthly', 'yearly'], default: 'daily', describe: 'how often to rotate' })
    .option('maxsize', { type: 'string', describe: 'also rotate when larger than this (e.g. 100M)' });
  if (withInstall) {
    a = a
      .option('config-dir', { type: 'string', default: '/etc/logrotate.d', describe: 'where logrotate reads configuration files' })
      .option('name', { type: 'string', default: 'metrics-events', describe: 'the configuration file name' })
      .option('systemctl', { type: 'string', default: 'systemctl', describe: 'the systemctl binary that enables logrotate.timer' });
  }
  return a as unknown as Argv<Args>;
}

async function resolveArgs(args: Args) {
  const { UsageError } = await import('../../platform/errors.js');
  const logPath = args['log-path'] || settings().events.logPath;
  if (!logPath) throw new UsageError('no metrics log: pass --log-path FILE or set METRICS_LOG_PATH');
  if (!Number.isSafeInteger(args.rotate) || args.rotate < 0)
    throw new UsageError(`--rotate must be a whole number >= 0, got ${args.rotate}`);
  const { logrotateConfig } = await import('../../events/logrotate.js');
  const opts = { logPath, rotate: args.rotate, frequency: args.frequency as 'daily', maxSize: args.maxsize };
  try {
    logrotateConfig(opts);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return opts;
}

const install: CommandModule<object, Args> = {
  command: 'install',
  describe: 'write the logrotate configuration of the metrics log and enable logrotate.timer (systemctl enable --now)',
  builder: (y) =>
    options(y, true)
      .example('$0 logrotate install --log-path /var/log/metrics-events.log', 'install /etc/logrotate.d/metrics-events')
      .epilogue(
        'The log is rotated by renaming (nocreate, never copytruncate): each event is a separate append, so no line is lost. Exit ' +
          'codes: 0 installed; 1 writing the file or systemctl failed; 2 usage error.',
      ) as never,
  handler: async (args) => {
    const opts = await resolveArgs(args);
    const { installLogrotate, LogrotateSetupError } = await import('../../events/logrotate.js');
    const { EXIT } = await import('../../platform/exit.js');
    try {
      const { configPath } = await installLogrotate({ ...opts, configDir: args['config-dir'], name: args.name, systemctl: args.systemctl });
      process.stdout.write(`wrote ${configPath} (rotating ${opts.logPath}) and enabled logrotate.timer\n`);
    } catch (error) {
      if (!(error instanceof LogrotateSetupError)) throw error;
      process.stderr.write(`error: ${error.name}: ${error.message}\n`);
      process.exitCode = EXIT.FAILED;
    }
  },
};

const print: CommandModule<object, Args> = {
  command: 'print',
  describe: 'print the logrotate configuration of the metrics log (install nothing)',
  builder: (y) => options(y, false) as never,
  handler: async (args) => {
    const opts = await resolveArgs(args);
    const { logrotateConfig } = await import('../../events/logrotate.js');
    process.stdout.write(logrotateConfig(opts));
  },
};

export const command: CommandModule<object, object> = {
  command: 'logrotate',
  describe: 'set up logrotate for the metrics log (install, print)',
  builder: (y) => y.command(install).command(print).demandCommand(1, 'name an action: install or print') as never,
  handler: () => undefined,
};
