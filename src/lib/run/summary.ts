/**
 * The end of a `metrics run` as a person and a shell see it: the summary lines on stderr and the
 * exit code (platform/exit.ts).
 */
import { EXIT } from '../platform/exit.js';
import { writeStderr } from '../platform/redact.js';
import type { RunReport } from './contract.js';

/** What the summary and the exit code read of each collector's outcome. */
export type SummaryRow = RunReport & { busy?: string };

/** The summary on stderr: one line per collector (status, points, where they went, time), and its error. */
export function printSummary(reports: SummaryRow[], dryRun: boolean): void {
  const width = Math.max(...reports.map((r) => r.collector.length), 9);
  const lines = [dryRun ? 'summary (dry-run: nothing was written):' : 'summary:'];
  for (const r of reports) {
    const status = r.busy ? 'SKIPPED' : !r.ok ? 'FAILED' : r.deferred > 0 ? 'DEFERRED' : 'ok';
    const per = Object.entries(r.measurements)
      .map(([m, n]) => `${m} ${n}`)
      .join(', ');
    let what: string;
    if (r.busy) what = r.busy;
    else if (dryRun) what = `${r.points} points${per ? ` (${per})` : ''}`;
    else {
      what = `${r.points} points${per ? ` (${per})` : ''}: ${r.written} written`;
      if (r.deferred) what += `, ${r.deferred} to the outbox`;
      if (r.rejected) what += `, ${r.rejected} rejected`;
      if (r.lost) what += `, ${r.lost} LOST`;
    }
    lines.push(`  ${r.collector.padEnd(width)}  ${status.padEnd(8)}  ${what}  ${(r.durationMs / 1000).toFixed(2)} s`);
    if (r.error && (!r.ok || r.deferred)) lines.push(`  ${''.padEnd(width)}  ${''.padEnd(8)}  ${r.error.split('\n')[0]}`);
  }
  writeStderr(lines.join('\n') + '\n');
}

/** The exit code of a run: a failure wins, then deferred points, then a skipped (busy) collector. */
export function exitCode(reports: SummaryRow[]): number {
  return reports.some((r) => !r.ok && !r.busy)
    ? EXIT.FAILED
    : reports.some((r) => r.deferred > 0)
      ? EXIT.DEFERRED
      : reports.some((r) => r.busy)
        ? EXIT.BUSY
        : EXIT.OK;
}
