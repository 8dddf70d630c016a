/**
 * Where a collector's serialized points go: printed (dry-run) or batched for delivery.
 * `add()` returns a promise only when it has work to wait for (a full batch), so the per-point
 * path stays synchronous for collectors that emit millions of points.
 */
import type { BatchTarget } from '../delivery/delivery.js';
import { CollectorError } from '../platform/errors.js';
import { describePoint } from '../points/line-protocol.js';

export interface SinkReport {
  /** points accepted by this sink */
  points: number;
  /** points per measurement */
  measurements: Record<string, number>;
  /** points InfluxDB accepted */
  written: number;
  /** points stored in the outbox for a later attempt */
  deferred: number;
  /** points InfluxDB refused (kept in the outbox's rejected folder) */
  rejected: number;
  /** points neither written nor saved in the outbox (it could not store them): data loss, said loudly */
  lost: number;
  /** of the deferred points: InfluxDB refused the request (credentials, database, TLS): the run fails */
  refused: number;
  /** delivery problems, one line each */
  errors: string[];
}

export interface PointSink {
  add(line: string, measurement: string, point: unknown): void | Promise<void>;
  /** send what is buffered now (delivering sinks); resolves when it was written or stored */
  flush?(): Promise<void>;
  finish(): Promise<SinkReport>;
}

export function emptyReport(): SinkReport {
  return { points: 0, measurements: {}, written: 0, deferred: 0, rejected: 0, lost: 0, refused: 0, errors: [] };
}

export type DryRunFormat = 'text' | 'lp';

/** Prints points to stdout: a readable form, or the exact line protocol (`--format lp`). */
export class DryRunSink implements PointSink {
  private readonly report = emptyReport();
  private buffer: string[] = [];
  constructor(
    private readonly format: DryRunFormat,
    private readonly defaultTime: string,
    private readonly out: (chunk: string) => void = (c) => process.stdout.write(c),
  ) {}

  add(line: string, measurement: string, point: unknown): void {
    this.report.points++;
    this.report.measurements[measurement] = (this.report.measurements[measurement] ?? 0) + 1;
    this.buffer.push(this.format === 'lp' ? line : describePoint(point, this.defaultTime));
    if (this.buffer.length >= 1000) this.drain();
  }

  private drain(): void {
    if (this.buffer.length === 0) return;
    this.out(this.buffer.join('\n') + '\n');
    this.buffer = [];
  }

  async finish(): Promise<SinkReport> {
    this.drain();
    return this.report;
  }
}

export class BatchingSink implements PointSink {
  private readonly report = emptyReport();
  private batch: string[] = [];
  constructor(
    private readonly target: BatchTarget,
    private readonly collector: string,
    private readonly batchSize: number,
  ) {}

  add(line: string, measurement: string): void | Promise<void> {
    this.report.points++;
    this.report.measurements[measurement] = (this.report.measurements[measurement] ?? 0) + 1;
    this.batch.push(line);
    if (this.batch.length >= this.batchSize) return this.flush();
  }

  /** the batch being sent now: finish() waits for it (the runner may call it while add() waits) */
  private inflight: Promise<void> | undefined;

  flush(): Promise<void> {
    if (this.batch.length === 0) return this.inflight ?? Promise.resolve();
    const lines = this.batch;
    this.batch = [];
    // batches go out one after the other; a failed one does not stop the next
    const previous = (this.inflight ?? Promise.resolve()).catch(() => {});
    const sending = previous.then(() => this.send(lines));
    this.inflight = sending;
    return sending;
  }

  private async send(lines: string[]): Promise<void> {
    const r = await this.target.send(lines, this.collector);
    this.report.written += r.written;
    this.report.deferred += r.deferred;
    this.report.rejected += r.rejected;
    this.report.lost += r.lost ?? 0;
    this.report.refused += r.refused ?? 0;
    if (r.error && !this.report.errors.includes(r.error)) this.report.errors.push(r.error);
    // points neither written nor saved: stop the collector rather than go on losing data
    if (r.lost) throw new CollectorError(`collector "${this.collector}": collection stopped: ${r.error ?? `${r.lost} points were lost`}`);
  }

  async finish(): Promise<SinkReport> {
    // a lost batch is already counted in the report
    await this.flush().catch(() => {});
    await this.inflight?.catch(() => {});
    return this.report;
  }
}
