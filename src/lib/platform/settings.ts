/**
 * Configuration from the environment, so that a systemd `EnvironmentFile=` (or `LoadCredential=`)
 * configures a collector run. Secrets (`INFLUXDB_PASSWORD`, `INFLUX_TOKEN`) may also come from a
 * file named by `<NAME>_FILE`, or from systemd's `$CREDENTIALS_DIRECTORY/<NAME>`. Secret values are
 * registered with the redactor and never appear in any output.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { safeUrl } from './http.js';
import { registerCredentialPair, registerSecret } from './redact.js';

export type Env = Record<string, string | undefined>;

export interface InfluxConfig {
  /** `v1`: POST /write (database, retention policy, user/password); `v2`: POST /api/v2/write; `auto`: ask /ping */
  api: 'v1' | 'v2' | 'auto';
  /** base URL without credentials, e.g. http://influx.example:8086 */
  url: string;
  database?: string;
  retentionPolicy?: string;
  username?: string;
  password?: string;
  token?: string;
  org?: string;
  bucket?: string;
  /** per-request timeout, ms */
  timeoutMs: number;
  /** lines per write request */
  batchSize: number;
  /** retries after the first attempt, for network errors, timeouts, 429 and 5xx */
  maxRetries: number;
  /** first retry delay, ms (doubles each retry, with jitter) */
  retryDelayMs: number;
  /** cap of one retry delay, ms (a server's Retry-After is honoured up to this) */
  maxRetryDelayMs: number;
  /** request bodies larger than this are gzipped; 0 turns gzip off */
  gzipThreshold: number;
  caFile?: string;
  /** TLS certificate verification turned off: only by explicit request, loudly logged */
  tlsInsecure: boolean;
}

/**
 * A secret from the environment, `<NAME>_FILE`, or `$CREDENTIALS_DIRECTORY/<NAME>`. Trailing
 * whitespace (a final newline, a blank line, a space) is removed from a value read from a file:
 * editors add it, and a token with it would be refused by every request. A value that still holds
 * a line break or another control character cannot go into an HTTP header: ConfigError, naming
 * the variable and the file, never the value.
 */
export function readSecret(env: Env, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && direct !== '' && file) {
    throw new ConfigError(`both ${name} and ${name}_FILE are set: set only one`);
  }
  let value: string | undefined = direct === '' ? undefined : direct;
  let source = `${name} (from the environment)`;
  let path: string | undefined = file || undefined;
  if (value === undefined && path === undefined && env.CREDENTIALS_DIRECTORY) {
    const candidate = join(env.CREDENTIALS_DIRECTORY, name);
    try {
      value = readFileSync(candidate, 'utf8').replace(/\s+$/, '');
      source = `credential ${name} (${candidate})`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ConfigError(`cannot read credential ${name} from ${candidate}: ${(error as NodeJS.ErrnoException).code}`);
      }
    }
  }
  if (path !== undefined) {
    try {
      value = readFileSync(path, 'utf8').replace(/\s+$/, '');
      source = `${name}_FILE=${path}`;
    } catch (error) {
      throw new ConfigError(`cannot read ${name}_FILE=${path}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path and its permissions`);
    }
  }
  registerSecret(value);
  if (value === '') throw new ConfigError(`${source} is empty: write the secret into it`);
  // eslint-disable-next-line no-control-regex
  if (value !== undefined && /[\x00-\x1f\x7f]/.test(value)) {
    throw new ConfigError(
      `${source} contains a line break or another control character: a secret must be a single line ` +
        '(an HTTP header cannot carry it); remove the extra line or character',
    );
  }
  return value;
}

function bool(env: Env, name: string, problems: string[]): boolean {
  const v = env[name];
  if (v === undefined || v === '') return false;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  problems.push(`${name}=${JSON.stringify(v)} is not a boolean (use true or false)`);
  return false;
}

/**
 * The longest duration, in seconds, that Node.js can wait for with one timer (2^31-1 ms, about
 * 24.8 days): a longer one fires after 1 ms. Every duration setting is bounded by it.
 */
export const MAX_TIMER_SECONDS = 2_147_483;

export interface NumberRule {
  min: number;
  max: number;
  /** whole numbers only */
  integer?: boolean;
  /** `min` itself is not allowed (e.g. a time limit greater than 0) */
  minExclusive?: boolean;
  /** what the number counts, for messages (e.g. `seconds`) */
  unit?: string;
}

function formatBound(n: number): string {
  return n === MAX_TIMER_SECONDS ? `${n} (about 24.8 days, the longest timer Node.js can set)` : String(n);
}

