/**
 * Runs one collector's Metric class in-process against recordings (the `--record` / `--replay`
 * fixture format), offline, through the SDK's harness (`collectPoints`): a request not in the
 * recording fails the collector, naming it. Plus the tests' way of spelling expected points.
 */
import type { MetricOptions, RunReport } from '../../src/lib/sdk/index.js';
import { type Collection, collectPoints, type MetricClass, type ParsedPoint } from '../../src/lib/sdk/testing.js';

/** 2026-12-02T12:00:00Z in ns: the collection time of the recorded runs unless told otherwise */
export const NOW_NS = `${Date.UTC(2026, 11, 2, 12)}000000`;

/** Runs `Class` with `env`, its HTTP requests answered from `fixtures` (none: they go out), at `opts.now` (ns). */
export function runRecorded(
  Class: new (options: MetricOptions) => { run(): Promise<RunReport> },
  fixtures: string | string[] | undefined,
  env: Record<string, string> = {},
  opts: { now?: string } = {},
): Promise<Collection> {
  const now = new Date(Number(BigInt(opts.now ?? NOW_NS) / 1_000_000n));
  return collectPoints(Class as MetricClass, { env, now, name: 'test', ...(fixtures === undefined ? {} : { fixtures }) });
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
