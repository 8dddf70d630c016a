/**
 * The `promtail` sink: a POST of the events to Promtail's Loki push API (JSON), retried on
 * network errors, 429 and 5xx with exponential backoff, honouring Retry-After (see sinks.ts for
 * the labels and the limits); of any answer at most 64 KiB is read.
 */
import { errorMessage } from '../platform/errors.js';
import { ERROR_BODY_LIMIT, RequestTimeoutError, readBounded } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import { registerCredentialPair } from '../platform/redact.js';
import { parseRetryAfter, retry, type Sleep } from '../platform/retry.js';
import { checkPromtailUrl } from '../platform/settings.js';
import { IssueMetricEventError, eventLabel, type Event } from './event.js';
import { timestampToNanoString } from './to-point.js';

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
  sleep?: Sleep;
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

function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? t.slice(0, 300) + '…' : t;
}

/** An answer that is not 2xx: `retryable` for 429 and 5xx. */
class PushStatusError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/** Pushes the events to Promtail's Loki push API, retrying on network errors, 429 and 5xx (platform/retry.ts). */
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
  const body = JSON.stringify(lokiPushBody(events));
  const what = eventLabel(events);
  /** the last failure in words: an answer's status, a time-out, a network error */
  const describe = (error: unknown): string => {
    if (error instanceof PushStatusError || error instanceof RequestTimeoutError) return error.message;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `network error: ${cause?.code ?? cause?.message ?? errorMessage(error)}`;
  };
  await retry(
    async () => {
      let res: Response;
      try {
        res = await doFetch(requestUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(policy.timeoutMs) });
      } catch (error) {
        throw (error as Error)?.name === 'TimeoutError' ? new RequestTimeoutError(policy.timeoutMs) : error;
      }
      // at most 64 KiB of any answer is read (the rest is cancelled): a body that never ends, or
      // a gzip bomb, cannot hold the push or its memory
      if (res.ok) {
        await readBounded(res, ERROR_BODY_LIMIT).catch(() => undefined);
        return;
      }
      const { text } = await readBounded(res, ERROR_BODY_LIMIT).catch(() => ({ text: '' }));
      const status = `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}${text.trim() ? `: ${excerpt(text)}` : ''}`;
      throw new PushStatusError(status, res.status === 429 || res.status >= 500, parseRetryAfter(res.headers.get('retry-after')));
    },
    {
      attempts: policy.attempts,
      baseDelayMs: policy.baseDelayMs,
      maxDelayMs: policy.maxDelayMs,
      ...(options.sleep ? { sleep: options.sleep } : {}),
      classify: (error) => {
        if (error instanceof PushStatusError && !error.retryable) {
          throw new IssueMetricEventError(`Promtail push of ${what} to ${where} failed: ${error.message}`, 'promtail', where);
        }
        return error instanceof PushStatusError && error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {};
      },
      giveUp: (error, attempts) =>
        new IssueMetricEventError(
          `Promtail push of ${what} to ${where} failed after ${attempts} attempts; last: ${describe(error)}`,
          'promtail',
          where,
        ),
      retryAfterTooLong: (error, retryAfterMs) =>
        new IssueMetricEventError(
          `Promtail push of ${what} to ${where} failed: ${describe(error)}; it asks to retry after ` +
            `${(retryAfterMs / 1000).toFixed(1)} s, longer than the ${policy.maxDelayMs / 1000} s this client waits`,
          'promtail',
          where,
        ),
      onRetry: (error, { attempt, delayMs }) =>
        options.log?.warn(
          `Promtail push to ${where}: ${describe(error)}; retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ` +
            `${policy.attempts})`,
        ),
    },
  );
}
