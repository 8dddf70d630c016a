/**
 * Event sinks: where issued metric events go.
 *
 * Which sinks, the metrics log's path and the Promtail URL are settings (`settings.events`,
 * parsed and checked by platform/settings.ts from METRICS_EVENT_SINKS, METRICS_LOG_PATH and
 * PROMTAIL_PUSH_API_URL; see the README's "Configuration"); the `influx` sink uses the InfluxDB
 * settings, as collectors do. No sink at all, when the caller does not write the events as points
 * itself, is a configuration error.
 *
 * Sinks
 * - `log`: one JSON line per event, appended with a single write() on a descriptor opened with
 *   O_APPEND (created if absent, mode 0640 before umask) and closed again (metrics-log.ts): concurrent writers
 *   (processes, hook scripts) never tear or interleave a line, and a logrotate rename between two
 *   events is followed by the next event (see logrotate.ts). The path is opened with O_NOFOLLOW
 *   and O_NONBLOCK and must be a regular file: a link, FIFO, socket or device there is refused
 *   with an error naming it (never written through, never waited on).
 * - `promtail` (promtail.ts): POST `{"streams":[{"stream":{"job":"metrics","event":"<name>"},"values":[["<ns>","<json line>"]]}]}`
 *   (Loki push API, JSON). Labels: `job="metrics"` and `event=<event name>`; nothing else, as
 *   Loki labels must stay low-cardinality (the line carries all fields; static labels such as
 *   host belong in Promtail's `loki_push_api` scrape config). The timestamp is the event's, in
 *   nanoseconds; Promtail keeps it only with `use_incoming_timestamp: true`. Retries on network
 *   errors, 429 and 5xx with exponential backoff (0.5 s doubling, jittered), honouring
 *   Retry-After, at most 5 attempts and 30 s per wait; other answers fail at once with the URL,
 *   status and the start of the body (of any answer at most 64 KiB is read; the rest is never
 *   read, the connection is closed).
 * - `influx`: the event as a point (`eventToPoint`) through delivery's `writePoints` (retries;
 *   when InfluxDB is unavailable the point waits in the outbox: `IssueResult.deferred`). Skipped
 *   when the caller writes the event as a point itself (`pointsHandled`, as a collector does: its
 *   events travel with its other points).
 *
 * Every sink is tried even when another one fails; then an `IssueMetricEventError` names each
 * failure (and where the event did get to).
 */
import type { SendResult } from '../delivery/delivery.js';
import { ConfigError, errorMessage } from '../platform/errors.js';
import { createLogger, type Logger } from '../platform/log.js';
import type { Settings, SinkName } from '../platform/settings.js';
import { IssueMetricEventError, eventLabel, type Event } from './event.js';
import { appendToMetricsLog } from './metrics-log.js';
import { lokiPushBody, pushToPromtail, type PromtailOptions } from './promtail.js';
import { eventToPoint } from './to-point.js';

export type { SinkName } from '../platform/settings.js';

// ---------------------------------------------------------------------------------------------
// influx

/** Writes the events as points; returns how many wait in the outbox (InfluxDB unavailable). */
async function writeToInflux(
  events: readonly Event[],
  opts: { collector: string; log: Logger; settings: Pick<Settings, 'influx' | 'state'> },
): Promise<number> {
  const { writePoints } = await import('../delivery/delivery.js');
  let result: SendResult;
  try {
    result = await writePoints(events.map(eventToPoint), { collector: opts.collector, log: opts.log, settings: opts.settings });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new IssueMetricEventError(`cannot write ${eventLabel(events)} to InfluxDB: ${errorMessage(error)}`, 'influx', undefined, {
      cause: error,
    });
  }
  if (result.deferred)
    opts.log.warn(`${result.error ?? 'InfluxDB unavailable'}: ${eventLabel(events)} kept in the outbox, to be sent by the next run`);
  return result.deferred;
}

// ---------------------------------------------------------------------------------------------
// The sinks object

export interface EventSinkOptions {
  /** the settings: which sinks (`events`), and for the `influx` sink the InfluxDB and state settings */
  settings: Pick<Settings, 'events' | 'influx' | 'state'>;
  log?: Logger;
  /** the collector name for InfluxDB delivery and messages (default `events`) */
  collector?: string;
  /** print what would be sent (info lines) instead of sending */
  dryRun?: boolean;
  promtail?: PromtailOptions;
}

