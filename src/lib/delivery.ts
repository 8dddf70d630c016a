/**
 * Delivery: hands batches of line protocol to InfluxDB and, when it cannot take them now, to the
 * outbox, so that nothing collected is lost. Once a write has failed for a reason a later attempt
 * may fix (unreachable, timeout, 5xx), the rest of the run goes straight to the outbox instead of
 * waiting through the retries again for every batch.
 */
import { loadInfluxConfig, type Env, type InfluxConfig } from './config.js';
import { ConfigError, WriteError, errorMessage } from './errors.js';
import type { InfluxWriter } from './influx.js';
import type { Logger } from './log.js';
import { Serializer, nowNanos, type CollectedPoint } from './point.js';
import type { Outbox, ReplayResult } from './outbox.js';
import type { BatchTarget } from './sink.js';

export interface SendResult {
  written: number;
  deferred: number;
  rejected: number;
  /** points neither written nor saved (the outbox could not store them) */
  lost?: number;
  /** of the deferred points: InfluxDB refused the request (credentials, database, TLS): the run fails */
  refused?: number;
  error?: string;
}

/**
 * The part of the outbox that delivery uses (see outbox.ts). `store` may report in `dropped` the
 * batches it deleted to make room (StoreResult), and throw an error carrying them too.
 */
export interface OutboxStore {
  store(lines: string[], meta: { collector: string; reason: string; spareThisRun?: boolean }): Promise<unknown>;
  reject?(lines: string[], meta: { collector: string; reason: string }): Promise<unknown>;
}

export class Delivery implements BatchTarget {
  /** set after a failed write: later batches of this run go straight to the outbox */
  private down: string | undefined;
  /** the failure needs the user (credentials, database, TLS), not just time */
  private refused = false;
  readonly totals = { written: 0, deferred: 0, rejected: 0, lost: 0 };
  /**
   * Points this run stored in the outbox that the outbox dropped later in the same run to stay
   * within its bound, by the collector that stored them: lost, not deferred (the runner moves
   * them in that collector's report).
   */
  readonly lostLater = new Map<string, number>();
  /** set for the run's own report points: the outbox must not drop this run's batches for them */
  private spare = false;

  constructor(
    readonly writer: InfluxWriter,
    readonly config: InfluxConfig,
    private readonly log: Logger,
    readonly outbox?: OutboxStore,
  ) {}

  static async open(env: Env, log: Logger, outbox?: OutboxStore): Promise<Delivery> {
    const config = loadInfluxConfig(env);
    const { InfluxWriter } = await import('./influx.js');
    return new Delivery(new InfluxWriter(config, { log }), config, log, outbox);
  }

  get batchSize(): number {
    return this.config.batchSize;
  }

  get unreachable(): string | undefined {
    return this.down;
  }

  /**
   * InfluxDB is known to be unavailable for now: send the rest of this run to the outbox.
   * `refused`: it refuses the requests (credentials, database, TLS): the run is a failure.
   */
  markDown(reason: string, refused = false): void {
    if (this.down !== undefined) return;
    this.down = reason;
    this.refused = refused;
  }

  async send(lines: string[], collector: string): Promise<SendResult> {
    if (this.down === undefined) {
      try {
        await this.writer.write(lines);
        this.totals.written += lines.length;
        return { written: lines.length, deferred: 0, rejected: 0 };
      } catch (error) {
        if (error instanceof WriteError && error.dataRejected) {
          this.totals.rejected += lines.length;
          let kept = '';
          if (this.outbox?.reject) {
            try {
              await this.outbox.reject(lines, { collector, reason: error.message });
              kept = ' (the batch is kept in the outbox\'s rejected folder)';
            } catch (e) {
              kept = ` (and it could not be kept: ${errorMessage(e)})`;
            }
          }
          return { written: 0, deferred: 0, rejected: lines.length, error: error.message + kept };
        }
        this.down = errorMessage(error);
        this.refused = error instanceof WriteError && !error.retriable;
        if (this.refused) this.log.error(`${this.down}; this run's points are kept in the outbox until that is fixed`);
        else this.log.warn(`${this.down}; storing this run's points in the outbox`);
      }
    }
    const r = await this.defer(lines, collector, this.down!);
    // refused for a reason the user must fix (credentials, database, certificate): a failure, not a delay
    return this.refused ? { ...r, refused: r.deferred } : r;
  }

  /**
   * From now on the outbox makes room without dropping batches this run stored: for the run's own
   * `collector_run` points, written once the counts are final (see runner.ts finishRun).
   */
  spareThisRunsBatches(): void {
    this.spare = true;
  }

