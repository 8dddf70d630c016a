/**
 * The settings: the environment read once, at the edge, into a typed and validated object. The
 * entry points call `loadSettings(process.env)` (cli/main.ts; the systemd generator's own entry
 * point calls `readSettings()`, which never fails); every other module receives the Settings, or
 * the section it needs, and never reads the environment. A variable documented in the README is
 * parsed here and nowhere else, by the rules of setting-rules.ts, with one error format (the
 * variable named, the allowed values; never a secret's value).
 *
 * The cheap sections (`run`, `state`, `events`, and the flags) are parsed and validated at once:
 * a mistake in any of them stops the command with exit 2 and one message per variable. The
 * InfluxDB section is parsed on first use (`settings.influx()`): a dry-run never needs
 * credentials and must not fail on their absence. Secrets (`INFLUXDB_PASSWORD`, `INFLUX_TOKEN`)
 * may also come from a file named by `<NAME>_FILE`, or from systemd's
 * `$CREDENTIALS_DIRECTORY/<NAME>`; they are registered with the redactor when read and never
 * appear in any output.
 *
 * `VARIABLES` is the table of every variable the framework reads (name, meaning, default, rule);
 * a test compares it with the README's "Configuration" table, so that the two cannot drift. The
 * raw environment stays available as `settings.env`, for the collectors' own variables
 * (`this.env` of a Metric), which each collector documents in its README.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { safeUrl } from './http.js';
import { builtCollectorsDir } from './paths.js';
import { registerCredentialPair, registerSecret } from './redact.js';
import {
  RFC3339_RULE,
  booleanRule,
  durationRule,
  formatSize,
  integerRule,
  sizeRule,
  type NumberSettingRule,
  type SettingRule,
} from './setting-rules.js';

export { MAX_TIMER_SECONDS, describeRule, isPlainNumber, rangeProblem, type NumberRule } from './setting-rules.js';

/** The environment of the process, as given to the loader. */
export type Env = Readonly<Record<string, string | undefined>>;

/** What one `metrics run` (and the commands that discover collectors) needs. */
export interface RunSettings {
  /** METRICS_TIMEOUT: seconds one collector may take (default 600) */
  readonly timeoutSec: number;
  /** METRICS_DISABLE: the collectors switched off on this host; undefined when the variable is not set */
  readonly disabled?: ReadonlySet<string>;
  /** METRICS_COLLECTORS_DIR (resolved), else the compiled dist/src/collectors */
  readonly collectorsDir: string;
  /** METRICS_COLLECTORS_DIR was set: discovery does not compare with src/collectors */
  readonly collectorsDirGiven: boolean;
  /** METRICS_RUN_COMMAND as argv (the daemon's run command); undefined: the default */
  readonly runCommand?: readonly string[];
  /** METRICS_NOW: the collection time of the run's collectors, ns (default: the time each starts); for dry-runs and tests */
  readonly now?: string;
}

/** Where the framework keeps its state. */
export interface StateSettings {
  /** the state directory: `$STATE_DIRECTORY`, `$METRICS_STATE_DIR`, `/var/lib/metrics`, or the user's */
  readonly dir: string;
  /** the outbox: `$STATE_DIRECTORY/outbox`, `$METRICS_OUTBOX_DIR`, or `<dir>/outbox` */
  readonly outboxDir: string;
  /** METRICS_OUTBOX_MAX_SIZE in bytes (default 256 MiB) */
  readonly outboxMaxBytes: number;
}

export type SinkName = 'log' | 'promtail' | 'influx';
export const SINK_NAMES: readonly SinkName[] = ['log', 'promtail', 'influx'];

/** Where metric events go. */
export interface EventSettings {
  /** the sinks METRICS_EVENT_SINKS asks for (or that the set variables imply), in a fixed order */
  readonly sinks: readonly SinkName[];
  /** METRICS_LOG_PATH: the JSON-lines metrics log */
  readonly logPath?: string;
  /** PROMTAIL_PUSH_API_URL: checked to be an http(s) URL */
  readonly promtailUrl?: string;
}

