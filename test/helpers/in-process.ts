/**
 * Runs one collector's Metric class in-process against its sources (usually a recording served by
 * `serveRecording`, its URLs given through the collector's variables), and gives back what it
 * wrote as typed points (`parseLines`), its log lines and its run report. A stopgap for the SDK's
 * `collectPoints` harness: the same shape of answer (`points`, `lines`, `logs`, `errors`).
 */
import type { Metric, MetricOptions, RunReport } from '../../src/lib/sdk/index.js';
import { parseLines, type ParsedPoint } from './line-protocol.js';
import { CaptureSink, captureLogger } from './metric.js';

export interface InProcessRun {
  report: RunReport;
  points: ParsedPoint[];
  lines: string[];
  logs: string[];
  /** the run's error, or an empty list */
  errors: string[];
}

/** `now`: the collection time (RFC 3339), so ages and points' times are fixed. */
export async function runInProcess(
  MetricClass: new (options: MetricOptions) => Metric,
  name: string,
  opts: { env?: Record<string, string | undefined>; now?: string } = {},
): Promise<InProcessRun> {
  const sink = new CaptureSink();
  const { log, lines: logs } = captureLogger(name);
  const collectionTime = opts.now === undefined ? undefined : `${BigInt(Date.parse(opts.now)) * 1_000_000n}`;
  const m = new MetricClass({ collector: name, sink, log, env: opts.env ?? {}, ...(collectionTime ? { collectionTime } : {}) });
  const report = await m.run();
  return { report, points: parseLines(sink.lines.join('\n')), lines: sink.lines, logs, errors: report.error ? [report.error] : [] };
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
