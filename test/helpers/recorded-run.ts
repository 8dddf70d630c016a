/**
 * Runs one collector's Metric class in-process against recordings (the `--record` / `--replay`
 * fixture format), offline: its requests are answered by the replay fetcher of `--replay` (a
 * request not in the recording fails the collector, naming it), the points are captured as line
 * protocol and read back typed.
 *
 * A stopgap for the SDK's testing harness (`collectPoints`): the same shape of result.
 */
import { ReplayFetcher } from '../../src/lib/platform/recording.js';
import type { MetricOptions, RunReport } from '../../src/lib/sdk/index.js';
import { parseLines, type ParsedPoint } from './line-protocol.js';
import { captureLogger, CaptureSink } from './metric.js';

export interface RecordedRun {
  points: ParsedPoint[];
  lines: string[];
  logs: string[];
  report: RunReport;
}

/** 2026-12-02T12:00:00Z in ns: the collection time of the recorded runs unless told otherwise */
export const NOW_NS = `${Date.UTC(2026, 11, 2, 12)}000000`;

/** Runs `MetricClass` with `env`, its HTTP requests answered from `fixtures` (none: the network). */
export async function runRecorded(
  MetricClass: new (options: MetricOptions) => { run(): Promise<RunReport> },
  fixtures: string | string[] | undefined,
  env: Record<string, string> = {},
  opts: { now?: string } = {},
): Promise<RecordedRun> {
  const sink = new CaptureSink();
  const { log, lines: logs } = captureLogger();
  const fetcher = fixtures === undefined ? undefined : await ReplayFetcher.open(fixtures);
  const report = await new MetricClass({
    sink,
    log,
    env,
    collectionTime: opts.now ?? NOW_NS,
    collector: 'test',
    ...(fetcher ? { fetcher } : {}),
  }).run();
  return { points: parseLines(sink.lines.join('\n')), lines: sink.lines, logs, report };
}

/** A point as the tests spell it: `{ i: 42 }` is an integer, a number a float, then booleans and strings. */
export type Expected = [
  measurement: string,
  tags: Record<string, string>,
  fields: Record<string, { i: number } | number | boolean | string>,
];

/** The expected points in ParsedPoint form (time left out). */
export function expectPoints(expected: Expected[]): Omit<ParsedPoint, 'time'>[] {
  return expected.map(([measurement, tags, fields]) => ({
    measurement,
    tags,
    fields: Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [
        k,
        typeof v === 'object'
          ? { type: 'integer' as const, value: v.i }
          : typeof v === 'number'
            ? { type: 'float' as const, value: v }
            : typeof v === 'boolean'
              ? { type: 'boolean' as const, value: v }
              : { type: 'string' as const, value: v },
      ]),
    ),
  }));
}