export interface Settings {
  /** the raw environment: for the collectors' own variables (a Metric's `this.env`), never for framework settings */
  readonly env: Env;
  readonly run: RunSettings;
  readonly state: StateSettings;
  readonly events: EventSettings;
  /** METRICS_DEBUG: print the stack of an unexpected error */
  readonly debug: boolean;
  /** not METRICS_NO_FAST_PATH: a plain `run` command line skips yargs */
  readonly fastPath: boolean;
  /** SYSTEMD_SCOPE is set: systemd runs us (as a generator: log to /dev/kmsg) */
  readonly underSystemd: boolean;
  /**
   * dev mode is allowed: a `--dry-run` in a checkout runs a collector whose source is newer than
   * its build from that source (run/from-source.ts); false under CI (`CI` set, not `false`/`0`) and
   * under systemd (`INVOCATION_ID`), which run compiled JavaScript only
   */
  readonly fromSource: boolean;
  /** The InfluxDB settings, parsed on first use; throws ConfigError naming every missing or invalid variable. */
  influx(): InfluxConfig;
}

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
  /**
   * batches of a collector handed to delivery and not yet written or stored, at most: while one is
   * sent, the collector goes on filling the next (they are sent one after the other, in order)
   */
  batchesInFlight: number;
  /** retries after the first attempt, for network errors, timeouts, 429 and 5xx */
  maxRetries: number;
  /** first retry delay, ms (doubles each retry, with jitter) */
  retryDelayMs: number;
  /** cap of one retry delay, ms (a server's Retry-After is honoured up to this) */
  maxRetryDelayMs: number;
  /**
   * request bodies larger than this are gzipped (level 1); 0 turns gzip off. Default 1000, and 0
   * to a loopback host, where compressing costs more time than sending (README, "Performance")
   */
  gzipThreshold: number;
  caFile?: string;
  /** TLS certificate verification turned off: only by explicit request, loudly logged */
  tlsInsecure: boolean;
}

// ---------------------------------------------------------------------------------------------
// The rules and the table of variables

/** A collector's time limit (METRICS_TIMEOUT, `--timeout`): greater than 0, and within what one Node.js timer can wait. */
export const TIMEOUT_RULE: NumberSettingRule = durationRule({ min: 0, minExclusive: true });

/** METRICS_TIMEOUT's default, seconds. */
export const DEFAULT_TIMEOUT_SEC = 600;

/** METRICS_OUTBOX_MAX_SIZE (and `kubernetes generate --outbox-max-size`). */
export const OUTBOX_SIZE_RULE = sizeRule({ min: 1, max: 16 * 1024 ** 4 });

/** Default bound of the outbox: 256 MiB. */
export const DEFAULT_OUTBOX_MAX_BYTES = 256 * 1024 * 1024;

const BOOLEAN = booleanRule();

const RULES = {
  INFLUXDB_PORT: integerRule({ min: 1, max: 65535 }),
  INFLUX_TIMEOUT: durationRule({ min: 0.1, max: 3600 }),
  INFLUX_BATCH_SIZE: integerRule({ min: 1, max: 1_000_000 }),
  INFLUX_BATCHES_IN_FLIGHT: integerRule({ min: 1, max: 64 }),
  INFLUX_MAX_RETRIES: integerRule({ min: 0, max: 100 }),
  INFLUX_RETRY_DELAY: durationRule({ max: 3600 }),
  INFLUX_MAX_RETRY_DELAY: durationRule({ max: 3600 }),
  INFLUX_GZIP_THRESHOLD: integerRule({ min: 0, max: 1_000_000_000, unit: 'bytes' }),
} as const;

