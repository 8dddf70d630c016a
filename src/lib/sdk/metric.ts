/**
 * The Metric base class: a collector extends it and implements `collect()`; `run()` does the
 * rest (validate, stamp, serialize, write or print, log, clean up, report).
 *
 *     export class Weather extends Metric {
 *       async collect() {
 *         const data = await this.fetchJson<{ temp: number }>('https://example/api');
 *         return [{ measurement: 'weather', tags: { city: 'Oslo' }, fields: { temp: data.temp } }];
 *       }
 *     }
 */
import { monotonicMs, nextTurn } from '../platform/clock.js';
import { CollectorError, errorMessage } from '../platform/errors.js';
import { createLogger, type Logger } from '../platform/log.js';
import { Serializer, validatePoints } from '../points/line-protocol.js';
import { nowNanos, type CollectedPoint } from '../points/point.js';
import type { MetricOptions, RunReport } from '../run/contract.js';
import { DryRunSink, emptyReport, type PointSink, type SinkReport } from '../run/sink.js';
import type { AcceptingFetchOptions, FetchedResponse, FetchOptions } from './fetch.js';

/**
 * What `collect()` returns: an array, any iterable, or an async iterable of points (each a
 * `PointObject` or a `Point` of `@influxdata/influxdb-client`). An async generator streams millions
 * of points in batches without holding them in memory. An async generator may also yield arrays
 * of points: each array is taken as that many points, in order, with one `await` per array
 * instead of one per point (the generator's own cost, about 0.3 s per million points, then
 * mostly disappears). A point itself is never an array, so both may be mixed.
 */
export type Collected = Iterable<CollectedPoint> | AsyncIterable<CollectedPoint | readonly CollectedPoint[]>;

/**
 * Points added between two turns of the event loop. A collector whose generator computes its
 * points without waiting for I/O runs entirely in microtasks, which hold back everything the event
 * loop does: the request of a batch the sink handed over leaves the process only at the next turn
 * (its socket write is a nextTick, run once the microtasks are done), so without turns it would
 * wait until the sink makes the collector wait, a whole batch later; and the time limit's timer
 * could not fire. A turn costs microseconds: every 1000 points, well under 1% of their cost.
 */
const POINTS_PER_TURN = 1000;

/**
 * The base class of every collector. Extend it, implement {@link Metric.collect}, and return
 * `new MyMetric(options).run()` from the collector's `runMetric(options)`: the run validates the
 * points, stamps those without a time with the collection time, and writes them (or prints them
 * in a dry-run), logs, cleans up and reports.
 */
export abstract class Metric {
  /** The collector's name (its folder name; the class name when run outside the runner). */
  readonly name: string;
  /** Log lines on stderr, prefixed with the collector's name; `debug` only with `--verbose`. */
  readonly log: Logger;
  /** True in a dry-run (`--dry-run`): points are printed, nothing is written or sent. */
  readonly dryRun: boolean;
  /** True with `--verbose`. */
  readonly verbose: boolean;
  /** Aborted when the collector's time limit expires; the HTTP helpers honour it, long loops should too. */
  readonly signal: AbortSignal;
  /**
   * The environment of the run: read the collector's own variables (`SPONSORING_URL`, …) here,
   * with {@link readSetting} for numbers, durations, booleans and sizes, and document them in the
   * collector's README. The runner passes the process's environment; empty when run alone
   * without `options.env`.
   */
  readonly env: Record<string, string | undefined>;
  /** The options the runner gave (see MetricOptions). */
  protected readonly options: MetricOptions;
  /** the collection time, ns (fixed on first use: {@link Metric.nowNs}) */
  private collectionTime: string | undefined;
  /** set while run() collects: where emitted points go */
  private active: { add: (p: CollectedPoint) => void | Promise<void>; sink: PointSink } | undefined;

  /** @param options what the runner passes to `runMetric(options)`: hand it on unchanged. */
  constructor(options: MetricOptions = {}) {
    this.options = options;
    this.name = options.collector ?? this.constructor.name;
    this.dryRun = options.dryRun ?? false;
    this.verbose = options.verbose ?? false;
    this.log = options.log ?? createLogger({ verbose: this.verbose, scope: this.name });
    this.signal = options.signal ?? new AbortController().signal;
    this.env = options.env ?? {};
  }

  /**
   * Yours to implement: the points of this run, as an array, any iterable, or an async iterable
   * (for large or streamed sources). Throw a `CollectorError` when the source fails: never return
   * "no data" for a failure. Return `[]` when there is truly nothing to report.
   */
  abstract collect(): Collected | Promise<Collected>;

  /** Releases temporary resources; runs after collect() on success and on failure. Override it when needed. */
  protected cleanup(): void | Promise<void> {}

