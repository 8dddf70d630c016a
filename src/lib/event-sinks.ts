/**
 * Event sinks: where issued metric events go.
 *
 * Configuration (environment, read at every issue, so a long-running process follows changes):
 *
 * | variable                | meaning |
 * | ---                     | --- |
 * | `METRICS_EVENT_SINKS`   | comma list of `log`, `promtail`, `influx` (or `none`). Unset: every sink whose own variable is set: `log` when `METRICS_LOG_PATH` is set, `promtail` when `PROMTAIL_PUSH_API_URL` is set. `influx` only when listed (the InfluxDB variables are set for collectors anyway, so they cannot mean "send events there too"). |
 * | `METRICS_LOG_PATH`      | the JSON-lines metrics log (sink `log`) |
 * | `PROMTAIL_PUSH_API_URL` | Promtail's Loki push API, e.g. `http://127.0.0.1:9080/loki/api/v1/push` (sink `promtail`); credentials in the URL become basic auth |
 * | InfluxDB variables      | as for collectors (`INFLUXDB_*` or `INFLUX_*`, see config.ts), for sink `influx` |
 *
 * A sink listed in `METRICS_EVENT_SINKS` without its variable is a configuration error, as is
 * no sink at all when the caller does not write the events as points itself.
 *
 * Sinks
 * - `log`: one JSON line per event, appended with a single write() on a descriptor opened with
 *   O_APPEND (created if absent, mode 0640 before umask) and closed again: concurrent writers
 *   (processes, hook scripts) never tear or interleave a line, and a logrotate rename between two
 *   events is followed by the next event (see logrotate.ts). The path is opened with O_NOFOLLOW
 *   and O_NONBLOCK and must be a regular file: a link, FIFO, socket or device there is refused
 *   with an error naming it (never written through, never waited on).
 * - `promtail`: POST `{"streams":[{"stream":{"job":"metrics","event":"<name>"},"values":[["<ns>","<json line>"]]}]}`
 *   (Loki push API, JSON). Labels: `job="metrics"` and `event=<event name>`; nothing else, as
 *   Loki labels must stay low-cardinality (the line carries all fields; static labels such as
 *   host belong in Promtail's `loki_push_api` scrape config). The timestamp is the event's, in
 *   nanoseconds; Promtail keeps it only with `use_incoming_timestamp: true`. Retries on network
 *   errors, 429 and 5xx with exponential backoff (0.5 s doubling, jittered), honouring
 *   Retry-After, at most 5 attempts and 30 s per wait; other answers fail at once with the URL,
 *   status and the start of the body (of any answer at most 64 KiB is read; the rest is never
 *   read, the connection is closed).
 * - `influx`: the event as a point (`eventToPoint`) through delivery's `writePoints` (retries;
 *   when InfluxDB is unavailable the point waits in the outbox: `IssueResult.deferred`). Skipped when the caller writes the event as a point itself (`pointsHandled`, as a
 *   collector does: its events travel with its other points).
 *
 * Every sink is tried even when another one fails; then an `IssueMetricEventError` names each
 * failure (and where the event did get to).
 */
import { ERROR_BODY_LIMIT, readBounded, safeUrl } from './platform/http.js';
import { UnsafeFileError, openAppendNoFollow } from './platform/atomic.js';
import { ConfigError, errorMessage } from './platform/errors.js';
import { IssueMetricEventError, eventToPoint, timestampToNanoString, type Event } from './events.js';
import { createLogger, type Logger } from './platform/log.js';
import { registerCredentialPair } from './platform/redact.js';

export type Env = Record<string, string | undefined>;
export type SinkName = 'log' | 'promtail' | 'influx';
export const SINK_NAMES: readonly SinkName[] = ['log', 'promtail', 'influx'];

/** The sinks the environment asks for, in a fixed order; throws ConfigError on a bad setting. */
export function configuredSinks(env: Env = process.env): SinkName[] {
  const raw = env.METRICS_EVENT_SINKS;
  if (raw === undefined || raw.trim() === '') {
    const out: SinkName[] = [];
    if (env.METRICS_LOG_PATH) out.push('log');
    if (env.PROMTAIL_PUSH_API_URL) out.push('promtail');
    if (out.includes('promtail')) checkPromtailUrl(env.PROMTAIL_PUSH_API_URL!);
    return out;
  }
  const names = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.includes('none')) {
    if (names.length > 1) throw new ConfigError(`METRICS_EVENT_SINKS=${JSON.stringify(raw)}: "none" cannot be combined with other sinks`);
    return [];
  }
  const problems: string[] = [];
  for (const n of names) {
    if (!(SINK_NAMES as readonly string[]).includes(n)) problems.push(`unknown sink "${n}" (use log, promtail, influx or none)`);
  }
  if (names.includes('log') && !env.METRICS_LOG_PATH) problems.push('it lists "log" but METRICS_LOG_PATH (the metrics log file) is not set');
  if (names.includes('promtail') && !env.PROMTAIL_PUSH_API_URL) {
    problems.push('it lists "promtail" but PROMTAIL_PUSH_API_URL (e.g. http://127.0.0.1:9080/loki/api/v1/push) is not set');
  }
  if (problems.length) throw new ConfigError(`METRICS_EVENT_SINKS=${JSON.stringify(raw)}: ${problems.join('; ')}`);
  if (names.includes('promtail')) checkPromtailUrl(env.PROMTAIL_PUSH_API_URL!);
  return SINK_NAMES.filter((n) => names.includes(n));
}

