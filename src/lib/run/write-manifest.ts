/**
 * Writes the collectors' manifest (manifest.ts) at the end of `npm run build`:
 * `node dist/src/lib/run/write-manifest.js [collectors dir]` imports every collector once, as
 * discovery does, and describes the working ones.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../platform/atomic.js';
import { builtCollectorsDir } from '../platform/paths.js';
import { discoverCollectors } from './discovery.js';
import { MANIFEST_FILE, MANIFEST_FORMAT, type Manifest } from './manifest.js';

/**
 * Writes the manifest of collectors directory `dir` (default: the settings' one): every collector
 * discovery imports without error. Returns the number described and the broken ones' errors.
 */
export async function writeManifest(dir?: string): Promise<{ described: number; broken: string[] }> {
  const target = dir ?? builtCollectorsDir;
  const run = { collectorsDir: target, collectorsDirGiven: dir !== undefined };
  const found = await discoverCollectors(run, dir ? { dir } : {});
  const manifest: Manifest = { format: MANIFEST_FORMAT, collectors: {} };
  const broken: string[] = [];
  for (const c of found) {
    if (c.error || !c.module) {
      broken.push(c.error ?? c.name);
      continue;
    }
    const st = statSync(join(target, c.name, 'index.js'));
    manifest.collectors[c.name] = { runInterval: c.runInterval, indexMtimeMs: st.mtimeMs, indexSize: st.size };
  }
  await writeFileAtomic(join(target, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`, { mode: 0o644, syncDir: false });
  return { described: Object.keys(manifest.collectors).length, broken };
}

// `node dist/src/lib/run/write-manifest.js [collectors dir]` (the build's last step)
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeManifest(process.argv[2]).then(
    ({ described, broken }) => {
      // a broken collector does not fail the build: `metrics list` reports it, as before
      for (const b of broken) process.stderr.write(`manifest: not described (imported at each use): ${b}\n`);
      process.stdout.write(`manifest: ${described} collector(s) described\n`);
    },
    (error: unknown) => {
      const why = error instanceof Error ? error.message : String(error);
      process.stderr.write(`manifest: cannot write it (${why}); list and the generators import every collector\n`);
      process.exitCode = 1;
    },
  );
}
