/**
 * `metrics test [names..]`: runs the named collectors' tests (every collector's when none is
 * named), after a build when a source is newer than its compiled code. The work is done by
 * scripts/test.mjs, which `npm test` (the whole suite) and `npm test -- <name>` run too.
 */
import type { CommandModule } from 'yargs';

interface Args {
  names: string[];
}

export const command: CommandModule<object, Args> = {
  command: 'test [names..]',
  describe: "run collectors' tests (all collectors' when none is named), building first when a source changed",
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, default: [], describe: 'collectors whose tests to run' })
      .example('$0 test weather', 'build if needed, then run test/collectors/weather/**/*.test.ts')
      .epilog(
        'The same as "npm test -- <names>", which always builds first. Exit code: that of node --test (2: an unknown name).',
      ) as never,
  handler: async (args) => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const { repoRoot } = await import('../../platform/paths.js');
    const script = join(repoRoot, 'scripts', 'test.mjs');
    const child = spawn(process.execPath, [script, '--build-if-needed', '--collectors', ...(args.names ?? [])], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
    process.exitCode = await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        process.stderr.write(`error: cannot run ${script}: ${error.message}\n`);
        resolve(2);
      });
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 2)));
    });
  },
};
