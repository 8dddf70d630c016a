/**
 * Fetching a collector's source over HTTP: a time limit, a size limit, and errors that name the
 * URL and the status. A failing source is an error, never "no data"; a status the collector
 * declares an answer (`accept: [404]`) is not a failure: the body helpers then give `undefined`,
 * `fetchResponse` gives the status.
 *
 * The request goes through the run's Fetcher (platform/fetcher.ts) when one is given: that is how
 * `--record` saves what a collector fetched and `--replay` (and the test harness) serves it back.
 */
import { CollectorError } from '../platform/errors.js';
import type { Fetcher } from '../platform/fetcher.js';
import { ERROR_BODY_LIMIT, readBounded, safeUrl } from '../platform/http.js';
import { redact } from '../platform/redact.js';

/** Options of the HTTP helpers (`Metric.fetchJson`, `fetchText`, `fetchLines`, `fetchResponse`). */
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
  /**
   * Statuses outside 2xx that are answers, not failures (e.g. `[404]`: "nothing here"): the body
   * helpers resolve to `undefined` for them, `fetchResponse` resolves with the status. Any other
   * status outside 2xx throws a CollectorError naming the URL and the status.
   */
  accept?: readonly number[];
  /** where requests go (set by the run for --record / --replay); default: the global fetch */
  fetcher?: Fetcher;
}

/** Options with `accept`: a body helper may then resolve to `undefined`. */
export type AcceptingFetchOptions = FetchOptions & { accept: readonly number[] };

/** What `fetchResponse` gives: the status, the headers, the final URL (after redirects) and the body. */
export interface FetchedResponse {
  status: number;
  /** the status is 2xx */
  ok: boolean;
  headers: Headers;
  /** the URL that answered, after redirects */
  url: string;
  /** the body (bounded by `maxBytes`); empty for a HEAD request */
  text: string;
}

function fail(url: string, what: string, opts: FetchOptions, cause?: unknown): never {
  const hint = opts.hint ? `; ${opts.hint}` : '';
  throw new CollectorError(`${(opts.method ?? 'GET').toUpperCase()} ${safeUrl(url)} ${what}${hint}`, { cause });
}

/**
 * Sends the request and reads the answer: a 2xx or an accepted status resolves with the status,
 * headers, final URL and body; any other status throws a CollectorError naming the URL and the
 * status (with the start of the answer, redacted).
 */
export async function fetchResponse(url: string, opts: FetchOptions = {}): Promise<FetchedResponse> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const method = (opts.method ?? 'GET').toUpperCase();
  let response: Response;
  try {
    const init: RequestInit = { headers: opts.headers, signal, method, body: opts.body, redirect: 'follow' };
    response = opts.fetcher ? await opts.fetcher.fetch(url, init) : await fetch(url, init);
  } catch (error) {
    // a fetcher's own error (a request missing from a recording) says everything already
    if (error instanceof CollectorError) throw error;
    if (opts.signal?.aborted) fail(url, `was aborted: ${abortReason(opts.signal)}`, opts, error);
    if (timeout.aborted) fail(url, `timed out after ${timeoutMs / 1000} s (the source did not answer)`, opts, error);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    fail(url, `failed: ${cause?.message ?? cause?.code ?? (error as Error).message} (the source is unreachable)`, opts, error);
  }
  const accepted = response.ok || (opts.accept?.includes(response.status) ?? false);
  if (!accepted) {
    // only the start of an error answer is read, for the message: a body that never ends (or
    // inflates to gigabytes) cannot hold the collector or its memory
    const { text } = await readBounded(response, ERROR_BODY_LIMIT).catch(() => ({ text: '', truncated: true }));
    const excerpt = redact(text.trim()).slice(0, 200).replace(/\s+/g, ' ');
    fail(url, `failed: HTTP ${response.status} ${response.statusText}${excerpt ? ` (${JSON.stringify(excerpt)})` : ''}`, opts);
  }
  let text = '';
  if (method !== 'HEAD') {
    try {
      text = await readLimited(response, maxBytes);
    } catch (error) {
      if (error instanceof CollectorError) fail(url, error.message, opts);
      if (opts.signal?.aborted) fail(url, `was aborted: ${abortReason(opts.signal)}`, opts, error);
      if (timeout.aborted) fail(url, `timed out after ${timeoutMs / 1000} s while reading the body`, opts, error);
      fail(url, `failed while reading the body: ${(error as Error).message}`, opts, error);
    }
  } else {
    // a HEAD answer has no body: its Content-Length describes the GET's, and is not a limit breach
    await response.body?.cancel().catch(() => {});
  }
  return { status: response.status, ok: response.ok, headers: response.headers, url: response.url || url, text };
}

/** GET a URL's body as text; `undefined` for an accepted non-2xx status (`opts.accept`). */
export async function fetchText(url: string, opts: AcceptingFetchOptions): Promise<string | undefined>;
export async function fetchText(url: string, opts?: FetchOptions): Promise<string>;
export async function fetchText(url: string, opts: FetchOptions = {}): Promise<string | undefined> {
  const r = await fetchResponse(url, opts);
  return r.ok ? r.text : undefined;
}

/** GET a URL's body as lines, without their line endings (a last empty line is dropped). */
export async function fetchLines(url: string, opts: AcceptingFetchOptions): Promise<string[] | undefined>;
export async function fetchLines(url: string, opts?: FetchOptions): Promise<string[]>;
export async function fetchLines(url: string, opts: FetchOptions = {}): Promise<string[] | undefined> {
  const r = await fetchResponse(url, opts);
  return r.ok ? splitLines(r.text) : undefined;
}

/** The lines of `text` without their endings (`\n` or `\r\n`); no last empty line for a final newline. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** GET a URL and parse its JSON; `undefined` for an accepted non-2xx status (`opts.accept`). */
export async function fetchJson<T = unknown>(url: string, opts: AcceptingFetchOptions): Promise<T | undefined>;
export async function fetchJson<T = unknown>(url: string, opts?: FetchOptions): Promise<T>;
export async function fetchJson<T = unknown>(url: string, opts: FetchOptions = {}): Promise<T | undefined> {
  const r = await fetchResponse(url, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
  if (!r.ok) return undefined;
  try {
    return JSON.parse(r.text) as T;
  } catch (error) {
    const excerpt = redact(r.text.trim()).slice(0, 80).replace(/\s+/g, ' ');
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
