/**
 * Test harness for real servers on loopback (see DESIGN.md, "Real parts, started for real").
 *
 * - startInfluxd():          the real InfluxDB 1.6.7 (`influxd`, Debian package `influxdb`)
 * - startVictoriaMetrics():  the real VictoriaMetrics 1.79.5 (Debian package `victoria-metrics`),
 *                            our stand-in for the InfluxDB v2 write API
 * - startHttpFixtureServer(): a small fake HTTP server for source APIs / Promtail / fault injection
 * - answerEndlessly() / answerGzipBomb(): hostile answers (a body that never ends, a gzip bomb)
 *                            for a fixture handler, reporting what the server managed to send
 * - runCli() / spawnCli():   run `bin/metrics` with a clean environment
 *
 * Every server runs in a fresh mkdtemp directory on a free 127.0.0.1 port. Child processes are
 * started through `setpriv --pdeathsig KILL` when available (util-linux, essential on Debian),
 * so they die with the test process even if it is SIGKILLed; in addition an 'exit' hook and
 * SIGINT/SIGTERM/SIGHUP hooks SIGKILL every child still alive and remove the temp dirs.
 *
 * Missing binaries: outside CI a loud "*** SKIPPED ... ***" line goes to stderr and the start
 * functions return undefined (and call t.skip() when given a test context); with CI=true a
 * missing binary throws.
 *
 * Facts about VictoriaMetrics 1.79.5 (Debian 1.79.5+ds1), checked by hand with curl:
 * - flags: -storageDataPath=<dir> -httpListenAddr=127.0.0.1:<port> -retentionPeriod=100y
 *   (suffixes h/d/w/y; a bare number means months; default 1 month) -loggerLevel=INFO|WARN|ERROR.
 *   `-version` prints an empty line in the Debian build.
 * - GET /health answers 200 "OK"; GET /ping answers 204.
 * - POST /api/v2/write?org=o&bucket=b&precision=ns is accepted (204, header X-Influxdb-Version: 1.8.0).
 *   The `Authorization: Token x` header is ignored (no auth configured); org and bucket are
 *   ignored too (no label is added for them; only the v1 `/write?db=foo` adds label db="foo").
 *   precision ns/us/ms/s is honoured; missing precision means ns.
 * - `Content-Encoding: gzip` bodies are accepted; a body that is not valid gzip answers 400.
 * - Unparsable lines are NOT rejected: the request still answers 204, the line is skipped and
 *   an error is logged ("cannot unmarshal InfluxDB line ..."). So a 204 proves nothing about
 *   syntax: check the exported series.
 * - Storage model: measurement `m`, field `f` -> series `__name__="m_f"`, tags become labels
 *   (escaped tag keys/values are unescaped, e.g. `host=a\ b` -> "a b"). Float and integer
 *   fields keep their numeric value (3i -> 3); booleans become 1/0; string fields become 0.
 * - Timestamps are truncated to milliseconds. Points older than -retentionPeriod are dropped;
 *   points more than ~2 days in the future are dropped silently (still 204).
 * - Export: GET /api/v1/export?match[]={__name__="m_f"} returns JSON lines
 *   {"metric":{"__name__":"m_f","tag":"v"},"values":[1.5],"timestamps":[1795303231500]}
 *   over all time by default (start/end optional, unix seconds). Series order is unspecified.
 * - Visibility: GET /internal/force_flush exists (200) and helps, but freshly written data still
 *   takes ~1-2 s to become exportable (the per-second index/pending-rows flushers), hence
 *   exportSeries() polls.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

/** Root of the repository (this file is compiled to dist/test/helpers/servers.js). */
export const repoRoot: string = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');

/** Anything with a skip() method, e.g. node:test's TestContext. */
export interface Skippable {
  skip(message?: string): void;
}

