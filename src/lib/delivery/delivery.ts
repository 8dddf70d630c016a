/**
 * delivery/: getting lines into InfluxDB without losing them: the HTTP transport (transport.ts),
 * the writer (writer.ts, and check.ts for `metrics check`), this module, the durable outbox
 * (outbox/: format, store, replay) and the lock files (lock.ts). It imports platform/ and points/
 * only; the InfluxDB writer and the outbox are loaded lazily (a dry-run never loads them).
 *
 * Delivery: hands batches of line protocol to InfluxDB and, when it cannot take them now, to the
 * outbox, so that nothing collected is lost. Once a write has failed for a reason a later attempt
 * may fix (unreachable, timeout, 5xx), the rest of the run goes straight to the outbox instead of
 * waiting through the retries again for every batch.
 *
 * A request refused as too large (HTTP 413: the server's request size limit, e.g. InfluxDB 1.x
 * `[http] max-body-size`, is below one batch) is split in halves until each part is accepted;
 * a single point that is still too large goes to the outbox's rejected/ folder with the reason.
 * The smallest refused size is remembered for the run, so later batches are split before they
 * are sent. Stored batches are replayed in requests of at most INFLUX_BATCH_SIZE points, split
 * the same way: an outbox filled while batches were too large drains once it fits.
 */
import type { InfluxConfig, Settings, StateSettings } from '../platform/settings.js';
import { WriteError, errorMessage } from '../platform/errors.js';
import type { InfluxWriter } from './writer.js';
import type { Logger } from '../platform/log.js';
import { Serializer } from '../points/line-protocol.js';
import { nowNanos, type CollectedPoint } from '../points/point.js';
import type { Outbox } from './outbox/store.js';
import { EncodedLines, linesOf } from './encoded.js';

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
 * The part of the outbox that delivery uses (see outbox/store.ts). `store` may report in `dropped` the
 * batches it deleted to make room (StoreResult), and throw an error carrying them too.
 */
export interface OutboxStore {
  store(lines: string[], meta: { collector: string; reason: string; spareThisRun?: boolean }): Promise<unknown>;
  reject?(lines: string[], meta: { collector: string; reason: string }): Promise<unknown>;
}

/** What became of lines handed to InfluxDB (see Delivery.deliver). */
export interface Delivered {
  written: number;
  /** refused for their content (400/422), or single points too large for any request (413) */
  rejected: Array<{ lines: string[]; reason: string }>;
  /** not delivered because of `error` (an outage, or a refused request): these lines, in order */
  failed?: { error: unknown; lines: string[] };
}

/**
 * What a delivering sink (run/sink.ts) hands its batches to: a Delivery. A batch is lines, or the
 * same lines already encoded as a request body (EncodedLines, see encoded.ts).
 */
export interface BatchTarget {
  send(lines: string[] | EncodedLines, collector: string): Promise<SendResult>;
}

/** The bytes of the request body these lines make (joined by newlines). */
function requestBytes(lines: string[] | EncodedLines): number {
  if (lines instanceof EncodedLines) return lines.body.length;
  let n = lines.length - 1;
  for (const l of lines) n += Buffer.byteLength(l, 'utf8');
  return n;
}

