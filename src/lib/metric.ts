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
import { CollectorError, errorMessage } from './platform/errors.js';
import { fetchJson, fetchText, type FetchOptions } from './http.js';
import { createLogger, type Logger } from './platform/log.js';
import { Serializer } from './points/line-protocol.js';
import { nowNanos, type CollectedPoint } from './points/point.js';
import { DryRunSink, emptyReport, type DryRunFormat, type PointSink, type SinkReport } from './sink.js';

export type Collected = Iterable<CollectedPoint> | AsyncIterable<CollectedPoint>;

export interface MetricOptions {
  /** the collector's name (its folder); set by the runner */
  collector?: string;
  dryRun?: boolean;
  verbose?: boolean;
  /** dry-run output: readable text (default) or exact line protocol */
  format?: DryRunFormat;
  log?: Logger;
  /** where points go; set by the runner (a dry-run without one prints) */
  sink?: PointSink;
  /** aborted when the collector's time limit expires */
  signal?: AbortSignal;
  /** nanoseconds given to points without a time (default: now) */
  collectionTime?: string;
  env?: Record<string, string | undefined>;
  /** hook for issued events (set by the runner): sends them to the event sinks */
  issueEvent?: (event: unknown) => Promise<void>;
}

export interface RunReport extends SinkReport {
  collector: string;
  ok: boolean;
  error?: string;
  durationMs: number;
}

export abstract class Metric {
  readonly name: string;
  readonly log: Logger;
  readonly dryRun: boolean;
  readonly verbose: boolean;
  readonly signal: AbortSignal;
  readonly env: Record<string, string | undefined>;
  protected readonly options: MetricOptions;
  /** set while run() collects: where emitted points go */
  private active: { add: (p: CollectedPoint) => void | Promise<void>; sink: PointSink } | undefined;

  constructor(options: MetricOptions = {}) {
    this.options = options;
    this.name = options.collector ?? this.constructor.name;
    this.dryRun = options.dryRun ?? false;
    this.verbose = options.verbose ?? false;
    this.log = options.log ?? createLogger({ verbose: this.verbose, scope: this.name });
    this.signal = options.signal ?? new AbortController().signal;
    this.env = options.env ?? process.env;
  }

  /** Returns the points: an array, any iterable, or an async iterable (for large or streamed sources). */
  abstract collect(): Collected | Promise<Collected>;

  /** Releases temporary resources; runs after collect() on success and on failure. */
  protected cleanup(): void | Promise<void> {}

  /** GET a URL and parse JSON; errors name the URL and the status, honour the run's time limit. */
  fetchJson<T = unknown>(url: string, opts: FetchOptions = {}): Promise<T> {
    return fetchJson<T>(url, { signal: this.signal, ...opts });
  }

  fetchText(url: string, opts: FetchOptions = {}): Promise<string> {
    return fetchText(url, { signal: this.signal, ...opts });
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
   * as a point, with this collector's other points.
   */
  async issue(event: { toPoint(): CollectedPoint }): Promise<void> {
    if (this.options.issueEvent && !this.dryRun) await this.options.issueEvent(event);
    else if (this.dryRun) this.log.debug(`dry-run: event ${JSON.stringify(event)} not sent to the event sinks`);
    await this.emit(event.toPoint());
  }

  async run(): Promise<RunReport> {
    const started = performance.now();
    const collectionTime = this.options.collectionTime ?? nowNanos();
    const sink = this.options.sink ?? (this.dryRun ? new DryRunSink(this.options.format ?? 'text', collectionTime) : undefined);
    if (!sink) throw new CollectorError(`collector "${this.name}": run() needs a sink when not in dry-run; run it through bin/metrics`);
    const serializer = new Serializer(this.name, collectionTime);
    let failure: string | undefined;
    let report: SinkReport = emptyReport();
    const add = (p: CollectedPoint): void | Promise<void> => sink.add(serializer.serialize(p), serializer.measurement, p);
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
        for await (const p of collected as AsyncIterable<CollectedPoint>) {
          const r = add(p);
          if (r) await r;
          if (this.signal.aborted) throw this.signal.reason;
        }
      } else if (Symbol.iterator in (collected as object)) {
        for (const p of collected as Iterable<CollectedPoint>) {
          const r = add(p);
          if (r) await r;
        }
      } else {
        throw new CollectorError(`collector "${this.name}": collect() must return an array or an (async) iterable of points, got ${typeof collected}`);
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
        `${serializer.collisions} points have no time and the same series as an earlier point (e.g. ${serializer.collidedSeries.join('; ')}): ` +
          'all get the collection time, so InfluxDB keeps only one point per series. Give each point its own time (e.g. the source\'s timestamp) or a distinguishing tag.',
      );
    }
    if (failure) this.log.error(failure);
    const durationMs = performance.now() - started;
    this.log.debug(`collected ${report.points} points in ${(durationMs / 1000).toFixed(2)} s`);
    return { ...report, collector: this.name, ok: failure === undefined && report.rejected === 0 && report.lost === 0 && report.refused === 0, error: failure ?? report.errors[0], durationMs };
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