// ---------------------------------------------------------------------------------------------
// Child-process bookkeeping: never leak servers.

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* best effort */
    }
  }
  liveDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync();
      // Keep the default behaviour (die from the signal) unless someone else handles it.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function track(child: ChildProcess): ChildProcess {
  installHooks();
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

async function makeTempDir(prefix: string): Promise<string> {
  installHooks();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  liveDirs.delete(dir);
}

let setprivPath: string | null | undefined;

/** Spawn a server binary; with setpriv it gets SIGKILL when this process dies. */
function spawnServer(binary: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  if (setprivPath === undefined) setprivPath = findBinary('setpriv') ?? null;
  const opts: SpawnOptions = { env, stdio: ['ignore', 'pipe', 'pipe'] };
  const child = setprivPath ? spawn(setprivPath, ['--pdeathsig', 'KILL', '--', binary, ...args], opts) : spawn(binary, args, opts);
  return track(child);
}

/** Keeps the last `limit` characters of a child's stdout+stderr for error messages. */
class OutputTail {
  private text = '';
  constructor(private readonly limit = 64 * 1024) {}
  attach(child: ChildProcess): void {
    const add = (chunk: Buffer): void => {
      this.text += chunk.toString('utf8');
      if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
    };
    child.stdout?.on('data', add);
    child.stderr?.on('data', add);
  }
  toString(): string {
    return this.text;
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** SIGCONT (in case it was SIGSTOPped), SIGTERM, wait up to graceMs, then SIGKILL. */
async function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  if (await waitExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitExit(child, 5000);
}

async function forceKill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await waitExit(child, 5000);
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Environment for server processes: no INFLUXDB_* overrides (influxd reads them). */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('INFLUX')) env[k] = v;
  }
  return env;
}

/** Poll `url` until `ok(status)`; fail early if the child exits; include its output on failure. */
async function waitHttp(
  what: string,
  url: string,
  ok: (status: number) => boolean,
  child: ChildProcess,
  output: OutputTail,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!isRunning(child)) {
      throw new Error(
        `${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before ${url} answered.\n` + `--- output ---\n${output}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (ok(res.status)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String((err as Error).cause ?? err);
    }
    await sleep(100);
  }
  await forceKill(child);
  throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms (last: ${last}).\n--- output ---\n${output}`);
}

// ---------------------------------------------------------------------------------------------
// Ports and binaries.

/** A free TCP port on 127.0.0.1 (bind :0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Debian package providing each binary we may need. */
export const debianPackageOf: Record<string, string> = {
  influxd: 'influxdb',
  influx: 'influxdb-client',
  'victoria-metrics': 'victoria-metrics',
  logrotate: 'logrotate',
  'systemd-analyze': 'systemd',
  curl: 'curl',
  setpriv: 'util-linux',
};

