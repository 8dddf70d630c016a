/**
 * Runs one collector's Metric class in-process against recordings (the `--record` / `--replay`
 * fixture format) served over real HTTP by serveRecording: the collector's source variables are
 * pointed at the server, the points are captured as line protocol and read back typed.
 *
 * A stopgap for the SDK's testing harness (`collectPoints`): the same shape of result.
 */
import type { MetricOptions, RunReport } from '../../src/lib/sdk/index.js';
import { parseLines, type ParsedPoint } from './line-protocol.js';
import { captureLogger, CaptureSink } from './metric.js';
import { type RecordingServer, serveRecording } from './recording-server.js';

export interface RecordedRun {
  points: ParsedPoint[];
  lines: string[];
  logs: string[];
  report: RunReport;
  /** the requests the server saw that were not in the recording */
  unmatched: string[];
  requests: string[];
}

/** 2026-12-02T12:00:00Z in ns: the collection time of the recorded runs unless told otherwise */
export const NOW_NS = `${Date.UTC(2026, 11, 2, 12)}000000`;

export async function runRecorded(
  MetricClass: new (options: MetricOptions) => { run(): Promise<RunReport> },
  fixtures: string | string[],
  env: (server: RecordingServer) => Record<string, string>,
  opts: { now?: string } = {},
): Promise<RecordedRun> {
  const server = await serveRecording(fixtures);
  try {
    const sink = new CaptureSink();
    const { log, lines: logs } = captureLogger();
    const report = await new MetricClass({ sink, log, env: env(server), collectionTime: opts.now ?? NOW_NS, collector: 'test' }).run();
    return {
      points: parseLines(sink.lines.join('\n')),
      lines: sink.lines,
      logs,
      report,
      unmatched: [...server.unmatched],
      requests: [...server.requests],
    };
  } finally {
    await server.close();
  }
}

/** A point as the tests spell it: integers as `42n`-free `{ i: 42 }`, floats as numbers. */
export type Expected = [
  measurement: string,
  tags: Record<string, string>,
  fields: Record<string, { i: number } | number | boolean | string>,
];

/** The expected points in ParsedPoint form (time left out): `{ i: n }` is an integer, a number a float. */
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
