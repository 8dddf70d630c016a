/**
 * Discovery: every folder under the collectors directory whose `index` exports `runMetric` is a
 * collector; nothing is registered by hand. A folder without an `index` (shared helpers), or whose
 * name starts with `.` or `_`, is not a collector and is not listed. A broken folder (no index, no runMetric, throws at
 * import) is reported with its name and the error and does not stop the others.
 *
 * The collectors directory is the compiled `dist/src/collectors`, or `$METRICS_COLLECTORS_DIR`
 * (the run settings, platform/settings.ts). A folder that exists in `src/collectors` but has not been compiled
 * yet is reported as such ("run npm run build"), and a compiled folder whose source folder was
 * removed is ignored (a stale build). In a dry-run in the checkout (dev mode, from-source.ts) such
 * a folder, or one whose source is newer than its build, runs from its TypeScript source instead.
 *
 * What is imported is what the caller needs: a run of named collectors imports only those
 * (`only`); `list`, the unit generators and the daemon need names and RUN_INTERVALs only
 * (`cheap`) and take them from the build's manifest (manifest.ts) for every folder whose compiled
 * index is the one the manifest describes, importing the others; a run of all imports all.
 */
import { existsSync, readdirSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../platform/errors.js';
import { repoRoot, sourceCollectorsDir } from '../platform/paths.js';
import { COLLECTOR_NAME, type RunSettings } from '../platform/settings.js';
import type { CollectorModule } from './contract.js';
import type { Manifest } from './manifest.js';

export const DEFAULT_INTERVAL = '5m';

export interface DiscoveredCollector {
  name: string;
  dir: string;
  /** the raw RUN_INTERVAL, DEFAULT_INTERVAL when not exported */
  runInterval: string;
  /** set when the folder is broken: the collector cannot run */
  error?: string;
  /** named in METRICS_DISABLE: not run by "all", no timer, not in the daemon; runs when named */
  disabled?: boolean;
  module?: CollectorModule;
}

function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('_'))
    .map((e) => e.name)
    .sort();
}

/** How a collector's compiled index (or its dev-mode bundle) is loaded: see {@link setCollectorLoader}. */
export type CollectorLoader = (name: string, index: string) => Promise<unknown>;

let loadIndex: CollectorLoader = (_name, index) => import(pathToFileURL(index).href);

/**
 * Replaces how collectors are loaded (default: imported as ES modules). A process started from the
 * CommonJS bundle (cli/bundle.ts) loads each collector's own bundle instead, so that the collector
 * and the runner share one copy of the framework (one CollectorError class, one secret registry).
 */
export function setCollectorLoader(load: CollectorLoader): void {
  loadIndex = load;
}

/** Whether a collector's source is newer than its build: see {@link setStaleSourceCheck}. */
export type StaleSourceCheck = (name: string) => string | undefined;

let staleCheck: StaleSourceCheck = (name) => staleSource(name);

/**
 * Replaces how a collector's build is found stale (default: {@link staleSource}). The quick start
 * (cli/bundle.ts) knows the files each collector's bundle was made from, and looks at exactly those.
 */
export function setStaleSourceCheck(check: StaleSourceCheck): void {
  staleCheck = check;
}

/** Leaves out the collectors named in METRICS_DISABLE. */
export function enabledOnly(collectors: DiscoveredCollector[]): DiscoveredCollector[] {
  return collectors.filter((c) => !c.disabled);
}

/** What discovery imports (see the module comment). */
export interface DiscoverOptions {
  /** another collectors directory than the settings' (no comparison with src/collectors) */
  dir?: string;
  /**
   * import only these collectors: the result holds just them when every name is a collector folder,
   * else every collector by name (not imported), for the caller's "unknown collector" message
   */
  only?: readonly string[];
  /** names and RUN_INTERVALs from the build's manifest where it is fresh; `module` is then not set */
  cheap?: boolean;
  /** a dry-run that may run changed sources (dev mode): see from-source.ts */
  fromSource?: boolean;
}

/**
 * The collectors of `run.collectorsDir` (or of `opts.dir`), each flagged `disabled` when
 * `run.disabled` (METRICS_DISABLE) names it.
 */
