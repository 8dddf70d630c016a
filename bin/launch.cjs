'use strict';
// Starts bin/metrics and bin/<collector>: from the CommonJS bundle of the common commands when the
// build made one and it is current (src/lib/cli/bundle.ts: a plain `run` or `list` starts there in
// about half the time), else from the ES modules of dist/ (src/lib/cli/main.ts). The bin/ scripts
// are CommonJS (bin/package.json) so that the quick start loads no ES module at all.

/** Runs `argv`: of `bin/metrics`, or of `bin/<collector>` when `collector` names it. */
exports.launch = (argv, collector) => {
  if (quickStart(argv, collector)) return;
  import('../dist/src/lib/cli/main.js').then(
    (cli) => (collector === undefined ? cli.main(argv) : cli.collectorMain(collector, argv)),
    (error) => {
      process.stderr.write(`error: cannot load the compiled code (${error.message}); run: npm ci (or npm run build)\n`);
      process.exitCode = 2;
    },
  );
};

function quickStart(argv, collector) {
  let bundle;
  try {
    bundle = require('../dist/fast/framework.cjs');
  } catch (error) {
    // not built (an older build, or a failed bundle step): the ES modules start everything
    if (error.code !== 'MODULE_NOT_FOUND') process.stderr.write(`warning: the quick start failed to load (${error.message}); npm run build\n`);
    return false;
  }
  return bundle.start(argv, collector);
}
