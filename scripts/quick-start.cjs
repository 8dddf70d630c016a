'use strict';
// dist/fast/start.cjs (copied there by scripts/bundle.mjs, which fills in FRAMEWORK_STAMP): loads
// the framework bundle, framework.cjs, as Node's require would, but with the V8 code cache the
// build made of it (framework.cjs.cache), which spares each start most of the bundle's compiling.
// The cache is used only while framework.cjs is the file it was made from (modification time and
// size, stamped here by the build); V8 refuses one made by another Node version itself, and then
// the bundle is simply compiled.
const { readFileSync, statSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

/** [mtimeMs, size] of framework.cjs when its cache was made */
const FRAMEWORK_STAMP = [0, 0];

const file = join(__dirname, 'framework.cjs');

/** Compiles (with `cachedData` when given) and runs framework.cjs as a CommonJS module. */
function run(cachedData) {
  // (the bundle has no import(): scripts/bundle.mjs makes each a require, which vm code can call)
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  // in the cache first: the collectors' bundles require this one (their SDK)
  require.cache[file] = mod;
  try {
    script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, __dirname);
  } catch (error) {
    delete require.cache[file];
    throw error;
  }
  mod.loaded = true;
  return { script, mod };
}

function load() {
  const loaded = require.cache[file];
  if (loaded) return loaded.exports;
  const st = statSync(file);
  let cachedData;
  // to the millisecond, as src/lib/cli/bundle.ts compares its inputs (a copy may round the nanoseconds)
  if (Math.abs(st.mtimeMs - FRAMEWORK_STAMP[0]) < 1 && st.size === FRAMEWORK_STAMP[1]) {
    try {
      cachedData = readFileSync(`${file}.cache`);
    } catch {
      cachedData = undefined;
    }
  }
  return run(cachedData).mod.exports;
}

/** The framework bundle's start (src/lib/cli/bundle.ts): true when it took the command. */
exports.start = (argv, collector) => load().start(argv, collector);

/**
 * For the build: `node start.cjs --make-cache FILE [ARGS…]` writes the code cache of the framework
 * into FILE, made when the process is done: after running its module code and, when ARGS are
 * given, the command they are (the build runs a dry-run of system, with its output thrown away),
 * so that the functions of a run are in the cache too, not compiled at each start.
 */
if (require.main === module && process.argv[2] === '--make-cache') {
  const { script, mod } = run(undefined);
  const args = process.argv.slice(4);
  if (args.length > 0) mod.exports.start(args);
  process.once('beforeExit', () => require('node:fs').writeFileSync(process.argv[3], script.createCachedData()));
}
