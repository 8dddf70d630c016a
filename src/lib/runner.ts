/**
 * One `metrics run`: discover, pick, run each collector, deliver, report, exit code.
 */
import { hostname } from 'node:os';
import { discoverCollectors, type DiscoveredCollector } from './discovery.js';
import { Delivery, openOutbox } from './delivery.js';
import { CollectorError, UsageError, errorMessage } from './errors.js';
import { EXIT } from './exit.js';
import { createLogger, type Logger } from './log.js';
import type { RunReport } from './metric.js';
import { nowNanos } from './point.js';
import { redact } from './redact.js';
import { BatchingSink, DryRunSink, emptyReport, type DryRunFormat, type PointSink } from './sink.js';
import { writeLastRun } from './state.js';

export interface RunOptions {
  names: string[];
  dryRun: boolean;
  verbose: boolean;
  format: DryRunFormat;
  env?: Record<string, string | undefined>;
  /** for tests */
  log?: Logger;
}

/** Resolves the names the user asked for; unknown names are a usage error listing the known ones. */
export function pickCollectors(all: DiscoveredCollector[], names: string[]): DiscoveredCollector[] {
  if (names.length === 0) return all;
  const unknown = names.filter((n) => !all.some((c) => c.name === n));
  if (unknown.length > 0) {
    const known = all.map((c) => c.name).join(', ') || '(none)';
    throw new UsageError(`unknown collector${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}; known collectors: ${known}`);
  }
  return [...new Set(names)].map((n) => all.find((c) => c.name === n)!);
}

function isRunReport(x: unknown): x is RunReport {
  return typeof x === 'object' && x !== null && typeof (x as RunReport).ok === 'boolean' && typeof (x as RunReport).points === 'number';
}

export async function runCollectors(opts: RunOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger({ verbose: opts.verbose });
  const all = await discoverCollectors({ env });
  const selected = pickCollectors(all, opts.names);
  if (selected.length === 0) throw new UsageError('no collectors found: add a folder under src/collectors (see the README) and run npm run build');

  let delivery: Delivery | undefined;
  if (!opts.dryRun) {
    // configuration errors stop the run before anything is collected (exit 2)
    delivery = await Delivery.open(env, log, await openOutbox(env, log));
  }

  const reports: RunReport[] = [];
  for (const c of selected) {
    reports.push(await runOne(c, opts, env, log, delivery));
  }
  printSummary(reports, opts.dryRun, log);
  if (reports.some((r) => !r.ok)) return EXIT.FAILED;
  if (reports.some((r) => r.deferred > 0)) return EXIT.DEFERRED;
  return EXIT.OK;
}

async function runOne(c: DiscoveredCollector, opts: RunOptions, env: Record<string, string | undefined>, log: Logger, delivery?: Delivery): Promise<RunReport> {
  const clog = log.child(c.name);
  const startedAt = new Date();
  const started = performance.now();
  const failed = (error: string): RunReport => ({ ...emptyReport(), collector: c.name, ok: false, error, durationMs: performance.now() - started });
  if (c.error || !c.module) {
    clog.error(c.error ?? 'not loadable');
    return failed(c.error ?? 'not loadable');
  }
  const collectionTime = nowNanos();
  const sink: PointSink = delivery ? new BatchingSink(delivery, c.name, delivery.batchSize) : new DryRunSink(opts.format, collectionTime);
  let report: RunReport;
  try {
    const result = await c.module.runMetric({
      collector: c.name,
      dryRun: opts.dryRun,
      verbose: opts.verbose,
      format: opts.format,
      log: clog,
      sink,
      collectionTime,
      env,
    });
    report = isRunReport(result)
      ? result
      : failed(`collector "${c.name}": runMetric() must return the result of run() (return new MyMetric(options).run())`);
  } catch (error) {
    const msg = error instanceof CollectorError ? errorMessage(error) : `collector "${c.name}" crashed: ${errorMessage(error)}`;
    clog.error(msg);
    report = failed(msg);
  }
  if (!opts.dryRun) {
    try {
      writeLastRun(c.name, { start: startedAt.toISOString(), end: new Date().toISOString(), success: report.ok }, env);
    } catch (error) {
      clog.debug(`could not record the run in the state directory: ${errorMessage(error)}`);
    }
  }
  return report;
}

function printSummary(reports: RunReport[], dryRun: boolean, log: Logger): void {
  const width = Math.max(...reports.map((r) => r.collector.length), 9);
  const lines = [dryRun ? 'summary (dry-run: nothing was written):' : 'summary:'];
  for (const r of reports) {
    const status = !r.ok ? 'FAILED' : r.deferred > 0 ? 'DEFERRED' : 'ok';
    const per = Object.entries(r.measurements)
      .map(([m, n]) => `${m} ${n}`)
      .join(', ');
    let what: string;
    if (dryRun) what = `${r.points} points${per ? ` (${per})` : ''}`;
    else {
      what = `${r.points} points${per ? ` (${per})` : ''}: ${r.written} written`;
      if (r.deferred) what += `, ${r.deferred} to the outbox`;
      if (r.rejected) what += `, ${r.rejected} rejected`;
    }
    lines.push(`  ${r.collector.padEnd(width)}  ${status.padEnd(8)}  ${what}  ${(r.durationMs / 1000).toFixed(2)} s`);
    if (r.error && (!r.ok || r.deferred)) lines.push(`  ${''.padEnd(width)}  ${''.padEnd(8)}  ${r.error.split('\n')[0]}`);
  }
  process.stderr.write(redact(lines.join('\n')) + '\n');
  void log;
  void hostname;
}
