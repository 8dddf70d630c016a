#!/usr/bin/env node
// The metrics command line (see README.md). bin/metrics is a link to this file, so that Node starts
// it as CommonJS (.cjs): a plain `run` or `list` then starts from the quick-start bundle in
// dist/fast/ (src/lib/cli/bundle.ts) without Node's ES module loader, which would read even this
// file through its thread pool. Everything else, and any start without a current bundle, runs the
// ES modules of dist/src/ (npm run build). Also valid as an ES module (a copy of this file as
// bin/metrics, where a container build copies the link's target): then it starts the ES modules.
const argv = process.argv.slice(2);
let main = '../dist/src/lib/cli/main.js';
let quick = false;
if (typeof require === 'function') {
  const { existsSync } = require('node:fs');
  const { dirname, join } = require('node:path');
  // the installation of the bin/metrics that was started (a copied bin/ may link to another
  // checkout's file), else this file's (npm links bin/metrics from elsewhere, e.g. /usr/local/bin)
  const started = join(dirname(process.argv[1]), '..');
  const root = existsSync(join(started, 'dist', 'src', 'lib', 'cli', 'main.js')) ? started : join(__dirname, '..');
  main = require('node:url').pathToFileURL(join(root, 'dist', 'src', 'lib', 'cli', 'main.js')).href;
  try {
    quick = require(join(root, 'dist', 'fast', 'start.cjs')).start(argv);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') process.stderr.write(`warning: no quick start (${error.message}); run: npm run build\n`);
  }
}
if (!quick)
  import(main).then(
    (cli) => cli.main(argv),
    (error) => {
      process.stderr.write(`error: cannot load the compiled code (${error.message}); run: npm ci (or npm run build)\n`);
      process.exitCode = 2;
    },
  );