export interface IssueOptions {
  /**
   * The caller writes the events as points itself (a collector does, with its other points):
   * the `influx` sink is skipped, and having no other sink is not an error.
   */
  pointsHandled?: boolean;
}

export interface IssueResult {
  /** the sinks the events were sent to */
  sinks: SinkName[];
  /** points the influx sink left in the outbox because InfluxDB was unavailable (absent: none) */
  deferred?: number;
}

export interface EventSinks {
  /** The sinks an issue() would use now (throws ConfigError on a bad configuration). */
  names(options?: IssueOptions): SinkName[];
  /** Sends the events to every configured sink; throws IssueMetricEventError naming each failure. */
  issue(events: Event | readonly Event[], options?: IssueOptions): Promise<IssueResult>;
}

export function createEventSinks(options: EventSinkOptions): EventSinks {
  const { settings } = options;
  const log = options.log ?? createLogger();
  const collector = options.collector ?? 'events';

  const names = (io: IssueOptions = {}): SinkName[] => {
    const all = settings.events.sinks;
    return all.filter((s) => !io.pointsHandled || s !== 'influx');
  };

  const send = async (sink: SinkName, events: readonly Event[]): Promise<number | undefined> => {
    switch (sink) {
      case 'log': {
        const path = settings.events.logPath!;
        if (options.dryRun) {
          for (const e of events) log.info(`dry-run: would append to ${path}: ${e.toLine()}`);
          return;
        }
        await appendToMetricsLog(events, path);
        return;
      }
      case 'promtail': {
        const url = settings.events.promtailUrl!;
        if (options.dryRun) {
          log.info(`dry-run: would push to Promtail: ${JSON.stringify(lokiPushBody(events))}`);
          return;
        }
        await pushToPromtail(events, url, { log, ...options.promtail });
        return;
      }
      case 'influx': {
        if (options.dryRun) {
          for (const e of events) log.info(`dry-run: would write to InfluxDB: event ${e.event} as a point`);
          return;
        }
        return writeToInflux(events, { collector, log, settings });
      }
    }
  };

  return {
    names,
    async issue(input, io = {}) {
      const events: readonly Event[] = Array.isArray(input) ? input : [input as Event];
      const sinks = names(io);
      if (events.length === 0) return { sinks };
      if (sinks.length === 0) {
        if (io.pointsHandled) return { sinks };
        throw new ConfigError(
          'no event sink is configured: set METRICS_LOG_PATH (the JSON-lines metrics log), PROMTAIL_PUSH_API_URL (Promtail), or ' +
            'METRICS_EVENT_SINKS (log, promtail, influx)',
        );
      }
      const results = await Promise.allSettled(sinks.map((s) => send(s, events)));
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ sink: sinks[i]!, error: r.reason as unknown }] : []));
      if (failed.length === 0) {
        const deferred = results.reduce((n, r) => n + (r.status === 'fulfilled' && typeof r.value === 'number' ? r.value : 0), 0);
        return deferred ? { sinks, deferred } : { sinks };
      }
      if (failed.length === 1 && sinks.length === 1) throw failed[0]!.error;
      const ok = sinks.filter((s) => !failed.some((f) => f.sink === s));
      const detail = failed.map((f) => `${f.sink}: ${errorMessage(f.error)}`).join('; ');
      throw new IssueMetricEventError(
        `${eventLabel(events)} could not be issued to ` +
          `${failed.map((f) => f.sink).join(' and ')}${ok.length ? ` (it was issued to ${ok.join(' and ')})` : ''}: ${detail}`,
        failed.length === 1 ? failed[0]!.sink : undefined,
        undefined,
        { cause: failed[0]!.error },
      );
    },
  };
}

/**
 * Issues an event (or several) to the sinks the settings configure: the one-call form of
 * `createEventSinks(options).issue(events)`.
 */
export async function issueEvent(events: Event | readonly Event[], options: EventSinkOptions & IssueOptions): Promise<IssueResult> {
  return createEventSinks(options).issue(events, { pointsHandled: options.pointsHandled });
}
