/**
 * The collectors this repository ships, read from the folders (src/collectors/<name>/index.ts,
 * `_` helper folders excluded), so that tests of the framework hold whichever collectors exist.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './servers.js';

/** Every shipped collector's name, sorted. */
export function shippedCollectors(): string[] {
  const dir = join(repoRoot, 'src', 'collectors');
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.') && existsSync(join(dir, e.name, 'index.ts')))
    .map((e) => e.name)
    .sort();
}

/** A METRICS_DISABLE value that switches off every shipped collector but `keep` (and adds `also`). */
export function disableAllBut(keep: readonly string[], also: readonly string[] = []): string {
  return [...shippedCollectors().filter((n) => !keep.includes(n)), ...also].join(',');
}