/** A collector's name (its folder; it becomes part of systemd unit names). */
export const COLLECTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** One variable the framework reads. */
export interface VariableInfo {
  name: string;
  /** what it sets, in a few words (the README says more) */
  meaning: string;
  /** the default, as the README's table states it (`—`: none) */
  default: string;
  /** the allowed values, as the README's table states them */
  rule: string;
}

const NONE = '—';
const SECRET = 'one line (see [Secrets](#secrets))';
const BY_SYSTEMD = 'set by systemd';

/**
 * Every variable the framework reads, in the order of the README's "Configuration" table, which
 * states the same defaults and rules (test/lib/settings.test.ts compares them).
 */
export const VARIABLES: readonly VariableInfo[] = [
  {
    name: 'INFLUXDB_HOSTNAME',
    meaning: 'InfluxDB 1.x host (selects the 1.x /write API)',
    default: NONE,
    rule: 'a bare host name or address: no scheme, path, credentials or port; IPv6 as `::1` or `[::1]`',
  },
  { name: 'INFLUXDB_PORT', meaning: 'InfluxDB 1.x port', default: '8086', rule: RULES.INFLUXDB_PORT.summary },
  { name: 'INFLUXDB_SSL', meaning: 'https to the 1.x host', default: 'false', rule: BOOLEAN.summary },
  { name: 'INFLUXDB_DATABASE', meaning: 'InfluxDB 1.x database', default: NONE, rule: 'required with `INFLUXDB_HOSTNAME`' },
  { name: 'INFLUXDB_RETENTION_POLICY', meaning: 'InfluxDB 1.x retention policy', default: "the database's default", rule: 'a name' },
  { name: 'INFLUXDB_USERNAME', meaning: 'InfluxDB 1.x user', default: NONE, rule: 'a name; required with `INFLUXDB_PASSWORD`' },
  { name: 'INFLUXDB_PASSWORD', meaning: 'InfluxDB 1.x password (secret)', default: NONE, rule: SECRET },
  {
    name: 'INFLUXDB_PASSWORD_FILE',
    meaning: 'a file holding INFLUXDB_PASSWORD',
    default: NONE,
    rule: 'a readable file; not with `INFLUXDB_PASSWORD`',
  },
  {
    name: 'INFLUX_URL',
    meaning: 'InfluxDB 2.x/3.x base URL',
    default: NONE,
    rule: 'an `http://` or `https://` URL without credentials, query string (`?…`) or fragment (`#…`)',
  },
  { name: 'INFLUX_TOKEN', meaning: 'API token (secret)', default: NONE, rule: SECRET },
  { name: 'INFLUX_TOKEN_FILE', meaning: 'a file holding INFLUX_TOKEN', default: NONE, rule: 'a readable file; not with `INFLUX_TOKEN`' },
  { name: 'INFLUX_ORG', meaning: 'organization', default: NONE, rule: 'a name; required for the 2.x API' },
  { name: 'INFLUX_BUCKET', meaning: 'bucket', default: NONE, rule: 'a name; required with `INFLUX_URL`' },
  { name: 'INFLUX_API_VERSION', meaning: 'the write API behind INFLUX_URL', default: '`auto`', rule: '`1`, `2` or `auto`' },
  { name: 'INFLUX_TIMEOUT', meaning: 'time limit of one write request', default: '10', rule: RULES.INFLUX_TIMEOUT.summary },
  { name: 'INFLUX_BATCH_SIZE', meaning: 'points per write request', default: '5000', rule: RULES.INFLUX_BATCH_SIZE.summary },
  {
    name: 'INFLUX_BATCHES_IN_FLIGHT',
    meaning: 'batches of a collector waiting or being sent',
    default: '2',
    rule: RULES.INFLUX_BATCHES_IN_FLIGHT.summary,
  },
  { name: 'INFLUX_MAX_RETRIES', meaning: 'retries of a failed request', default: '3', rule: RULES.INFLUX_MAX_RETRIES.summary },
  { name: 'INFLUX_RETRY_DELAY', meaning: 'wait before the first retry', default: '1', rule: RULES.INFLUX_RETRY_DELAY.summary },
  { name: 'INFLUX_MAX_RETRY_DELAY', meaning: 'longest wait between retries', default: '30', rule: RULES.INFLUX_MAX_RETRY_DELAY.summary },
  {
    name: 'INFLUX_GZIP_THRESHOLD',
    meaning: 'larger request bodies are gzipped (level 1)',
    default: '1000; to a loopback host: 0',
    rule: `${RULES.INFLUX_GZIP_THRESHOLD.summary}; 0: never`,
  },
  { name: 'INFLUX_CA_FILE', meaning: "the CA of the server's certificate", default: NONE, rule: 'a readable PEM file' },
  { name: 'INFLUX_TLS_INSECURE', meaning: 'no certificate verification', default: 'false', rule: BOOLEAN.summary },
  { name: 'METRICS_TIMEOUT', meaning: 'time limit of one collector', default: String(DEFAULT_TIMEOUT_SEC), rule: TIMEOUT_RULE.summary },
  {
    name: 'METRICS_NOW',
    meaning: 'the collection time ("now") of a dry-run or a test',
    default: 'the time the collector starts',
    rule: RFC3339_RULE.summary,
  },
  { name: 'METRICS_DISABLE', meaning: 'collectors switched off on this host', default: NONE, rule: 'collector names, comma-separated' },
  { name: 'METRICS_COLLECTORS_DIR', meaning: 'the compiled collectors', default: '`dist/src/collectors`', rule: 'a directory' },
  {
    name: 'METRICS_RUN_COMMAND',
    meaning: "the daemon's command for one run",
    default: '`node bin/metrics run`',
    rule: 'an executable, or a JSON array of strings',
  },
  { name: 'STATE_DIRECTORY', meaning: 'the state directory under systemd', default: NONE, rule: `${BY_SYSTEMD} (\`StateDirectory=\`)` },
  {
    name: 'METRICS_STATE_DIR',
    meaning: 'the state directory otherwise',
    default: 'see [Delivery](#delivery-what-is-guaranteed)',
    rule: 'a directory',
  },
  { name: 'XDG_STATE_HOME', meaning: "the user's state directory", default: '`~/.local/state`', rule: 'an absolute path (else ignored)' },
  { name: 'HOME', meaning: "the user's home directory", default: 'from the password database', rule: 'a directory' },
  {
    name: 'METRICS_OUTBOX_DIR',
    meaning: 'the outbox when `STATE_DIRECTORY` is not set',
    default: '`<state directory>/outbox`',
    rule: 'a directory',
  },
  {
    name: 'METRICS_OUTBOX_MAX_SIZE',
    meaning: 'bound of the outbox',
    default: `\`${formatSize(DEFAULT_OUTBOX_MAX_BYTES)}\``,
    rule: OUTBOX_SIZE_RULE.summary,
  },
  { name: 'CREDENTIALS_DIRECTORY', meaning: "systemd's credentials (`LoadCredential=`)", default: NONE, rule: BY_SYSTEMD },
  { name: 'METRICS_LOG_PATH', meaning: 'the JSON-lines metrics log (event sink `log`)', default: NONE, rule: 'a file path' },
  {
    name: 'METRICS_EVENT_SINKS',
    meaning: 'where metric events go',
    default: '`log` and `promtail`, as their variables are set',
    rule: 'a comma list of `log`, `promtail`, `influx`, or `none`',
  },
  {
    name: 'PROMTAIL_PUSH_API_URL',
    meaning: "Promtail's Loki push API (event sink `promtail`)",
    default: NONE,
    rule: 'an `http://` or `https://` URL',
  },
  { name: 'METRICS_DEBUG', meaning: 'print the stack of an unexpected error', default: 'false', rule: BOOLEAN.summary },
  { name: 'METRICS_NO_FAST_PATH', meaning: 'parse every command line with yargs', default: 'false', rule: BOOLEAN.summary },
  { name: 'SYSTEMD_SCOPE', meaning: 'the generator runs under systemd', default: NONE, rule: BY_SYSTEMD },
  {
    name: 'INVOCATION_ID',
    meaning: 'systemd runs this service: a dry-run never runs collectors from source',
    default: NONE,
    rule: BY_SYSTEMD,
  },
  {
    name: 'CI',
    meaning: 'a CI run: a dry-run never runs collectors from source (only compiled code)',
    default: NONE,
    rule: 'set by CI services; `false`, `0` or empty: not CI',
  },
];

