/**
 * The options of the generated units (`metrics systemd generate|install|generator`, and the
 * generator script's command line), declared once in UNIT_OPTION_SPECS: their command-line
 * names, kinds and descriptions, from which the yargs builder (cli/commands/systemd.ts), the
 * generator's own parser (parseUnitArgs, node:util parseArgs: it runs without yargs) and the
 * generator script's command line (unitOptionsToArgs) are made; their defaults; and their
 * validation (every value that lands in a unit file is checked, resolveUnitOptions).
 */
import { isAbsolute, join } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
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
  /**
   * every file in this directory that exists at generation time becomes a LoadCredential=
   * (default /etc/metrics/credentials; '' to disable)
   */
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

/** The fields of UnitOptions that are command-line options (all but `repo`). */
export type UnitOptionKey = Exclude<keyof UnitOptions, 'repo'>;

/** One unit option on the command line. */
export interface UnitOptionSpec {
  /** the option, without `--` */
  readonly flag: string;
  /** the UnitOptions field it sets */
  readonly key: UnitOptionKey;
  /** `string`: one value; `boolean`: a switch; `list`: repeatable */
  readonly kind: 'string' | 'boolean' | 'list';
  readonly describe: string;
  /** the default yargs shows (and sets); the others are applied by resolveUnitOptions */
  readonly default?: string | boolean | readonly string[];
  readonly choices?: readonly string[];
  /** an empty value is meaningful ('' turns the default off): kept, and written back */
  readonly emptyAllowed?: boolean;
}

/** The unit options, each spelled here and only here. */
export const UNIT_OPTION_SPECS: readonly UnitOptionSpec[] = [
  {
    flag: 'prefix',
    key: 'prefix',
    kind: 'string',
    default: DEFAULTS.prefix,
    describe: 'unit name prefix: <prefix>@.service, <prefix>@<name>.timer (also the state directory and dynamic user name)',
  },
  { flag: 'node', key: 'node', kind: 'string', describe: 'node executable for ExecStart= (default: the node running this command)' },
  {
    flag: 'runtime-max-sec',
    key: 'runtimeMaxSec',
    kind: 'string',
    describe: `RuntimeMaxSec= of one run, a systemd time span (default ${DEFAULTS.runtimeMaxSec})`,
  },
  {
    flag: 'randomized-delay-sec',
    key: 'randomizedDelaySec',
    kind: 'string',
    describe: 'RandomizedDelaySec= of the timers: random delay (jitter) before each run (default none)',
  },
  {
    flag: 'fixed-random-delay',
    key: 'fixedRandomDelay',
    kind: 'boolean',
    default: false,
    describe: 'FixedRandomDelay=yes: keep the random delay of each timer stable',
  },
  { flag: 'accuracy-sec', key: 'accuracySec', kind: 'string', describe: `AccuracySec= of the timers (default ${DEFAULTS.accuracySec})` },
  {
    flag: 'on-boot-sec',
    key: 'onBootSec',
    kind: 'string',
    describe: `OnBootSec= of time-span timers: first run after boot (default ${DEFAULTS.onBootSec})`,
  },
  { flag: 'user', key: 'user', kind: 'string', describe: 'run as this existing user (User=) instead of a dynamic user (DynamicUser=yes)' },
  {
    flag: 'environment-file',
    key: 'environmentFile',
    kind: 'string',
    emptyAllowed: true,
    describe: `EnvironmentFile= with the configuration (default ${DEFAULTS.environmentFile}, optional; '' for none)`,
  },
  {
    flag: 'credential',
    key: 'credentials',
    kind: 'list',
    default: [],
    describe: 'LoadCredential=NAME:PATH (repeatable), e.g. INFLUX_TOKEN:/etc/metrics/token',
  },
  {
    flag: 'credentials-dir',
    key: 'credentialsDir',
    kind: 'string',
    emptyAllowed: true,
    describe: `each file in this directory becomes a LoadCredential= named after it (default ${DEFAULTS.credentialsDir}; '' for none)`,
  },
  {
    flag: 'proc-subset',
    key: 'procSubset',
    kind: 'string',
    choices: ['all', 'pid'],
    describe: 'ProcSubset=: all (default; host collectors read /proc/meminfo…) or pid',
  },
  {
    flag: 'ip-address-allow',
    key: 'ipAddressAllow',
    kind: 'list',
    default: [],
    describe: 'only allow these addresses/prefixes (IPAddressDeny=any + IPAddressAllow=), repeatable',
  },
  {
    flag: 'collectors-dir',
    key: 'collectorsDir',
    kind: 'string',
    describe: 'collectors directory (default: $METRICS_COLLECTORS_DIR or the built-in one); passed to the runs',
  },
  {
    flag: 'service-option',
    key: 'extraService',
    kind: 'list',
    default: [],
    describe: 'extra Key=Value line for the [Service] section (repeatable), e.g. MemoryMax=512M',
  },
];

