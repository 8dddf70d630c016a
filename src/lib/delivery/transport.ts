/**
 * The HTTP transport of every InfluxDB request (write, /ping, the `check` queries), on node:http
 * and node:https.
 *
 * Why our own and not `NodeHttpTransport` of `@influxdata/influxdb-client`: that one buffers a JSON
 * error body without any bound and drains any other body to its end, and it inflates a gzip
 * answer without counting. A broken or hostile server answering with a body that never ends, or a
 * small gzip body that inflates to gigabytes, then ran the process out of string length
 * (`RangeError: Invalid string length`) or memory: no summary, no outbox. Here every answer is
 * read up to a bound, counted before (raw bytes) and after decompression (decoded bytes); what is
 * beyond the bound is never read: the response and its socket are destroyed.
 *
 * What it does:
 * - one keep-alive Agent per transport (TLS options `ca` and `rejectUnauthorized` for https); a
 *   request whose kept-alive socket the server had closed meanwhile (ECONNRESET/EPIPE before any
 *   answer) is sent once more on a new connection;
 * - request bodies larger than `gzipThreshold` bytes are gzipped at level 1 (0: never), with
 *   `content-encoding: gzip`;
 * - a time limit per request (connect, send, answer): at the limit the request is aborted and its
 *   socket closed, so a frozen server cannot keep the process alive;
 * - the answer: status, headers (`retry-after` included) and at most `maxBodyBytes` of the body
 *   (default {@link ERROR_BODY_LIMIT}); a non-2xx answer is thrown as {@link HttpStatusError};
 * - an error Node raises before the request leaves the process (a header value with a newline,
 *   an invalid URL, ...) is thrown as {@link LocalRequestError}: a configuration problem that no
 *   retry can fix. Its message never contains the offending value (it may be a secret).
 */
import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions as HttpRequestOptions } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, constants as zlibConstants, gzip } from 'node:zlib';
import { ERROR_BODY_LIMIT, RequestTimeoutError, readBounded } from '../platform/http.js';
/**
 * Level 1: a batch of line protocol about 8x smaller (level 6: 9x) in less CPU time (the
 * numbers: README, "Performance").
 */
const GZIP_LEVEL = 1;
/** Bytes read of the few 2xx answers we parse (`check`: /query SHOW DATABASES, /api/v2/buckets). */
export const SUCCESS_BODY_LIMIT = 1024 * 1024;

export interface InfluxTransportOptions {
  /** base URL, e.g. http://influx.example:8086 or https://host/influx (a path prefix is kept) */
  url: string;
  /** per-request time limit, ms */
  timeoutMs: number;
  /** request bodies larger than this many bytes are gzipped; 0: never */
  gzipThreshold: number;
  /** CA certificates to trust (https) */
  ca?: Buffer;
  /** false: do not verify the server certificate (https) */
  rejectUnauthorized?: boolean;
}

export interface TransportRequest {
  method: 'GET' | 'POST';
  /** path and query, appended to the base URL's path, e.g. `/write?db=x` */
  path: string;
  headers?: Record<string, string>;
  /** the request body: a string is sent as UTF-8 */
  body?: string | Buffer;
  /** aborts the request (the caller's own limit) */
  signal?: AbortSignal;
  /** most bytes of a 2xx body that are read (decoded); default ERROR_BODY_LIMIT */
  maxBodyBytes?: number;
}

export interface TransportResponse {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  /** the body read (at most maxBodyBytes), as UTF-8 */
  body: string;
  /** the body was longer than the bound (or broke off): `body` is only its start */
  truncated: boolean;
}

/** The server answered with a status other than 2xx. `body` is at most ERROR_BODY_LIMIT bytes. */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError';
  constructor(
    readonly statusCode: number,
    readonly statusMessage: string,
    readonly headers: IncomingHttpHeaders,
    readonly body: string,
    readonly truncated: boolean,
  ) {
    super(`HTTP ${statusCode} ${statusMessage}`.trim());
  }

  get retryAfter(): string | undefined {
    const v = this.headers['retry-after'];
    return Array.isArray(v) ? v[0] : v;
  }
}

/**
 * Node refused to send the request (it never left the process): a configuration problem, not an
 * outage. `part` says what was wrong: the URL, or the value or name of the header `header`.
 * The message names the part, never its value.
 */
export class LocalRequestError extends Error {
  override name = 'LocalRequestError';
  constructor(
    readonly code: string,
    readonly part: 'url' | 'header' | 'request',
    readonly header?: string,
    options?: { cause?: unknown },
  ) {
    super(
      part === 'header'
        ? `the value of the HTTP header "${header}" is not allowed in a request (${code}: a line break or other control character?)`
        : part === 'url'
          ? `the URL is not valid (${code})`
          : `Node.js refused to send the request (${code})`,
      options,
    );
  }
}