function halves(lines: string[]): [string[], string[]] {
  const mid = Math.ceil(lines.length / 2);
  return [lines.slice(0, mid), lines.slice(mid)];
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

  /** A Delivery to the InfluxDB of `config` (the settings' `influx()`), falling back to `outbox`. */
  static async open(config: InfluxConfig, log: Logger, outbox?: OutboxStore): Promise<Delivery> {
    const { InfluxWriter } = await import('./writer.js');
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

  /** the byte size of the smallest request InfluxDB refused as too large (413) in this run */
  private tooLarge: number | undefined;

  /**
   * Writes `lines` in requests of at most `batchSize` points; a request refused as too large
   * (413) is split in halves, down to single points. Never stores anything: says what was
   * written, what InfluxDB refused for its content (400/422, and single points too large), and
   * what could not be delivered (an outage or a refused request), in order, from the first
   * failure on.
   */
  async deliver(batch: string[] | EncodedLines): Promise<Delivered> {
    const out: Delivered = { written: 0, rejected: [] };
    const queue: Array<string[] | EncodedLines> = [];
    if (batch instanceof EncodedLines && batch.length <= this.batchSize) {
      queue.push(batch); // sent as it is; turned into lines only if it must be split or kept
    } else {
      const lines = linesOf(batch);
      for (let i = 0; i < lines.length; i += this.batchSize) queue.push(lines.slice(i, i + this.batchSize));
    }
    while (queue.length > 0) {
      const chunk = queue.shift()!;
      if (chunk.length > 1 && this.tooLarge !== undefined && requestBytes(chunk) >= this.tooLarge) {
        queue.unshift(...halves(linesOf(chunk))); // at least as large as a refused request: split before sending
        continue;
      }
      try {
        await this.writer.write(chunk);
        out.written += chunk.length;
      } catch (error) {
        if (error instanceof WriteError && error.statusCode === 413 && !error.retriable) {
          const size = requestBytes(chunk);
          this.tooLarge = Math.min(this.tooLarge ?? size, size);
          if (chunk.length > 1) {
            this.log.debug(`InfluxDB refused ${chunk.length} points (${size} bytes) as too large (HTTP 413); sending them in two halves`);
            queue.unshift(...halves(linesOf(chunk)));
            continue;
          }
          out.rejected.push({
            lines: linesOf(chunk),
            reason:
              `InfluxDB at ${this.writer.target} refused a single point of ${size} bytes as too large ` +
              `(${this.writer.describeError(error.cause ?? error)}): it can never be written as it is; ` +
              "raise the server's request size limit (InfluxDB 1.x: [http] max-body-size) or make the point smaller",
          });
          continue;
        }
        if (error instanceof WriteError && error.dataRejected) {
          out.rejected.push({ lines: linesOf(chunk), reason: error.message });
          continue;
        }
        out.failed = { error, lines: [chunk, ...queue].flatMap(linesOf) };
        break;
      }
    }
    return out;
  }

  async send(lines: string[] | EncodedLines, collector: string): Promise<SendResult> {
    if (this.down !== undefined) return this.deferDown(linesOf(lines), collector);
    const d = await this.deliver(lines);
    const result: SendResult = { written: d.written, deferred: 0, rejected: 0 };
    this.totals.written += d.written;
    const errors: string[] = [];
    for (const r of d.rejected) {
      this.totals.rejected += r.lines.length;
      result.rejected += r.lines.length;
      let kept = '';
      if (this.outbox?.reject) {
        try {
          await this.outbox.reject(r.lines, { collector, reason: r.reason });
          kept = ` (${r.lines.length === 1 ? 'the point is' : 'the batch is'} kept in the outbox's rejected folder)`;
        } catch (e) {
          kept = ` (and it could not be kept: ${errorMessage(e)})`;
        }
      }
      errors.push(r.reason + kept);
    }
    if (d.failed) {
      const error = d.failed.error;
      this.down = errorMessage(error);
      this.refused = error instanceof WriteError && !error.retriable;
      if (this.refused) this.log.error(`${this.down}; this run's points are kept in the outbox until that is fixed`);
      else this.log.warn(`${this.down}; storing this run's points in the outbox`);
      const r = await this.deferDown(d.failed.lines, collector);
      result.deferred = r.deferred;
      if (r.lost) result.lost = r.lost;
      if (r.refused) result.refused = r.refused;
      if (r.error) errors.unshift(r.error);
    }
    if (errors.length > 0) result.error = errors.join('; ');
    return result;
  }

  /** InfluxDB is down (or refuses the requests) for this run: to the outbox. */
  private async deferDown(lines: string[], collector: string): Promise<SendResult> {
    const r = await this.defer(lines, collector, this.down!, this.refused);
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

  private async defer(lines: string[], collector: string, reason: string, refused = false): Promise<SendResult> {
    if (!this.outbox) {
      return { written: 0, deferred: 0, rejected: 0, error: `${reason}; ${lines.length} points were NOT saved (no outbox)` };
    }
    try {
      const stored = await this.outbox.store(lines, { collector, reason, ...(this.spare ? { spareThisRun: true } : {}) });
      this.countDroppedThisRun(stored);
      this.totals.deferred += lines.length;
      return {
        written: 0,
        deferred: lines.length,
        rejected: 0,
        error: refused
          ? `${reason}; points kept in the outbox until that is fixed`
          : `InfluxDB unavailable (${reason}): points kept in the outbox`,
      };
    } catch (error) {
      this.countDroppedThisRun(error);
      // the data is lost: say so, and never report it as deferred
      this.log.error(errorMessage(error));
      this.totals.lost += lines.length;
      return {
        written: 0,
        deferred: 0,
        rejected: 0,
        lost: lines.length,
        error: `${reason}; and the outbox failed: ${errorMessage(error)}`,
      };
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
  opts: { collector: string; log: Logger } & ({ delivery: Delivery } | { settings: Pick<Settings, 'influx' | 'state'> }),
): Promise<SendResult> {
  const delivery =
    'delivery' in opts
      ? opts.delivery
      : await Delivery.open(opts.settings.influx(), opts.log, await openOutbox(opts.settings.state, opts.log));
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

/** The outbox of the state settings (see outbox/store.ts): its directory and its bound. */
export async function openOutbox(state: Pick<StateSettings, 'outboxDir' | 'outboxMaxBytes'>, log: Logger): Promise<Outbox> {
  const { Outbox } = await import('./outbox/store.js');
  return new Outbox({ dir: state.outboxDir, maxBytes: state.outboxMaxBytes, log });
}