export async function discoverCollectors(
  run: Pick<RunSettings, 'collectorsDir' | 'collectorsDirGiven' | 'disabled'>,
  opts: DiscoverOptions = {},
): Promise<DiscoveredCollector[]> {
  const dir = opts.dir ?? run.collectorsDir;
  const checkSource = !opts.dir && !run.collectorsDirGiven;
  const sourceDir = sourceCollectorsDir;
  const disabled = run.disabled ?? new Set<string>();
  const flag = (found: DiscoveredCollector[]) => {
    for (const c of found) if (disabled.has(c.name)) c.disabled = true;
    return found;
  };

  if (opts.only && opts.only.length > 0) {
    // a run of named collectors: only they are looked at and imported, whatever else is there
    const wanted = [...new Set(opts.only)];
    if (wanted.every((n) => isCollectorFolder(dir, sourceDir, checkSource, n))) {
      const sources = checkSource && existsSync(sourceDir);
      return flag(await Promise.all(wanted.map((n) => inspect(n, dir, sources, checkSource, opts, undefined))));
    }
    // an unknown name: every collector by name, not imported (the caller lists them)
    return flag(
      collectorNames(dir, sourceDir, checkSource).names.map((name) => ({ name, dir: join(dir, name), runInterval: DEFAULT_INTERVAL })),
    );
  }

  const { names, unbuilt, sources } = collectorNames(dir, sourceDir, checkSource);
  const manifest = opts.cheap ? (await import('./manifest.js')).readManifest(dir) : undefined;
  const found = await Promise.all(names.map((name) => inspect(name, dir, sources, checkSource, opts, manifest, unbuilt.has(name))));
  return flag(found);
}