/** The command-line form of a unit option, for messages: `--runtime-max-sec`. */
export function optionName(key: UnitOptionKey): string {
  return `--${UNIT_OPTION_SPECS.find((o) => o.key === key)!.flag}`;
}

/**
 * UnitOptions from parsed command-line values keyed by option name (yargs' arguments, or
 * parseArgs' values): `--credential NAME:PATH` becomes a credential, a value of the wrong kind
 * (an option without its value) a problem. Unknown keys are ignored.
 */
export function unitOptionsFromValues(values: Readonly<Record<string, unknown>>): { options: UnitOptions; problems: string[] } {
  const options: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const o of UNIT_OPTION_SPECS) {
    const v = values[o.flag];
    if (v === undefined) continue;
    if (o.kind === 'boolean') {
      options[o.key] = v === true || v === 'true';
    } else if (o.kind === 'string') {
      if (typeof v !== 'string') problems.push(`option --${o.flag} needs a value`);
      else options[o.key] = v;
    } else {
      const list = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
      if (list.length < (Array.isArray(v) ? v.length : 1)) problems.push(`option --${o.flag} needs a value`);
      if (o.key !== 'credentials') {
        options[o.key] = list;
        continue;
      }
      const credentials: Array<{ name: string; path: string }> = [];
      for (const c of list) {
        const i = c.indexOf(':');
        if (i <= 0) problems.push(`--credential ${JSON.stringify(c)} must be NAME:PATH, e.g. INFLUX_TOKEN:/etc/metrics/token`);
        else credentials.push({ name: c.slice(0, i), path: c.slice(i + 1) });
      }
      options.credentials = credentials;
    }
  }
  return { options: options as UnitOptions, problems };
}

export const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const CREDENTIAL_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const USER_RE = /^[a-z_][a-z0-9_-]*[$]?$/i;

function assertClean(what: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a value with a control character is refused in a unit file
  if (/[\x00-\x1f\x7f]/.test(value))
    throw new UsageError(`${what} ${JSON.stringify(value)} contains a control character (newline?): not allowed in a unit file`);
}