// ---------------------------------------------------------------------------------------------
// Reading

function read<T>(env: Env, name: string, rule: SettingRule<T>, fallback: T, problems: string[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const r = rule.check(name, raw);
  if (r.ok) return r.value;
  problems.push(r.problem);
  return fallback;
}

/** `a, b` → {a, b}: collector names (METRICS_DISABLE), each checked. */
function nameList(name: string, raw: string, problems: string[]): ReadonlySet<string> {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !COLLECTOR_NAME.test(n));
  if (bad.length) {
    problems.push(
      `${name}=${JSON.stringify(raw)} holds ${bad.map((n) => JSON.stringify(n)).join(', ')}, not a collector name: it must be ` +
        `collector names (letters, digits, "_" and "-") separated by commas`,
    );
  }
  return new Set(names.filter((n) => COLLECTOR_NAME.test(n)));
}

/**
 * A run command: an executable path, or a JSON array of argv (`["/usr/bin/node", "bin/metrics",
 * "run"]`); `name` is the variable or the option (`--run-command`) for the message.
 */
export function parseRunCommand(name: string, raw: string): { ok: true; value: string[] } | { ok: false; problem: string } {
  if (!raw.trim().startsWith('[')) return { ok: true, value: [raw] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.length || !parsed.every((s) => typeof s === 'string')) {
    const shown = name.startsWith('-') ? `${name} ${raw}` : `${name}=${JSON.stringify(raw)}`;
    return {
      ok: false,
      problem:
        `${shown} is not a JSON array of strings: it must be an executable, or a JSON array of strings such as ` +
        `["/usr/bin/node", "bin/metrics", "run"]`,
    };
  }
  return { ok: true, value: parsed as string[] };
}

