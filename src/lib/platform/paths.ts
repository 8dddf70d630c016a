/**
 * Where this installation lives: the repository root (holding bin/ and dist/) and the compiled
 * collectors directory, both computed once from this module's place in dist/src/lib/platform/.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** dist/src/lib/platform → the repository */
export const repoRoot = resolve(here, '..', '..', '..', '..');

/** The compiled collectors: `$METRICS_COLLECTORS_DIR`, else dist/src/collectors. */
export function collectorsDir(env: Record<string, string | undefined> = process.env): string {
  return env.METRICS_COLLECTORS_DIR ? resolve(env.METRICS_COLLECTORS_DIR) : resolve(here, '..', '..', 'collectors');
}
