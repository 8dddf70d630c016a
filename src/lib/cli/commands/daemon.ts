/**
 * `metrics daemon [names..]`: run the collectors on their schedules in the foreground, for hosts
 * without systemd. Light at import: daemon.js loads in the handler.
 *
 * `--dry-run`: the same schedules, each run a `metrics run <name> --dry-run`, whose points are
 * printed (nothing is written to InfluxDB or the outbox, no lock is taken, no run recorded), for
 * watching a collector while writing it. The first runs start at once (the last recorded runs are
 * not continued), and a run command of METRICS_RUN_COMMAND is not used.
 */
import type { CommandModule } from 'yargs';
import { settings } from '../context.js';

interface Args {
  names: string[];
  'max-concurrent': number;
  jitter: string;
  grace: string;
  'run-command'?: string;
  verbose: boolean;
  'dry-run': boolean;
  format: 'text' | 'lp';
}

export const command: CommandModule<object, Args> = {
  command: 'daemon [names..]',
  describe: 'run the collectors on their schedules in the foreground (for hosts without systemd); stops on SIGTERM/SIGINT',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, default: [], describe: 'collectors to schedule (default: all)' })
      .option('max-concurrent', { type: 'number', default: 4, describe: 'at most this many collector runs at once' })
      .option('jitter', { type: 'string', default: '0', describe: 'random delay before each run, up to this time span (e.g. 10s)' })
      .option('grace', {
        type: 'string',
        default: '30s',
        describe: 'on SIGTERM/SIGINT, how long running collectors may take to finish before they are killed',
      })
      .option('run-command', {
        type: 'string',
        describe:
          'command that runs one collector, the name is appended (an executable path, or a JSON array of argv); default: node ' +
          'bin/metrics run. Also $METRICS_RUN_COMMAND',
      })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show debug lines (of the runs too, with --dry-run)' })
      .option('dry-run', {
        alias: 'n',
        type: 'boolean',
        default: false,
        describe: 'print the points of every run instead of writing them (metrics run --dry-run on the schedules); needs no configuration',
      })
      .option('format', {
        choices: ['text', 'lp'] as const,
        default: 'text' as const,
        describe: 'with --dry-run: readable text, or lp for the exact line protocol',
      })
      .example('$0 daemon', 'run every collector on its RUN_INTERVAL until stopped')
      .example('$0 daemon weather --dry-run', 'watch the points of the weather collector, run on its schedule, until Ctrl-C')
      .example('$0 daemon system disk --max-concurrent 1 --jitter 5s', 'two collectors, one at a time')
      .epilog(
        'Each run is a fresh `metrics run <name>` process. Time spans count from the end of the previous run of the collector, ' +
          'cron expressions are evaluated in UTC, a collector never overlaps itself, and a line is logged per run. Exit code 0 after ' +
          'SIGTERM/SIGINT.',
      ) as never,
  handler: async (args) => {
    const { runDaemon } = await import('../../schedule/daemon.js');
    const { discoverCollectors } = await import('../../run/discovery.js');
    const { readLastRun } = await import('../../platform/state.js');
    const { parseTimespan, USEC_INFINITY } = await import('../../schedule/timespan.js');
    const { UsageError } = await import('../../platform/errors.js');
    const { createLogger } = await import('../../platform/log.js');

    const { MAX_TIMER_SECONDS, parseRunCommand } = await import('../../platform/settings.js');
    const { run, state } = settings();
    const duration = (option: string, value: string): number => {
      const r = parseTimespan(value);
      if (!r.ok || r.usec === USEC_INFINITY)
        throw new UsageError(`--${option} ${JSON.stringify(value)} is not a time span such as 0, 500ms, 10s, 2min`);
      // one Node.js timer waits at most 2^31-1 ms: a longer wait would be cut short
      if (r.usec > BigInt(MAX_TIMER_SECONDS) * 1_000_000n) {
        throw new UsageError(
          `--${option} ${JSON.stringify(value)} is out of range: it must be a time span from 0 to ${MAX_TIMER_SECONDS}s (about 24.8 days)`,
        );
      }
      return Number(r.usec) / 1000;
    };
    const maxConcurrent = args['max-concurrent'];
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
      throw new UsageError(`--max-concurrent must be a whole number ≥ 1, got ${maxConcurrent}`);
    const jitterMs = duration('jitter', args.jitter);
    const graceMs = duration('grace', args.grace);

    const dryRun = args['dry-run'];
    if (dryRun && args['run-command'] !== undefined)
      throw new UsageError('--dry-run runs "metrics run <name> --dry-run": it cannot be combined with --run-command');
    if (!dryRun && args.format !== 'text') throw new UsageError('--format is for --dry-run: without it, points are written, not printed');

    // --run-command, else METRICS_RUN_COMMAND (the settings parsed it with the same rule)
    let command = run.runCommand && !dryRun ? [...run.runCommand] : undefined;
    if (dryRun) {
      const { repoRoot } = await import('../../platform/paths.js');
      const { join } = await import('node:path');
      command = [process.execPath, join(repoRoot, 'bin', 'metrics'), 'run', '--dry-run', '--format', args.format];
      if (args.verbose) command.push('--verbose');
    }
    const raw = args['run-command'];
    if (raw !== undefined) {
      const r = raw ? parseRunCommand('--run-command', raw) : undefined;
      if (r && !r.ok) throw new UsageError(r.problem);
      command = r?.value;
    }

    let collectors = await discoverCollectors(run, { cheap: true });
    const names: string[] = args.names ?? [];
    if (names.length) {
      const known = new Set(collectors.map((c) => c.name));
      const unknown = names.filter((n) => !known.has(n));
      if (unknown.length)
        throw new UsageError(`no collector named ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${[...known].join(', ') || 'none'})`);
      collectors = collectors.filter((c) => names.includes(c.name));
    } else {
      collectors = collectors.filter((c) => !c.disabled);
    }
    const log = createLogger({ verbose: args.verbose, scope: 'daemon' });
    if (dryRun) log.info('dry run: every run prints its points; nothing is written');
    process.exitCode = await runDaemon({
      collectors,
      maxConcurrent,
      jitterMs,
      graceMs,
      ...(command ? { command } : {}),
      log,
      ...(dryRun
        ? {}
        : {
            lastRunEnd: async (name: string) => {
              const last = await readLastRun(name, state.dir);
              return last && !Number.isNaN(Date.parse(last.end)) ? new Date(last.end) : undefined;
            },
          }),
    });
  },
};
