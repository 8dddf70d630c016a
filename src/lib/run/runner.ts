/**
 * run/: one `metrics run`: the runner <-> collector contract (contract.ts), discovery, the point
 * sinks (print or batch for delivery), this runner, the self-metric and the summary. It imports
 * the layers below (platform/, points/, delivery/, schedule/, events/); collectors reach it only
 * through the SDK (sdk/), and it never imports a collector: discovery finds them.
 *
 * One `metrics run`: discover, pick, replay the outbox, run each collector (under its lock and
 * time limit), deliver, settle the counts, write a self-metric per collector (self-metric.ts),
 * report and pick the exit code (summary.ts).
 */
import type { Delivery } from '../delivery/delivery.js';
import type { Event } from '../events/event.js';
import type { EventSinks } from '../events/sinks.js';
import { monotonicMs } from '../platform/clock.js';
import { CollectorError, UsageError, errorMessage } from '../platform/errors.js';
import type { Fetcher } from '../platform/fetcher.js';
import { createLogger, type Logger } from '../platform/log.js';
import type { RecordingFetcher } from '../platform/recording.js';
import { TIMEOUT_RULE, type Settings } from '../platform/settings.js';
import { nowNanos } from '../points/point.js';
import type { RunReport } from './contract.js';
import { discoverCollectors, enabledOnly, type DiscoveredCollector } from './discovery.js';
import { BatchingSink, DryRunSink, emptyReport, type DryRunFormat, type PointSink, type SinkReport } from './sink.js';
import { exitCode, printSummary } from './summary.js';

export interface RunOptions {
  names: string[];
  dryRun: boolean;
  verbose: boolean;
  format: DryRunFormat;
  /** seconds one collector may take (`--timeout`; default: METRICS_TIMEOUT, else 600) */
  timeoutSec?: number;
  settings: Settings;
  /** `--now`: the collection time, ns (else METRICS_NOW, else the time each collector starts) */
  now?: string;
  /** `--allow-now`: a real write may use a fixed collection time (back-filling) */
  allowNow?: boolean;
  /** `--record DIR`: save every HTTP answer the collectors fetch into DIR (platform/recording.ts) */
  record?: string;
  /** `--replay DIR...`: answer the collectors' HTTP requests from these recordings, offline (dry-run only) */
  replay?: string[];
  /** for tests */
  log?: Logger;
}

interface Outcome extends RunReport {
  busy?: string;
  /** the collector ran to the end under its lock: its collector_run point is written (at the end of the run) */
  recorded?: { start: string; end: string };
}

/** Resolves the names the user asked for; unknown names are a usage error listing the known ones. */
export function pickCollectors(all: DiscoveredCollector[], names: string[]): DiscoveredCollector[] {
  if (names.length === 0) return enabledOnly(all);
  const unknown = names.filter((n) => !all.some((c) => c.name === n));
  if (unknown.length > 0) {
    const known = all.map((c) => c.name).join(', ') || '(none)';
    throw new UsageError(`unknown collector${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}; known collectors: ${known}`);
  }
  return [...new Set(names)].map((n) => all.find((c) => c.name === n)!);
}

/** Whether `runMetric()` returned a run's report (the result of `Metric.run()`). */
export function isRunReport(x: unknown): x is RunReport {
  return typeof x === 'object' && x !== null && typeof (x as RunReport).ok === 'boolean' && typeof (x as RunReport).points === 'number';
}

/**
 * The time limit of one collector, in seconds: `--timeout` (already a number), else
 * METRICS_TIMEOUT (the settings checked it), else 600. Out of range: UsageError (exit 2) naming
 * the option and the allowed range; a longer timer would fire after 1 ms and abort every collector.
 */
function timeoutFrom(settings: Settings, explicit?: number): number {
  if (explicit === undefined) return settings.run.timeoutSec;
  const problem = TIMEOUT_RULE.rangeProblem(`--timeout ${explicit}`, explicit);
  if (problem) throw new UsageError(problem);
  return explicit;
}