/** Whether `name` is a folder discovery would list (cheap: two stats). */
function isCollectorFolder(dir: string, sourceDir: string, checkSource: boolean, name: string): boolean {
  if (name.startsWith('.') || name.startsWith('_')) return false;
  if (checkSource && existsSync(sourceDir)) return existsSync(join(sourceDir, name, 'index.ts'));
  return isDir(join(dir, name));
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The collector folders' names (sorted), and those that exist in src/collectors only. */
function collectorNames(dir: string, sourceDir: string, checkSource: boolean): { names: string[]; unbuilt: Set<string>; sources: boolean } {
  const names = new Set(subdirs(dir));
  // folders written in src/ but not compiled yet
  const unbuilt = new Set<string>();
  const sources = checkSource && existsSync(sourceDir);
  if (sources) {
    const inSource = new Set(subdirs(sourceDir));
    // a compiled folder whose source is gone is a stale build of a removed collector
    for (const n of names) if (!inSource.has(n)) names.delete(n);
    for (const n of inSource) {
      // a folder without an index.ts is not a collector (shared helpers, fixtures): not listed
      if (!existsSync(join(sourceDir, n, 'index.ts'))) {
        names.delete(n);
        continue;
      }
      if (!names.has(n) || !existsSync(join(dir, n, 'index.js'))) unbuilt.add(n);
      names.add(n);
    }
  }
  return { names: [...names].sort(), unbuilt, sources };
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** One folder: its checks, then its RUN_INTERVAL from the manifest or its module imported. */
async function inspect(
  name: string,
  dir: string,
  sources: boolean,
  checkSource: boolean,
  opts: DiscoverOptions,
  manifest: Manifest | undefined,
  unbuiltKnown?: boolean,
): Promise<DiscoveredCollector> {
  const sourceDir = sourceCollectorsDir;
  const folder = join(dir, name);
  const base = { name, dir: folder, runInterval: DEFAULT_INTERVAL };
  let index = join(folder, 'index.js');
  const indexStat = statOf(index);
  const unbuilt = unbuiltKnown ?? (sources && !indexStat);
  if (!COLLECTOR_NAME.test(name)) {
    return {
      ...base,
      error: `collector folder "${name}" has an invalid name: use letters, digits, "_" and "-" (it becomes a systemd unit name)`,
    };
  }
  // dev mode: a dry-run of a checkout runs a source newer than its build (or never built)
  let fromSource = false;
  // the first stale source file: looked for once (a dry-run asks twice: run it? warn?)
  let stale: string | undefined | null = null;
  const staleFile = (): string | undefined => {
    if (stale === null) stale = staleCheck(name);
    return stale;
  };
  if (opts.fromSource && sources) {
    if (unbuilt || staleFile()) {
      const { bundleFromSource } = await import('./from-source.js'); // only when a bundle is needed
      try {
        index = await bundleFromSource(name);
        fromSource = true;
      } catch (error) {
        return { ...base, dir: join(sourceDir, name), error: errorMessage(error) };
      }
      const lib = staleFramework();
      if (lib) {
        const { createLogger } = await import('../platform/log.js');
        createLogger({ scope: name }).warn(
          `${lib} is newer than its build: in a dry-run collectors run from source, the framework (src/lib) ` +
            'runs compiled from dist: run npm run build',
        );
      }
    }
  }
  if (unbuilt && !fromSource) {
    return {
      ...base,
      dir: join(sourceDir, name),
      error: `collector "${name}" is not built yet (${join(sourceDir, name)}): run npm run build`,
    };
  }
  if (!fromSource && !indexStat) {
    return {
      ...base,
      error: `collector "${name}" has no index.js in ${folder}: a collector folder needs an index.ts exporting runMetric()`,
    };
  }
  if (checkSource && !fromSource && indexStat) {
    // any file of the collector (or of a shared `_` folder), not only its index.ts
    const src = staleFile();
    if (src) {
      const { createLogger } = await import('../platform/log.js'); // rare: not loaded for it otherwise
      createLogger({ scope: name }).warn(`${src} is newer than its build: run npm run build`);
    }
  }
  const described = manifest && indexStat && !fromSource ? manifest.collectors[name] : undefined;
  if (described && described.indexMtimeMs === indexStat!.mtimeMs && described.indexSize === indexStat!.size) {
    return { ...base, runInterval: described.runInterval };
  }
  let mod: Partial<CollectorModule>;
  try {
    mod = (await loadIndex(name, index)) as Partial<CollectorModule>;
  } catch (error) {
    return { ...base, error: `collector "${name}" failed to load (${index}): ${errorMessage(error)}` };
  }
  if (typeof mod.runMetric !== 'function') {
    return { ...base, error: `collector "${name}" does not export a runMetric() function from ${index}` };
  }
  if (mod.RUN_INTERVAL !== undefined && (typeof mod.RUN_INTERVAL !== 'string' || mod.RUN_INTERVAL.trim() === '')) {
    return {
      ...base,
      error:
        `collector "${name}": RUN_INTERVAL must be a non-empty string such as '5m' or '*/10 * * * *', got ` +
        `${JSON.stringify(mod.RUN_INTERVAL)}`,
    };
  }
  return { ...base, runInterval: mod.RUN_INTERVAL ?? DEFAULT_INTERVAL, module: mod as CollectorModule };
}

// ---------------------------------------------------------------------------------------------
// Dev mode: is a collector's build older than its source (then a dry-run runs the source)?

/** The .ts files under `dir` (recursively), skipping nothing but dot-folders. */
function tsFiles(dir: string, out: string[] = []): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) tsFiles(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The compiled counterpart of a source file: src/x/y.ts → dist/src/x/y.js. */
function compiledOf(source: string): string {
  return join(repoRoot, 'dist', relative(repoRoot, source)).replace(/\.ts$/, '.js');
}

/**
 * The first source file of collector `name` (its folder, or a shared `_` folder) that is newer
 * than its compiled file or has none; undefined when the build is up to date.
 */
export function staleSource(name: string): string | undefined {
  for (const file of tsFiles(join(sourceCollectorsDir, name))) if (isStale(file)) return file;
  sharedStale ??= staleShared();
  return sharedStale || undefined;
}

function isStale(file: string): boolean {
  const built = mtimeOf(compiledOf(file));
  return built === undefined || mtimeOf(file)! > built;
}

/** The shared `_` folders are checked once per process ('' when none is stale), not once per collector. */
let sharedStale: string | undefined;

function staleShared(): string {
  try {
    for (const e of readdirSync(sourceCollectorsDir, { withFileTypes: true }))
      if (e.isDirectory() && e.name.startsWith('_'))
        for (const file of tsFiles(join(sourceCollectorsDir, e.name))) if (isStale(file)) return file;
  } catch {
    // no source folder: nothing is stale
  }
  return '';
}

/** The first file of src/lib newer than its compiled one (the framework runs compiled): for a warning. */
function staleFramework(): string | undefined {
  if (frameworkStale === undefined) {
    frameworkStale = '';
    for (const file of tsFiles(join(repoRoot, 'src', 'lib'))) {
      const built = mtimeOf(compiledOf(file));
      if (built !== undefined && mtimeOf(file)! > built) {
        frameworkStale = file;
        break;
      }
    }
  }
  return frameworkStale || undefined;
}

/** staleFramework's answer, found once per process ('' when none) and warned about per collector run from source. */
let frameworkStale: string | undefined;