/** A reused keep-alive socket broke before any answer (see STALE_SOCKET_CODES). */
class StaleSocketError extends Error {
  constructor(override readonly cause: unknown) {
    super('stale keep-alive socket');
  }
}

/** Error codes by which Node refuses a request before it is sent. */
const LOCAL_CODES = new Set([
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP_INVALID_HEADER_VALUE',
  'ERR_INVALID_URL',
  'ERR_UNESCAPED_CHARACTERS',
  'ERR_INVALID_PROTOCOL',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
]);

/** True for an error Node raises before a request leaves the process. */
export function isLocalRequestError(error: unknown): boolean {
  if (error instanceof LocalRequestError) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && LOCAL_CODES.has(code);
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? (error as Error | undefined)?.name ?? 'Error';
}

/** Like Node's global agent: idle sockets are closed after 5 s, the most recently used is reused first. */
const KEEP_ALIVE = { keepAlive: true, timeout: 5000, scheduling: 'lifo' } as const;

/** A kept-alive socket the server had closed: the request never reached it; sent once more on a new one. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class InfluxTransport {
  private agent: Agent | undefined;
  private requestFn: ((options: HttpRequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest) | undefined;

  constructor(readonly options: InfluxTransportOptions) {}

  /** node:https (TLS, crypto) is loaded only for an https URL. */
  private async load(protocol: string): Promise<void> {
    if (this.requestFn) return;
    if (protocol === 'https:') {
      const https = await import('node:https');
      const agentOptions: import('node:https').AgentOptions = { ...KEEP_ALIVE };
      if (this.options.ca) agentOptions.ca = this.options.ca;
      if (this.options.rejectUnauthorized === false) agentOptions.rejectUnauthorized = false;
      this.agent = new https.Agent(agentOptions);
      this.requestFn = https.request;
    } else {
      const http = await import('node:http');
      this.agent = new http.Agent({ ...KEEP_ALIVE });
      this.requestFn = http.request;
    }
  }

  /**
   * Sends one request and reads its answer, bounded. Resolves for 2xx; throws HttpStatusError
   * (other statuses), RequestTimeoutError, LocalRequestError (never sent), or the network error
   * (with its `code`: ECONNREFUSED, ECONNRESET, a TLS code, ...).
   */
  async request(req: TransportRequest): Promise<TransportResponse> {
    // --- everything up to the send happens here, in the process: its errors are local ---
    let url: URL;
    try {
      const base = new URL(this.options.url);
      url = new URL(base.pathname.replace(/\/+$/, '') + req.path, base);
    } catch (error) {
      throw new LocalRequestError(codeOf(error), 'url', undefined, { cause: error });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LocalRequestError('ERR_INVALID_PROTOCOL', 'url');
    const { validateHeaderName, validateHeaderValue } = await import('node:http');
    const given: Record<string, string> = { 'user-agent': 'influx-collectors', ...req.headers };
    for (const [name, value] of Object.entries(given)) {
      try {
        validateHeaderName(name);
        validateHeaderValue(name, value);
      } catch (error) {
        throw new LocalRequestError(codeOf(error), 'header', name.toLowerCase(), { cause: error });
      }
    }
    const headers: Record<string, string | number> = { ...given };
    let body: Buffer | undefined;
    if (req.body !== undefined && req.method !== 'GET') {
      body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
      if (this.options.gzipThreshold > 0 && body.length > this.options.gzipThreshold) {
        body = await new Promise<Buffer>((resolve, reject) =>
          gzip(body!, { level: GZIP_LEVEL }, (e, out) =>
            e ? reject(new LocalRequestError(codeOf(e), 'request', undefined, { cause: e })) : resolve(out),
          ),
        );
        headers['content-encoding'] = 'gzip';
      }
      headers['content-length'] = body.length;
    }
    await this.load(url.protocol);
    try {
      return await this.send(url, headers, body, req);
    } catch (error) {
      if (!(error instanceof StaleSocketError)) throw error;
      return this.send(url, headers, body, req).catch((e: unknown) => {
        throw e instanceof StaleSocketError ? e.cause : e;
      });
    }
  }

  private send(
    url: URL,
    headers: Record<string, string | number>,
    body: Buffer | undefined,
    req: TransportRequest,
  ): Promise<TransportResponse> {
    const limit = req.maxBodyBytes ?? ERROR_BODY_LIMIT;
    const timeoutMs = this.options.timeoutMs;
    if (req.signal?.aborted) return Promise.reject(req.signal.reason as unknown);

    return new Promise<TransportResponse>((resolve, reject) => {
      let settled = false;
      let response: IncomingMessage | undefined;
      let finishBody: (() => void) | undefined;
      let request: ClientRequest | undefined;
      const cleanup = (): void => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        cleanup();
        request?.destroy();
        response?.destroy();
        reject(error);
      };
      const timer = setTimeout(() => {
        // an answer that has begun keeps its status (a 4xx stays a 4xx): its body ends here
        if (finishBody) finishBody();
        else fail(new RequestTimeoutError(timeoutMs));
      }, timeoutMs);
      const onAbort = (): void => fail(req.signal!.reason);
      req.signal?.addEventListener('abort', onAbort, { once: true });

      try {
        request = this.requestFn!(
          {
            protocol: url.protocol,
            hostname: url.hostname.replace(/^\[|\]$/g, ''),
            port: url.port || undefined,
            path: url.pathname + url.search,
            method: req.method,
            headers,
            agent: this.agent,
          },
          (res) => {
            response = res;
            const status = res.statusCode ?? 0;
            const max = status >= 200 && status < 300 ? limit : ERROR_BODY_LIMIT;
            const body = answerBody(res, max);
            finishBody = body.stop;
            void readBounded(body.chunks, max).then(({ text, truncated: over }) => {
              if (settled) return;
              settled = true;
              cleanup();
              const truncated = over || body.broken();
              if (status >= 200 && status < 300) {
                resolve({ status, statusMessage: res.statusMessage ?? '', headers: res.headers, body: text, truncated });
                return;
              }
              const fallback = res.headers['x-influxdb-error'];
              const bodyText = text === '' && fallback ? String(fallback) : text;
              reject(new HttpStatusError(status, res.statusMessage ?? '', res.headers, bodyText, truncated));
            });
          },
        );
      } catch (error) {
        // http.request() validates the path, the method and the options before anything is sent
        const code = codeOf(error);
        fail(
          new LocalRequestError(code, code === 'ERR_UNESCAPED_CHARACTERS' || code === 'ERR_INVALID_URL' ? 'url' : 'request', undefined, {
            cause: error,
          }),
        );
        return;
      }
      request.on('error', (error) => {
        // after the answer began (a server that answers 413 and closes while we still send),
        // the answer counts: its body ends here
        if (finishBody) finishBody();
        else if (isLocalRequestError(error)) fail(new LocalRequestError(codeOf(error), 'request', undefined, { cause: error }));
        else if (request!.reusedSocket && STALE_SOCKET_CODES.has(codeOf(error))) fail(new StaleSocketError(error));
        else fail(error);
      });
      request.end(body);
    });
  }

  /** Closes the idle keep-alive sockets. */
  close(): void {
    this.agent?.destroy();
  }
}