function runSection(env: Env, problems: string[]): RunSettings {
  const given = env.METRICS_COLLECTORS_DIR;
  let runCommand: string[] | undefined;
  if (env.METRICS_RUN_COMMAND) {
    const r = parseRunCommand('METRICS_RUN_COMMAND', env.METRICS_RUN_COMMAND);
    if (r.ok) runCommand = r.value;
    else problems.push(r.problem);
  }
  const now: string | undefined = read(env, 'METRICS_NOW', RFC3339_RULE, '', problems) || undefined;
  return {
    timeoutSec: read(env, 'METRICS_TIMEOUT', TIMEOUT_RULE, DEFAULT_TIMEOUT_SEC, problems),
    ...(now !== undefined ? { now } : {}),
    ...(env.METRICS_DISABLE !== undefined ? { disabled: nameList('METRICS_DISABLE', env.METRICS_DISABLE, problems) } : {}),
    collectorsDir: given ? resolve(given) : builtCollectorsDir,
    collectorsDirGiven: Boolean(given),
    ...(runCommand ? { runCommand } : {}),
  };
}

/**
 * The state directory: systemd's `$STATE_DIRECTORY` (its first entry), else `$METRICS_STATE_DIR`,
 * else `/var/lib/metrics` for root (or anyone who can write there), else
 * `$XDG_STATE_HOME/metrics` or `~/.local/state/metrics`. The outbox: `$STATE_DIRECTORY/outbox`,
 * else `$METRICS_OUTBOX_DIR`, else `<state dir>/outbox`.
 */
