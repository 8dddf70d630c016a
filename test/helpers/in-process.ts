/**
 * Runs one collector's Metric class in-process against its sources (usually a recording served by
 * `serveRecording`, its URLs given through the collector's variables), and gives back what it
 * wrote as typed points, its log lines and its run report. Now a thin front of the SDK's harness,
 * `collectPoints` (src/lib/sdk/testing.ts), which new tests use directly (it also replays a
 * recording in-process with `fixtures`).
 */
import type { Metric, MetricOptions } from '../../src/lib/sdk/index.js';
import { collectPoints, type Collection } from '../../src/lib/sdk/testing.js';
import { type ParsedPoint, parseLines } from './line-protocol.js';

export type InProcessRun = Collection;

/** `now`: the collection time (RFC 3339), so ages and points' times are fixed; default: the time of the call. */
export async function runInProcess(
  MetricClass: new (options: MetricOptions) => Metric,
  name: string,
  opts: { env?: Record<string, string | undefined>; now?: string } = {},
): Promise<InProcessRun> {
  return collectPoints(MetricClass, { name, env: opts.env ?? {}, now: opts.now ?? new Date() });
}

/**
 * `bin/metrics run <name> --dry-run --format lp --now <now> [--replay <dir>]` as a separate
 * process, as a user runs it (with `replay`: offline, the HTTP answers from that recording): its
 * exit code, the points it printed (`parseLines`), and its output.
 */
export async function runDryRun(
  name: string,
  opts: { env?: Record<string, string>; now: string; stateDir: string; replay?: string },
): Promise<{ code: number | null; points: ParsedPoint[]; stderr: string; stdout: string }> {
  const { runCli } = await import('./servers.js');
  const replay = opts.replay ? ['--replay', opts.replay] : [];
  const r = await runCli(['run', name, '--dry-run', '--format', 'lp', '--now', opts.now, ...replay], {
    env: { STATE_DIRECTORY: opts.stateDir, ...opts.env },
  });
  return { code: r.code, points: parseLines(r.stdout), stderr: r.stderr, stdout: r.stdout };
}