function assertPath(what: string, value: string): void {
  assertClean(what, value);
  if (!isAbsolute(value)) throw new UsageError(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
}

/** Validate a systemd time span option; returns systemd's normalized form. */
function timespanOption(what: string, value: string, opts: { allowZero?: boolean; allowInfinity?: boolean } = {}): string {
  assertClean(what, value);
  const r = parseTimespan(value);
  if (!r.ok)
    throw new UsageError(`${what} ${JSON.stringify(value)} is not a systemd time span (${r.reason}); examples: 30s, 5min, 1h 30min`);
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
  if (!PREFIX_RE.test(prefix))
    throw new UsageError(
      `${optionName('prefix')} ${JSON.stringify(prefix)} is not valid: use letters, digits, "_" and "-" (it starts unit names)`,
    );
  const node = opts.node ?? process.execPath;
  assertPath(optionName('node'), node);
  const repo = opts.repo ?? repoRoot;
  assertPath('the repository path', repo);
  const user = opts.user || undefined;
  if (user !== undefined && !USER_RE.test(user))
    throw new UsageError(`${optionName('user')} ${JSON.stringify(user)} is not a valid user name`);
  if (user === 'nobody' || user === 'root')
    throw new UsageError(
      `${optionName('user')} ${user} is not safe for a service (systemd warns about it): create a dedicated user, or leave --user ` +
        `out for a dynamic user`,
    );
  const environmentFile = opts.environmentFile === undefined ? DEFAULTS.environmentFile : opts.environmentFile || undefined;
  if (environmentFile) assertPath(optionName('environmentFile'), environmentFile);
  const credentials: Array<{ name: string; path: string }> = [];
  const seen = new Set<string>();
  for (const c of opts.credentials ?? []) {
    if (!CREDENTIAL_RE.test(c.name))
      throw new UsageError(
        `credential name ${JSON.stringify(c.name)} is not valid: use letters, digits, "_", "." and "-" (e.g. INFLUX_TOKEN)`,
      );
    assertPath(`the file of credential ${c.name}`, c.path);
    if (!seen.has(c.name)) credentials.push(c);
    seen.add(c.name);
  }
  const credentialsDir = opts.credentialsDir === undefined ? DEFAULTS.credentialsDir : opts.credentialsDir || undefined;
  if (credentialsDir) {
    assertPath(optionName('credentialsDir'), credentialsDir);
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
  if (procSubset !== 'all' && procSubset !== 'pid')
    throw new UsageError(`${optionName('procSubset')} must be "all" or "pid", got ${JSON.stringify(procSubset)}`);
  const ipAddressAllow = opts.ipAddressAllow?.length ? opts.ipAddressAllow : undefined;
  for (const a of ipAddressAllow ?? []) {
    assertClean(optionName('ipAddressAllow'), a);
    if (!/^[0-9A-Fa-f.:/]+$|^(localhost|link-local|multicast|any)$/.test(a))
      throw new UsageError(
        `${optionName('ipAddressAllow')} ${JSON.stringify(a)} is not an address, prefix (10.0.0.0/8) or one of localhost, ` +
          `link-local, multicast, any`,
      );
  }
  if (opts.collectorsDir) assertPath(optionName('collectorsDir'), opts.collectorsDir);
  const extraService = opts.extraService ?? [];
  for (const line of extraService) {
    assertClean(optionName('extraService'), line);
    if (!/^[A-Za-z][A-Za-z0-9]*=/.test(line))
      throw new UsageError(`${optionName('extraService')} ${JSON.stringify(line)} must look like Key=Value (a [Service] setting)`);
  }
  return {
    prefix,
    node,
    repo,
    runtimeMaxSec: timespanOption(optionName('runtimeMaxSec'), opts.runtimeMaxSec ?? DEFAULTS.runtimeMaxSec, { allowInfinity: true }),
    randomizedDelaySec: opts.randomizedDelaySec
      ? timespanOption(optionName('randomizedDelaySec'), opts.randomizedDelaySec, { allowZero: true })
      : undefined,
    fixedRandomDelay: opts.fixedRandomDelay ?? false,
    accuracySec: timespanOption(optionName('accuracySec'), opts.accuracySec ?? DEFAULTS.accuracySec),
    onBootSec: timespanOption(optionName('onBootSec'), opts.onBootSec ?? DEFAULTS.onBootSec),
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
  for (const o of UNIT_OPTION_SPECS) {
    const v = opts[o.key];
    if (v === undefined) continue;
    if (o.kind === 'boolean') {
      if (v === true) a.push(`--${o.flag}`);
    } else if (o.kind === 'string') {
      if (v !== '' || o.emptyAllowed) a.push(`--${o.flag}`, v as string);
    } else {
      const items =
        o.key === 'credentials' ? (v as Array<{ name: string; path: string }>).map((c) => `${c.name}:${c.path}`) : (v as string[]);
      for (const item of items) a.push(`--${o.flag}`, item);
    }
  }
  return a;
}

/**
 * Parses the unit options (same names as `metrics systemd`) without yargs, for the generator:
 * node:util parseArgs with the options of UNIT_OPTION_SPECS. Unknown options, and options
 * without their value, are reported in `problems`, not fatal (a generator never fails).
 */
export function parseUnitArgs(argv: string[]): { options: UnitOptions; positionals: string[]; problems: string[] } {
  const config = Object.fromEntries(
    UNIT_OPTION_SPECS.map((o) => [
      o.flag,
      o.kind === 'boolean' ? { type: 'boolean' as const } : { type: 'string' as const, multiple: o.kind === 'list' },
    ]),
  );
  const { values, positionals, tokens } = parseArgs({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true });
  const problems: string[] = [];
  for (const t of tokens) if (t.kind === 'option' && !(t.name in config)) problems.push(`unknown option ${t.rawName}`);
  const known = Object.fromEntries(Object.entries(values).filter(([k]) => k in config));
  const { options, problems: invalid } = unitOptionsFromValues(known);
  return { options, positionals, problems: [...problems, ...invalid] };
}