function stateSection(env: Env, problems: string[]): StateSettings {
  const systemd = env.STATE_DIRECTORY?.split(':').find((s) => s.length > 0);
  const dir = systemd ?? (env.METRICS_STATE_DIR || defaultStateDir(env));
  return {
    dir,
    outboxDir: systemd ? join(systemd, 'outbox') : env.METRICS_OUTBOX_DIR || join(dir, 'outbox'),
    outboxMaxBytes: read(env, 'METRICS_OUTBOX_MAX_SIZE', OUTBOX_SIZE_RULE, DEFAULT_OUTBOX_MAX_BYTES, problems),
  };
}

function defaultStateDir(env: Env): string {
  const system = '/var/lib/metrics';
  if (process.getuid?.() === 0) return system;
  try {
    accessSync(system, fsConstants.W_OK);
    return system;
  } catch {
    // not writable for us
  }
  const xdg = env.XDG_STATE_HOME;
  const base = xdg?.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'metrics');
}

/** The Promtail push URL, checked: an http(s) URL, else ConfigError (shown without credentials). */
export function checkPromtailUrl(url: string): URL {
  try {
    const target = new URL(url);
    if (target.protocol === 'http:' || target.protocol === 'https:') return target;
  } catch {
    /* below */
  }
  throw new ConfigError(
    `PROMTAIL_PUSH_API_URL=${JSON.stringify(safeUrl(url))} is not an http(s) URL (e.g. http://127.0.0.1:9080/loki/api/v1/push)`,
  );
}

/**
 * The event sinks: METRICS_EVENT_SINKS (a comma list of log, promtail, influx, or none); unset,
 * every sink whose own variable is set (`log`: METRICS_LOG_PATH, `promtail`:
 * PROMTAIL_PUSH_API_URL). `influx` only when listed: the InfluxDB variables are set for the
 * collectors anyway, so they cannot mean "send events there too". A sink listed without its
 * variable is a configuration error.
 */
function eventSection(env: Env, problems: string[]): EventSettings {
  const logPath = env.METRICS_LOG_PATH || undefined;
  const promtailUrl = env.PROMTAIL_PUSH_API_URL || undefined;
  const base = { ...(logPath ? { logPath } : {}), ...(promtailUrl ? { promtailUrl } : {}) };
  const checkUrl = (): void => {
    try {
      checkPromtailUrl(promtailUrl!);
    } catch (error) {
      problems.push((error as Error).message);
    }
  };
  const raw = env.METRICS_EVENT_SINKS;
  if (raw === undefined || raw.trim() === '') {
    const sinks: SinkName[] = [];
    if (logPath) sinks.push('log');
    if (promtailUrl) {
      sinks.push('promtail');
      checkUrl();
    }
    return { ...base, sinks };
  }
  const names = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.includes('none')) {
    if (names.length > 1) problems.push(`METRICS_EVENT_SINKS=${JSON.stringify(raw)}: "none" cannot be combined with other sinks`);
    return { ...base, sinks: [] };
  }
  const wrong: string[] = [];
  for (const n of names) {
    if (!(SINK_NAMES as readonly string[]).includes(n)) wrong.push(`unknown sink "${n}" (use log, promtail, influx or none)`);
  }
  if (names.includes('log') && !logPath) wrong.push('it lists "log" but METRICS_LOG_PATH (the metrics log file) is not set');
  if (names.includes('promtail') && !promtailUrl)
    wrong.push('it lists "promtail" but PROMTAIL_PUSH_API_URL (e.g. http://127.0.0.1:9080/loki/api/v1/push) is not set');
  if (wrong.length) problems.push(`METRICS_EVENT_SINKS=${JSON.stringify(raw)}: ${wrong.join('; ')}`);
  else if (names.includes('promtail')) checkUrl();
  return { ...base, sinks: SINK_NAMES.filter((n) => names.includes(n)) };
}

