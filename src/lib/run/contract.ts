/**
 * The contract between the runner and a collector: what a collector module exports
 * (`RUN_INTERVAL`, `runMetric()`), the options the runner hands `runMetric()` (and through it the
 * Metric), and the report a run gives back. Types only; collectors see them through the SDK.
 */
import type { Fetcher } from '../platform/fetcher.js';
import type { Logger } from '../platform/log.js';
import type { DryRunFormat, PointSink, SinkReport } from './sink.js';

/** What a collector module exports. */
export interface CollectorModule {
  RUN_INTERVAL?: string;
  runMetric: (options: Record<string, unknown>) => Promise<unknown>;
}

/**
 * The options the runner passes to a collector's `runMetric(options)`; hand them on unchanged to
 * the Metric's constructor (`new MyMetric(options).run()`). Tests may set them to run a Metric
 * alone (a dry-run without a sink prints its points).
 */
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
  /** nanoseconds given to points without a time, and the Metric's `now()` (default: the time the run starts) */
  collectionTime?: string;
  /** where the HTTP helpers send requests (set for --record / --replay and by the test harness); default: fetch */
  fetcher?: Fetcher;
  /** the environment as the command got it (the settings' `env`): for the collector's own variables (`this.env`) */
  env?: Record<string, string | undefined>;
  /** hook for issued events (set by the runner): sends them to the event sinks */
  issueEvent?: (event: unknown) => Promise<void>;
}

/**
 * What one run of a collector gives back (`Metric.run()`), and what `runMetric()` returns to the
 * runner: the counts of its points and where they went, whether it succeeded, and why not.
 */
export interface RunReport extends SinkReport {
  /** the collector's name */
  collector: string;
  /** it collected without error and every point was written, deferred to the outbox, or printed */
  ok: boolean;
  /** the first failure, when there was one */
  error?: string;
  /** how long the run took, ms */
  durationMs: number;
}
