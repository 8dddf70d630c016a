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
  const root = installation();
  main = require('node:url').pathToFileURL(`${root}/dist/src/lib/cli/main.js`).href;
  // only a run or a list may be quick (src/lib/cli/plain.ts): nothing else loads the bundle
  if (argv[0] === 'run' || argv[0] === 'list') {
    try {
      quick = require(`${root}/dist/fast/start.cjs`).start(argv);
    } catch (error) {
      if (error.code !== 'MODULE_NOT_FOUND') process.stderr.write(`warning: no quick start (${error.message}); run: npm run build\n`);
    }
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

/**
 * The installation to run: this file's, or, when the bin/metrics that was started is a link to
 * this file from another copy of this package (a copied checkout), that copy's. Nothing else is
 * taken: not the folder above a link elsewhere (npm's node_modules/.bin, /usr/local/bin).
 */
function installation() {
  const { basename, dirname, join } = require('node:path');
  const own = join(__dirname, '..');
  const started = join(dirname(process.argv[1]), '..');
  if (started === own || basename(dirname(process.argv[1])) !== 'bin') return own;
  try {
    const { readFileSync } = require('node:fs');
    const name = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
    return name(started) === name(own) ? started : own;
  } catch {
    return own;
  }
}