/**
 * The settings of `env` (default: this process's environment, for the systemd generator's entry
 * point), with the problems found: an invalid value is replaced by its default and named in
 * `problems`. For the generator, which must never fail; everything else uses loadSettings.
 */
export function readSettings(env: Env = process.env): { settings: Settings; problems: string[] } {
  const snapshot: Env = Object.freeze({ ...env });
  const problems: string[] = [];
  let influx: { config: InfluxConfig } | { error: unknown } | undefined;
  const settings: Settings = {
    env: snapshot,
    run: runSection(snapshot, problems),
    state: stateSection(snapshot, problems),
    events: eventSection(snapshot, problems),
    debug: read(snapshot, 'METRICS_DEBUG', BOOLEAN, false, problems),
    fastPath: !read(snapshot, 'METRICS_NO_FAST_PATH', BOOLEAN, false, problems),
    underSystemd: Boolean(snapshot.SYSTEMD_SCOPE),
    fromSource: !snapshot.INVOCATION_ID && !snapshot.SYSTEMD_SCOPE && ['', 'false', '0'].includes(snapshot.CI ?? ''),
    influx() {
      if (!influx) {
        try {
          influx = { config: loadInfluxConfig(snapshot) };
        } catch (error) {
          influx = { error };
        }
      }
      if ('error' in influx) throw influx.error;
      return influx.config;
    },
  };
  return { settings, problems };
}

/**
 * The settings of `env` (at an entry point: `process.env`). Throws ConfigError naming every
 * invalid variable of the cheap sections; the InfluxDB section is checked on first use.
 */
export function loadSettings(env: Env): Settings {
  const { settings, problems } = readSettings(env);
  if (problems.length === 1) throw new ConfigError(problems[0]!);
  if (problems.length > 1) throw new ConfigError(`configuration is invalid:\n  - ${problems.join('\n  - ')}`);
  return settings;
}

/**
 * METRICS_DISABLE as an environment file (systemd's `EnvironmentFile=`, simple `NAME=value`
 * lines) sets it: for the generator, which systemd runs without the service's environment.
 * Undefined when the file is missing, unreadable or does not set it; names that are not collector
 * names are left out and named in `problems`.
 */
export function disabledFromEnvironmentFile(path: string | undefined): { names: ReadonlySet<string>; problems: string[] } | undefined {
  const raw = path ? environmentFileValue(path, 'METRICS_DISABLE') : undefined;
  if (raw === undefined) return undefined;
  const problems: string[] = [];
  const names = nameList('METRICS_DISABLE', raw, problems);
  return { names, problems: problems.map((p) => `${path}: ${p}`) };
}

/** One `NAME=value` of an environment file (systemd's simple form; quotes removed), if present and readable. */
function environmentFileValue(path: string, name: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && m[1] === name) return m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// InfluxDB

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
  const path: string | undefined = file || undefined;
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
      throw new ConfigError(
        `cannot read ${name}_FILE=${path}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path and its permissions`,
      );
    }
  }
  registerSecret(value);
  if (value === '') throw new ConfigError(`${source} is empty: write the secret into it`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a secret with a control character (a line break) is refused
  if (value !== undefined && /[\x00-\x1f\x7f]/.test(value)) {
    throw new ConfigError(
      `${source} contains a line break or another control character: a secret must be a single line ` +
        '(an HTTP header cannot carry it); remove the extra line or character',
    );
  }
  return value;
}

