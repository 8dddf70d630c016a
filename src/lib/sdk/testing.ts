/**
 * The test harness of a collector: `collectPoints()` runs ONE collector in-process, as a dry-run
 * (no database, no outbox, no lock), against a recording of its sources (the `--record` format,
 * answered offline), at a fixed "now", and gives back what it wrote as typed points, with its log
 * lines and its errors. A separate entry of the SDK: the run path never loads it.
 *
 *     import { collectPoints } from '../../../src/lib/sdk/testing.js';
 *
 *     test('the recorded queue', async () => {
 *       const { points, errors } = await collectPoints('sponsoring', { fixtures: join(here, 'fixtures', 'recording') });
 *       assert.deepEqual(errors, []);
 *       assert.deepEqual(points[0], {
 *         measurement: 'sponsoring_queue_stats',
 *         tags: { report: 'sponsoring' },
 *         fields: { count: { type: 'integer', value: 5 }, ... },
 *         time: '1767225600000000000',
 *       });
 *     });
 *
 * Points a collector yielded before it failed are still returned (as a run delivers them), with
 * the failure in `errors`.
 */
import { monotonicMs } from '../platform/clock.js';
import { errorMessage } from '../platform/errors.js';
import type { Fetcher } from '../platform/fetcher.js';
import { createLogger } from '../platform/log.js';
import { builtCollectorsDir } from '../platform/paths.js';
import { parseRfc3339 } from '../platform/setting-rules.js';
import { parseLine, type ParsedPoint } from '../points/parse.js';
import type { MetricOptions, RunReport } from '../run/contract.js';
import { isRunReport } from '../run/runner.js';
import { emptyReport, type PointSink, type SinkReport } from '../run/sink.js';
import type { Metric } from './metric.js';

export type { FieldType, ParsedField, ParsedPoint } from '../points/parse.js';

/** The "now" of a harness run unless `now` is given: fixed, so that snapshots do not change. */
export const DEFAULT_TEST_NOW = '2026-01-01T00:00:00Z';

/** A collector's Metric class (as its module exports it). */
export type MetricClass = new (options: MetricOptions) => Metric;

export interface CollectOptions {
  /** the collector's variables (`this.env`); default: none (never the environment of the test process) */
  env?: Record<string, string | undefined>;
  /** the collection time (`this.now()`, and the time of points without one): RFC 3339 or a Date; default {@link DEFAULT_TEST_NOW} */
  now?: string | Date;
  /**
   * recording folders (`requests.json` and its bodies, as `--record` writes them) that answer the
   * collector's HTTP requests; a request not in them fails naming it. Without: requests go out
   * (to a local test server, through the collector's URL variables)
   */
  fixtures?: string | readonly string[];
  /** time limit of the run, ms (default 30 000): the collector's signal is aborted then */
  timeoutMs?: number;
  /** for a Metric class: the collector's name (default: the class name) */
  name?: string;
}

/** What a harness run gives back. */
export interface Collection {
  /** the points written, parsed, in order (fields with their line-protocol types; every point has a time) */
  points: ParsedPoint[];
  /** the same points as line protocol */
  lines: string[];
  /** every log line, debug included, as `level [collector] message` */
  logs: string[];
  /** the failure of the run (empty when it succeeded) */
  errors: string[];
  /** the run's report (counts, ok, duration) */
  report: RunReport;
}

/** Keeps the lines it is given; writes nothing. */
class KeepingSink implements PointSink {
  readonly lines: string[] = [];
  private readonly report: SinkReport = emptyReport();
  add(line: string, measurement: string): void {
    this.lines.push(line);
    this.report.points++;
    this.report.measurements[measurement] = (this.report.measurements[measurement] ?? 0) + 1;
  }
  async finish(): Promise<SinkReport> {
    return this.report;
  }
}

