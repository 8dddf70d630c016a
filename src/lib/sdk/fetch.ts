/**
 * Fetching a collector's source over HTTP: a time limit, a size limit, and errors that name the
 * URL and the status. A failing source is an error, never "no data".
 */
import { CollectorError } from '../platform/errors.js';
import { ERROR_BODY_LIMIT, readBounded, safeUrl } from '../platform/http.js';
import { redact } from '../platform/redact.js';

/** Options of the HTTP helpers (`Metric.fetchJson`, `Metric.fetchText`). */
export interface FetchOptions {
  /** ms before the request is abandoned (default 10 000) */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** the run's signal: the collector's time limit aborts the request */
  signal?: AbortSignal;
  /** largest body accepted, bytes (default 16 MiB): a hostile source cannot exhaust memory */
  maxBytes?: number;
  /** what the user can do about a failure, appended to the message (e.g. "set SPONSORING_URL") */
  hint?: string;
  method?: string;
  body?: string;
}

function fail(url: string, what: string, opts: FetchOptions, cause?: unknown): never {
  const hint = opts.hint ? `; ${opts.hint}` : '';
  throw new CollectorError(`${opts.method ?? 'GET'} ${safeUrl(url)} ${what}${hint}`, { cause });
}

export async function fetchText(url: string, opts: FetchOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { headers: opts.headers, signal, method: opts.method, body: opts.body, redirect: 'follow' });
  } catch (error) {
    if (opts.signal?.aborted) fail(url, `was aborted: ${abortReason(opts.signal)}`, opts, error);
    if (timeout.aborted) fail(url, `timed out after ${timeoutMs / 1000} s (the source did not answer)`, opts, error);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    fail(url, `failed: ${cause?.message ?? cause?.code ?? (error as Error).message} (the source is unreachable)`, opts, error);
  }
  if (!response.ok) {
    // only the start of an error answer is read, for the message: a body that never ends (or
    // inflates to gigabytes) cannot hold the collector or its memory
    const { text } = await readBounded(response, ERROR_BODY_LIMIT).catch(() => ({ text: '', truncated: true }));
    const excerpt = redact(text.trim()).slice(0, 200).replace(/\s+/g, ' ');
    fail(url, `failed: HTTP ${response.status} ${response.statusText}${excerpt ? ` (${JSON.stringify(excerpt)})` : ''}`, opts);
  }
  let body: string;
  try {
    body = await readLimited(response, maxBytes);
  } catch (error) {
    if (error instanceof CollectorError) fail(url, error.message, opts);
    if (opts.signal?.aborted) fail(url, `was aborted: ${abortReason(opts.signal)}`, opts, error);
    if (timeout.aborted) fail(url, `timed out after ${timeoutMs / 1000} s while reading the body`, opts, error);
    fail(url, `failed while reading the body: ${(error as Error).message}`, opts, error);
  }
  return body;
}

export async function fetchJson<T = unknown>(url: string, opts: FetchOptions = {}): Promise<T> {
  const text = await fetchText(url, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    const excerpt = redact(text.trim()).slice(0, 80).replace(/\s+/g, ' ');
    return fail(url, `returned invalid JSON (${(error as Error).message}; body starts ${JSON.stringify(excerpt)})`, opts, error);
  }
}

function abortReason(signal: AbortSignal): string {
  const r = signal.reason as unknown;
  return r instanceof Error ? r.message : String(r ?? 'aborted');
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new CollectorError(`answered with ${declared} bytes, more than the limit of ${maxBytes} bytes`);
  }
  const { text, truncated } = await readBounded(response, maxBytes);
  if (truncated) throw new CollectorError(`answered with more than the limit of ${maxBytes} bytes`);
  return text;
}
