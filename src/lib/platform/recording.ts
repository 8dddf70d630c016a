/**
 * Recordings of a collector's HTTP exchanges: what `metrics run <name> --record <dir>` writes,
 * what `--replay <dir>` and the test harness (sdk/testing.ts) serve back offline, and what the
 * tests' recording server (test/helpers/recording-server.ts) serves over HTTP. One format,
 * `metrics-recording/1`: a folder with `requests.json`
 *
 *     { "format": "metrics-recording/1",
 *       "requests": [ { "method": "GET", "url": "https://api.example/items?page=2", "status": 200,
 *                       "headers": { "content-type": "application/json" }, "body": "001-items.json" } ] }
 *
 * and the body files it names (paths inside the folder). Requests are matched by method, host,
 * path and query (not the scheme); identical requests are answered in the order recorded, and the
 * last answer repeats.
 *
 * Secrets are never saved. Request headers are not saved at all; of the answer's headers only
 * those a collector needs (content-type, link, location, etag, last-modified, retry-after,
 * x-ratelimit-*, and content-length of a HEAD answer). A URL is saved without its user and
 * password and with the values of secret-looking query parameters (token, key, password, …)
 * masked (`***`, as http.ts `safeUrl` prints it; a replayed request is masked the same way before
 * it is matched). Every secret value the recorder sees in a request (Authorization, Cookie,
 * headers like X-Api-Key or Private-Token, the URL's password and secret query values) and every
 * one it is given (the collector's secret-looking variables) is registered with the redactor, and
 * every saved text (URLs, headers, bodies) is redacted.
 */
import { lstatSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { readRegularFileSync, writeFileAtomic } from './atomic.js';
import { CollectorError, UsageError, errorMessage } from './errors.js';
import type { Fetcher } from './fetcher.js';
import { SECRET_QUERY_NAME, safeUrl } from './http.js';
import { redact, registerCredentialPair, registerSecret } from './redact.js';

export const RECORDING_FORMAT = 'metrics-recording/1';
/** the index of a recording folder */
export const RECORDING_INDEX = 'requests.json';

/** One exchange as `requests.json` lists it. */
export interface RecordedExchange {
  method: string;
  /** the URL asked for, secrets masked */
  url: string;
  status: number;
  /** the answer's headers that matter, lower-case names */
  headers?: Record<string, string>;
  /** the body's file, a path inside the folder; none: an empty body */
  body?: string;
}

/** An exchange read from a folder, with its body. */
export interface LoadedExchange extends RecordedExchange {
  bodyBytes: Buffer;
  /** the folder it came from */
  dir: string;
}

/** Largest `requests.json` and body file read (a recording is a test fixture, not a data store). */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Response headers worth saving: what collectors read (paging, caching, rate limits, redirects). */
const KEPT_HEADER = /^(content-type|link|location|etag|last-modified|retry-after|x-ratelimit-[a-z0-9-]+|x-total-count|x-next-page)$/;

/** Statuses of a redirect. */
const REDIRECT = new Set([301, 302, 303, 307, 308]);

/** Statuses whose answers have no body (a Response cannot be built with one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The key a request is matched by: `METHOD host/path?query`, without user and password, secret
 * query values masked, the query in its canonical form, and registered secrets redacted.
 */
export function exchangeKey(method: string, url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `${method.toUpperCase()} ${redact(safeUrl(url))}`;
  }
  const params = new URLSearchParams(u.search);
  for (const k of new Set(params.keys())) if (SECRET_QUERY_NAME.test(k)) params.set(k, '***');
  const query = params.toString();
  return redact(`${method.toUpperCase()} ${u.host}${u.pathname}${query ? `?${query}` : ''}`);
}

/** The URL as saved: no user and password, secret query values masked, registered secrets redacted. */
export function recordedUrl(url: string): string {
  return redact(safeUrl(url));
}

function bad(file: string, what: string): UsageError {
  return new UsageError(`${file} is not a recording (${RECORDING_FORMAT}): ${what}`);
}

/** A body file's path inside `dir`, or an error: no absolute path, no `..`. */
function bodyPath(dir: string, name: string, file: string): string {
  const n = normalize(name);
  if (isAbsolute(n) || n === '..' || n.startsWith('../') || n === '.')
    throw bad(file, `body ${JSON.stringify(name)} is not a file inside the folder`);
  return join(dir, n);
}

