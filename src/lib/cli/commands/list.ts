/**
 * `metrics list [--json]`: the collectors with their schedule and next run, broken folders with
 * their error. A plain `list` is run by the entry point without yargs (main.ts), through
 * `listCollectors`; names and intervals come from the build's manifest (run/manifest.ts).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { writeStdout } from '../../platform/redact.js';
import type { Settings } from '../../platform/settings.js';
import { settings } from '../context.js';

export const command: CommandModule<object, { json: boolean }> = {
  command: 'list',
  describe: 'list the collectors with their schedule and next run (broken folders with their error)',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as never,
  handler: (args) => listCollectors(args, settings()),
};

/** Prints the list (exit code 1 when a folder is broken). */
export async function listCollectors(args: { json: boolean }, given: Pick<Settings, 'run' | 'state'>): Promise<void> {
  const { discoverCollectors } = await import('../../run/discovery.js');
  const { describeNextRun } = await import('../../schedule/schedule.js');
  const { readLastRun } = await import('../../platform/state.js');
  const { EXIT } = await import('../../platform/exit.js');
  const now = new Date();
  const { run, state } = given;
  const collectors = await discoverCollectors(run, { cheap: true });
  // one look at the runs folder instead of one failed open per collector that never ran here
  const recorded = runRecords(state.dir);
  const rows = await Promise.all(
    collectors.map(async (c) => {
      const last = !recorded || recorded.has(`${c.name}.json`) ? await readLastRun(c.name, state.dir) : undefined;
      const next = c.error ? undefined : await describeNextRun(c, now, last ? new Date(last.end) : undefined);
      return {
        name: c.name,
        interval: c.runInterval,
        schedule: next?.schedule ?? c.runInterval,
        next: next?.next?.toISOString(),
        basis: next?.basis,
        lastRun: last,
        error: c.error ?? next?.error,
        disabled: c.disabled === true,
      };
    }),
  );
  if (args.json) {
    writeStdout(JSON.stringify(rows, null, 2) + '\n');
  } else {
    const w = Math.max(4, ...rows.map((r) => r.name.length));
    const s = Math.max(8, ...rows.map((r) => r.schedule.length));
    const out = [`${'NAME'.padEnd(w)}  ${'SCHEDULE'.padEnd(s)}  ${'NEXT RUN (UTC)'.padEnd(20)}  STATUS`];
    for (const r of rows) {
      const next = r.next ? r.next.replace('T', ' ').replace(/\.\d+Z$/, '') : '-';
      const status = r.disabled
        ? 'disabled (METRICS_DISABLE)'
        : r.error
          ? `BROKEN: ${r.error}`
          : r.lastRun
            ? `last run ${r.lastRun.success ? 'ok' : 'FAILED'} at ${r.lastRun.end}`
            : 'ok';
      out.push(`${r.name.padEnd(w)}  ${r.schedule.padEnd(s)}  ${next.padEnd(20)}  ${status}`);
    }
    writeStdout(out.join('\n') + '\n');
  }
  if (rows.some((r) => r.error && !r.disabled)) process.exitCode = EXIT.FAILED;
}

/** The file names in the state directory's runs/ folder; undefined when it cannot be listed (then each is tried). */
function runRecords(stateDir: string): Set<string> | undefined {
  try {
    return new Set(readdirSync(join(stateDir, 'runs')));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? new Set() : undefined;
  }
}
