/**
 * Dev mode: a `--dry-run` in a checkout runs a collector's current TypeScript source when its
 * compiled output (dist/) is older than the source or missing, so that edit → dry-run needs no
 * `npm run build`. Discovery asks here only when all of these hold: the run is a dry-run, the
 * collectors come from the checkout (no METRICS_COLLECTORS_DIR), and the settings allow it
 * (`fromSource`: not under CI=true, not under systemd). A real write, the systemd units, the daemon's
 * real runs and CI never come here: they run the compiled JavaScript.
 *
 * What is transpiled: the collector's folder and the shared `src/collectors/_*` folders it imports,
 * bundled by esbuild into one module (types are stripped, not checked: `npm run build` and
 * `npm test` still fail on a type error). The framework is not: every import of `src/lib` is
 * pointed at its compiled module in dist/src/lib, so the collector and the runner share one SDK;
 * when src/lib is newer than dist the dry-run says so ("run npm run build"). Packages stay imports.
 *
 * Whether a collector's build is stale is discovery's question (discovery.ts `staleSource`): this
 * module is loaded only when a bundle is needed.
 *
 * The bundle is cached in dist/.dev-cache/<name>.js with the modification time and size of every
 * source file it was made of (<name>.json): an unchanged source reuses it without loading esbuild.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../platform/errors.js';
import { repoRoot, sourceCollectorsDir } from '../platform/paths.js';

const srcLib = join(repoRoot, 'src', 'lib');
const distLib = join(repoRoot, 'dist', 'src', 'lib');
/** Where the bundles of changed collectors are kept (cleared by every `npm run build`). */
export const devCacheDir = join(repoRoot, 'dist', '.dev-cache');

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

interface CacheRecord {
  esbuild: string;
  /** source file (relative to the repository) → [mtimeMs, size] */
  inputs: Record<string, [number, number]>;
}

function cacheIsFresh(record: CacheRecord | undefined): boolean {
  if (!record || Object.keys(record.inputs).length === 0) return false;
  for (const [file, [mtime, size]] of Object.entries(record.inputs)) {
    try {
      const st = statSync(join(repoRoot, file));
      if (st.mtimeMs !== mtime || st.size !== size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function readRecord(path: string): CacheRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as CacheRecord;
    return r && typeof r.inputs === 'object' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** A collector's source does not compile: the message names the file, line and column. */
export class SourceError extends Error {}

interface EsbuildMessage {
  text: string;
  location?: { file: string; line: number; column: number; lineText?: string } | null;
}

function describeMessages(name: string, messages: EsbuildMessage[]): string {
  const parts = messages.slice(0, 5).map((m) => {
    const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
    const text = m.location?.lineText ? `\n    ${m.location.lineText.trim()}` : '';
    return `${at}${m.text}${text}`;
  });
  const more = messages.length > 5 ? `\n  (and ${messages.length - 5} more)` : '';
  const fix = 'fix the source (npm run build also checks the types)';
  return `collector "${name}": its source does not compile:\n  ${parts.join('\n  ')}${more}\n  ${fix}`;
}

/**
 * The module to import for collector `name` in a dry-run: its bundle from source, made now unless
 * the cached one was made of the same files. Throws SourceError (file, line, what to fix) when the
 * source does not compile, and an Error when esbuild is not installed.
 */
export async function bundleFromSource(name: string): Promise<string> {
  const out = join(devCacheDir, `${name}.js`);
  const recordPath = join(devCacheDir, `${name}.json`);
  if (cacheIsFresh(readRecord(recordPath)) && mtimeOf(out) !== undefined) return out;
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    throw new Error(
      `cannot run collector "${name}" from its source: esbuild is not installed (${errorMessage(error)}); run npm ci, or npm run build`,
    );
  }
  let result: import('esbuild').BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [join(sourceCollectorsDir, name, 'index.ts')],
      absWorkingDir: repoRoot,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile: out,
      packages: 'external',
      metafile: true,
      write: false,
      sourcemap: 'inline',
      logLevel: 'silent',
      plugins: [
        {
          name: 'framework-from-dist',
          setup(build: import('esbuild').PluginBuild) {
            // the framework is the compiled one: one SDK shared with the runner
            build.onResolve({ filter: /^\.\.?\// }, (args: import('esbuild').OnResolveArgs) => {
              const target = resolve(args.resolveDir, args.path);
              if (!target.startsWith(srcLib + sep)) return undefined;
              const compiled = join(distLib, relative(srcLib, target)).replace(/\.ts$/, '.js');
              return { path: pathToFileURL(compiled).href, external: true };
            });
          },
        },
      ],
    });
  } catch (error) {
    const errors = (error as { errors?: EsbuildMessage[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) throw new SourceError(describeMessages(name, errors));
    throw error;
  }
  const inputs: CacheRecord['inputs'] = {};
  for (const file of Object.keys(result.metafile.inputs)) {
    const st = statSync(join(repoRoot, file));
    inputs[file] = [st.mtimeMs, st.size];
  }
  mkdirSync(dirname(recordPath), { recursive: true });
  const { writeFileAtomic } = await import('../platform/atomic.js'); // only when a bundle is made
  // two dry-runs at once each write whole files: the bundle first, then the record that vouches for it
  await writeFileAtomic(out, result.outputFiles[0]!.contents, { mode: 0o644, syncDir: false });
  await writeFileAtomic(recordPath, JSON.stringify({ esbuild: esbuild.version, inputs } satisfies CacheRecord), {
    mode: 0o644,
    syncDir: false,
  });
  return out;
}
