/**
 * The options of the generated units (`metrics systemd generate|install|generator`, and the
 * generator script's command line): their defaults, their validation (every value that lands in a
 * unit file is checked), and their command-line form both ways (unitOptionsToArgs for the
 * generator script, parseUnitArgs for the generator, which runs without yargs).
 */
import { isAbsolute, join } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { UsageError } from '../platform/errors.js';
import { repoRoot } from '../platform/paths.js';
import { USEC_INFINITY, formatTimespan, parseTimespan } from '../schedule/timespan.js';

export const DEFAULTS = {
  prefix: 'metrics',
  unitDir: '/etc/systemd/system',
  generatorDir: '/etc/systemd/system-generators',
  environmentFile: '/etc/metrics/env',
  credentialsDir: '/etc/metrics/credentials',
  runtimeMaxSec: '15min',
  onBootSec: '1min',
  accuracySec: '1s',
} as const;

export interface UnitOptions {
  /** unit name prefix: `<prefix>@.service`, `<prefix>@<name>.timer`; also the StateDirectory= and dynamic user name */
  prefix?: string;
  /** node executable for ExecStart= (default: the node running this process) */
  node?: string;
  /** the repository (holding bin/metrics and dist/); default: this installation */
  repo?: string;
  /** RuntimeMaxSec= of one run (a systemd time span or "infinity"); default 15min */
  runtimeMaxSec?: string;
  /** RandomizedDelaySec= of the timers (jitter); default none */
  randomizedDelaySec?: string;
  /** FixedRandomDelay=yes: the random delay is stable per timer (systemd ≥ 247) */
  fixedRandomDelay?: boolean;
  /** AccuracySec= of the timers; default 1s (systemd's default of 1min would delay runs by up to a minute) */
  accuracySec?: string;
  /** OnBootSec= of time-span timers: first run after boot; default 1min */
  onBootSec?: string;
  /** a static user to run as (User=, no DynamicUser=); default: DynamicUser=yes with User=<prefix> */
  user?: string;
  /** EnvironmentFile= (optional, '-' prefixed); default /etc/metrics/env; '' to leave it out */
  environmentFile?: string;
  /** LoadCredential= entries: name → file; the service reads them from $CREDENTIALS_DIRECTORY/<name> */
  credentials?: Array<{ name: string; path: string }>;
  /** every file in this directory that exists at generation time becomes a LoadCredential= (default /etc/metrics/credentials; '' to disable) */
  credentialsDir?: string;
  /** ProcSubset=: 'all' (default: host collectors read /proc/loadavg, /proc/meminfo…) or 'pid' */
  procSubset?: 'all' | 'pid';
  /** when set: IPAddressDeny=any plus IPAddressAllow= these (addresses/prefixes of InfluxDB and the sources) */
  ipAddressAllow?: string[];
  /** Environment=METRICS_COLLECTORS_DIR=… for the runs (default: not set, the built-in dist/src/collectors) */
  collectorsDir?: string;
  /** extra raw `Key=Value` lines for the [Service] section (escape hatch, e.g. MemoryMax=512M) */
  extraService?: string[];
}

export const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const CREDENTIAL_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const USER_RE = /^[a-z_][a-z0-9_-]*[$]?$/i;

function assertClean(what: string, value: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw new UsageError(`${what} ${JSON.stringify(value)} contains a control character (newline?): not allowed in a unit file`);
}

