/**
 * `metrics new <name>`: the files of a new collector, ready to run and to test as generated.
 *
 *     src/collectors/<name>/index.ts       RUN_INTERVAL and runMetric(), nothing heavy at import
 *     src/collectors/<name>/<name>.ts      the Metric subclass, using the SDK only; yields one example point
 *     src/collectors/<name>/README.md      what it measures: the measurement/tag/field table to fill in
 *     bin/<name>                           `metrics run <name>` for this one collector (executable)
 *     test/collectors/<name>/<name>.test.ts   runs the collector in-process and checks its points
 *     test/collectors/<name>/fixtures/     an empty recording (requests.json with no request)
 *
 * `from` copies an existing collector's source folder instead, renamed: file names, the class
 * name, the `<FROM>_` prefix of its variables, its module imports, the README title and the
 * interval; measurement names are kept (the collector's author renames them).
 *
 * Nothing is overwritten: every target is checked before the first file is written, and the files
 * written are removed again when a later one fails.
 */
import { copyFile, lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../platform/atomic.js';
import { UsageError } from '../platform/errors.js';
import { repoRoot } from '../platform/paths.js';
import { COLLECTOR_NAME } from '../platform/settings.js';
import { DEFAULT_INTERVAL } from '../run/discovery.js';
import { parseSchedule } from '../schedule/schedule.js';

/** A new collector's name: a folder, a module and a systemd unit name; `_` first is for shared helpers. */
export const NEW_COLLECTOR_NAME = /^[a-z][a-z0-9_]*$/;
/** so that every generated line stays within the 140 columns of the style rules */
const MAX_NAME_LENGTH = 32;

/**
 * `bin/<name>`: the same script for every collector (its name is the file's name). The shipped
 * `bin/<collector>` scripts are this text (test/lib/cli/scaffold.test.ts checks it): change both together.
 */
export const COLLECTOR_BIN = `#!/usr/bin/env node
// \`bin/<collector> [--dry-run] [--verbose] [--format lp]\` is \`metrics run <collector>\`: the
// collector's name is this file's name, so a copy named after a new collector works for it too.
// Started as bin/metrics starts (see there): from dist/fast/ when current, else from dist/src/.
import { createRequire } from 'node:module';

const name = process.argv[1].split('/').pop();
const argv = process.argv.slice(2);
let quick = false;
try {
  quick = createRequire(import.meta.url)('../dist/fast/start.cjs').start(argv, name);
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND') process.stderr.write(\`warning: no quick start (\${error.message}); run: npm run build\\n\`);
}
if (!quick)
  import('../dist/src/lib/cli/main.js').then(
    (m) => m.collectorMain(name, argv),
    (error) => {
      process.stderr.write(\`error: cannot load the compiled code (\${error.message}); run: npm ci (or npm run build)\\n\`);
      process.exitCode = 2;
    },
  );
`;

/** The empty recording a new collector's test runs against (the `--record` / `--replay` format). */
export const EMPTY_RECORDING = `${JSON.stringify({ format: 'metrics-recording/1', requests: [] }, null, 2)}\n`;

export interface ScaffoldOptions {
  /** the new collector's name */
  name: string;
  /** the repository to write into (default: this checkout, found from this module's place) */
  root?: string;
  /** copy this existing collector instead of the example */
  from?: string;
  /** the new RUN_INTERVAL (a systemd time span or a cron expression); default '5m', or the copied one */
  interval?: string;
  /** names that are not free: the commands of the CLI */
  reserved?: readonly string[];
}

export interface ScaffoldResult {
  root: string;
  /** the files written, relative to root, in the order written */
  files: string[];
  /** what to do next */
  next: string[];
}

interface PlannedFile {
  path: string;
  content: string | { copyFrom: string };
  mode: number;
}

/** A single-quoted TypeScript string literal. */
const tsString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** `github_runner` → `GithubRunner`. */
export function pascalCase(name: string): string {
  return name
    .split(/[_-]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** Why `name` cannot be a new collector's name, or undefined when it can. */
export function checkNewName(name: string, reserved: readonly string[] = []): string | undefined {
  if (name.startsWith('_')) return `"${name}" starts with "_": such folders hold code shared by collectors, not a collector`;
  if (!NEW_COLLECTOR_NAME.test(name)) {
    return (
      `"${name}" is not a valid collector name: use lower-case letters, digits and "_", starting with a letter ` +
      '(it names a folder, a module, a bin/ script and a systemd unit)'
    );
  }
  if (name.length > MAX_NAME_LENGTH) return `"${name}" is longer than ${MAX_NAME_LENGTH} characters`;
  if (reserved.includes(name)) return `"${name}" is the name of a metrics command (${reserved.join(', ')}): choose another name`;
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path); // a dangling link is there too
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Creates a new collector; throws a UsageError (and writes nothing) when it cannot. */
export async function scaffoldCollector(opts: ScaffoldOptions): Promise<ScaffoldResult> {
  const root = opts.root ?? repoRoot;
  const { name } = opts;
  const problem = checkNewName(name, opts.reserved);
  if (problem) throw new UsageError(problem);
  if (opts.interval !== undefined) {
    try {
      parseSchedule(opts.interval, name);
    } catch (error) {
      throw new UsageError(`--interval: ${(error as Error).message}`);
    }
  }

  const srcDir = join(root, 'src', 'collectors', name);
  const testDir = join(root, 'test', 'collectors', name);
  const bin = join(root, 'bin', name);
  const taken: string[] = [];
  for (const target of [srcDir, bin, testDir]) if (await exists(target)) taken.push(relative(root, target));
  if (taken.length) {
    throw new UsageError(`collector "${name}" cannot be created: ${taken.join(', ')} already exist(s) in ${root}; nothing was written`);
  }

  const planned: PlannedFile[] = opts.from
    ? await copiedSource(root, opts.from, name, opts.interval)
    : exampleSource(name, opts.interval ?? DEFAULT_INTERVAL);
  planned.push({ path: join('bin', name), content: COLLECTOR_BIN, mode: 0o755 });
  planned.push({
    path: join('test', 'collectors', name, `${name}.test.ts`),
    content: opts.from ? copiedTest(name, metricClassOf(planned, name)) : exampleTest(name, opts.interval ?? DEFAULT_INTERVAL),
    mode: 0o644,
  });
  planned.push({ path: join('test', 'collectors', name, 'fixtures', 'requests.json'), content: EMPTY_RECORDING, mode: 0o644 });

  const written: string[] = [];
  const createdDirs: string[] = [];
  try {
    for (const dir of [srcDir, testDir]) {
      await mkdir(dirname(dir), { recursive: true });
      await mkdir(dir); // not recursive: fails if it appeared meanwhile
      createdDirs.push(dir);
    }
    await mkdir(join(root, 'bin'), { recursive: true });
    for (const f of planned) {
      const path = join(root, f.path);
      await mkdir(dirname(path), { recursive: true });
      if (path === bin && (await exists(bin))) throw new UsageError(`${bin} appeared while the collector was being created`);
      if (typeof f.content === 'string') await writeFileAtomic(path, f.content, { mode: f.mode });
      else await copyFile(f.content.copyFrom, path);
      written.push(f.path);
    }
  } catch (error) {
    for (const dir of createdDirs) await rm(dir, { recursive: true, force: true });
    if (written.includes(join('bin', name))) await rm(bin, { force: true });
    throw error;
  }

  const next = [
    `edit src/collectors/${name}/${name}.ts (collect()) and README.md (what it measures)`,
    `try it: bin/${name} --dry-run --verbose`,
    `test it: metrics test ${name} (or npm test -- ${name})`,
  ];
  if (opts.from) {
    // renamed identifiers change line lengths: format the copy as the repository does, when it can
    const formatted = await formatCopy(
      root,
      written.filter((f) => f.endsWith('.ts')),
    );
    if (!formatted) next.push(`format the copy: npx biome check --write src/collectors/${name} test/collectors/${name}`);
    next.push(
      `measurement names were kept from ${opts.from}: rename them in src/collectors/${name}/ and its README`,
      `if it fetches over HTTP, record its fixtures: bin/metrics run ${name} --dry-run --record test/collectors/${name}/fixtures`,
    );
  }
  return { root, files: written, next };
}

/** Formats `files` with the repository's Biome (a dev dependency); false when it is not there or fails. */
async function formatCopy(root: string, files: string[]): Promise<boolean> {
  const biome = join(root, 'node_modules', '.bin', 'biome');
  if (!files.length || !(await exists(biome)) || !(await exists(join(root, 'biome.json')))) return false;
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(biome, ['format', '--write', '--vcs-enabled=false', `--config-path=${root}`, ...files], {
    cwd: root,
    stdio: 'ignore',
    timeout: 60_000,
  });
  return r.status === 0;
}

// ---------------------------------------------------------------------------------------------
// the example collector

function exampleSource(name: string, interval: string): PlannedFile[] {
  const cls = `${pascalCase(name)}Metric`;
  const dir = join('src', 'collectors', name);
  const index = `/** The \`${name}\` collector: TODO say what it measures (see README.md). */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = ${tsString(interval)};

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { ${cls} } = await import('./${name}.js');
  return new ${cls}(options).run();
}
`;
  const source = `import { Metric, int, type PointObject } from '../../lib/sdk/index.js';

/**
 * TODO: what this collector measures, and where it reads it.
 *
 * Replace the example point by real ones. To read a source, for example:
 *
 *     const url = this.env.${name.toUpperCase()}_URL ?? 'https://example.org/api/status';
 *     const data = await this.fetchJson<{ temp: number }>(url, { hint: 'set ${name.toUpperCase()}_URL' });
 *
 * (also this.fetchText, this.fetchLines, this.fetchResponse; \`accept: [404]\` for statuses that
 * are answers, not errors). Use this.now() for "now" (ages, windows): a dry-run or a test fixes it
 * with --now or METRICS_NOW. Throw a CollectorError when the source fails; document every variable
 * and measurement in README.md; try it with bin/${name} --dry-run --verbose.
 */
export class ${cls} extends Metric {
  async collect(): Promise<PointObject[]> {
    const example: PointObject = {
      measurement: '${name}',
      tags: { source: 'example' },
      fields: { value: 0.5, hour: int(this.now().getUTCHours()) },
    };
    this.log.debug('one example point');
    return [example];
  }
}
`;
  const readme = `# ${name}

TODO: one sentence on what this collector measures.

- **Source**: TODO (a URL, a file, this host), and the variable that overrides it.
- **Interval**: \`RUN_INTERVAL = '${interval}'\`.
- **Variables**: none yet (list each variable the collector reads from \`this.env\`).

## Measurements

Integers are written as integers (\`i\`), the rest as floats.

| measurement | tags | fields |
| --- | --- | --- |
| \`${name}\` | \`source\` (TODO: what it tells apart) | \`value\` (float, TODO: unit); \`hour\` (integer, the UTC hour of the collection) |
`;
  return [
    { path: join(dir, 'index.ts'), content: index, mode: 0o644 },
    { path: join(dir, `${name}.ts`), content: source, mode: 0o644 },
    { path: join(dir, 'README.md'), content: readme, mode: 0o644 },
  ];
}

/** The head of a generated test: what it runs, and how to run it and record its fixtures. */
function testHead(name: string, what: string): string {
  return `/**
 * The collector ${name}${what}.
 *
 * Run through the SDK's harness: one in-process dry-run at a fixed "now", its HTTP requests
 * answered from its recording (fixtures/; record those of a real run with
 * \`bin/metrics run <name> --dry-run --record test/collectors/<name>/fixtures\`), its points
 * parsed with their line-protocol types. Run it with \`bin/metrics test <name>\` or \`npm test -- <name>\`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
`;
}

function exampleTest(name: string, interval: string): string {
  const cls = `${pascalCase(name)}Metric`;
  return `${testHead(name, '')}import { RUN_INTERVAL } from '../../../src/collectors/${name}/index.js';
import * as code from '../../../src/collectors/${name}/${name}.js';
import { collectPoints } from '../../../src/lib/sdk/testing.js';

/** the recording (this file runs from dist/test/collectors/<name>/) */
const FIXTURES = fileURLToPath(new URL('../../../../test/collectors/${name}/fixtures', import.meta.url));

test('${name}: its points (measurement, tags, fields with their types, time)', async () => {
  const { points, errors } = await collectPoints(code.${cls}, {
    name: '${name}',
    fixtures: FIXTURES,
    now: '2026-01-01T13:00:00Z',
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(points, [
    {
      measurement: '${name}',
      tags: { source: 'example' },
      fields: { value: { type: 'float', value: 0.5 }, hour: { type: 'integer', value: 13 } },
      time: '1767272400000000000',
    },
  ]);
});

test('${name}: RUN_INTERVAL', () => {
  assert.equal(RUN_INTERVAL, ${tsString(interval)});
});
`;
}

// ---------------------------------------------------------------------------------------------
// a copy of an existing collector

async function copiedSource(root: string, from: string, name: string, interval: string | undefined): Promise<PlannedFile[]> {
  if (!COLLECTOR_NAME.test(from)) throw new UsageError(`--from "${from}" is not a collector name`);
  const fromDir = join(root, 'src', 'collectors', from);
  if (!(await exists(join(fromDir, 'index.ts')))) {
    const names = await readdir(join(root, 'src', 'collectors')).catch(() => [] as string[]);
    const known = names.filter((n) => !n.startsWith('_') && !n.startsWith('.')).sort();
    throw new UsageError(`--from: no collector "${from}" in ${join(root, 'src', 'collectors')} (known: ${known.join(', ') || 'none'})`);
  }
  const rename = renamer(from, name, interval);
  const out: PlannedFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const src = join(dir, e.name);
      const target = join(rel, e.name.startsWith(`${from}.`) ? name + e.name.slice(from.length) : e.name);
      if (e.isDirectory()) await walk(src, target);
      else if (!e.isFile())
        continue; // links and the like are not copied
      else if (/\.(ts|md|json|txt)$/.test(e.name)) {
        out.push({ path: join('src', 'collectors', name, target), content: rename(await readFile(src, 'utf8'), e.name), mode: 0o644 });
      } else out.push({ path: join('src', 'collectors', name, target), content: { copyFrom: src }, mode: 0o644 });
    }
  };
  await walk(fromDir, '');
  return out;
}

/** The renames of a copied collector's text: see the module comment. */
function renamer(from: string, name: string, interval: string | undefined): (text: string, file: string) => string {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const fromPascal = pascalCase(from);
  const rules: Array<[RegExp, string]> = [
    // the class and other identifiers: SystemMetric → WeatherMetric (not "Systemd")
    [new RegExp(`(?<![A-Za-z0-9])${esc(fromPascal)}(?![a-z0-9])`, 'g'), pascalCase(name)],
    // its variables: SYSTEM_MOUNTS → WEATHER_MOUNTS
    [new RegExp(`(?<![A-Za-z0-9_])${esc(from.toUpperCase().replace(/-/g, '_'))}_`, 'g'), `${name.toUpperCase()}_`],
    // its modules: './system.js' → './weather.js'
    [new RegExp(`(['"])\\./${esc(from)}(\\.js['"])`, 'g'), `$1./${name}$2`],
    // "The `system` collector"
    [new RegExp(`\`${esc(from)}\` collector`, 'g'), `\`${name}\` collector`],
  ];
  return (text, file) => {
    let out = text;
    for (const [re, to] of rules) out = out.replace(re, to);
    if (file === 'README.md') out = out.replace(new RegExp(`^# ${esc(from)}\\b`), `# ${name}`);
    if (interval !== undefined) {
      out = out.replace(/(RUN_INTERVAL\s*=\s*)(['"`])[^'"`\n]*\2/g, `$1${tsString(interval)}`);
    }
    return out;
  };
}

/** The Metric class exported by a copied collector's `<name>.ts`, when there is one. */
function metricClassOf(planned: PlannedFile[], name: string): string | undefined {
  const main = planned.find((f) => f.path === join('src', 'collectors', name, `${name}.ts`));
  if (!main || typeof main.content !== 'string') return undefined;
  return /^export class (\w+) extends Metric\b/m.exec(main.content)?.[1];
}

function copiedTest(name: string, cls: string | undefined): string {
  // the class when the copy has one in <name>.ts, else the collector found by name (as metrics run finds it)
  const subject = cls ? `code.${cls}` : tsString(name);
  const classImport = cls ? `import * as code from '../../../src/collectors/${name}/${name}.js';\n` : '';
  const head = testHead(name, ', a copy made by metrics new --from');
  return `${head}${classImport}import { collectPoints } from '../../../src/lib/sdk/testing.js';

/** the recording (this file runs from dist/test/collectors/<name>/) */
const FIXTURES = fileURLToPath(new URL('../../../../test/collectors/${name}/fixtures', import.meta.url));

// TODO: pin its points down (measurements, tags, field types, values), as the other collectors' tests do
test('${name}: runs without error and gives points, each with fields', async () => {
  const { points, errors } = await collectPoints(${subject}, {
    name: '${name}',
    fixtures: FIXTURES,
    now: '2026-01-01T00:00:00Z',
  });
  assert.deepEqual(errors, []);
  assert.ok(points.length > 0, 'no point');
  for (const p of points) assert.ok(Object.keys(p.fields).length > 0, p.measurement);
});
`;
}
