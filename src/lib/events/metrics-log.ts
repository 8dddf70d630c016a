/**
 * The `log` sink: the JSON-lines metrics log (`METRICS_LOG_PATH`), one line per event, appended
 * with a single write() on a descriptor opened with O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK and
 * closed again (see sinks.ts and logrotate.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import { UnsafeFileError, openAppendNoFollow } from '../platform/atomic.js';
import { errorMessage } from '../platform/errors.js';
import { IssueMetricEventError, eventLabel, type Event } from './event.js';

/**
 * Appends the events to the metrics log, one JSON line each, each with a single write() on an
 * O_APPEND descriptor (created if absent, mode 0640), opened without following a link and
 * refused unless it is a regular file.
 */
export async function appendToMetricsLog(events: readonly Event[], path: string): Promise<void> {
  let fh: FileHandle;
  try {
    // O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK, and only a regular file (platform/atomic.ts): a link is never
    // followed, a FIFO never waited on
    fh = await openAppendNoFollow(path, 0o640);
  } catch (error) {
    if (error instanceof UnsafeFileError) {
      throw new IssueMetricEventError(
        `cannot append ${eventLabel(events)} to the metrics log ${path} (METRICS_LOG_PATH): it is ${error.what}, not a regular file; ` +
          `nothing was written: remove it, or point METRICS_LOG_PATH at a regular file`,
        'log',
        path,
        { cause: error },
      );
    }
    throw new IssueMetricEventError(
      `cannot append ${eventLabel(events)} to the metrics log ${path} (METRICS_LOG_PATH): ${errorMessage(error)}; check that the ` +
        `directory exists and that this user may write there`,
      'log',
      path,
      { cause: error },
    );
  }
  try {
    for (const event of events) {
      const buf = Buffer.from(event.toLine() + '\n', 'utf8');
      const { bytesWritten } = await fh.write(buf, 0, buf.length);
      if (bytesWritten !== buf.length) {
        throw new Error(`short write (${bytesWritten} of ${buf.length} bytes): is the disk full?`);
      }
    }
  } catch (error) {
    throw new IssueMetricEventError(
      `cannot append ${eventLabel(events)} to the metrics log ${path} (METRICS_LOG_PATH): ${errorMessage(error)}`,
      'log',
      path,
      {
        cause: error,
      },
    );
  } finally {
    await fh.close().catch(() => undefined);
  }
}
