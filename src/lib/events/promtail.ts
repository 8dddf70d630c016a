/**
 * The `promtail` sink: a POST of the events to Promtail's Loki push API (JSON), retried on
 * network errors, 429 and 5xx with exponential backoff, honouring Retry-After (see sinks.ts for
 * the labels and the limits); of any answer at most 64 KiB is read.
 */
import { errorMessage } from '../platform/errors.js';
import { ERROR_BODY_LIMIT, readBounded } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import { registerCredentialPair } from '../platform/redact.js';
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

