/**
 * The quick start of the common commands: the entry of the CommonJS bundle that the build's last
 * step (scripts/bundle.mjs) makes of the framework, `dist/fast/framework.cjs`, beside one bundle per
 * collector (`dist/fast/collectors/<name>.cjs`, whose imports of the SDK are this bundle's exports).
 *
 * `bin/metrics` (CommonJS: src/metrics.cjs) and `bin/<collector>` (an ES module) call {@link start}
 * first, through require. It takes a plain
 * `run <names…>` or `list [--json]` (main.ts's plainCommand) when every file each bundle was made
 * from is still the one the build saw (dist/fast/bundles.json: modification time and size of each
 * input), and returns false for everything else, which then starts from the ES modules of dist/
 * as before: yargs' commands, `--help`, a run of every collector, another collectors directory
 * (METRICS_COLLECTORS_DIR), a dry-run of a changed source (dev mode, from-source.ts), or a build
 * whose bundles are missing or older than its modules. A whole process is then one CommonJS file
 * and the collector's own: Node's ES module loader reads each of ~25 modules asynchronously, which
 * cost a short run more than all of its own work (`npm run bench`, start-up rows).
 *
 * Only this bundle runs this module (its `require` is the bundle's CommonJS one). main.ts's
 * readEnvironment is taken from there; esbuild leaves out the rest of main.ts (yargs), unused here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { builtCollectorsDir, repoRoot } from '../platform/paths.js';
import { setCollectorLoader, setStaleSourceCheck, staleSource } from '../run/discovery.js';
import { readManifest } from '../run/manifest.js';
import { readEnvironment } from './main.js';
import { plainCommand, runPlain } from './plain.js';
import { redactProcessOutput } from '../platform/redact.js';

/** The folder of the bundles and of their record. */
export const FAST_DIR = join(repoRoot, 'dist', 'fast');
/** The record of what each bundle was made from, written with them (by scripts/bundle.mjs: keep the name and format alike). */
export const FAST_RECORD = 'bundles.json';
export const FAST_FORMAT = 'metrics-fast/1';

/** One bundle: its file (relative to FAST_DIR) and its inputs (relative to the repository): [mtimeMs, size]. */
export interface BundleEntry {
  file: string;
  inputs: Record<string, [number, number]>;
}

export interface BundleRecord {
  format: typeof FAST_FORMAT;
  framework: BundleEntry;
  collectors: Record<string, BundleEntry>;
}

declare const require: (id: string) => unknown;

/**
 * Starts `argv` (of `bin/metrics`, or of `bin/<collector>` when `collector` is given) from this
 * bundle and returns true, or returns false having done nothing: the caller starts the ES modules.
 */
export function start(argv: string[], collector?: string): boolean {
  const record = readRecord();
  if (!record || !current(record.framework)) return false;
  const env = readEnvironment();
  // an environment the settings refuse is reported by yargs' path, as before
  if (!('settings' in env) || !env.settings.fastPath || env.settings.run.collectorsDirGiven) return false;
  const { settings } = env;
  const command = plainCommand(argv, collector);
  if (!command) return false;
  // each collector's bundle and sources are looked at once, here or for discovery, not again
  const currentOnes = new Map<string, boolean>();
  const isCurrent = (name: string): boolean => {
    let ok = currentOnes.get(name);
    if (ok === undefined) {
      const bundle = record.collectors[name];
      ok = bundle !== undefined && current(bundle);
      currentOnes.set(name, ok);
    }
    return ok;
  };
  const staleAnswers = new Map<string, string | undefined>();
  const staleOf = (name: string): string | undefined => {
    if (!staleAnswers.has(name)) {
      const bundle = record.collectors[name];
      staleAnswers.set(name, bundle ? staleInputSource(name, bundle) : staleSource(name));
    }
    return staleAnswers.get(name);
  };
  if (command.kind === 'run') {
    const { names, dryRun } = command.options;
    if (names.length === 0) return false; // every collector: imported as ES modules
    for (const name of names) {
      if (!isCurrent(name)) return false;
      // dev mode: a dry-run of a changed source runs it transpiled, as an ES module
      if (dryRun && settings.fromSource && staleOf(name)) return false;
    }
  }
  // the bundles load no ES module (they are one framework): `list` imports a collector whose
  // manifest entry is not current, so it is taken only when every such collector has a current bundle
  if (command.kind === 'list' && !everyCollectorServed(isCurrent)) return false;
  // a build is stale for discovery's warnings as for the check above (and a collector without a
  // bundle, in `list`, as discovery finds it)
  setStaleSourceCheck(staleOf);
  setCollectorLoader(async (name, index) => {
    const bundle = record.collectors[name];
    if (bundle && index === join(builtCollectorsDir, name, 'index.js') && isCurrent(name)) return require(join(FAST_DIR, bundle.file));
    throw new Error(`collector "${name}" has no current bundle (${index}): run the command again`);
  });
  redactProcessOutput();
  took = true;
  void runPlain(command, settings);
  return true;
}