function nanosOf(now: string | Date): string {
  if (now instanceof Date) {
    if (Number.isNaN(now.getTime())) throw new Error('collectPoints: now is an invalid Date');
    return String(BigInt(now.getTime()) * 1_000_000n);
  }
  const ns = parseRfc3339(now);
  if (ns === undefined)
    throw new Error(`collectPoints: now ${JSON.stringify(now)} is not an RFC 3339 date and time such as ${DEFAULT_TEST_NOW}`);
  return ns;
}

async function runnerOf(nameOrClass: string | MetricClass): Promise<{ name?: string; run: (o: MetricOptions) => Promise<unknown> }> {
  if (typeof nameOrClass !== 'string') return { run: (o) => new nameOrClass(o).run() };
  const { discoverCollectors } = await import('../run/discovery.js');
  const all = await discoverCollectors({ collectorsDir: builtCollectorsDir, collectorsDirGiven: false }, { only: [nameOrClass] });
  const c = all.find((x) => x.name === nameOrClass);
  if (!c)
    throw new Error(`collectPoints: no collector "${nameOrClass}"; known collectors: ${all.map((x) => x.name).join(', ') || '(none)'}`);
  if (c.error || !c.module) throw new Error(`collectPoints: ${c.error ?? `collector "${c.name}" cannot be loaded`}`);
  const mod = c.module;
  return { name: c.name, run: (o) => mod.runMetric(o as Record<string, unknown>) };
}

/**
 * Runs one collector (its folder name, found as `metrics run` finds it, or its Metric class)
 * in-process as a dry-run, against `fixtures` (recordings), at `now`, with `env`; gives back its
 * points parsed, its lines, its log lines and its errors. A test's mistake (an unknown collector,
 * a folder that is not a recording, an invalid `now`) throws; the collector's failure does not: it
 * is in `errors`, with the points written before it.
 */
export async function collectPoints(nameOrClass: string | MetricClass, opts: CollectOptions = {}): Promise<Collection> {
  const collectionTime = nanosOf(opts.now ?? DEFAULT_TEST_NOW);
  let fetcher: Fetcher | undefined;
  if (opts.fixtures !== undefined) {
    const { ReplayFetcher } = await import('../platform/recording.js');
    fetcher = await ReplayFetcher.open(typeof opts.fixtures === 'string' ? [opts.fixtures] : opts.fixtures);
  }
  const runner = await runnerOf(nameOrClass);
  const name = opts.name ?? runner.name ?? (typeof nameOrClass === 'string' ? nameOrClass : nameOrClass.name);
  const logs: string[] = [];
  const log = createLogger({ verbose: true, scope: name, write: (line) => logs.push(line) });
  const sink = new KeepingSink();
  const controller = new AbortController();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const started = monotonicMs();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`time limit of ${timeoutMs} ms (collectPoints timeoutMs) exceeded: collection aborted`));
      // not unref'd: a collector awaiting a promise that never settles holds nothing else open
      setTimeout(() => resolve('timeout'), 1000);
    }, timeoutMs);
  });
  const options: MetricOptions = {
    collector: name,
    dryRun: true,
    verbose: true,
    format: 'lp',
    log,
    sink,
    signal: controller.signal,
    collectionTime,
    env: { ...opts.env },
    ...(fetcher ? { fetcher } : {}),
  };
  let report: RunReport;
  const failed = async (error: string): Promise<RunReport> => ({
    ...(await sink.finish()),
    collector: name,
    ok: false,
    error,
    durationMs: monotonicMs() - started,
  });
  try {
    const result = await Promise.race([runner.run(options), timeout]);
    if (result === 'timeout') report = await failed(`collector "${name}": time limit of ${timeoutMs} ms exceeded and it did not stop`);
    else if (isRunReport(result)) report = result;
    else report = await failed(`collector "${name}": runMetric() must return the result of run() (return new MyMetric(options).run())`);
  } catch (error) {
    report = await failed(`collector "${name}" crashed: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
  }
  const errors = [...(report.error ? [report.error] : []), ...report.errors.filter((e) => e !== report.error)];
  return { points: sink.lines.map(parseLine), lines: [...sink.lines], logs, errors, report };
}
