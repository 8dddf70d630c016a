import type { Argv, CommandModule } from 'yargs';
import type { DryRunFormat } from '../../run/sink.js';
import { settings } from '../context.js';

export interface RunArgs {
  names?: string[];
  'dry-run': boolean;
  verbose: boolean;
  format: DryRunFormat;
  timeout?: number;
  now?: string;
  'allow-now'?: boolean;
  record?: string;
  replay?: string[];
}

/** The options of `metrics run`, shared with `bin/<collector>`. */
export function runOptions<T>(y: Argv<T>): Argv<T & RunArgs> {
  return y
    .option('dry-run', {
      alias: 'n',
      type: 'boolean',
      default: false,
      describe: 'print the points instead of writing them; needs no configuration',
    })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show debug lines' })
    .option('format', {
      choices: ['text', 'lp'] as const,
      default: 'text' as const,
      describe: 'dry-run output: readable text, or lp for the exact line protocol',
    })
    .option('timeout', {
      type: 'number',
      describe:
        'seconds one collector may take before it is aborted and reported failed, at most 2147483 (default: METRICS_TIMEOUT, else 600)',
    })
    .option('now', {
      type: 'string',
      describe:
        'the collection time ("now") of the collectors, as RFC 3339 (e.g. 2026-01-01T00:00:00Z), for a dry-run or a test ' +
        '(default: METRICS_NOW, else the time each starts)',
    })
    .option('allow-now', {
      type: 'boolean',
      default: false,
      describe: 'let --now / METRICS_NOW stamp points that are really written (back-filling): refused without it',
    })
    .option('record', {
      type: 'string',
      describe: 'save every HTTP answer the collectors fetch into this folder (a test fixture; secrets are never saved)',
    })
    .option('replay', {
      type: 'string',
      array: true,
      describe: 'answer the HTTP requests from this recording folder, offline (with --dry-run); a request not in it fails',
    }) as unknown as Argv<T & RunArgs>;
}

export async function runHandler(names: string[], args: RunArgs): Promise<void> {
  const { runCollectors } = await import('../../run/runner.js');
  if (args.timeout !== undefined && !(args.timeout > 0)) {
    const { UsageError } = await import('../../platform/errors.js');
    const { TIMEOUT_RULE } = await import('../../platform/settings.js');
    throw new UsageError(`--timeout must be ${TIMEOUT_RULE.description}`);
  }
  let now: string | undefined;
  if (args.now !== undefined) {
    const { RFC3339_RULE } = await import('../../platform/setting-rules.js');
    const checked = RFC3339_RULE.check('--now', args.now);
    if (!checked.ok) {
      const { UsageError } = await import('../../platform/errors.js');
      throw new UsageError(checked.problem);
    }
    now = checked.value;
  }
  process.exitCode = await runCollectors({
    settings: settings(),
    names,
    dryRun: args['dry-run'],
    verbose: args.verbose,
    format: args.format,
    timeoutSec: args.timeout,
    ...(now !== undefined ? { now } : {}),
    allowNow: args['allow-now'] ?? false,
    ...(args.record !== undefined ? { record: args.record } : {}),
    ...(args.replay?.length ? { replay: args.replay } : {}),
  });
}

export const command: CommandModule<object, RunArgs> = {
  command: 'run [names..]',
  describe: 'run collectors (all of them when none is named) and write their points to InfluxDB',
  builder: (y) =>
    runOptions(y.positional('names', { type: 'string', array: true, default: [], describe: 'collectors to run (see: metrics list)' }))
      .example('$0 run system --dry-run --verbose', 'show what the system collector would write')
      .example('$0 run sponsoring --dry-run --now 2026-01-01T00:00:00Z', 'what sponsoring would write at that time')
      .example('$0 run sponsoring --dry-run --record test/collectors/sponsoring/fixtures/recording', 'make a test fixture from a real run')
      .example('$0 run sponsoring --dry-run --replay test/collectors/sponsoring/fixtures/recording', 'run it again, offline')
      .example('$0 run', 'run every collector once and write to InfluxDB') as never,
  handler: (args) => runHandler(args.names ?? [], args),
};