/** The allowed values in words, e.g. "a plain decimal number of seconds greater than 0 and at most 3600". */
export function describeRule(rule: NumberRule): string {
  const what = `${rule.integer ? 'a plain decimal whole number' : 'a plain decimal number'}${rule.unit ? ` of ${rule.unit}` : ''}`;
  const low = rule.minExclusive ? `greater than ${rule.min}` : `from ${rule.min}`;
  return `${what} ${low}${rule.minExclusive ? ' and at most' : ' to'} ${formatBound(rule.max)}`;
}

/** An integer is written /^[0-9]+$/, any other number /^[0-9]+(\.[0-9]+)?$/: no sign, exponent, hex or spaces. */
const PLAIN_INTEGER = /^[0-9]+$/;
const PLAIN_DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

/** Whether `raw` is written as `rule` wants it (digits, and a fraction when not an integer). */
export function isPlainNumber(raw: string, rule: Pick<NumberRule, 'integer'> = {}): boolean {
  return (rule.integer ? PLAIN_INTEGER : PLAIN_DECIMAL).test(raw);
}

/** Why `value` is outside `rule` (a message naming `label`), or undefined when it is inside. */
export function rangeProblem(label: string, value: number, rule: NumberRule): string | undefined {
  const ok =
    Number.isFinite(value) &&
    (rule.minExclusive ? value > rule.min : value >= rule.min) &&
    value <= rule.max &&
    (!rule.integer || Number.isInteger(value));
  return ok ? undefined : `${label} is out of range: it must be ${describeRule(rule)}`;
}

/**
 * Parses a number setting. Returns the number, or a message naming `name` (and the value, which
 * is never a secret) with the allowed range when it is not a plain decimal within `rule`.
 */
export function parseNumberSetting(name: string, raw: string, rule: NumberRule): number | { problem: string } {
  const shown = `${name}=${JSON.stringify(raw)}`;
  if (!isPlainNumber(raw, rule)) {
    const form = rule.integer ? 'digits 0-9 only' : 'digits 0-9, with an optional fraction such as 2.5';
    return { problem: `${shown} is not written as a plain decimal (${form}; no sign, exponent, hex or spaces): it must be ${describeRule(rule)}` };
  }
  const n = Number(raw);
  const problem = rangeProblem(shown, n, rule);
  return problem ? { problem } : n;
}

function num(env: Env, name: string, def: number, problems: string[], rule: NumberRule): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const r = parseNumberSetting(name, v, rule);
  if (typeof r === 'number') return r;
  problems.push(r.problem);
  return def;
}

