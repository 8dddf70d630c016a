/**
 * The InfluxDB writers: POST /write (InfluxDB 1.x: database, retention policy, user/password) and
 * POST /api/v2/write (InfluxDB 2.x/3.x, and 1.8+ through its compatibility API: org, bucket,
 * token), plus /ping and the JSON queries of `metrics check` (check.ts), all sent through our own
 * small transport (transport.ts: keep-alive, TLS options, gzip, a time limit per request, and
 * answers read only up to a bound).
 *
 * Why not `@influxdata/influxdb-client` on this path: its `WriteApi` only speaks /api/v2/write
 * (InfluxDB 1.6/1.7 lack it) and owns a retry buffer that drops lines when full and keeps them only
 * in memory; and its `NodeHttpTransport` reads an error answer without a bound (a JSON body is
 * buffered whole, any other body drained to its end, a gzip body inflated without counting), so
 * a broken or hostile server could crash a run with `RangeError: Invalid string length`. The
 * client stays a dependency because collectors may yield its `Point`s (see points/point.ts).
 *
 * Here a batch is one request, retried with backoff (platform/retry.ts) for network errors,
 * timeouts, 429 and 5xx (honouring Retry-After); after the retries it is handed back to the caller
 * (who stores it in the outbox). A 4xx other than 429 is never retried: the server's message is shown. Neither is a TLS
 * certificate that does not verify, nor a request Node refuses to send (a header value with a line
 * break, an invalid URL): those are configuration problems, named with the variable to fix.
 *
 * This module is imported lazily: a dry-run never loads it.
 */
import { readFileSync } from 'node:fs';
import { describeTarget, type InfluxConfig } from '../platform/settings.js';
import { ConfigError, WriteError, errorMessage } from '../platform/errors.js';
import { ERROR_BODY_LIMIT, RequestTimeoutError } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import { redact } from '../platform/redact.js';
import { parseRetryAfter, retry, type Sleep } from '../platform/retry.js';
import { EncodedLines } from './encoded.js';
import { HttpStatusError, InfluxTransport, LocalRequestError, SUCCESS_BODY_LIMIT, type TransportResponse } from './transport.js';

export interface ServerInfo {
  reachable: boolean;
  /** the X-Influxdb-Version header, when the server sends one */
  version?: string;
  error?: string;
  /** unreachable because its TLS certificate does not verify */
  tls?: boolean;
  /** not sent at all: Node refused the request (a configuration problem, see LocalRequestError) */
  local?: boolean;
}

export interface WriterOptions {
  log: Logger;
  /** for tests: replaces the real sleep between retries */
  sleep?: Sleep;
}

function versionHeader(headers: TransportResponse['headers']): string | undefined {
  const v = headers['x-influxdb-version'];
  return Array.isArray(v) ? v[0] : v;
}

export class InfluxWriter {
  private readonly transport: InfluxTransport;
  private api: 'v1' | 'v2' | 'auto';
  private readonly sleep: Sleep | undefined;
  private readonly log: Logger;
  private readonly bodies = new BodyPool();

