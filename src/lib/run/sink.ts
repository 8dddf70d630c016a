/**
 * Where a collector's serialized points go: printed (dry-run) or batched for delivery.
 * `add()` returns a promise only when it has work to wait for (a full batch), so the per-point
 * path stays synchronous for collectors that emit millions of points.
 */
import type { BatchTarget, SendResult } from '../delivery/delivery.js';
import { EncodedLinesWriter, type EncodedLines } from '../delivery/encoded.js';
import { nextTurn } from '../platform/clock.js';
import { CollectorError } from '../platform/errors.js';
import { writeStdout } from '../platform/redact.js';
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
    private readonly out: (chunk: string) => void = writeStdout,
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

/**
 * Batches lines for delivery. Pipelined: a full batch is handed to the target and the collector
 * goes on filling the next one while it is sent; `add()` waits (returns a promise) only when
 * `inFlight` batches are handed over and not yet finished. The target gets the batches one after
 * the other, in order, each after the previous one finished, exactly as without pipelining: what
 * it does with a failed batch (the outbox) and with the rest of the run after a failed write
 * (straight to the outbox) is unchanged, and so are the counts. At most `inFlight` + 1 batches
 * are held in memory.
 *
 * When a batch is lost (neither written nor stored: the outbox failed), collection stops, as
 * before: the collector's next `add()` throws. The batches it filled meanwhile and that were not
 * sent yet are given back: not sent, not counted (as if the collector had stopped before
 * collecting them, which it would have without pipelining), so "N points LOST" stays exact.
 */
export class BatchingSink implements PointSink {
  private readonly report = emptyReport();
  /** the batch being filled, encoded line by line as the request body (see delivery/encoded.ts) */
  private readonly batch: EncodedLinesWriter;
  /** handed-over batches not yet finished, oldest first */
  private readonly pending: Promise<void>[] = [];
  /** the last handed-over batch: the next one is sent after it */
  private tail: Promise<void> = Promise.resolve();
  /** why collection must stop (points were lost), thrown at the next add() or flush() */
  private stop: unknown;

  constructor(
    private readonly target: BatchTarget,
    private readonly collector: string,
    private readonly batchSize: number,
    private readonly inFlight = 1,
  ) {
    this.batch = new EncodedLinesWriter(batchSize);
  }

  /** points per measurement of the batch being filled */
  private counts: Record<string, number> = {};

  add(line: string, measurement: string): void | Promise<void> {
    if (this.stop !== undefined) throw this.stop;
    this.counts[measurement] = (this.counts[measurement] ?? 0) + 1;
    this.batch.add(line);
    if (this.batch.length >= this.batchSize) {
      this.handOver();
      // resumed only after the event loop turned: the batch that can go now is on the socket
      // before the collector goes on (see Metric.run, POINTS_PER_TURN)
      if (this.pending.length >= this.inFlight) return this.pending[0]!.then(() => nextTurn()).then(() => this.check());
    }
  }

  private check(): void {
    if (this.stop !== undefined) throw this.stop;
  }

  /** Hands the current batch to the target, after the batches handed over before it. */
  private handOver(): void {
    if (this.batch.length === 0) return;
    const lines = this.batch.take();
    const counts = this.counts;
    this.counts = {};
    this.count(lines.length, counts, 1);
    const sending = this.tail.then(() => {
      if (this.stop === undefined) return this.send(lines);
      this.count(lines.length, counts, -1); // collection stopped before this batch was sent: given back
    });
    this.tail = sending;
    this.pending.push(sending);
    void sending.then(() => this.pending.shift());
  }

  private count(points: number, counts: Record<string, number>, sign: 1 | -1): void {
    const m = this.report.measurements;
    this.report.points += sign * points;
    for (const k in counts) {
      m[k] = (m[k] ?? 0) + sign * counts[k]!;
      if (m[k] === 0) delete m[k];
    }
  }

  /** Sends what is buffered now; resolves when every batch handed over is written or stored. */
  async flush(): Promise<void> {
    this.handOver();
    await this.tail;
    this.check();
  }

  /** Never rejects: a failure is counted in the report, or kept in `stop` when points were lost. */
  private async send(lines: EncodedLines): Promise<void> {
    let r: SendResult;
    try {
      r = await this.target.send(lines, this.collector);
    } catch (error) {
      this.stop ??= error;
      return;
    }
    if (r.written === lines.length) this.batch.reuse(lines);
    this.report.written += r.written;
    this.report.deferred += r.deferred;
    this.report.rejected += r.rejected;
    this.report.lost += r.lost ?? 0;
    this.report.refused += r.refused ?? 0;
    if (r.error && !this.report.errors.includes(r.error)) this.report.errors.push(r.error);
    // points neither written nor saved: stop the collector rather than go on losing data
    if (r.lost) {
      this.stop ??= new CollectorError(`collector "${this.collector}": collection stopped: ${r.error ?? `${r.lost} points were lost`}`);
    }
  }

  async finish(): Promise<SinkReport> {
    // a lost batch is already counted in the report
    this.handOver();
    await this.tail;
    return this.report;
  }
}
