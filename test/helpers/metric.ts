/**
 * Running one Metric in-process, typed, without casts: a sink that keeps the line protocol it is
 * given (`CaptureSink`) and a logger that keeps its lines (`captureLogger()`). Hand both to a
 * collector's Metric class through its options (`new SystemMetric({ sink, log, env })`), then
 * `run()` it, or call `collect()` for the point objects themselves.
 *
 * A stopgap until the SDK has an official testing harness (a later issue): keep it small.
 */
import { createLogger, type Logger } from '../../src/lib/platform/log.js';
import { emptyReport, type PointSink, type SinkReport } from '../../src/lib/run/sink.js';

/** A PointSink that keeps every line (and the measurement and point it came from) and writes nothing. */
export class CaptureSink implements PointSink {
  lines: string[] = [];
  measurements: string[] = [];
  points: unknown[] = [];
  add(line: string, measurement?: string, point?: unknown): void {
    this.lines.push(line);
    if (measurement !== undefined) this.measurements.push(measurement);
    if (point !== undefined) this.points.push(point);
  }
  async finish(): Promise<SinkReport> {
    return { ...emptyReport(), points: this.lines.length, written: this.lines.length };
  }
}

export interface CapturedLog {
  /** a Logger (debug lines included) whose lines go to `lines` instead of stderr */
  log: Logger;
  /** every line logged so far, as `level [scope] message` */
  lines: string[];
}

/** A logger that keeps its lines, debug included; `scope` prefixes them as a collector's name does. */
export function captureLogger(scope?: string): CapturedLog {
  const lines: string[] = [];
  return { lines, log: createLogger({ verbose: true, ...(scope ? { scope } : {}), write: (line) => lines.push(line) }) };
}