function checkPromtailUrl(url: string): URL {
  try {
    const target = new URL(url);
    if (target.protocol === 'http:' || target.protocol === 'https:') return target;
  } catch {
    /* below */
  }
  throw new ConfigError(`PROMTAIL_PUSH_API_URL=${JSON.stringify(safeUrl(url))} is not an http(s) URL (e.g. http://127.0.0.1:9080/loki/api/v1/push)`);
}

// ---------------------------------------------------------------------------------------------
// log

/**
 * Appends the events to the metrics log, one JSON line each, each with a single write() on an
 * O_APPEND descriptor (created if absent, mode 0640), opened without following a link and
 * refused unless it is a regular file.
 */
export async function appendToMetricsLog(events: readonly Event[], path: string): Promise<void> {
  let fh;
  try {
    // O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK, and only a regular file (atomic.ts): a link is never
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
      `cannot append ${eventLabel(events)} to the metrics log ${path} (METRICS_LOG_PATH): ${errorMessage(error)}; check that the directory exists and that this user may write there`,
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
    throw new IssueMetricEventError(`cannot append ${eventLabel(events)} to the metrics log ${path} (METRICS_LOG_PATH): ${errorMessage(error)}`, 'log', path, {
      cause: error,
    });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function eventLabel(events: readonly Event[]): string {
  const set = [...new Set(events.map((e) => e.event))];
  if (events.length === 1) return `event "${set[0]}"`;
  return `${events.length} events (${set.join(', ')})`;
}

// ---------------------------------------------------------------------------------------------
// promtail

export interface RetryPolicy {
  /** attempts in all (first try included) */
  attempts: number;
  /** first backoff delay, ms; doubles each retry (±20 % jitter) */
  baseDelayMs: number;
  /** longest single wait, ms: a longer Retry-After fails at once instead of waiting */
  maxDelayMs: number;
  /** per-request timeout, ms */
  timeoutMs: number;
}

export const DEFAULT_PROMTAIL_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 10_000 };

export interface PromtailOptions {
  retry?: Partial<RetryPolicy>;
  log?: Logger;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** The Loki push body: one stream per event name (labels `job`, `event`), values `[ns, line]`. */
export function lokiPushBody(events: readonly Event[]): { streams: { stream: Record<string, string>; values: [string, string][] }[] } {
  const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
  for (const e of events) {
    let s = streams.get(e.event);
    if (!s) {
      s = { stream: { job: 'metrics', event: e.event }, values: [] };
      streams.set(e.event, s);
    }
    s.values.push([timestampToNanoString(e.timestamp), e.toLine()]);
  }
  return { streams: [...streams.values()] };
}

/** A URL for messages: no credentials, no query string secrets. */
function displayUrl(u: URL): string {
  const c = new URL(u.href);
  c.username = '';
  c.password = '';
  return c.href;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - Date.now());
}

function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? t.slice(0, 300) + '…' : t;
}

