/**
 * Where this installation lives: the repository root (holding bin/ and dist/) and the compiled
 * collectors directory, both computed once from this module's place in dist/src/lib/platform/.
 * (`METRICS_COLLECTORS_DIR` may name another collectors directory: see settings.ts.)
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/lib/platform → the repository */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** The compiled collectors: dist/src/collectors. */
export const builtCollectorsDir = join(repoRoot, 'dist', 'src', 'collectors');

/** The collectors' source folders: src/collectors. */
export const sourceCollectorsDir = join(repoRoot, 'src', 'collectors');