  /**
   * GET a URL and parse its JSON, with a time limit (`timeoutMs`, default 10 s), a size limit
   * (`maxBytes`, default 16 MiB) and the run's abort signal. A failure throws a `CollectorError`
   * naming the URL (without credentials) and the status, with `opts.hint` appended. A status in
   * `opts.accept` (e.g. `[404]`) is an answer, not a failure: it resolves to `undefined`.
   */
  async fetchJson<T = unknown>(url: string, opts: AcceptingFetchOptions): Promise<T | undefined>;
  async fetchJson<T = unknown>(url: string, opts?: FetchOptions): Promise<T>;
  async fetchJson<T = unknown>(url: string, opts: FetchOptions = {}): Promise<T | undefined> {
    const { fetchJson } = await import('./fetch.js'); // loaded on first use: many collectors never fetch
    return fetchJson<T>(url, this.fetchOptions(opts));
  }

  /** As {@link Metric.fetchJson}, for a body read as text. */
  async fetchText(url: string, opts: AcceptingFetchOptions): Promise<string | undefined>;
  async fetchText(url: string, opts?: FetchOptions): Promise<string>;
  async fetchText(url: string, opts: FetchOptions = {}): Promise<string | undefined> {
    const { fetchText } = await import('./fetch.js');
    return fetchText(url, this.fetchOptions(opts));
  }

  /** As {@link Metric.fetchJson}, for a body read as lines (without their line endings). */
  async fetchLines(url: string, opts: AcceptingFetchOptions): Promise<string[] | undefined>;
  async fetchLines(url: string, opts?: FetchOptions): Promise<string[]>;
  async fetchLines(url: string, opts: FetchOptions = {}): Promise<string[] | undefined> {
    const { fetchLines } = await import('./fetch.js');
    return fetchLines(url, this.fetchOptions(opts));
  }

  /**
   * As {@link Metric.fetchJson}, giving the whole answer: `{ status, ok, headers, url, text }`
   * (`url`: after redirects). For headers (a `Link` to the next page, an ETag) or a status in
   * `opts.accept`; any other status outside 2xx throws. `method: 'HEAD'` reads no body.
   */
  async fetchResponse(url: string, opts: FetchOptions = {}): Promise<FetchedResponse> {
    const { fetchResponse } = await import('./fetch.js');
    return fetchResponse(url, this.fetchOptions(opts));
  }

  /** The run's signal and fetcher always apply: a collector's own signal adds to the time limit, never replaces it. */
  private fetchOptions(opts: FetchOptions): FetchOptions {
    const signal = opts.signal && opts.signal !== this.signal ? AbortSignal.any([this.signal, opts.signal]) : this.signal;
    return { ...opts, signal, ...(this.options.fetcher ? { fetcher: this.options.fetcher } : {}) };
  }

  /**
   * The run's collection time: the time given to points without one, and "now" for anything the
   * collector computes (ages, windows). Fixed for a dry-run or a test by `--now <RFC 3339>` or
   * `METRICS_NOW`. Use it rather than `new Date()`, so that a test gets the same points every time.
   */
  now(): Date {
    return new Date(Number(BigInt(this.nowNs()) / 1_000_000n));
  }

  /** {@link Metric.now} in nanoseconds since the epoch (a decimal string, as line protocol writes it). */
  nowNs(): string {
    this.collectionTime ??= this.options.collectionTime ?? nowNanos();
    return this.collectionTime;
  }

  /**
   * Checks points as the run will, without sending them: the first invalid one throws a
   * `PointError` naming the collector, its position in `items` (#1 first), the measurement and the
   * problem. An item with a `toPoint()` method (an event) is checked as its point. For steps that
   * must be all or nothing: check every point before acting on any.
   */
  protected validatePoints(items: Iterable<CollectedPoint | { toPoint(): CollectedPoint }>): void {
    validatePoints(items, this.name);
  }

  /**
   * Adds a point besides collect()'s return value (e.g. an event's): it is validated and handed to
   * the sink at once, so it is delivered with the others even if collect() fails later.
   */
  protected async emit(point: CollectedPoint): Promise<void> {
    if (!this.active) throw new CollectorError(`collector "${this.name}": points can be emitted only while run() is collecting`);
    const r = this.active.add(point);
    if (r) await r;
  }

  /**
   * Sends the points handed over so far (to InfluxDB, or durably to the outbox) before going on.
   * Call it before a step that destroys the source of those points (removing files that were
   * turned into events), so that a crash after that step cannot lose them.
   */
  protected async flush(): Promise<void> {
    await this.active?.sink.flush?.();
  }