export async function runCollectors(opts: RunOptions): Promise<number> {
  const { settings } = opts;
  const log = opts.log ?? createLogger({ verbose: opts.verbose });
  const timeoutSec = timeoutFrom(settings, opts.timeoutSec);
  const fixedNow = opts.now ?? settings.run.now;
  if (fixedNow !== undefined && !opts.dryRun && !opts.allowNow) {
    throw new UsageError(
      `${opts.now !== undefined ? '--now' : 'METRICS_NOW'} fixes the collection time, and a real write would store points at that ` +
        'time (back-filling InfluxDB): use it with --dry-run, or add --allow-now to write them',
    );
  }
  const { fetcher, recorder } = await openFetcher(opts, settings);
  // a run of named collectors imports only them; a dry-run in a checkout runs changed sources (dev mode)
  const all = await discoverCollectors(settings.run, { only: opts.names, fromSource: opts.dryRun && settings.fromSource });
  const selected = pickCollectors(all, opts.names);
  if (selected.length === 0)
    throw new UsageError('no collectors found: add a folder under src/collectors (see the README) and run npm run build');

  let delivery: Delivery | undefined;
  if (!opts.dryRun) {
    // loaded only here: a dry-run never loads delivery
    const { Delivery, openOutbox } = await import('../delivery/delivery.js');
    // configuration errors stop the run before anything is collected (exit 2)
    const outbox = await openOutbox(settings.state, log);
    // a linked or non-directory outbox is refused before anything is collected (exit 2); a wider
    // one is restricted to 0700
    await outbox.open();
    delivery = await Delivery.open(settings.influx(), log, outbox);
    try {
      const { replayOutbox } = await import('../delivery/replay-outbox.js');
      await replayOutbox(delivery, outbox, log);
    } catch (error) {
      log.error(`outbox: replay failed: ${errorMessage(error)}; this run's points are still collected`);
    }
  }

  const reports: Outcome[] = [];
  let hung = false;
  for (const c of selected) {
    const r = await runOne(c, opts, log, timeoutSec, delivery, fetcher);
    if (r.timedOut) hung = true;
    reports.push(r);
  }
  if (delivery) await finishRun(reports, delivery, settings.state.dir, log);
  printSummary(reports, opts.dryRun);
  let code = exitCode(reports);
  if (recorder && opts.record !== undefined) {
    try {
      const n = await recorder.save(opts.record);
      log.info(`recorded ${n} HTTP request${n === 1 ? '' : 's'} into ${opts.record} (replay: --replay ${opts.record})`);
    } catch (error) {
      log.error(`cannot save the recording into ${opts.record}: ${errorMessage(error)}`);
      code ||= 1;
    }
  }
  if (hung) {
    // a collector that ignored its abort signal may keep the event loop alive: do not wait for it
    setTimeout(() => process.exit(code), 2000).unref();
  }
  return code;
}

/**
 * The Fetcher of the run's collectors: `--replay` answers from recordings (dry-run only), `--record`
 * passes requests on and keeps the answers; neither: the global fetch.
 */
async function openFetcher(opts: RunOptions, settings: Settings): Promise<{ fetcher?: Fetcher; recorder?: RecordingFetcher }> {
  if (opts.record !== undefined && opts.replay?.length) throw new UsageError('--record and --replay cannot be used together');
  if (opts.replay?.length) {
    if (!opts.dryRun) {
      throw new UsageError(
        '--replay answers from a recording: use it with --dry-run (a real write would store points made from old answers)',
      );
    }
    const { ReplayFetcher } = await import('../platform/recording.js');
    return { fetcher: await ReplayFetcher.open(opts.replay) };
  }
  if (opts.record !== undefined) {
    if (opts.record === '') throw new UsageError('--record needs a folder');
    const { RecordingFetcher, secretLookingValues } = await import('../platform/recording.js');
    const recorder = new RecordingFetcher(undefined, secretLookingValues(settings.env));
    return { fetcher: recorder, recorder };
  }
  return {};
}

