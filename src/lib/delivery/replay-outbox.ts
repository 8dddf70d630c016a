/**
 * Replaying the outbox through a Delivery: what every delivering run does first, and what
 * `metrics outbox flush` does on demand.
 */
import { WriteError, errorMessage } from '../platform/errors.js';
import type { Logger } from '../platform/log.js';
import type { Delivery } from './delivery.js';
import type { ReplayResult } from './outbox/replay.js';
import type { Outbox } from './outbox/store.js';

/**
 * Sends what waits in the outbox, oldest first, before new points, in requests of at most
 * INFLUX_BATCH_SIZE points (split further when InfluxDB answers 413; every stored line carries its
 * timestamp, so a part sent again after an interruption overwrites, never duplicates). Points
 * refused for their content go to rejected/: a whole stored batch as it is, or the refused parts
 * of a batch whose other parts were written. When InfluxDB is unavailable (a retriable failure)
 * the replay stops and `delivery` is marked down, so this run's points join the queue without
 * waiting through the retries again. A refused replay (credentials, database, TLS, a request
 * Node will not send) stops it too, but the run's new points are still tried: they may be
 * accepted, and if not, they are refused (and kept) on their own.
 */
export async function replayOutbox(
  delivery: Delivery,
  outbox: Outbox,
  log: Logger,
  onProgress?: (done: { files: number; points: number }, total: { files: number; points: number }) => void,
): Promise<ReplayResult> {
  let refused: string | undefined;
  let outage: string | undefined;
  let written = 0;
  const rejected = { files: 0, points: 0 };
  const result = await outbox.replay(
    async (lines, entry) => {
      const d = await delivery.deliver(lines);
      if (d.failed) {
        // the file stays whole: what was written of it is sent again later (same timestamps)
        const error = d.failed.error;
        if (error instanceof WriteError && !error.retriable) refused = error.message;
        else outage = errorMessage(error);
        return { status: 'retry-later', message: errorMessage(error) };
      }
      const only = d.rejected[0];
      if (d.written === 0 && d.rejected.length === 1 && only!.lines.length === lines.length) {
        return { status: 'rejected', message: only!.reason }; // refused whole: the file moves to rejected/ as it is
      }
      for (const r of d.rejected) {
        // a throw stops the replay and keeps the file (its written parts are sent again later)
        await outbox.reject(r.lines, { collector: entry.header?.collector ?? 'outbox', reason: r.reason });
        log.warn(`outbox: ${r.reason}; ${r.lines.length} points from ${entry.name} were moved to ${outbox.dir}/rejected`);
        rejected.files++;
        rejected.points += r.lines.length;
      }
      written += d.written;
      return 'ok';
    },
    { onProgress },
  );
  const adjusted: ReplayResult = {
    ...result,
    sent: { files: result.sent.files, points: written },
    rejected: { files: result.rejected.files + rejected.files, points: result.rejected.points + rejected.points },
  };
  if (result.busy)
    log.info(`outbox: another process is replaying it (${result.holder ? `pid ${result.holder.pid}` : 'unknown'}); skipping the replay`);
  if (adjusted.sent.points > 0) log.info(`outbox: sent ${adjusted.sent.points} points from ${adjusted.sent.files} stored batches`);
  if (adjusted.rejected.points > 0)
    log.error(`outbox: InfluxDB rejected ${adjusted.rejected.points} stored points; they were moved to ${outbox.dir}/rejected`);
  // only an outage sends the run's new points straight to the outbox
  if (result.stopped && outage !== undefined) delivery.markDown(result.stopped);
  if (refused) log.error(`outbox: InfluxDB refuses the stored points for a reason to fix here (not their data): ${refused}`);
  return adjusted;
}