let took = false;

/** Whether {@link start} took the command (for tests: which start a process took). */
export function tookCommand(): boolean {
  return took;
}

/**
 * Whether a file's modification time and size are the recorded ones. The times are compared to
 * the millisecond: a copy that keeps timestamps (cp -a, cpSync's preserveTimestamps) may round
 * the nanoseconds; a rebuilt file is seconds newer.
 */
// scripts/quick-start.cjs compares its code cache's stamp the same way
function sameStamp(mtimeMs: number, size: number, seen: [number, number]): boolean {
  return Math.abs(mtimeMs - seen[0]) < 1 && size === seen[1];
}

/**
 * Whether `list` can run from the bundles: every compiled collector folder is described by the
 * manifest (the same comparison as discovery's: then it is not imported) or has a current bundle.
 */
function everyCollectorServed(isCurrent: (name: string) => boolean): boolean {
  let names: string[];
  try {
    names = readdirSync(builtCollectorsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('_'))
      .map((e) => e.name);
  } catch {
    return false;
  }
  const manifest = readManifest(builtCollectorsDir);
  return names.every((n) => {
    const described = manifest?.collectors[n];
    const index = described && statSync(join(builtCollectorsDir, n, 'index.js'), { throwIfNoEntry: false });
    if (index && index.mtimeMs === described.indexMtimeMs && index.size === described.indexSize) return true;
    return isCurrent(n);
  });
}

/**
 * The first source file of collector `name` newer than the compiled file its bundle was made from
 * (the collector's files and the shared `_` files it imports, no others), or another .ts file of
 * its folder newer than its compiled file or without one; undefined when there is none. discovery's staleSource looks at every shared
 * folder, whether the collector imports it or not.
 */
function staleInputSource(name: string, bundle: BundleEntry): string | undefined {
  const root = `${repoRoot}/`;
  const compiled = new Set<string>();
  for (const [path, seen] of Object.entries(bundle.inputs)) {
    if (!path.startsWith('dist/src/collectors/') || !path.endsWith('.js')) continue;
    const source = `${path.slice('dist/'.length, -'.js'.length)}.ts`;
    compiled.add(source);
    const st = statSync(root + source, { throwIfNoEntry: false });
    if (st && st.mtimeMs > seen[0]) return source;
  }
  let files: string[];
  try {
    files = readdirSync(`${root}src/collectors/${name}`, { recursive: true, encoding: 'utf8' });
  } catch {
    return undefined; // no source folder: nothing to run from source
  }
  for (const file of files) {
    const source = `src/collectors/${name}/${file}`;
    if (!file.endsWith('.ts') || file.endsWith('.d.ts') || file.split('/').some((part) => part.startsWith('.')) || compiled.has(source))
      continue;
    // not in the bundle (not imported, or new): stale as discovery says, newer than its compiled file or without one
    const built = statSync(`${root}dist/${source.slice(0, -'.ts'.length)}.js`, { throwIfNoEntry: false });
    if (!built || statSync(root + source).mtimeMs > built.mtimeMs) return source;
  }
  return undefined;
}

/** The record of the bundles, or undefined when there is none or it is not one. */
function readRecord(): BundleRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(FAST_DIR, FAST_RECORD), 'utf8')) as Partial<BundleRecord>;
    if (r.format !== FAST_FORMAT || typeof r.framework?.inputs !== 'object' || typeof r.collectors !== 'object' || r.collectors === null)
      return undefined;
    return r as BundleRecord;
  } catch {
    return undefined;
  }
}

/** Whether every input of `bundle` is the file the build bundled (same modification time and size: sameStamp). */
function current(bundle: BundleEntry): boolean {
  if (typeof bundle.file !== 'string' || typeof bundle.inputs !== 'object' || bundle.inputs === null) return false;
  const root = `${repoRoot}/`; // the inputs are normalized relative paths: no join (path.normalize) per input
  for (const [path, seen] of Object.entries(bundle.inputs)) {
    const st = statSync(root + path, { throwIfNoEntry: false });
    if (!st || !Array.isArray(seen) || !sameStamp(st.mtimeMs, st.size, seen)) return false;
  }
  return true;
}

// What collectors import, served from this bundle (scripts/bundle.mjs points their imports of
// sdk/index.js here, and of sdk/events.js at sdkEvents()).
export * from '../sdk/index.js';

/** The SDK's event API, loaded on first use (zod is not loaded for collectors that write no events). */
export function sdkEvents(): unknown {
  return require('../sdk/events.js');
}