/** Wraps the sink so that nothing is added after the runner gave up on a collector (time limit). */
class GuardedSink implements PointSink {
  closed = false;
  private finished?: Promise<SinkReport>;
  constructor(
    private readonly inner: PointSink,
    private readonly collector: string,
  ) {}
  add(line: string, measurement: string, point: unknown): void | Promise<void> {
    if (this.closed) throw new CollectorError(`collector "${this.collector}": its time limit expired; no more points are taken`);
    return this.inner.add(line, measurement, point);
  }
  async flush(): Promise<void> {
    if (this.closed) throw new CollectorError(`collector "${this.collector}": its time limit expired; no more points are taken`);
    await this.inner.flush?.();
  }
  finish(): Promise<SinkReport> {
    this.finished ??= this.inner.finish();
    return this.finished;
  }
}

async function runOne(
  c: DiscoveredCollector,
  opts: RunOptions,
  log: Logger,
  timeoutSec: number,
  delivery?: Delivery,
  fetcher?: Fetcher,
): Promise<Outcome & { timedOut?: boolean }> {
  const { settings } = opts;
  const stateDir = settings.state.dir;
  const clog = log.child(c.name);
  const startedAt = new Date();
  const started = monotonicMs();
  const failed = (error: string, report: SinkReport = emptyReport()): Outcome => ({
    ...report,
    collector: c.name,
    ok: false,
    error,
    durationMs: monotonicMs() - started,
  });
  if (c.error || !c.module) {
    clog.error(c.error ?? 'not loadable');
    return failed(c.error ?? 'not loadable');
  }

  // two runs of one collector never overlap (dry-runs change nothing and take no lock)
  let lock: { release(): Promise<void> } | undefined;
  if (!opts.dryRun) {
    // loaded only here, as the state folder's: a dry-run takes no lock and records no run
    const { LockFileError, acquireLock, lockPath } = await import('../delivery/lock.js');
    const { UnsafeFileError } = await import('../platform/atomic.js');
    const { ensureStateFolder } = await import('../platform/state.js');
    try {
      const { warning } = await ensureStateFolder('locks', stateDir);
      if (warning) clog.warn(warning);
      const got = await acquireLock(lockPath(stateDir, `collector-${c.name}`), { command: `metrics run ${c.name}`, log: clog });
      if (got.busy) {
        clog.warn(`skipped: another run is still going (${got.message})`);
        return { ...emptyReport(), collector: c.name, ok: true, busy: got.message, durationMs: monotonicMs() - started };
      }
      lock = got;
    } catch (error) {
      // something that is not a lock at the lock path: its message names it and says "remove it"
      const hint =
        error instanceof LockFileError || error instanceof UnsafeFileError
          ? ''
          : '; check the state directory (STATE_DIRECTORY / METRICS_STATE_DIR)';
      return failed(`collector "${c.name}": cannot take its lock in ${stateDir}: ${errorMessage(error)}${hint}`);
    }
  }

  const collectionTime = opts.now ?? settings.run.now ?? nowNanos();
  const inner: PointSink = delivery
    ? new BatchingSink(delivery, c.name, delivery.batchSize, delivery.config.batchesInFlight)
    : new DryRunSink(opts.format, collectionTime);
  const sink = new GuardedSink(inner, c.name);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  let report: Outcome;
  try {
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error(`time limit of ${timeoutSec} s exceeded (METRICS_TIMEOUT / --timeout): collection aborted`));
        // give collect() a moment to notice the abort and return what it has
        // (not unref'd: a collector awaiting a promise that never settles holds nothing else open)
        setTimeout(() => resolve('timeout'), 1000);
      }, timeoutSec * 1000);
    });
    const work = c.module.runMetric({
      collector: c.name,
      dryRun: opts.dryRun,
      verbose: opts.verbose,
      format: opts.format,
      log: clog,
      sink,
      collectionTime,
      env: settings.env,
      ...(fetcher ? { fetcher } : {}),
      signal: controller.signal,
      issueEvent: delivery ? eventIssuer(settings, clog, c.name) : undefined,
    });
    const result = await Promise.race([work, timeout]);
    if (result === 'timeout') {
      sink.closed = true;
      const partial = await sink.finish();
      const msg =
        `collector "${c.name}": time limit of ${timeoutSec} s exceeded and it did not stop; ${partial.points} points ` +
        `collected before were delivered`;
      clog.error(msg);
      report = failed(msg, partial);
    } else if (isRunReport(result)) {
      report = timedOut && result.ok ? failed(`collector "${c.name}": time limit of ${timeoutSec} s exceeded`, result) : result;
    } else {
      report = failed(
        `collector "${c.name}": runMetric() must return the result of run() (return new MyMetric(options).run())`,
        await sink.finish(),
      );
    }
  } catch (error) {
    const msg = error instanceof CollectorError ? errorMessage(error) : `collector "${c.name}" crashed: ${errorMessage(error)}`;
    clog.error(msg);
    report = failed(msg, await sink.finish().catch(() => emptyReport()));
  } finally {
    clearTimeout(timer);
  }

  let recorded: Outcome['recorded'];
  if (delivery) {
    recorded = { start: startedAt.toISOString(), end: new Date().toISOString() };
    await recordLastRun(c.name, recorded, report.ok, stateDir, clog);
  }
  await lock?.release();
  return { ...report, timedOut, ...(recorded ? { recorded } : {}) };
}

