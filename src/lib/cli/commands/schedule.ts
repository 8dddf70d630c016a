/**
 * `metrics schedule [name] --count N`: the next run times of the collectors.
 * Light at import: schedule.js (and cron-parser, when needed) load in the handler.
 */
import type { CommandModule } from 'yargs';
import { settings } from '../context.js';

interface Args {
  name?: string;
  count: number;
  json: boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'schedule [name]',
  describe:
    'print the next run times of a collector (or of all): time spans count from the end of the last recorded run, cron expressions ' +
    'are evaluated in UTC',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'a collector (see: metrics list); all when omitted' })
      .option('count', { alias: 'c', type: 'number', default: 5, describe: 'how many run times to print (1-1000)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      .example('$0 schedule system --count 10', 'the next 10 runs of the system collector')
      .epilog(
        "RUN_INTERVAL is a systemd time span ('5m', '1h 30min': the next run starts that long after the previous one ended) " +
          "or a five-field cron expression in UTC ('*/15 * * * *', '0 6 * * mon-fri', '@daily').",
      ) as never,
  handler: async (args) => {
    const { discoverCollectors } = await import('../../run/discovery.js');
    const { readLastRun } = await import('../../platform/state.js');
    const { parseSchedule, nextRuns, describeSchedule } = await import('../../schedule/schedule.js');
    const { UsageError, errorMessage } = await import('../../platform/errors.js');
    const { EXIT } = await import('../../platform/exit.js');
    const count = args.count;
    if (!Number.isInteger(count) || count < 1 || count > 1000)
      throw new UsageError(`--count must be a whole number from 1 to 1000, got ${args.count}`);
    const { run, state } = settings();
    let collectors = await discoverCollectors(run, { cheap: true });
    if (args.name !== undefined) {
      collectors = collectors.filter((c) => c.name === args.name);
      if (!collectors.length) {
        const known = (await discoverCollectors(run, { cheap: true })).map((c) => c.name);
        throw new UsageError(`no collector named "${args.name}"${known.length ? ` (known: ${known.join(', ')})` : ''}`);
      }
    }
    const now = new Date();
    const rows: Array<{
      name: string;
      schedule: string;
      runInterval: string;
      lastRunEnd?: string;
      basis?: string;
      next: string[];
      error?: string;
    }> = [];
    for (const c of collectors) {
      if (c.error) {
        rows.push({ name: c.name, schedule: c.runInterval, runInterval: c.runInterval, next: [], error: c.error });
        continue;
      }
      try {
        const schedule = parseSchedule(c.runInterval, c.name);
        let lastEnd: Date | undefined;
        if (schedule.kind === 'timespan') {
          const last = await readLastRun(c.name, state.dir);
          if (last && !Number.isNaN(Date.parse(last.end))) lastEnd = new Date(last.end);
        }
        rows.push({
          name: c.name,
          schedule: describeSchedule(schedule),
          runInterval: c.runInterval,
          ...(lastEnd ? { lastRunEnd: lastEnd.toISOString() } : {}),
          basis:
            schedule.kind === 'cron'
              ? 'cron, UTC'
              : lastEnd
                ? `counted from the end of the last run, ${lastEnd.toISOString()}; later times assume the runs take no time`
                : 'no run recorded: due now (under systemd: 1min after boot, or when the timer is installed); later times assume the ' +
                  'runs take no time',
          next: nextRuns(schedule, count, now, lastEnd).map((d) => d.toISOString()),
        });
      } catch (error) {
        rows.push({ name: c.name, schedule: c.runInterval, runInterval: c.runInterval, next: [], error: errorMessage(error) });
      }
    }
    if (args.json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    } else {
      const lines: string[] = [];
      for (const r of rows) {
        if (r.error) {
          lines.push(`${r.name}: INVALID: ${r.error}`);
          continue;
        }
        lines.push(`${r.name}: ${r.schedule}`, `  ${r.basis}`);
        for (const t of r.next) lines.push(`  ${t}`);
      }
      if (!rows.length) lines.push('no collectors found');
      process.stdout.write(lines.join('\n') + '\n');
    }
    process.exitCode = rows.some((r) => r.error) ? EXIT.FAILED : EXIT.OK;
  },
};