/** Reads a file of at most `max` bytes (no link followed); a missing one is an error naming it. */
function readBounded(path: string, max: number, what: string): Buffer {
  let size: number;
  try {
    size = lstatSync(path).size;
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${errorMessage(error)}`);
  }
  if (size > max) throw new UsageError(`${what} ${path} has ${size} bytes, more than the ${max} a recording may hold`);
  try {
    const f = readRegularFileSync(path, Math.max(size, 0));
    if (!f) throw new Error('it is gone');
    return f.data;
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${errorMessage(error)}`);
  }
}

/** {@link readRecordingSync}, for async callers. */
export async function readRecording(dir: string): Promise<LoadedExchange[]> {
  return readRecordingSync(dir);
}

/**
 * The exchanges of a recording folder (read at once: a recording is a test fixture), checked: an index that is not a recording, a malformed
 * entry, or a body file that is missing or outside the folder is a UsageError naming the file.
 */
export function readRecordingSync(dir: string): LoadedExchange[] {
  const file = join(dir, RECORDING_INDEX);
  const raw = readBounded(file, MAX_INDEX_BYTES, 'the recording index');
  let index: unknown;
  try {
    index = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw bad(file, `invalid JSON (${errorMessage(error)})`);
  }
  const o = index as { format?: unknown; requests?: unknown };
  if (typeof index !== 'object' || index === null || o.format !== RECORDING_FORMAT || !Array.isArray(o.requests)) {
    throw bad(file, `it must be an object { "format": "${RECORDING_FORMAT}", "requests": [...] }`);
  }
  const out: LoadedExchange[] = [];
  for (const [i, r] of (o.requests as unknown[]).entries()) {
    const e = r as Partial<Record<keyof RecordedExchange, unknown>>;
    const where = `request #${i}`;
    if (typeof r !== 'object' || r === null) throw bad(file, `${where} is not an object`);
    if (typeof e.method !== 'string' || !/^[A-Za-z]+$/.test(e.method)) throw bad(file, `${where}: "method" must be an HTTP method`);
    if (typeof e.url !== 'string' || !URL.canParse(e.url)) throw bad(file, `${where}: "url" must be an absolute URL`);
    if (typeof e.status !== 'number' || !Number.isInteger(e.status) || e.status < 200 || e.status > 599) {
      throw bad(file, `${where}: "status" must be a whole number from 200 to 599`);
    }
    const headers: Record<string, string> = {};
    if (e.headers !== undefined) {
      if (typeof e.headers !== 'object' || e.headers === null) throw bad(file, `${where}: "headers" must be an object of strings`);
      for (const [k, v] of Object.entries(e.headers)) {
        if (typeof v !== 'string') throw bad(file, `${where}: header ${JSON.stringify(k)} must be a string`);
        headers[k.toLowerCase()] = v;
      }
    }
    if (e.body !== undefined && typeof e.body !== 'string') throw bad(file, `${where}: "body" must be a file name`);
    const bodyBytes = e.body ? readBounded(bodyPath(dir, e.body, file), MAX_BODY_BYTES, `the body of ${where} of`) : Buffer.alloc(0);
    out.push({
      method: e.method.toUpperCase(),
      url: e.url,
      status: e.status,
      headers,
      ...(e.body ? { body: e.body } : {}),
      bodyBytes,
      dir,
    });
  }
  return out;
}

/**
 * The exchanges of one or more recordings by request: `next()` gives the answer to a request
 * (identical requests in the order recorded, then the last one again), undefined when it was not
 * recorded. Later folders add to earlier ones.
 */
export class RecordingIndex {
  private readonly byKey = new Map<string, LoadedExchange[]>();
  private readonly served = new Map<string, number>();
  readonly hosts = new Set<string>();

  constructor(
    exchanges: readonly LoadedExchange[],
    /** the folders, for messages */
    readonly dirs: readonly string[],
  ) {
    for (const e of exchanges) {
      const k = exchangeKey(e.method, e.url);
      this.byKey.set(k, [...(this.byKey.get(k) ?? []), e]);
      this.hosts.add(new URL(e.url).host);
    }
  }

  static async open(dirs: string | readonly string[]): Promise<RecordingIndex> {
    const list = typeof dirs === 'string' ? [dirs] : dirs;
    const exchanges = (await Promise.all(list.map((d) => readRecording(d)))).flat();
    return new RecordingIndex(exchanges, list);
  }

