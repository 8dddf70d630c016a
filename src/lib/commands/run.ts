import type { CommandModule } from 'yargs';
import type { DryRunFormat } from '../sink.js';

interface Args {
  names: string[];
  'dry-run': boolean;
  verbose: boolean;
  format: DryRunFormat;
  timeout?: number;
}

export const command: CommandModule<object, Args> = {
  command: 'run [names..]',
  describe: 'run collectors (all of them when none is named) and write their points to InfluxDB',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, default: [], describe: 'collectors to run (see: metrics list)' })
      .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'print the points instead of writing them; needs no configuration' })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show debug lines' })
      .option('format', {
        choices: ['text', 'lp'] as const,
        default: 'text' as const,
        describe: 'dry-run output: readable text, or lp for the exact line protocol',
      })
      .option('timeout', {
        type: 'number',
        describe: 'seconds one collector may take before it is aborted and reported failed (default: METRICS_TIMEOUT, else 600)',
      })
      .example('$0 run system --dry-run --verbose', 'show what the system collector would write')
      .example('$0 run', 'run every collector once and write to InfluxDB') as never,
  handler: async (args) => {
    const { runCollectors } = await import('../runner.js');
    process.exitCode = await runCollectors({
      names: args.names ?? [],
      dryRun: args['dry-run'],
      verbose: args.verbose,
      format: args.format,
      timeoutSec: args.timeout,
    });
  },
};