/** PATH lookup (plus /usr/sbin and /sbin, where logrotate lives). Returns the absolute path. */
export function findBinary(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const extra of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Find a binary. Missing: with CI=true throw; otherwise print a loud SKIPPED line to stderr,
 * call t.skip() if a test context is given, and return undefined.
 */
export function requireBinary(name: string, t?: Skippable): string | undefined {
  const found = findBinary(name);
  if (found) return found;
  const pkg = debianPackageOf[name] ?? name;
  if (process.env.CI === 'true') {
    throw new Error(`${name} is required in CI: install Debian package ${pkg}`);
  }
  const msg = `${name} not found; install Debian package ${pkg}`;
  process.stderr.write(`\n*** SKIPPED: ${msg} ***\n\n`);
  t?.skip(msg);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// InfluxDB 1.6.7

export interface InfluxdOptions {
  /** Enable HTTP auth and create this admin user (1.x allows the first admin without auth). */
  auth?: { username: string; password: string };
  /** Skipped-test context: t.skip() is called when influxd is missing outside CI. */
  t?: Skippable;
  /** How long to wait for /ping after (re)start. Default 20 s. */
  startTimeoutMs?: number;
  /** `[http] max-body-size` in bytes: larger write bodies are answered 413 (influxd's default: 25 000 000). */
  maxBodySize?: number;
}

export interface InfluxQueryOptions {
  /** Time format of returned timestamps (`epoch=` parameter); default RFC3339 strings. */
  epoch?: 'ns' | 'u' | 'ms' | 's' | 'm' | 'h';
  /** Retention policy (`rp=`). */
  rp?: string;
}

/** One row of a query result: `_measurement` (series name), the series tags, and the columns. */
export type InfluxRow = Record<string, unknown> & { _measurement: string };

/** The JSON answer of InfluxDB 1.x's /query: one result per statement, each with its series. */
export interface InfluxQueryAnswer {
  error?: string;
  results?: Array<{
    statement_id?: number;
    error?: string;
    series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }>;
  }>;
}

export interface Influxd {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly rpcPort: number;
  /** Temp dir holding influxdb.conf, meta/, data/, wal/. Removed by stop(). */
  readonly dir: string;
  readonly configPath: string;
  readonly auth?: { username: string; password: string };
  /** pid of the running server (undefined once it has exited). */
  readonly pid: number | undefined;
  /** Captured stdout+stderr of the current process (last 64 KiB). */
  output(): string;
  /** POST /query; returns parsed JSON; throws on HTTP errors and on `error` in any result. */
  query(q: string, db?: string, opts?: InfluxQueryOptions): Promise<InfluxQueryAnswer>;
  /** query() flattened: one object per value row, with `_measurement`, GROUP BY tags and columns. */
  rows(q: string, db?: string, opts?: InfluxQueryOptions): Promise<InfluxRow[]>;
  createDatabase(name: string): Promise<void>;
  /** POST /write?db=..&precision=..; throws unless 204. */
  write(db: string, lines: string | string[], precision?: 'ns' | 'u' | 'ms' | 's'): Promise<void>;
  /** SIGTERM, wait, SIGKILL after 5 s, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Send any signal (SIGKILL, SIGSTOP, SIGCONT, ...) to the server. */
  kill(signal: NodeJS.Signals): void;
  /** Start again on the SAME port and data dir (SIGKILLs a still-running process first). */
  restart(): Promise<void>;
}

function influxdConfig(dir: string, port: number, rpcPort: number, authEnabled: boolean, maxBodySize?: number): string {
  const q = (s: string): string => JSON.stringify(s);
  return `# generated by test/helpers/servers.ts
reporting-enabled = false
bind-address = ${q(`127.0.0.1:${rpcPort}`)}

[meta]
  dir = ${q(join(dir, 'meta'))}
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = ${q(join(dir, 'data'))}
  wal-dir = ${q(join(dir, 'wal'))}
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = ${q(`127.0.0.1:${port}`)}
  auth-enabled = ${authEnabled}
${maxBodySize !== undefined ? `  max-body-size = ${maxBodySize}\n` : ''}  log-enabled = false
  suppress-write-log = true
  write-tracing = false
  pprof-enabled = false
  https-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false

[logging]
  format = "logfmt"
  level = "error"
  suppress-logo = true

[continuous_queries]
  enabled = false
  log-enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`;
}

/** Throws with details if an InfluxDB /query JSON answer carries an error. */
function checkInfluxAnswer(q: string, status: number, text: string): InfluxQueryAnswer {
  let json: InfluxQueryAnswer;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new Error(`InfluxDB /query ${JSON.stringify(q)}: HTTP ${status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (status < 200 || status >= 300 || json.error) {
    throw new Error(`InfluxDB /query ${JSON.stringify(q)}: HTTP ${status}: ${json.error ?? text.slice(0, 500)}`);
  }
  for (const [i, r] of (json.results ?? []).entries()) {
    if (r?.error) throw new Error(`InfluxDB /query ${JSON.stringify(q)}: statement ${i}: ${r.error}`);
  }
  return json;
}

/** Start the real influxd with a generated config in a fresh temp dir. */
export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd | undefined> {
  const binary = requireBinary('influxd', opts.t);
  if (!binary) return undefined;
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  const dir = await makeTempDir('influxd-test-');
  const port = await freePort();
  let rpcPort = await freePort();
  while (rpcPort === port) rpcPort = await freePort();
  const configPath = join(dir, 'influxdb.conf');
  await writeFile(configPath, influxdConfig(dir, port, rpcPort, Boolean(opts.auth), opts.maxBodySize));
  const url = `http://127.0.0.1:${port}`;

  let child!: ChildProcess;
  let output = new OutputTail();
  let stopped = false;

  const launch = async (): Promise<void> => {
    output = new OutputTail();
    child = spawnServer(binary, ['run', '-config', configPath], serverEnv());
    output.attach(child);
    await waitHttp('influxd', `${url}/ping`, (s) => s === 204, child, output, startTimeoutMs);
  };

  const authHeaders = (): Record<string, string> =>
    opts.auth ? { authorization: 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64') } : {};

  const rawQuery = async (q: string, db?: string, qo: InfluxQueryOptions = {}, withAuth = true): Promise<InfluxQueryAnswer> => {
    const form = new URLSearchParams({ q });
    if (db !== undefined) form.set('db', db);
    if (qo.epoch) form.set('epoch', qo.epoch);
    if (qo.rp) form.set('rp', qo.rp);
    const res = await fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(withAuth ? authHeaders() : {}) },
      body: form.toString(),
      signal: AbortSignal.timeout(30_000),
    });
    return checkInfluxAnswer(q, res.status, await res.text());
  };

  await launch();
  if (opts.auth) {
    const { username, password } = opts.auth;
    const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    const ident = (s: string): string => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
    await rawQuery(`CREATE USER ${ident(username)} WITH PASSWORD '${esc(password)}' WITH ALL PRIVILEGES`, undefined, {}, false);
  }

  const server: Influxd = {
    url,
    port,
    rpcPort,
    dir,
    configPath,
    auth: opts.auth,
    get pid() {
      return isRunning(child) ? child.pid : undefined;
    },
    output: () => output.toString(),
    query: (q, db, qo) => rawQuery(q, db, qo),
    async rows(q, db, qo) {
      const json = await rawQuery(q, db, qo);
      const out: InfluxRow[] = [];
      for (const result of json.results ?? []) {
        for (const series of result.series ?? []) {
          for (const values of series.values ?? []) {
            const row: InfluxRow = { _measurement: series.name, ...(series.tags ?? {}) };
            series.columns.forEach((c, i) => {
              row[c] = values[i];
            });
            out.push(row);
          }
        }
      }
      return out;
    },
    async createDatabase(name) {
      await rawQuery(`CREATE DATABASE "${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
    },
    async write(db, lines, precision = 'ns') {
      const body = Array.isArray(lines) ? lines.join('\n') : lines;
      const res = await fetch(`${url}/write?${new URLSearchParams({ db, precision })}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8', ...authHeaders() },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status !== 204) throw new Error(`InfluxDB /write?db=${db}: HTTP ${res.status}: ${text}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(child);
      await removeTempDir(dir);
    },
    kill(signal) {
      if (isRunning(child)) child.kill(signal);
    },
    async restart() {
      if (stopped) throw new Error('influxd: restart() after stop()');
      await forceKill(child);
      await launch();
    },
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// VictoriaMetrics 1.79.5 (stand-in for the InfluxDB v2 write API)

export interface VmSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export interface ExportOptions {
  /** Poll until at least this many series match (default 1). 0: one export, no waiting. */
  minSeries?: number;
  /** Give up polling after this long and return what is there (default 10 s). */
  timeoutMs?: number;
  /** Optional time range (unix seconds or RFC3339), passed as start=/end=. */
  start?: string | number;
  end?: string | number;
}

export interface VictoriaMetrics {
  /** http://127.0.0.1:<port>; the v2 write endpoint is `${url}/api/v2/write`. */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number | undefined;
  output(): string;
  /** GET /internal/force_flush. */
  forceFlush(): Promise<void>;
  /**
   * GET /api/v1/export?match[]=<match> (a series selector such as `{__name__="m_f"}` or
   * `{__name__=~"m_.*",host="a"}`; a bare name `m_f` works too), after a force_flush, polling
   * until `minSeries` series appear or the timeout passes. Series are sorted by their labels.
   */
  exportSeries(match: string, opts?: ExportOptions): Promise<VmSeries[]>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, wait, SIGKILL after 5 s, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface VictoriaMetricsOptions {
  t?: Skippable;
  /** -retentionPeriod; default 100y so old test timestamps are kept. */
  retentionPeriod?: string;
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export async function startVictoriaMetrics(opts: VictoriaMetricsOptions = {}): Promise<VictoriaMetrics | undefined> {
  const binary = requireBinary('victoria-metrics', opts.t);
  if (!binary) return undefined;
  const dir = await makeTempDir('vm-test-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnServer(
    binary,
    [
      `-storageDataPath=${dir}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      `-retentionPeriod=${opts.retentionPeriod ?? '100y'}`,
      '-loggerLevel=WARN',
      ...(opts.extraArgs ?? []),
    ],
    serverEnv(),
  );
  const output = new OutputTail();
  output.attach(child);
  await waitHttp('victoria-metrics', `${url}/health`, (s) => s === 200, child, output, opts.startTimeoutMs ?? 20_000);

  let stopped = false;
  const forceFlush = async (): Promise<void> => {
    const res = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
  };
  const exportOnce = async (match: string, eo: ExportOptions): Promise<VmSeries[]> => {
    const params = new URLSearchParams();
    params.append('match[]', match);
    if (eo.start !== undefined) params.set('start', String(eo.start));
    if (eo.end !== undefined) params.set('end', String(eo.end));
    const res = await fetch(`${url}/api/v1/export?${params}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`victoria-metrics export ${match}: HTTP ${res.status}: ${text}`);
    const series = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as VmSeries);
    const key = (s: VmSeries): string => JSON.stringify(Object.entries(s.metric).sort());
    return series.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  };

  return {
    url,
    port,
    dir,
    get pid() {
      return isRunning(child) ? child.pid : undefined;
    },
    output: () => output.toString(),
    forceFlush,
    async exportSeries(match, eo = {}) {
      const minSeries = eo.minSeries ?? 1;
      const deadline = Date.now() + (eo.timeoutMs ?? 10_000);
      for (;;) {
        await forceFlush();
        const series = await exportOnce(match, eo);
        if (series.length >= minSeries || Date.now() >= deadline) return series;
        await sleep(200);
      }
    },
    kill(signal) {
      if (isRunning(child)) child.kill(signal);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(child);
      await removeTempDir(dir);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fake HTTP server

export interface RecordedRequest {
  method: string;
  /** Path and query string as received, e.g. "/api/v2/write?org=o&bucket=b". */
  url: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Raw body bytes as received. */
  body: Buffer;
  /** Body as UTF-8 text, gunzipped first when Content-Encoding is gzip. */
  text: string;
}

export interface FixtureResponse {
  status?: number;
  body?: string | Buffer | object;
  headers?: Record<string, string | string[]>;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
  /** Destroy the socket without answering (connection reset). */
  destroy?: boolean;
}

export type FixtureHandler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A route: a fixed response, a sequence of responses (one per request, the last one repeats —
 * e.g. [{status: 429, headers: {'retry-after': '1'}}, {status: 200, body: '...'}]),
 * or a handler function.
 */
export type FixtureRoute = FixtureResponse | FixtureResponse[] | FixtureHandler;

/** Keys are a path ("/queue.json", matches any method) or "METHOD /path" ("POST /loki/api/v1/push"). */
export type FixtureRoutes = Record<string, FixtureRoute>;

export interface HttpFixtureServer {
  readonly url: string;
  readonly port: number;
  /** Every request received, in order (also unmatched ones, which get 404). */
  readonly requests: RecordedRequest[];
  /** The live routes table: tests may add/replace routes while the server runs. */
  readonly routes: FixtureRoutes;
  close(): Promise<void>;
}

export async function startHttpFixtureServer(routesOrHandler: FixtureRoutes | FixtureHandler = {}): Promise<HttpFixtureServer> {
  const routes: FixtureRoutes = typeof routesOrHandler === 'function' ? {} : routesOrHandler;
  const fallback: FixtureHandler | undefined = typeof routesOrHandler === 'function' ? routesOrHandler : undefined;
  const requests: RecordedRequest[] = [];
  const counters = new Map<string, number>();

  const send = async (res: ServerResponse, spec: FixtureResponse): Promise<void> => {
    if (spec.delayMs) await sleep(spec.delayMs);
    if (spec.destroy) {
      res.socket?.destroy();
      return;
    }
    let body = spec.body ?? '';
    const headers: Record<string, string | string[]> = { ...(spec.headers ?? {}) };
    if (typeof body === 'object' && !Buffer.isBuffer(body)) {
      body = JSON.stringify(body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    res.writeHead(spec.status ?? 200, headers);
    res.end(body);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        let text: string;
        try {
          text = /gzip/i.test(String(req.headers['content-encoding'] ?? '')) ? gunzipSync(body).toString('utf8') : body.toString('utf8');
        } catch {
          text = body.toString('utf8');
        }
        const u = new URL(req.url ?? '/', 'http://127.0.0.1');
        const rec: RecordedRequest = {
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          path: u.pathname,
          query: u.searchParams,
          headers: req.headers,
          body,
          text,
        };
        requests.push(rec);
        const key = `${rec.method} ${rec.path}` in routes ? `${rec.method} ${rec.path}` : rec.path;
        const route = routes[key];
        try {
          if (typeof route === 'function') await route(rec, res);
          else if (Array.isArray(route)) {
            const n = counters.get(key) ?? 0;
            counters.set(key, n + 1);
            await send(res, route[Math.min(n, route.length - 1)] ?? {});
          } else if (route) await send(res, route);
          else if (fallback) await fallback(rec, res);
          else await send(res, { status: 404, body: `no fixture route for ${rec.method} ${rec.path}\n` });
        } catch (err) {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`fixture handler failed: ${String(err)}\n`);
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    routes,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The CLI

export interface CliOptions {
  /** Applied on top of the cleaned environment; `undefined` deletes a variable. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, then stdin is closed (stdin is closed right away without it). */
  input?: string;
  /** Kill (SIGKILL) and reject after this long. Default 30 s. */
  timeoutMs?: number;
  cwd?: string;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const cliPath: string = join(repoRoot, 'bin', 'metrics');

const CLEAN_ENV_PREFIXES = ['INFLUX', 'METRICS_', 'RUNNER_', 'PROMTAIL_'];
const CLEAN_ENV_NAMES = ['CREDENTIALS_DIRECTORY', 'STATE_DIRECTORY', 'NODE_TEST_CONTEXT'];

/**
 * process.env without INFLUX*, METRICS_*, RUNNER_*, PROMTAIL_*, CREDENTIALS_DIRECTORY,
 * STATE_DIRECTORY (and node:test's NODE_TEST_CONTEXT), then `extra` applied.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (CLEAN_ENV_PREFIXES.some((p) => k.startsWith(p)) || CLEAN_ENV_NAMES.includes(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // never touch the machine's real state (/var/lib/metrics when root), and never share an outbox
  // between unrelated runs: a fresh temp state dir unless the caller names one
  if (!('STATE_DIRECTORY' in extra) && !('METRICS_STATE_DIR' in extra)) env.METRICS_STATE_DIR = freshStateDir();
  return env;
}

const stateDirs: string[] = [];
function freshStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-test-state-'));
  if (stateDirs.push(dir) === 1)
    process.on('exit', () => {
      for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
    });
  return dir;
}

/** Spawn `node bin/metrics ...args` (stdio piped) for kill/signal tests. Tracked: never leaks. */
export function spawnCli(args: string[], opts: Omit<CliOptions, 'timeoutMs' | 'input'> = {}): ChildProcess {
  return track(
    spawn(process.execPath, [cliPath, ...args], {
      env: cleanEnv(opts.env),
      cwd: opts.cwd ?? repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
}

/** Run `node bin/metrics ...args` with a clean environment and collect its output. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return collectCli(spawnCli(args, opts), `metrics ${args.join(' ')}`, opts.timeoutMs ?? 30_000, opts.input ?? '');
}

/**
 * Collects a spawned CLI's output until it exits; SIGKILLs it and rejects (with the output so
 * far) after `timeoutMs`. Standard input gets `input` and is closed.
 */
export function collectCli(child: ChildProcess, what: string, timeoutMs: number, input = ''): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.on('error', () => {
    /* EPIPE if the CLI exits without reading stdin */
  });
  child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: timed out after ${timeoutMs} ms\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Hostile answers (for the bounded-read tests): a body that never ends, a gzip bomb

export interface HostileAnswer {
  /** body bytes handed to the socket before the client closed it (or the server stopped) */
  sent: number;
  /** the client closed the connection before the body was complete */
  closedByClient: boolean;
}

/**
 * Answers `status` with a body that never ends: `chunk` written again and again as fast as the
 * client reads (honouring backpressure), until the client closes the connection. `capBytes`
 * (optional) stops writing after that many bytes and then holds the answer open, never ending it
 * (so a client that reads without a bound waits instead of eating all memory).
 */
export async function answerEndlessly(
  res: ServerResponse,
  opts: { status: number; headers?: Record<string, string>; chunk?: Buffer; capBytes?: number },
): Promise<HostileAnswer> {
  const chunk = opts.chunk ?? Buffer.alloc(64 * 1024, 'x');
  let closed = false;
  res.on('error', () => {});
  const closedP = new Promise<void>((resolve) =>
    res.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  res.writeHead(opts.status, opts.headers ?? { 'content-type': 'application/json' });
  let sent = 0;
  while (!closed && (opts.capBytes === undefined || sent < opts.capBytes)) {
    sent += chunk.length;
    if (!res.write(chunk)) await Promise.race([new Promise((r) => res.once('drain', r)), closedP]);
  }
  await closedP;
  return { sent, closedByClient: true };
}

let bombMember: Buffer | undefined;

/** One gzip member that inflates to 64 MiB of zeros (about 64 KiB compressed). */
export function gzipBombMember(): Buffer {
  bombMember ??= gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return bombMember;
}

/**
 * Answers `status` with `content-encoding: gzip` and `members` gzip members of 64 MiB of zeros
 * each (a few MiB on the wire; default 32 members: 2 GiB inflated), then ends the answer.
 */
export async function answerGzipBomb(
  res: ServerResponse,
  opts: { status: number; headers?: Record<string, string>; members?: number },
): Promise<HostileAnswer> {
  const member = gzipBombMember();
  const members = opts.members ?? 32;
  let closed = false;
  res.on('error', () => {});
  const closedP = new Promise<void>((resolve) =>
    res.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  res.writeHead(opts.status, { 'content-type': 'application/json', ...opts.headers, 'content-encoding': 'gzip' });
  let sent = 0;
  for (let i = 0; i < members && !closed; i++) {
    sent += member.length;
    if (!res.write(member)) await Promise.race([new Promise((r) => res.once('drain', r)), closedP]);
  }
  const complete = !closed;
  if (complete) res.end();
  await closedP;
  return { sent, closedByClient: !complete };
}
