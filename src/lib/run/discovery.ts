/**
 * Discovery: every folder under the collectors directory whose `index` exports `runMetric` is a
 * collector; nothing is registered by hand. A folder without an `index` (shared helpers), or whose
 * name starts with `.` or `_`, is not a collector and is not listed. A broken folder (no index, no runMetric, throws at
 * import) is reported with its name and the error and does not stop the others.
 *
 * The collectors directory is the compiled `dist/src/collectors`, or `$METRICS_COLLECTORS_DIR`
 * (the run settings, platform/settings.ts). A folder that exists in `src/collectors` but has not been compiled
 * yet is reported as such ("run npm run build"), and a compiled folder whose source folder was
 * removed is ignored (a stale build).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../platform/errors.js';
import { sourceCollectorsDir } from '../platform/paths.js';
import { COLLECTOR_NAME, type RunSettings } from '../platform/settings.js';
import type { CollectorModule } from './contract.js';

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

/** Leaves out the collectors named in METRICS_DISABLE. */
export function enabledOnly(collectors: DiscoveredCollector[]): DiscoveredCollector[] {
  return collectors.filter((c) => !c.disabled);
}

/**
 * The collectors of `run.collectorsDir` (or of `opts.dir`), each flagged `disabled` when
 * `run.disabled` (METRICS_DISABLE) names it.
 */
export async function discoverCollectors(
  run: Pick<RunSettings, 'collectorsDir' | 'collectorsDirGiven' | 'disabled'>,
  opts: { dir?: string } = {},
): Promise<DiscoveredCollector[]> {
  const dir = opts.dir ?? run.collectorsDir;
  const names = new Set(subdirs(dir));
  // folders written in src/ but not compiled yet
  const sourceDir = sourceCollectorsDir;
  const checkSource = !opts.dir && !run.collectorsDirGiven;
  const unbuilt = new Set<string>();
  if (checkSource && existsSync(sourceDir)) {
    const sources = new Set(subdirs(sourceDir));
    // a compiled folder whose source is gone is a stale build of a removed collector
    for (const n of names) if (!sources.has(n)) names.delete(n);
    for (const n of sources) {
      // a folder without an index.ts is not a collector (shared helpers, fixtures): not listed
      if (!existsSync(join(sourceDir, n, 'index.ts'))) {
        names.delete(n);
        continue;
      }
      if (!names.has(n) || !existsSync(join(dir, n, 'index.js'))) unbuilt.add(n);
      names.add(n);
    }
  }
  const disabled = run.disabled ?? new Set<string>();
  const found = await Promise.all(
    [...names].sort().map(async (name): Promise<DiscoveredCollector> => {
      const folder = join(dir, name);
      const base = { name, dir: folder, runInterval: DEFAULT_INTERVAL };
      if (unbuilt.has(name)) {
        return {
          ...base,
          dir: join(sourceDir, name),
          error: `collector "${name}" is not built yet (${join(sourceDir, name)}): run npm run build`,
        };
      }
      if (!COLLECTOR_NAME.test(name)) {
        return {
          ...base,
          error: `collector folder "${name}" has an invalid name: use letters, digits, "_" and "-" (it becomes a systemd unit name)`,
        };
      }
      const index = join(folder, 'index.js');
      if (!existsSync(index)) {
        return {
          ...base,
          error: `collector "${name}" has no index.js in ${folder}: a collector folder needs an index.ts exporting runMetric()`,
        };
      }
      if (checkSource) {
        const src = join(sourceDir, name, 'index.ts');
        if (existsSync(src) && statSync(src).mtimeMs > statSync(index).mtimeMs + 1000) {
          const { createLogger } = await import('../platform/log.js'); // rare: not loaded for it otherwise
          createLogger({ scope: name }).warn(`${src} is newer than its build: run npm run build`);
        }
      }
      let mod: Partial<CollectorModule>;
      try {
        mod = (await import(pathToFileURL(index).href)) as Partial<CollectorModule>;
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
    }),
  );
  for (const c of found) if (disabled.has(c.name)) c.disabled = true;
  return found;
}