  /**
   * Issues a metric event: it goes to the configured event sinks (metrics log, Promtail) and,
   * as a point, with this collector's other points (in a dry-run it is only printed as a point).
   * Call it from `collect()`.
   */
  async issue(event: { toPoint(): CollectedPoint }): Promise<void> {
    if (this.options.issueEvent && !this.dryRun) await this.options.issueEvent(event);
    else if (this.dryRun) this.log.debug(`dry-run: event ${JSON.stringify(event)} not sent to the event sinks`);
    await this.emit(event.toPoint());
  }

  /**
   * Runs the collector once: collects, validates, stamps, writes (or prints), cleans up, and
   * reports. It does not throw for a failing collector: the report says `ok: false` and why.
   * Return its result from `runMetric()`.
   */
  async run(): Promise<RunReport> {
    const started = monotonicMs();
    const collectionTime = this.nowNs();
    const sink = this.options.sink ?? (this.dryRun ? new DryRunSink(this.options.format ?? 'text', collectionTime) : undefined);
    if (!sink) throw new CollectorError(`collector "${this.name}": run() needs a sink when not in dry-run; run it through bin/metrics`);
    const serializer = new Serializer(this.name, collectionTime);
    let failure: string | undefined;
    let report: SinkReport = emptyReport();
    let untilTurn = POINTS_PER_TURN;
    const add = (p: CollectedPoint): void | Promise<void> => {
      const r = sink.add(serializer.serialize(p), serializer.measurement, p);
      if (--untilTurn > 0) return r;
      untilTurn = POINTS_PER_TURN;
      return r ? r.then(() => nextTurn()) : nextTurn();
    };
    this.active = { add, sink };
    try {
      this.log.debug('collecting');
      const collected = await this.collect();
      if (collected === undefined || collected === null) {
        throw new CollectorError(`collector "${this.name}": collect() returned nothing; return [] when there is truly nothing to report`);
      }
      if (Array.isArray(collected)) {
        for (let i = 0; i < collected.length; i++) {
          const r = add(collected[i]);
          if (r) await r;
        }
      } else if (Symbol.asyncIterator in (collected as object)) {
        for await (const p of collected as AsyncIterable<CollectedPoint | readonly CollectedPoint[]>) {
          if (Array.isArray(p)) {
            // a batch of points: one await per batch instead of one per point
            for (let i = 0; i < p.length; i++) {
              const r = add(p[i]);
              if (r) await r;
            }
          } else {
            const r = add(p as CollectedPoint);
            if (r) await r;
          }
          if (this.signal.aborted) throw this.signal.reason;
        }
      } else if (Symbol.iterator in (collected as object)) {
        for (const p of collected as Iterable<CollectedPoint>) {
          const r = add(p);
          if (r) await r;
        }
      } else {
        throw new CollectorError(
          `collector "${this.name}": collect() must return an array or an (async) iterable of points, got ${typeof collected}`,
        );
      }
    } catch (error) {
      failure = this.describeFailure(error);
    } finally {
      this.active = undefined;
      try {
        await this.cleanup();
      } catch (error) {
        const msg = `cleanup failed: ${errorMessage(error)}`;
        this.log.error(msg);
        failure ??= msg;
      }
    }
    // points collected before a failure are real data: deliver them too
    try {
      report = await sink.finish();
    } catch (error) {
      failure ??= `delivery failed: ${errorMessage(error)}`;
    }
    if (serializer.collisions > 0) {
      this.log.warn(
        `${serializer.collisions} points have no time and the same series as an earlier point ` +
          `(e.g. ${serializer.collidedSeries.join('; ')}): ` +
          'all get the collection time, so InfluxDB keeps only one point per series. ' +
          "Give each point its own time (e.g. the source's timestamp) or a distinguishing tag.",
      );
    }
    if (failure) this.log.error(failure);
    const durationMs = monotonicMs() - started;
    this.log.debug(`collected ${report.points} points in ${(durationMs / 1000).toFixed(2)} s`);
    return {
      ...report,
      collector: this.name,
      ok: failure === undefined && report.rejected === 0 && report.lost === 0 && report.refused === 0,
      error: failure ?? report.errors[0],
      durationMs,
    };
  }

  private describeFailure(error: unknown): string {
    if (this.signal.aborted && (error === this.signal.reason || (error as Error)?.name === 'AbortError')) {
      return `collector "${this.name}": ${errorMessage(this.signal.reason)}`;
    }
    const msg = errorMessage(error);
    if (error instanceof CollectorError) return msg.includes(`"${this.name}"`) ? msg : `collector "${this.name}": ${msg}`;
    const where = error instanceof Error && error.stack ? `\n${error.stack.split('\n').slice(1, 4).join('\n')}` : '';
    return `collector "${this.name}" crashed: ${msg}${where}`;
  }
}