/** Reads the InfluxDB configuration; throws ConfigError naming every missing or invalid variable. */
export function loadInfluxConfig(env: Env): InfluxConfig {
  const problems: string[] = [];
  const common = {
    timeoutMs: read(env, 'INFLUX_TIMEOUT', RULES.INFLUX_TIMEOUT, 10, problems) * 1000,
    batchSize: read(env, 'INFLUX_BATCH_SIZE', RULES.INFLUX_BATCH_SIZE, 5000, problems),
    batchesInFlight: read(env, 'INFLUX_BATCHES_IN_FLIGHT', RULES.INFLUX_BATCHES_IN_FLIGHT, 2, problems),
    maxRetries: read(env, 'INFLUX_MAX_RETRIES', RULES.INFLUX_MAX_RETRIES, 3, problems),
    retryDelayMs: read(env, 'INFLUX_RETRY_DELAY', RULES.INFLUX_RETRY_DELAY, 1, problems) * 1000,
    maxRetryDelayMs: read(env, 'INFLUX_MAX_RETRY_DELAY', RULES.INFLUX_MAX_RETRY_DELAY, 30, problems) * 1000,
    gzipThreshold: read(env, 'INFLUX_GZIP_THRESHOLD', RULES.INFLUX_GZIP_THRESHOLD, 1000, problems),
    caFile: env.INFLUX_CA_FILE || undefined,
    tlsInsecure: read(env, 'INFLUX_TLS_INSECURE', BOOLEAN, false, problems),
  };
  const hasV1 = Boolean(env.INFLUXDB_HOSTNAME);
  const hasV2 = Boolean(env.INFLUX_URL);
  if (hasV1 && hasV2) {
    problems.push('both INFLUXDB_HOSTNAME (InfluxDB 1.x) and INFLUX_URL (InfluxDB 2.x/3.x) are set: set one of them');
  }
  if (!hasV1 && !hasV2) {
    problems.push(
      'no InfluxDB configured: set INFLUXDB_HOSTNAME and INFLUXDB_DATABASE (InfluxDB 1.x), or INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG ' +
        'and INFLUX_BUCKET (InfluxDB 2.x/3.x); or run with --dry-run',
    );
  }
  let config: InfluxConfig | undefined;
  if (hasV1 && !hasV2) {
    const ssl = read(env, 'INFLUXDB_SSL', BOOLEAN, false, problems);
    const port = read(env, 'INFLUXDB_PORT', RULES.INFLUXDB_PORT, 8086, problems);
    const host = env.INFLUXDB_HOSTNAME!;
    if (/[/@\s]/.test(host))
      problems.push(
        `INFLUXDB_HOSTNAME=${JSON.stringify(host.includes('@') ? `***@${host.split('@').pop()}` : host)} must be a bare host name or ` +
          `address (no scheme, path or credentials)`,
      );
    else if (hostWithPort(host)) {
      problems.push(
        `INFLUXDB_HOSTNAME=${JSON.stringify(host)} holds a port: set the host name alone in INFLUXDB_HOSTNAME and the port in ` +
          `INFLUXDB_PORT (default 8086); an IPv6 address is written as it is (::1) or in brackets ([::1])`,
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
        'INFLUX_URL has a query string or a fragment (a "?" or "#" part; not shown, it may hold credentials): give the base URL ' +
          'only, e.g. https://influx.example:8086, and the token in INFLUX_TOKEN (the database, bucket and org have their own variables)',
      );
    }
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        problems.push(`INFLUX_URL=${shown} must start with http:// or https://`);
      if (parsed.username || parsed.password) problems.push('INFLUX_URL must not contain credentials: use INFLUX_TOKEN');
      url = url.replace(/\/+$/, '');
    } catch {
      problems.push(`INFLUX_URL=${shown} is not a URL (e.g. http://localhost:8086)`);
    }
    const version = (env.INFLUX_API_VERSION || 'auto').toLowerCase();
    if (!['1', '2', 'auto', 'v1', 'v2'].includes(version))
      problems.push(`INFLUX_API_VERSION=${JSON.stringify(env.INFLUX_API_VERSION)} must be 1, 2 or auto`);
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
  // measured (README, "Performance"): to a loopback host gzip costs more than it saves
  if (!env.INFLUX_GZIP_THRESHOLD && isLoopback(config.url)) config.gzipThreshold = 0;
  return config;
}

/** The URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
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