  /** The recorded answer to `method url`, or undefined. */
  next(method: string, url: string): LoadedExchange | undefined {
    const k = exchangeKey(method, url);
    const list = this.byKey.get(k);
    if (!list) return undefined;
    const n = this.served.get(k) ?? 0;
    this.served.set(k, n + 1);
    return list[Math.min(n, list.length - 1)];
  }
}

/**
 * `--replay`: answers every request from a recording, offline. A request that is not in it fails
 * loudly: a CollectorError naming the method, the URL and the folder.
 */
export class ReplayFetcher implements Fetcher {
  constructor(readonly recording: RecordingIndex) {}

  static async open(dirs: string | readonly string[]): Promise<ReplayFetcher> {
    return new ReplayFetcher(await RecordingIndex.open(dirs));
  }

  async fetch(url: string, init: RequestInit): Promise<Response> {
    if (init.signal?.aborted) throw init.signal.reason;
    let method = (init.method ?? 'GET').toUpperCase();
    let current = url;
    for (let hops = 0; ; hops++) {
      const e = this.recording.next(method, current);
      if (!e) {
        const where = this.recording.dirs.join(', ');
        throw new CollectorError(
          `${method} ${safeUrl(current)} is not in the recording ${where}: record it again ` +
            `(metrics run <collector> --dry-run --record <folder>), or add it to ${RECORDING_INDEX}`,
        );
      }
      const location = e.headers?.location;
      if (REDIRECT.has(e.status) && location && init.redirect !== 'manual' && hops < 20) {
        // followed as fetch follows it: 303 (and 301/302 of a POST) become a GET
        if (e.status === 303 || ((e.status === 301 || e.status === 302) && method === 'POST')) method = 'GET';
        current = new URL(location, current).toString();
        continue;
      }
      const noBody = method === 'HEAD' || NULL_BODY.has(e.status);
      const response = new Response(noBody ? null : new Uint8Array(e.bodyBytes), { status: e.status, headers: e.headers });
      Object.defineProperty(response, 'url', { value: current });
      return response;
    }
  }
}

/** The headers of a request whose values are secrets (besides Authorization and Cookie). */
const SECRET_HEADER = /token|secret|password|passwd|key|auth|cookie|session|signature|credential/i;

/** Registers every secret a request carries: authorization, cookies, secret-looking headers and query values, the URL's password. */
function registerRequestSecrets(url: string, headers: Headers): void {
  for (const [name, value] of headers) {
    if (!SECRET_HEADER.test(name)) continue;
    registerSecret(value);
    // "Bearer abc", "token abc", "Basic dXNlcjpwdw==": the credentials alone, and a Basic pair decoded
    const [scheme, cred] = value.split(/\s+/, 2);
    if (cred) {
      registerSecret(cred);
      if (/^basic$/i.test(scheme ?? '')) {
        const pair = Buffer.from(cred, 'base64').toString('utf8');
        const colon = pair.indexOf(':');
        if (colon >= 0) registerCredentialPair(pair.slice(0, colon), pair.slice(colon + 1));
      }
    }
    if (/cookie/i.test(name)) for (const part of value.split(';')) registerSecret(part.split('=').slice(1).join('=').trim());
  }
  try {
    const u = new URL(url);
    if (u.password) registerCredentialPair(decodeURIComponent(u.username), decodeURIComponent(u.password));
    for (const [k, v] of u.searchParams) if (SECRET_QUERY_NAME.test(k)) registerSecret(v);
  } catch {
    /* not a URL: fetch refuses it anyway */
  }
}

/** A variable named as a secret: a word TOKEN, SECRET, PASSWORD, KEY, … (not SSH_AUTH_SOCK, not *_FILE). */
const SECRET_VARIABLE =
  /(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|PASS|KEY|APIKEY|CREDENTIALS?|AUTH|COOKIE|SESSION)(_|$)(?!.*(SOCK|FILE|PATH|DIR)$)/i;

/**
 * The values of the variables whose names say they hold secrets (`GITHUB_TOKEN`, `API_KEY`,
 * `DB_PASSWORD`); a value that is a path (a `*_FILE` or a socket) is not a secret.
 */
export function secretLookingValues(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v && SECRET_VARIABLE.test(k) && !v.startsWith('/'))
    .map(([, v]) => v!);
}

interface Pending {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
  chunks: Uint8Array[];
}

function extension(contentType: string | undefined): string {
  const t = (contentType ?? '').toLowerCase();
  if (t.includes('json')) return 'json';
  if (t.includes('html')) return 'html';
  if (t.includes('xml')) return 'xml';
  if (t.includes('csv')) return 'csv';
  if (t.includes('yaml')) return 'yaml';
  if (t === '' || t.startsWith('text/')) return 'txt';
  return 'bin';
}

