/**
 * The collectors' manifest: `<collectors dir>/manifest.json`, written by `npm run build` after tsc
 * (`node dist/src/lib/run/write-manifest.js`), holding each working collector's RUN_INTERVAL with the
 * modification time and size of the compiled index.js it was read from. `metrics list`, the
 * systemd and Kubernetes generators and the daemon read names and intervals from it instead of
 * importing every collector (discovery's `cheap` mode); a folder whose index.js is not the one
 * described (rebuilt, copied in, edited) or that the manifest does not name (new, or broken at
 * build time) is imported as before, so a stale manifest costs time, never a wrong answer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'metrics-manifest/1';
const FORMAT = MANIFEST_FORMAT;

export interface Manifest {
  format: typeof FORMAT;
  collectors: Record<string, { runInterval: string; indexMtimeMs: number; indexSize: number }>;
}

/** The manifest of collectors directory `dir`; undefined when missing or not one (then every folder is imported). */
export function readManifest(dir: string): Manifest | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    if (m.format !== FORMAT || typeof m.collectors !== 'object' || m.collectors === null) return undefined;
    const collectors: Manifest['collectors'] = Object.create(null);
    for (const [name, c] of Object.entries(m.collectors)) {
      if (typeof c?.runInterval === 'string' && typeof c.indexMtimeMs === 'number' && typeof c.indexSize === 'number') collectors[name] = c;
    }
    return { format: FORMAT, collectors };
  } catch {
    return undefined;
  }
}