  private async defer(lines: string[], collector: string, reason: string): Promise<SendResult> {
    if (!this.outbox) {
      return { written: 0, deferred: 0, rejected: 0, error: `${reason}; ${lines.length} points were NOT saved (no outbox)` };
    }
    try {
      const stored = await this.outbox.store(lines, { collector, reason, ...(this.spare ? { spareThisRun: true } : {}) });
      this.countDroppedThisRun(stored);
      this.totals.deferred += lines.length;
      return { written: 0, deferred: lines.length, rejected: 0, error: `InfluxDB unavailable (${reason}): points kept in the outbox` };
    } catch (error) {
      this.countDroppedThisRun(error);
      // the data is lost: say so, and never report it as deferred
      this.log.error(errorMessage(error));
      this.totals.lost += lines.length;
      return { written: 0, deferred: 0, rejected: 0, lost: lines.length, error: `${reason}; and the outbox failed: ${errorMessage(error)}` };
    }
  }

  /** Batches of this run that a store dropped to make room: lost, for the collector that stored them. */
  private countDroppedThisRun(from: unknown): void {
    const dropped = (from as { dropped?: unknown } | null | undefined)?.dropped;
    if (!Array.isArray(dropped)) return;
    for (const d of dropped as Array<{ thisRun?: boolean; collector?: string; points?: number }>) {
      if (!d.thisRun || !d.collector || !d.points) continue;
      this.lostLater.set(d.collector, (this.lostLater.get(d.collector) ?? 0) + d.points);
      this.totals.deferred -= d.points;
      this.totals.lost += d.points;
    }
  }
}

/**
 * Writes a few points outside a collector run (events issued from a script, self-metrics).
 * Throws when any point was neither written nor kept in the outbox.
 */
export async function writePoints(
  points: CollectedPoint[],
  opts: { collector: string; log: Logger; env?: Env; delivery?: Delivery },
): Promise<SendResult> {
  const delivery = opts.delivery ?? (await Delivery.open(opts.env ?? process.env, opts.log, await openOutbox(opts.env ?? process.env, opts.log)));
  const serializer = new Serializer(opts.collector, nowNanos());
  const lines = points.map((p) => serializer.serialize(p));
  const total: SendResult = { written: 0, deferred: 0, rejected: 0 };
  for (let i = 0; i < lines.length; i += delivery.batchSize) {
    const r = await delivery.send(lines.slice(i, i + delivery.batchSize), opts.collector);
    total.written += r.written;
    total.deferred += r.deferred;
    total.rejected += r.rejected;
    total.error ??= r.error;
  }
  if (total.written + total.deferred < lines.length) {
    throw new WriteError(total.error ?? `${lines.length - total.written - total.deferred} points were not delivered`, false);
  }
  return total;
}

/** The outbox for this environment (see outbox.ts): `$STATE_DIRECTORY/outbox`, `$METRICS_OUTBOX_DIR`, … */
export async function openOutbox(env: Env, log: Logger): Promise<Outbox> {
  const { Outbox, DEFAULT_OUTBOX_MAX_BYTES } = await import('./outbox.js');
  let maxBytes = DEFAULT_OUTBOX_MAX_BYTES;
  if (env.METRICS_OUTBOX_MAX_SIZE) {
    try {
      maxBytes = Outbox.parseSize(env.METRICS_OUTBOX_MAX_SIZE);
    } catch (error) {
      throw new ConfigError(`METRICS_OUTBOX_MAX_SIZE=${JSON.stringify(env.METRICS_OUTBOX_MAX_SIZE)} is not a size (e.g. 256M, 1G): ${errorMessage(error)}`);
    }
  }
  return new Outbox({ dir: Outbox.resolveDir(env), maxBytes, log });
}

/**
 * Sends what waits in the outbox, oldest first, before new points. When InfluxDB is still
 * unavailable the replay stops and `delivery` is marked down, so this run's points join the queue
 * without waiting through the retries again.
 */
export async function replayOutbox(
  delivery: Delivery,
  outbox: Outbox,
  log: Logger,
  onProgress?: (done: { files: number; points: number }, total: { files: number; points: number }) => void,
): Promise<ReplayResult> {
  let refused: string | undefined;
  const result = await outbox.replay(
    async (lines) => {
      try {
        await delivery.writer.write(lines);
        return 'ok';
      } catch (error) {
        if (error instanceof WriteError && error.dataRejected) return { status: 'rejected', message: error.message };
        if (error instanceof WriteError && !error.retriable) refused = error.message;
        return { status: 'retry-later', message: errorMessage(error) };
      }
    },
    { onProgress },
  );
  if (result.busy) log.info(`outbox: another process is replaying it (${result.holder ? `pid ${result.holder.pid}` : 'unknown'}); skipping the replay`);
  if (result.sent.points > 0) log.info(`outbox: sent ${result.sent.points} points from ${result.sent.files} stored batches`);
  if (result.rejected.points > 0) log.error(`outbox: InfluxDB rejected ${result.rejected.points} stored points; they were moved to ${outbox.dir}/rejected`);
  if (result.stopped) delivery.markDown(result.stopped, refused !== undefined);
  if (refused) log.error(`outbox: InfluxDB refuses the stored points for a reason to fix here (not their data): ${refused}`);
  return result;
}