const isText = (contentType: string | undefined): boolean => extension(contentType) !== 'bin';

/**
 * `--record`: passes each request on (to `inner`, default the global fetch) and keeps the answer
 * as the collector reads it (the bytes it read: a body it stopped reading is kept as far as it
 * got); `save(dir)` writes the recording. See the module comment for what is never saved.
 */
export class RecordingFetcher implements Fetcher {
  private readonly exchanges: Pending[] = [];

  constructor(
    private readonly inner: Fetcher = { fetch: (url, init) => fetch(url, init) },
    /** values to keep out of the recording besides those the requests carry (a collector's tokens) */
    secrets: readonly string[] = [],
  ) {
    for (const s of secrets) registerSecret(s);
  }

  /** requests recorded so far */
  get size(): number {
    return this.exchanges.length;
  }

  async fetch(url: string, init: RequestInit): Promise<Response> {
    registerRequestSecrets(url, new Headers(init.headers));
    const response = await this.inner.fetch(url, init);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [name, value] of response.headers) {
      if (KEPT_HEADER.test(name) || (method === 'HEAD' && name === 'content-length')) headers[name] = value;
    }
    if (response.redirected && response.url && response.url !== url) {
      // fetch followed redirects: kept as one hop to the URL that answered, which replay follows
      this.exchanges.push({ method, url, status: 302, headers: { location: response.url }, chunks: [] });
    }
    const finalMethod = response.redirected && method === 'POST' ? 'GET' : method;
    const entry: Pending = { method: finalMethod, url: response.url || url, status: response.status, headers, chunks: [] };
    this.exchanges.push(entry);
    if (!response.body || NULL_BODY.has(response.status)) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else {
          entry.chunks.push(value);
          controller.enqueue(value);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    const wrapped = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    Object.defineProperty(wrapped, 'url', { value: response.url });
    return wrapped;
  }

  /**
   * Writes the recording into `dir` (created when missing): the body files, then `requests.json`;
   * the body files of a recording it replaces are removed. Returns the number of requests.
   */
  async save(dir: string): Promise<number> {
    await mkdir(dir, { recursive: true });
    let previous: LoadedExchange[] = [];
    try {
      previous = await readRecording(dir);
    } catch {
      /* no recording there yet */
    }
    const requests: RecordedExchange[] = [];
    const written = new Set<string>();
    for (const [i, e] of this.exchanges.entries()) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(e.headers)) headers[k] = /^(link|location)$/.test(k) ? redactUrls(v) : redact(v);
      const r: RecordedExchange = { method: e.method, url: recordedUrl(e.url), status: e.status };
      if (Object.keys(headers).length) r.headers = headers;
      const bytes = Buffer.concat(e.chunks);
      if (bytes.length > 0) {
        const type = e.headers['content-type'];
        const encoding = isText(type) ? 'utf8' : 'latin1'; // latin1: byte for byte, so binary survives
        const text = bytes.toString(encoding);
        const clean = redact(text);
        const name = `${String(i + 1).padStart(3, '0')}-${slug(e.url)}.${extension(type)}`;
        await writeFileAtomic(join(dir, name), clean === text ? bytes : Buffer.from(clean, encoding), { mode: 0o644, syncDir: false });
        written.add(name);
        r.body = name;
      }
      requests.push(r);
    }
    const index = `${JSON.stringify({ format: RECORDING_FORMAT, requests }, null, 2)}\n`;
    await writeFileAtomic(join(dir, RECORDING_INDEX), index, { mode: 0o644 });
    for (const old of previous) {
      if (old.body && !written.has(old.body)) await unlink(bodyPath(dir, old.body, RECORDING_INDEX)).catch(() => {});
    }
    return requests.length;
  }
}

/** Every URL in a header value (Link, Location) saved as recordedUrl saves it; the rest redacted. */
function redactUrls(value: string): string {
  return redact(value.replace(/https?:\/\/[^\s<>"]+/g, (u) => recordedUrl(u)));
}

/** A file-name-safe word from the URL's last path segment. */
function slug(url: string): string {
  let last = '';
  try {
    last = new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '';
  } catch {
    /* not a URL */
  }
  const word = redact(last)
    .replace(/\.[A-Za-z0-9]+$/, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return word || 'body';
}