  constructor(
    readonly config: InfluxConfig,
    options: WriterOptions,
  ) {
    this.log = options.log;
    this.sleep = options.sleep;
    this.api = config.api;
    let ca: Buffer | undefined;
    if (config.caFile) {
      try {
        ca = readFileSync(config.caFile);
      } catch (error) {
        throw new ConfigError(
          `cannot read INFLUX_CA_FILE=${config.caFile}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
        );
      }
    }
    if (config.tlsInsecure && config.url.startsWith('https:')) {
      this.log.warn(
        `TLS CERTIFICATE VERIFICATION IS OFF for ${config.url} (INFLUX_TLS_INSECURE=true): anyone on the path can read the ` +
          `credentials and the data. Set INFLUX_CA_FILE instead.`,
      );
    }
    this.transport = new InfluxTransport({
      url: config.url,
      timeoutMs: config.timeoutMs,
      gzipThreshold: config.gzipThreshold,
      ca,
      rejectUnauthorized: config.tlsInsecure ? false : undefined,
    });
  }

  get target(): string {
    return describeTarget(this.config);
  }

  /** The API chosen by configuration, or detected from /ping's version header on first use. */
  async resolveApi(signal?: AbortSignal): Promise<'v1' | 'v2'> {
    if (this.api !== 'auto') return this.api;
    const info = await this.ping(signal);
    if (!info.reachable) {
      if (info.local) throw new WriteError(`InfluxDB at ${this.config.url}: the request was not sent: ${info.error}`, false);
      // a certificate that does not verify is not fixed by waiting: not retriable (data kept, run fails)
      throw new WriteError(`InfluxDB at ${this.config.url} is unreachable: ${info.error}`, !info.tls);
    }
    this.api = info.version && /^v?1\./.test(info.version) ? 'v1' : 'v2';
    this.log.debug(`InfluxDB at ${this.config.url} answered version ${info.version ?? '(none)'}: using the ${this.api} write API`);
    return this.api;
  }

  async ping(signal?: AbortSignal): Promise<ServerInfo> {
    try {
      const res = await this.transport.request({ method: 'GET', path: '/ping', headers: this.authHeaders('v1'), signal });
      return { reachable: true, version: versionHeader(res.headers) };
    } catch (error) {
      if (error instanceof HttpStatusError)
        return { reachable: true, version: versionHeader(error.headers), error: this.describeError(error) };
      if (error instanceof LocalRequestError) return { reachable: false, error: this.describeError(error), local: true };
      return { reachable: false, error: this.describeError(error), tls: isTlsError(error) };
    }
  }

  private authHeaders(api: 'v1' | 'v2'): Record<string, string> {
    const c = this.config;
    if (api === 'v2' && c.token) return { authorization: `Token ${c.token}` };
    let user = c.username;
    let password = c.password;
    if (user === undefined && c.token?.includes(':')) {
      const i = c.token.indexOf(':');
      user = c.token.slice(0, i);
      password = c.token.slice(i + 1);
    }
    if (user !== undefined) {
      return { authorization: `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` };
    }
    if (c.token) return { authorization: `Token ${c.token}` };
    return {};
  }

  /** The variable(s) to fix when Node refuses to send a request (never their values). */
  private variableFor(error: LocalRequestError): string {
    const c = this.config;
    if (error.part === 'header' && error.header === 'authorization') {
      return c.token !== undefined ? 'INFLUX_TOKEN' : 'INFLUXDB_USERNAME or INFLUXDB_PASSWORD';
    }
    // the URL: from INFLUXDB_HOSTNAME/INFLUXDB_PORT (1.x settings) or INFLUX_URL; the database,
    // bucket and org travel URL-encoded in the query and cannot make it invalid
    return c.database !== undefined ? 'INFLUXDB_HOSTNAME (and INFLUXDB_PORT)' : 'INFLUX_URL';
  }

  private writePath(api: 'v1' | 'v2'): string {
    const c = this.config;
    if (api === 'v1') {
      let db = c.database;
      let rp = c.retentionPolicy;
      if (db === undefined && c.bucket) {
        const [d, r] = c.bucket.split('/');
        db = d;
        rp = r || undefined;
      }
      const q = new URLSearchParams({ db: db ?? '', precision: 'ns' });
      if (rp) q.set('rp', rp);
      return `/write?${q}`;
    }
    const q = new URLSearchParams({ bucket: c.bucket ?? '', precision: 'ns' });
    if (c.org) q.set('org', c.org);
    return `/api/v2/write?${q}`;
  }

  describeError(error: unknown): string {
    if (error instanceof HttpStatusError) {
      let body = error.body;
      try {
        const j = JSON.parse(body) as { error?: string; message?: string };
        body = j.error ?? j.message ?? body;
      } catch {
        /* not JSON (or cut at the bound) */
      }
      // redact before cutting: a secret cut in half would no longer be recognised
      body = redact(body.trim()).slice(0, 500);
      const cut = error.truncated ? ` (the answer was longer than ${ERROR_BODY_LIMIT / 1024} KiB or broke off: not read further)` : '';
      return `HTTP ${error.statusCode} ${error.statusMessage}`.trim() + (body ? `: ${body}` : '') + cut;
    }
    if (error instanceof RequestTimeoutError) return `no answer within ${this.config.timeoutMs / 1000} s (INFLUX_TIMEOUT)`;
    if (error instanceof LocalRequestError) {
      const variable = this.variableFor(error);
      const what =
        error.part === 'header'
          ? `${variable} contains a character not allowed in an HTTP header (${error.code}: a line break or another control character?)`
          : error.part === 'url'
            ? `the URL made from ${variable} is not valid (${error.code})`
            : `Node.js refused to send the request (${error.code})`;
      return `${what}: a configuration problem, fix ${variable} (its value is not shown)`;
    }
    const e = error as NodeJS.ErrnoException;
    if (isTlsError(error)) {
      return (
        `${e.code} ${e.message ?? ''}`.trim() +
        ' (set INFLUX_CA_FILE to the CA that signed the server certificate, or fix the host name in the URL)'
      );
    }
    return e?.code ? `${e.code} ${e.message ?? ''}`.trim() : errorMessage(error);
  }

  /**
   * Sends one batch (one request), retrying what can be retried. Resolves when the server has
   * accepted it; throws WriteError(retriable) when it could not be delivered now, and
   * WriteError(!retriable) when the server rejected the data (a 4xx other than 429), refused the
   * request (401, 403, 404, 413, a TLS certificate), or Node refused to send it (configuration).
   */
  async write(lines: string[] | EncodedLines, signal?: AbortSignal): Promise<void> {
    if (lines.length === 0) return;
    const { buffer, body } = lines instanceof EncodedLines ? { buffer: undefined, body: lines.body } : this.bodies.take(lines);
    const c = this.config;
    const failed = (error: unknown, attempts: number): WriteError => {
      const status = error instanceof HttpStatusError ? error.statusCode : undefined;
      return new WriteError(
        `InfluxDB at ${this.target} did not take ${lines.length} points after ${attempts} attempt${attempts > 1 ? 's' : ''}: ` +
          `${this.describeError(error)}`,
        true,
        status,
        { cause: error },
      );
    };
    // an attempt that failed may leave its body half sent: that buffer is not filled again
    const spoiled = (): void => {
      if (lines instanceof EncodedLines) lines.reusable = false;
    };
    await retry(
      async () => {
        const api = await this.resolveApi(signal);
        await this.transport.request({
          method: 'POST',
          path: this.writePath(api),
          headers: { 'content-type': 'text/plain; charset=utf-8', ...this.authHeaders(api) },
          body,
          signal,
        });
      },
      {
        attempts: c.maxRetries + 1,
        baseDelayMs: c.retryDelayMs,
        maxDelayMs: c.maxRetryDelayMs,
        ...(signal ? { signal } : {}),
        ...(this.sleep ? { sleep: this.sleep } : {}),
        classify: (error) => {
          spoiled(); // every failed attempt comes here first
          if (error instanceof WriteError && !error.retriable) throw error;
          const reason = this.describeError(error);
          if (isTlsError(error)) {
            // retrying cannot fix a certificate: keep the data, say what to do
            throw new WriteError(`InfluxDB at ${this.target}: TLS certificate check failed: ${reason}`, false, undefined, { cause: error });
          }
          if (error instanceof LocalRequestError) {
            // never sent: retrying cannot fix the configuration; keep the data, say what to fix
            throw new WriteError(`InfluxDB at ${this.target}: the request was not sent: ${reason}`, false, undefined, { cause: error });
          }
          const status = error instanceof HttpStatusError ? error.statusCode : undefined;
          // a later attempt can help with network errors, timeouts, 429 and 5xx; never with another 4xx
          if (status !== undefined && status !== 429 && status < 500) {
            throw new WriteError(
              `InfluxDB at ${this.target} ${status === 400 || status === 422 ? 'rejected' : 'refused'} ${lines.length} points: ` +
                `${reason}${hintFor(status)}`,
              false,
              status,
              { cause: error },
            );
          }
          const retryAfterMs = error instanceof HttpStatusError ? parseRetryAfter(error.retryAfter) : undefined;
          return retryAfterMs !== undefined ? { retryAfterMs } : {};
        },
        // a Retry-After longer than INFLUX_MAX_RETRY_DELAY is cut to it (retryAfterTooLong not given)
        giveUp: failed,
        onRetry: (error, { attempt, delayMs }) =>
          this.log.warn(
            `write to ${c.url} failed (${this.describeError(error)}); retry ${attempt} of ${c.maxRetries} in ` +
              `${(delayMs / 1000).toFixed(1)} s`,
          ),
      },
    );
    if (buffer) this.bodies.give(buffer); // answered 2xx: the server has read the whole body
  }

  /**
   * The API in use: the configured one, or the one `resolveApi()` detected; `auto` until then
   * (for check.ts).
   */
  get apiInUse(): 'v1' | 'v2' | 'auto' {
    return this.api;
  }

  /** A 2xx answer we parse: JSON, read only up to SUCCESS_BODY_LIMIT (the queries of check.ts). */
  async getJson<T>(path: string, api: 'v1' | 'v2'): Promise<T> {
    const res = await this.transport.request({ method: 'GET', path, headers: this.authHeaders(api), maxBodyBytes: SUCCESS_BODY_LIMIT });
    const where = `${this.config.url}${path.split('?')[0]}`;
    if (res.truncated)
      throw new Error(
        `${where} answered with more than ${SUCCESS_BODY_LIMIT / 1024 / 1024} MiB (or the answer broke off): not read further`,
      );
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new Error(
        `${where} answered HTTP ${res.status} with something that is not JSON (starts ${JSON.stringify(res.body.slice(0, 80))})`,
      );
    }
  }
}

/**
 * Request bodies, encoded into buffers that are reused from request to request: a body made
 * afresh for every batch (a joined string of hundreds of KiB, or a Buffer) lives while it is sent,
 * long enough to reach V8's old generation, and a run's memory then grows by megabytes until a
 * full garbage collection. A buffer goes back to the pool only after a request that the server
 * answered 2xx (it has read the whole body); after a failure it is left to the garbage collector,
 * as the socket may still hold it.
 */
export class BodyPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly keep = 4) {}

  /** `lines` joined by newlines, as UTF-8, in a pooled buffer: `body` is a view of `buffer`. */
  take(lines: readonly string[]): { buffer: Buffer; body: Buffer } {
    let buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(64 * 1024);
    let offset = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const need = offset + line.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
      if (need > buffer.length) {
        const larger = Buffer.allocUnsafeSlow(Math.max(need, buffer.length * 2));
        buffer.copy(larger, 0, 0, offset);
        buffer = larger;
      }
      if (i > 0) buffer[offset++] = 10;
      offset += buffer.write(line, offset);
    }
    return { buffer, body: buffer.subarray(0, offset) };
  }

  give(buffer: Buffer): void {
    if (this.free.length < this.keep && buffer.length <= 64 * 1024 * 1024) this.free.push(buffer);
  }
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function isTlsError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && TLS_CODES.has(code);
}

function hintFor(status: number | undefined): string {
  switch (status) {
    case 400:
      return ' (the data itself was refused, e.g. a field type conflict: fix the collector)';
    case 401:
    case 403:
      return ' (check the credentials: INFLUXDB_USERNAME/INFLUXDB_PASSWORD or INFLUX_TOKEN)';
    case 404:
      return ' (the database or bucket does not exist: create it, or fix INFLUXDB_DATABASE / INFLUX_BUCKET / INFLUX_ORG)';
    case 413:
      return ' (the request is too large: lower INFLUX_BATCH_SIZE)';
    default:
      return '';
  }
}
