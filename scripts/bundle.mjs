// The build's last step (`npm run build`, after tsc and the manifest): the CommonJS bundles that
// bin/metrics and bin/<collector> start the common commands from (src/lib/cli/bundle.ts says why
// and when): dist/fast/framework.cjs (the framework, from dist/src/lib/cli/bundle.js), one
// dist/fast/collectors/<name>.cjs per collector whose imports of the SDK are the framework bundle's
// exports, dist/fast/start.cjs that loads the framework with its V8 code cache
// (scripts/quick-start.cjs), and dist/fast/bundles.json, the modification time and size of every file each bundle
// was made from. A collector that cannot be bundled is left out (it starts from ES modules) and
// said; the build does not fail for it, as the manifest does not.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'fast');
const lib = join(dist, 'src', 'lib');
const collectorsDir = join(dist, 'src', 'collectors');
const SDK = join(lib, 'sdk', 'index.js');
const SDK_EVENTS = join(lib, 'sdk', 'events.js');

/**
 * `import.meta.url` of each bundled module is its own compiled file's URL, computed from the
 * bundle's place at run time (so a copied or moved checkout still finds its files): paths.ts
 * finds the repository from it.
 */
const metaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const rel = JSON.stringify(relative(dirname(b.initialOptions.outfile), args.path));
      const url = `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${rel})).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
    });
  },
};

/** A collector's imports of the SDK become the framework bundle's; any other import of src/lib fails its bundle. */
const sdkFromFramework = {
  name: 'sdk-from-framework',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.namespace === 'sdk-events') return { path: '../framework.cjs', external: true };
      const target = resolve(args.resolveDir, args.path);
      if (target === SDK) return { path: '../framework.cjs', external: true };
      if (target === SDK_EVENTS) return { path: 'sdk-events', namespace: 'sdk-events' };
      if (target.startsWith(lib + '/'))
        return { errors: [{ text: `imports ${relative(root, target)}: a collector may import only the SDK` }] };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'sdk-events' }, () => ({
      contents: 'module.exports = require("../framework.cjs").sdkEvents();',
      loader: 'js',
    }));
  },
};

// import() becomes require (in a promise): the framework is run as vm code (start.cjs), which
// cannot import() without an experimental option; every package it loads has a CommonJS entry
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  // less to read at each start; names are kept (a stack trace with line numbers of the sources:
  // METRICS_NO_FAST_PATH=true starts from dist/src)
  minifyWhitespace: true,
  packages: 'external',
  metafile: true,
  logLevel: 'silent',
};

/** [mtimeMs, size] of every file a build read (relative to the repository). */
function inputsOf(metafile) {
  const inputs = {};
  for (const path of Object.keys(metafile.inputs)) {
    if (path.includes(':')) continue; // a virtual module (sdk-events:…)
    const abs = resolve(root, path);
    const st = statSync(abs);
    inputs[relative(root, abs)] = [st.mtimeMs, st.size];
  }
  return inputs;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'collectors'), { recursive: true });
// format and file name as src/lib/cli/bundle.ts reads them (FAST_FORMAT, FAST_RECORD)
const record = { format: 'metrics-fast/1', framework: undefined, collectors: {} };
try {
  const fw = await build({
    ...common,
    absWorkingDir: root,
    entryPoints: [join(lib, 'cli', 'bundle.js')],
    outfile: join(out, 'framework.cjs'),
    plugins: [metaUrl],
  });
  record.framework = { file: 'framework.cjs', inputs: inputsOf(fw.metafile) };
  // its loader, stamped with the bundle it caches, and the V8 code cache (scripts/quick-start.cjs)
  const st = statSync(join(out, 'framework.cjs'));
  const loader = readFileSync(join(root, 'scripts', 'quick-start.cjs'), 'utf8');
  const stamped = loader.replace('const FRAMEWORK_STAMP = [0, 0];', `const FRAMEWORK_STAMP = [${st.mtimeMs}, ${st.size}];`);
  if (stamped === loader) throw new Error('scripts/quick-start.cjs has no FRAMEWORK_STAMP line to fill in');
  writeFileSync(join(out, 'start.cjs'), stamped);
} catch (error) {
  process.stderr.write(`bundle: no quick start (every command starts from ES modules): ${error.message}\n`);
  process.exit(0);
}

const names = existsSync(collectorsDir)
  ? readdirSync(collectorsDir, { withFileTypes: true })
      .filter(
        (e) => e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('_') && existsSync(join(collectorsDir, e.name, 'index.js')),
      )
      .map((e) => e.name)
      .sort()
  : [];
for (const name of names) {
  const file = join('collectors', `${name}.cjs`);
  try {
    const c = await build({
      ...common,
      absWorkingDir: root,
      entryPoints: [join(collectorsDir, name, 'index.js')],
      outfile: join(out, file),
      plugins: [sdkFromFramework, metaUrl],
    });
    record.collectors[name] = { file, inputs: inputsOf(c.metafile) };
  } catch (error) {
    process.stderr.write(`bundle: ${name} not bundled (it starts from ES modules): ${error.message}\n`);
  }
}
writeFileSync(join(out, 'bundles.json'), `${JSON.stringify(record, null, 1)}\n`);
// the code cache, warmed by a dry-run of system (a start that needs bundles.json: made last;
// if there is no system, or it fails, by what ran)
const cache = join(out, 'framework.cjs.cache');
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' };
const args = [join(out, 'start.cjs'), '--make-cache', cache, 'run', 'system', '--dry-run'];
const made = spawnSync(process.execPath, args, { env, stdio: 'ignore', timeout: 60_000 });
if (!existsSync(cache)) process.stderr.write('bundle: no code cache (the framework is compiled at each start)\n');
else if (made.status !== 0) process.stderr.write('bundle: the dry-run of system failed: the code cache holds what ran before\n');
process.stdout.write(`bundle: the framework and ${Object.keys(record.collectors).length} collector(s) bundled for a quick start\n`);