/**
 * The body of an answer as decoded bytes, for readBounded (platform/http.ts): for a compressed
 * answer (`content-encoding` gzip, deflate, br) the decoder's output, and its raw bytes are
 * counted too: no more than `max` bytes are taken from the network, compressed or not. The
 * chunks end early, and `broken()` says so, when the body breaks off, cannot be decoded (what was
 * decoded is kept), or `stop()` ends it (the time limit). When the chunks end before the body
 * did (stopped, broken, or left at the bound), the response and its socket are destroyed.
 */
function answerBody(res: IncomingMessage, max: number): { chunks: AsyncIterable<Uint8Array>; stop: () => void; broken: () => boolean } {
  const encoding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  let decoder: Transform | undefined;
  const lenient = { flush: zlibConstants.Z_SYNC_FLUSH, finishFlush: zlibConstants.Z_SYNC_FLUSH };
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip(lenient);
  else if (encoding === 'deflate') decoder = createInflate(lenient);
  else if (encoding === 'br') decoder = createBrotliDecompress();
  let broken = false;
  const stop = (): void => {
    res.destroy();
    decoder?.destroy();
  };
  if (decoder) {
    let raw = 0;
    res.on('data', (chunk: Buffer) => {
      raw += chunk.length;
      if (raw > max) stop(); // a compressed answer larger than the bound: not read further
    });
    // an answer that breaks off ends the decoded bytes too (pipe() does not pass errors on)
    res.on('close', () => {
      if (!res.complete) decoder!.destroy();
    });
    res.pipe(decoder);
  }
  const source: AsyncIterable<Uint8Array> = decoder ?? res;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let ended = false;
    try {
      for await (const chunk of source) yield chunk as Uint8Array;
      ended = true;
    } catch {
      broken = true; // broken off, stopped, or not decodable: keep what was read
    } finally {
      if (!ended || !res.complete) {
        if (ended) broken = true;
        stop();
      }
    }
  }
  return { chunks: chunks(), stop, broken: () => broken };
}