async function recordLastRun(
  collector: string,
  times: { start: string; end: string },
  success: boolean,
  stateDir: string,
  log: Logger,
): Promise<void> {
  try {
    const { writeLastRun } = await import('../platform/state.js');
    await writeLastRun(collector, { ...times, success }, stateDir, (w) => log.warn(w));
  } catch (error) {
    log.debug(`could not record the run in the state directory: ${errorMessage(error)}`);
  }
}

/**
 * The end of a run that delivers: the counts become final, then each collector's `collector_run`
 * point is written (one per collector that ran).
 *
 * A batch a collector stored in the outbox may be dropped later in the same run, when a later
 * store (of this collector or of a later one) made room under METRICS_OUTBOX_MAX_SIZE. Those
 * points are lost, not deferred: they move from `deferred` to `lost` of the collector that stored
 * them, which fails it (exit 1). Only then are the collector_run points written, and the outbox
 * stores them without dropping anything this run stored (dropping data to store the report of
 * that data would make the report wrong; the bound may be exceeded by those few lines until the
 * next store). Drops of earlier runs' batches are logged and counted in dropped.json as before.
 */
async function finishRun(reports: Outcome[], delivery: Delivery, stateDir: string, log: Logger): Promise<void> {
  for (const r of reports) {
    const lost = delivery.lostLater.get(r.collector) ?? 0;
    if (lost === 0) continue;
    const wasOk = r.ok;
    r.deferred -= lost;
    r.lost += lost;
    r.ok = false;
    const msg =
      `collector "${r.collector}": ${lost} points it had stored in the outbox were DROPPED later in this run to keep the outbox ` +
      `within its bound (METRICS_OUTBOX_MAX_SIZE): they are LOST. Raise the bound or fix delivery to InfluxDB`;
    log.child(r.collector).error(msg);
    r.error = wasOk || !r.error ? msg : `${r.error}; ${msg}`;
    if (wasOk && r.recorded) await recordLastRun(r.collector, r.recorded, false, stateDir, log.child(r.collector));
  }
  delivery.spareThisRunsBatches();
  const { writeSelfMetric } = await import('./self-metric.js');
  for (const r of reports) {
    if (r.recorded) await writeSelfMetric(delivery, r, log.child(r.collector));
  }
}

/**
 * The hook behind Metric.issue(): an event goes to the configured event sinks (metrics log,
 * Promtail); its point travels with the collector's own points, so the InfluxDB sink is skipped.
 */
function eventIssuer(settings: Settings, log: Logger, collector: string): (event: unknown) => Promise<void> {
  let sinks: Promise<EventSinks> | undefined;
  return async (event) => {
    sinks ??= import('../events/sinks.js').then((m) => m.createEventSinks({ settings, log, collector }));
    await (await sinks).issue(event as Event, { pointsHandled: true });
  };
}