function assertPath(what: string, value: string): void {
  assertClean(what, value);
  if (!isAbsolute(value)) throw new UsageError(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
}

/** Validate a systemd time span option; returns systemd's normalized form. */
function timespanOption(what: string, value: string, opts: { allowZero?: boolean; allowInfinity?: boolean } = {}): string {
  assertClean(what, value);
  const r = parseTimespan(value);
  if (!r.ok) throw new UsageError(`${what} ${JSON.stringify(value)} is not a systemd time span (${r.reason}); examples: 30s, 5min, 1h 30min`);
  if (r.usec === 0n && !opts.allowZero) throw new UsageError(`${what} must be greater than zero, got ${JSON.stringify(value)}`);
  if (r.usec === USEC_INFINITY && !opts.allowInfinity) throw new UsageError(`${what} cannot be infinity`);
  return formatTimespan(r.usec);
}

/** The options validated and completed (resolveUnitOptions). */
export interface Resolved {
  prefix: string;
  node: string;
  repo: string;
  runtimeMaxSec: string;
  randomizedDelaySec?: string;
  fixedRandomDelay: boolean;
  accuracySec: string;
  onBootSec: string;
  user?: string;
  environmentFile?: string;
  credentials: Array<{ name: string; path: string }>;
  procSubset: 'all' | 'pid';
  ipAddressAllow?: string[];
  collectorsDir?: string;
  extraService: string[];
}

/** Validate and complete the options (throws UsageError naming the bad option). */
export function resolveUnitOptions(opts: UnitOptions = {}): Resolved {
  const prefix = opts.prefix ?? DEFAULTS.prefix;
  if (!PREFIX_RE.test(prefix)) throw new UsageError(`--prefix ${JSON.stringify(prefix)} is not valid: use letters, digits, "_" and "-" (it starts unit names)`);
  const node = opts.node ?? process.execPath;
  assertPath('--node', node);
  const repo = opts.repo ?? repoRoot;
  assertPath('the repository path', repo);
  const user = opts.user || undefined;
  if (user !== undefined && !USER_RE.test(user)) throw new UsageError(`--user ${JSON.stringify(user)} is not a valid user name`);
  if (user === 'nobody' || user === 'root') throw new UsageError(`--user ${user} is not safe for a service (systemd warns about it): create a dedicated user, or leave --user out for a dynamic user`);
  const environmentFile = opts.environmentFile === undefined ? DEFAULTS.environmentFile : opts.environmentFile || undefined;
  if (environmentFile) assertPath('--environment-file', environmentFile);
  const credentials: Array<{ name: string; path: string }> = [];
  const seen = new Set<string>();
  for (const c of opts.credentials ?? []) {
    if (!CREDENTIAL_RE.test(c.name)) throw new UsageError(`credential name ${JSON.stringify(c.name)} is not valid: use letters, digits, "_", "." and "-" (e.g. INFLUX_TOKEN)`);
    assertPath(`the file of credential ${c.name}`, c.path);
    if (!seen.has(c.name)) credentials.push(c);
    seen.add(c.name);
  }
  const credentialsDir = opts.credentialsDir === undefined ? DEFAULTS.credentialsDir : opts.credentialsDir || undefined;
  if (credentialsDir) {
    assertPath('--credentials-dir', credentialsDir);
    let entries: string[] = [];
    try {
      entries = readdirSync(credentialsDir).sort();
    } catch {
      /* no such directory: no credentials from it */
    }
    for (const name of entries) {
      const file = join(credentialsDir, name);
      if (!CREDENTIAL_RE.test(name) || seen.has(name)) continue;
      try {
        if (!statSync(file).isFile()) continue;
      } catch {
        continue;
      }
      credentials.push({ name, path: file });
      seen.add(name);
    }
  }
  const procSubset = opts.procSubset ?? 'all';
  if (procSubset !== 'all' && procSubset !== 'pid') throw new UsageError(`--proc-subset must be "all" or "pid", got ${JSON.stringify(procSubset)}`);
  const ipAddressAllow = opts.ipAddressAllow?.length ? opts.ipAddressAllow : undefined;
  for (const a of ipAddressAllow ?? []) {
    assertClean('--ip-address-allow', a);
    if (!/^[0-9A-Fa-f.:/]+$|^(localhost|link-local|multicast|any)$/.test(a)) throw new UsageError(`--ip-address-allow ${JSON.stringify(a)} is not an address, prefix (10.0.0.0/8) or one of localhost, link-local, multicast, any`);
  }
  if (opts.collectorsDir) assertPath('--collectors-dir', opts.collectorsDir);
  const extraService = opts.extraService ?? [];
  for (const line of extraService) {
    assertClean('--service-option', line);
    if (!/^[A-Za-z][A-Za-z0-9]*=/.test(line)) throw new UsageError(`--service-option ${JSON.stringify(line)} must look like Key=Value (a [Service] setting)`);
  }
  return {
    prefix,
    node,
    repo,
    runtimeMaxSec: timespanOption('--runtime-max-sec', opts.runtimeMaxSec ?? DEFAULTS.runtimeMaxSec, { allowInfinity: true }),
    randomizedDelaySec: opts.randomizedDelaySec ? timespanOption('--randomized-delay-sec', opts.randomizedDelaySec, { allowZero: true }) : undefined,
    fixedRandomDelay: opts.fixedRandomDelay ?? false,
    accuracySec: timespanOption('--accuracy-sec', opts.accuracySec ?? DEFAULTS.accuracySec),
    onBootSec: timespanOption('--on-boot-sec', opts.onBootSec ?? DEFAULTS.onBootSec),
    user,
    environmentFile,
    credentials,
    procSubset,
    ipAddressAllow,
    collectorsDir: opts.collectorsDir,
    extraService,
  };
}

/** Command-line arguments reproducing these options (for the generator wrapper script). */
export function unitOptionsToArgs(opts: UnitOptions): string[] {
  const a: string[] = [];
  if (opts.prefix) a.push('--prefix', opts.prefix);
  if (opts.node) a.push('--node', opts.node);
  if (opts.runtimeMaxSec) a.push('--runtime-max-sec', opts.runtimeMaxSec);
  if (opts.randomizedDelaySec) a.push('--randomized-delay-sec', opts.randomizedDelaySec);
  if (opts.fixedRandomDelay) a.push('--fixed-random-delay');
  if (opts.accuracySec) a.push('--accuracy-sec', opts.accuracySec);
  if (opts.onBootSec) a.push('--on-boot-sec', opts.onBootSec);
  if (opts.user) a.push('--user', opts.user);
  if (opts.environmentFile !== undefined) a.push('--environment-file', opts.environmentFile);
  for (const c of opts.credentials ?? []) a.push('--credential', `${c.name}:${c.path}`);
  if (opts.credentialsDir !== undefined) a.push('--credentials-dir', opts.credentialsDir);
  if (opts.procSubset) a.push('--proc-subset', opts.procSubset);
  for (const ip of opts.ipAddressAllow ?? []) a.push('--ip-address-allow', ip);
  if (opts.collectorsDir) a.push('--collectors-dir', opts.collectorsDir);
  for (const s of opts.extraService ?? []) a.push('--service-option', s);
  return a;
}

/** Parse the unit options of `metrics systemd` (same names) without yargs (the generator). Unknown options are reported, not fatal. */
export function parseUnitArgs(argv: string[]): { options: UnitOptions; positionals: string[]; problems: string[] } {
  const strings = ['prefix', 'node', 'runtime-max-sec', 'randomized-delay-sec', 'accuracy-sec', 'on-boot-sec', 'user', 'environment-file', 'credentials-dir', 'proc-subset', 'collectors-dir'];
  const lists = ['credential', 'ip-address-allow', 'service-option'];
  const values = new Map<string, string>();
  const multi = new Map<string, string[]>(lists.map((k) => [k, []]));
  let fixedRandomDelay = false;
  const positionals: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq > 0 ? eq : undefined);
    if (name === 'fixed-random-delay') {
      fixedRandomDelay = eq > 0 ? arg.slice(eq + 1) !== 'false' : true;
      continue;
    }
    if (!strings.includes(name) && !lists.includes(name)) {
      problems.push(`unknown option ${arg}`);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) {
      problems.push(`option --${name} needs a value`);
      continue;
    }
    if (lists.includes(name)) multi.get(name)!.push(value);
    else values.set(name, value);
  }
  const credentials: Array<{ name: string; path: string }> = [];
  for (const c of multi.get('credential')!) {
    const i = c.indexOf(':');
    if (i <= 0) problems.push(`--credential ${JSON.stringify(c)} must be NAME:PATH`);
    else credentials.push({ name: c.slice(0, i), path: c.slice(i + 1) });
  }
  const options: UnitOptions = {
    prefix: values.get('prefix'),
    node: values.get('node'),
    runtimeMaxSec: values.get('runtime-max-sec'),
    randomizedDelaySec: values.get('randomized-delay-sec'),
    fixedRandomDelay,
    accuracySec: values.get('accuracy-sec'),
    onBootSec: values.get('on-boot-sec'),
    user: values.get('user'),
    environmentFile: values.get('environment-file'),
    credentials,
    credentialsDir: values.get('credentials-dir'),
    procSubset: values.get('proc-subset') as UnitOptions['procSubset'],
    ipAddressAllow: multi.get('ip-address-allow'),
    collectorsDir: values.get('collectors-dir'),
    extraService: multi.get('service-option'),
  };
  return { options, positionals, problems };
}