/** Reads the InfluxDB configuration; throws ConfigError naming every missing or invalid variable. */
export function loadInfluxConfig(env: Env = process.env): InfluxConfig {
  const problems: string[] = [];
  const common = {
    timeoutMs: num(env, 'INFLUX_TIMEOUT', 10, problems, { min: 0.1, max: 3600, unit: 'seconds' }) * 1000,
    batchSize: num(env, 'INFLUX_BATCH_SIZE', 5000, problems, { min: 1, max: 1_000_000, integer: true }),
    maxRetries: num(env, 'INFLUX_MAX_RETRIES', 3, problems, { min: 0, max: 100, integer: true }),
    retryDelayMs: num(env, 'INFLUX_RETRY_DELAY', 1, problems, { min: 0, max: 3600, unit: 'seconds' }) * 1000,
    maxRetryDelayMs: num(env, 'INFLUX_MAX_RETRY_DELAY', 30, problems, { min: 0, max: 3600, unit: 'seconds' }) * 1000,
    gzipThreshold: num(env, 'INFLUX_GZIP_THRESHOLD', 1000, problems, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, unit: 'bytes' }),
    caFile: env.INFLUX_CA_FILE || undefined,
    tlsInsecure: bool(env, 'INFLUX_TLS_INSECURE', problems),
  };
  const hasV1 = Boolean(env.INFLUXDB_HOSTNAME);
  const hasV2 = Boolean(env.INFLUX_URL);
  if (hasV1 && hasV2) {
    problems.push('both INFLUXDB_HOSTNAME (InfluxDB 1.x) and INFLUX_URL (InfluxDB 2.x/3.x) are set: set one of them');
  }
  if (!hasV1 && !hasV2) {
    problems.push(
      'no InfluxDB configured: set INFLUXDB_HOSTNAME and INFLUXDB_DATABASE (InfluxDB 1.x), or INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG and INFLUX_BUCKET (InfluxDB 2.x/3.x); or run with --dry-run',
    );
  }
  let config: InfluxConfig | undefined;
  if (hasV1 && !hasV2) {
    const ssl = bool(env, 'INFLUXDB_SSL', problems);
    const port = num(env, 'INFLUXDB_PORT', 8086, problems, { min: 1, max: 65535, integer: true });
    const host = env.INFLUXDB_HOSTNAME!;
    if (/[/@\s]/.test(host)) problems.push(`INFLUXDB_HOSTNAME=${JSON.stringify(host.includes('@') ? `***@${host.split('@').pop()}` : host)} must be a bare host name or address (no scheme, path or credentials)`);
    else if (hostWithPort(host)) {
      problems.push(
        `INFLUXDB_HOSTNAME=${JSON.stringify(host)} holds a port: set the host name alone in INFLUXDB_HOSTNAME and the port in INFLUXDB_PORT (default 8086); an IPv6 address is written as it is (::1) or in brackets ([::1])`,
      );
    }
    if (!env.INFLUXDB_DATABASE) problems.push('INFLUXDB_DATABASE is not set (the database to write to)');
    const password = readSecretSafely(env, 'INFLUXDB_PASSWORD', problems);
    if (password !== undefined && !env.INFLUXDB_USERNAME) problems.push('INFLUXDB_PASSWORD is set but INFLUXDB_USERNAME is not');
    // sent as HTTP Basic authorization: base64 of user:password is redacted too
    registerCredentialPair(env.INFLUXDB_USERNAME, password);
    const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    config = {
      ...common,
      api: 'v1',
      url: `${ssl ? 'https' : 'http'}://${hostPart}:${port}`,
      database: env.INFLUXDB_DATABASE,
      retentionPolicy: env.INFLUXDB_RETENTION_POLICY || undefined,
      username: env.INFLUXDB_USERNAME || undefined,
      password,
    };
  } else if (hasV2 && !hasV1) {
    let url = env.INFLUX_URL!;
    // a query string or fragment may carry credentials (?u=admin&p=...): refused, and never printed
    const shown = JSON.stringify(safeUrl(url.replace(/[?#].*$/s, '')));
    if (/[?#]/.test(url)) {
      problems.push(
        'INFLUX_URL has a query string or a fragment (a "?" or "#" part; not shown, it may hold credentials): give the base URL only, e.g. https://influx.example:8086, and the token in INFLUX_TOKEN (the database, bucket and org have their own variables)',
      );
    }
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problems.push(`INFLUX_URL=${shown} must start with http:// or https://`);
      if (parsed.username || parsed.password) problems.push('INFLUX_URL must not contain credentials: use INFLUX_TOKEN');
      url = url.replace(/\/+$/, '');
    } catch {
      problems.push(`INFLUX_URL=${shown} is not a URL (e.g. http://localhost:8086)`);
    }
    const version = (env.INFLUX_API_VERSION || 'auto').toLowerCase();
    if (!['1', '2', 'auto', 'v1', 'v2'].includes(version)) problems.push(`INFLUX_API_VERSION=${JSON.stringify(env.INFLUX_API_VERSION)} must be 1, 2 or auto`);
    const token = readSecretSafely(env, 'INFLUX_TOKEN', problems);
    // `user:password` for a 1.x server is sent as HTTP Basic authorization (see delivery/writer.ts)
    if (token?.includes(':')) registerCredentialPair(token.slice(0, token.indexOf(':')), token.slice(token.indexOf(':') + 1));
    if (!env.INFLUX_BUCKET) problems.push('INFLUX_BUCKET is not set (the bucket to write to)');
    const api = version.endsWith('1') ? 'v1' : version.endsWith('2') ? 'v2' : 'auto';
    if (api === 'v2' && !token) problems.push('INFLUX_TOKEN is not set (or INFLUX_TOKEN_FILE, or a credential INFLUX_TOKEN)');
    if (api === 'v2' && !env.INFLUX_ORG) problems.push('INFLUX_ORG is not set (the organization that owns the bucket)');
    config = { ...common, api, url, token, org: env.INFLUX_ORG || undefined, bucket: env.INFLUX_BUCKET };
  }
  if (problems.length > 0 || !config) {
    throw new ConfigError(`configuration is incomplete or invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return config;
}

/**
 * A port glued to the host name (`influx:8086`, `[::1]:8086`). IPv6 addresses stay accepted:
 * bracketed (`[::1]`), or bare with several colons (`::1`, `fe80::1`).
 */
function hostWithPort(host: string): boolean {
  if (host.startsWith('[')) return !/^\[[^\]]*\]$/.test(host);
  return (host.match(/:/g) ?? []).length === 1;
}

function readSecretSafely(env: Env, name: string, problems: string[]): string | undefined {
  try {
    return readSecret(env, name);
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
}

/** How the target is shown in logs: never with credentials. */
export function describeTarget(c: InfluxConfig): string {
  if (c.api === 'v1' || (c.api === 'auto' && c.database)) {
    return `${c.url} database ${c.database}${c.retentionPolicy ? ` (retention policy ${c.retentionPolicy})` : ''}`;
  }
  return `${c.url} bucket ${c.bucket}${c.org ? ` (org ${c.org})` : ''}`;
}