/** Pushes the events to Promtail's Loki push API, retrying on network errors, 429 and 5xx. */
export async function pushToPromtail(events: readonly Event[], url: string, options: PromtailOptions = {}): Promise<void> {
  const target = checkPromtailUrl(url);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.username || target.password) {
    const user = decodeURIComponent(target.username);
    const pass = decodeURIComponent(target.password);
    registerCredentialPair(user, pass);
    headers.authorization = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  }
  // fetch() refuses URLs with credentials: they went into the header above
  const where = displayUrl(target);
  const requestUrl = where;
  const policy = { ...DEFAULT_PROMTAIL_RETRY, ...options.retry };
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const body = JSON.stringify(lokiPushBody(events));
  const what = eventLabel(events);
  let last = '';
  for (let attempt = 1; ; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const res = await doFetch(requestUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(policy.timeoutMs) });
      // at most 64 KiB of any answer is read (the rest is cancelled): a body that never ends, or
      // a gzip bomb, cannot hold the push or its memory
      if (res.ok) {
        await readBounded(res, ERROR_BODY_LIMIT).catch(() => undefined);
        return;
      }
      const { text } = await readBounded(res, ERROR_BODY_LIMIT).catch(() => ({ text: '' }));
      const status = `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}${text.trim() ? `: ${excerpt(text)}` : ''}`;
      if (res.status !== 429 && res.status < 500) {
        throw new IssueMetricEventError(`Promtail push of ${what} to ${where} failed: ${status}`, 'promtail', where);
      }
      last = status;
      retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    } catch (error) {
      if (error instanceof IssueMetricEventError) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const name = (error as Error)?.name;
      last =
        name === 'TimeoutError'
          ? `no answer within ${policy.timeoutMs / 1000} s`
          : `network error: ${cause?.code ?? cause?.message ?? errorMessage(error)}`;
    }
    if (attempt >= policy.attempts) {
      throw new IssueMetricEventError(`Promtail push of ${what} to ${where} failed after ${attempt} attempts; last: ${last}`, 'promtail', where);
    }
    let delay = policy.baseDelayMs * 2 ** (attempt - 1);
    delay = Math.min(policy.maxDelayMs, delay * (0.8 + Math.random() * 0.4));
    if (retryAfterMs !== undefined) {
      if (retryAfterMs > policy.maxDelayMs) {
        throw new IssueMetricEventError(
          `Promtail push of ${what} to ${where} failed: ${last}; it asks to retry after ${(retryAfterMs / 1000).toFixed(1)} s, longer than the ${policy.maxDelayMs / 1000} s this client waits`,
          'promtail',
          where,
        );
      }
      delay = retryAfterMs;
    }
    options.log?.warn(`Promtail push to ${where}: ${last}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${policy.attempts})`);
    await sleep(delay);
  }
}

// ---------------------------------------------------------------------------------------------
// influx

/** Writes the events as points; returns how many wait in the outbox (InfluxDB unavailable). */
async function writeToInflux(events: readonly Event[], opts: { collector: string; log: Logger; env: Env }): Promise<number> {
  const { writePoints } = await import('./delivery/delivery.js');
  let result;
  try {
    result = await writePoints(events.map(eventToPoint), { collector: opts.collector, log: opts.log, env: opts.env });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new IssueMetricEventError(`cannot write ${eventLabel(events)} to InfluxDB: ${errorMessage(error)}`, 'influx', undefined, { cause: error });
  }
  if (result.deferred) opts.log.warn(`${result.error ?? 'InfluxDB unavailable'}: ${eventLabel(events)} kept in the outbox, to be sent by the next run`);
  return result.deferred;
}

// ---------------------------------------------------------------------------------------------
// The sinks object

export interface EventSinkOptions {
  /** default process.env, read at every issue() */
  env?: Env;
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

export function createEventSinks(options: EventSinkOptions = {}): EventSinks {
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger();
  const collector = options.collector ?? 'events';

  const names = (io: IssueOptions = {}): SinkName[] => {
    const all = configuredSinks(env);
    return io.pointsHandled ? all.filter((s) => s !== 'influx') : all;
  };

  const send = async (sink: SinkName, events: readonly Event[]): Promise<number | void> => {
    switch (sink) {
      case 'log': {
        const path = env.METRICS_LOG_PATH!;
        if (options.dryRun) {
          for (const e of events) log.info(`dry-run: would append to ${path}: ${e.toLine()}`);
          return;
        }
        return appendToMetricsLog(events, path);
      }
      case 'promtail': {
        const url = env.PROMTAIL_PUSH_API_URL!;
        if (options.dryRun) {
          log.info(`dry-run: would push to Promtail: ${JSON.stringify(lokiPushBody(events))}`);
          return;
        }
        return pushToPromtail(events, url, { log, ...options.promtail });
      }
      case 'influx': {
        if (options.dryRun) {
          for (const e of events) log.info(`dry-run: would write to InfluxDB: event ${e.event} as a point`);
          return;
        }
        return writeToInflux(events, { collector, log, env });
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
          'no event sink is configured: set METRICS_LOG_PATH (the JSON-lines metrics log), PROMTAIL_PUSH_API_URL (Promtail), or METRICS_EVENT_SINKS (log, promtail, influx)',
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
        `${eventLabel(events)} could not be issued to ${failed.map((f) => f.sink).join(' and ')}${ok.length ? ` (it was issued to ${ok.join(' and ')})` : ''}: ${detail}`,
        failed.length === 1 ? failed[0]!.sink : undefined,
        undefined,
        { cause: failed[0]!.error },
      );
    },
  };
}

/**
 * Issues an event (or several) to the sinks the environment configures: the one-call form of
 * `createEventSinks(options).issue(events)`.
 */
export async function issueEvent(events: Event | readonly Event[], options: EventSinkOptions & IssueOptions = {}): Promise<IssueResult> {
  return createEventSinks(options).issue(events, { pointsHandled: options.pointsHandled });
}
