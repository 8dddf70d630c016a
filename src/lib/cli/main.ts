/**
 * cli/: the command line: this entry point (bin/metrics and bin/<collector> import it), the yargs
 * CLI (yargs.ts), one module per command (commands/), the settings the entry point hands to the
 * commands (context.ts), and the error report every command shares (report.ts). It may import
 * every other part of src/lib; nothing imports it. Commands load what they need when they run
 * (dynamic imports), so that a plain `metrics run <collector>` starts fast.
 *
 * The entry point of `bin/metrics` and `bin/<collector>`, and the edge where the environment is
 * read: `loadSettings(process.env)` (platform/settings.ts), once; every command receives the
 * settings (context.ts). Under systemd every run is a fresh process, so the common case —
 * `metrics run <names> [-n] [-v] [--format F] [--timeout S]` — goes straight to the runner
 * without loading yargs, and so does a plain `metrics list [--json]` (`npm run bench` measures it:
 * yargs costs more than the rest of a dry-run together). Everything else, including `--help`, any
 * argument this fast path does not know, and an environment the settings refuse, is parsed by the
 * yargs CLI in yargs.ts.
 */
import { parseArgs } from 'node:util';
import { redactProcessOutput } from '../platform/redact.js';
import { COLLECTOR_NAME, isPlainNumber, loadSettings, type Settings } from '../platform/settings.js';
import type { RunOptions } from '../run/runner.js';

/** The options of a plain `run` command line (node:util parseArgs), or undefined when yargs must parse it. */
export function parseSimpleRun(argv: string[]): Omit<RunOptions, 'settings' | 'log'> | undefined {
  if (argv[0] !== 'run') return undefined;
  const parsed = parseRunArgs(argv.slice(1));
  if (!parsed) return undefined; // an unknown option, a missing value: yargs says what is wrong
  const { values, positionals, tokens } = parsed;
  if (tokens.some((t) => t.kind === 'option-terminator')) return undefined;
  if (!positionals.every((n) => COLLECTOR_NAME.test(n))) return undefined;
  if (values.format !== undefined && values.format !== 'text' && values.format !== 'lp') return undefined;
  // a plain decimal is taken here and its range checked by the runner (exit 2 beyond it, as
  // through yargs); anything else is left to yargs and its message
  if (values.timeout !== undefined && !isPlainNumber(values.timeout)) return undefined;
  return {
    names: positionals,
    dryRun: values['dry-run'] ?? false,
    verbose: values.verbose ?? false,
    format: values.format ?? 'text',
    ...(values.timeout !== undefined ? { timeoutSec: Number(values.timeout) } : {}),
  };
}

/** The `run` arguments parsed by node:util parseArgs; undefined when it refuses them. */
function parseRunArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        'dry-run': { type: 'boolean', short: 'n' },
        verbose: { type: 'boolean', short: 'v' },
        format: { type: 'string' },
        timeout: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch {
    return undefined;
  }
}

/**
 * Reads the environment: the only place besides platform/settings.ts that names process.env. An
 * environment the settings refuse is not thrown here: the command that asks for the settings
 * reports it (exit 2), and the fast path is not taken.
 */
function readEnvironment(): { settings: Settings } | { error: unknown } {
  try {
    return { settings: loadSettings(process.env) };
  } catch (error) {
    return { error };
  }
}

/** The yargs CLI, with the settings (or the error they gave) handed to its commands (context.ts). */
async function viaYargs(env: { settings: Settings } | { error: unknown }): Promise<typeof import('./yargs.js')> {
  const cli = await import('./yargs.js');
  const { provideSettings } = await import('./context.js'); // loaded with yargs.js: no second wait
  if ('settings' in env) provideSettings(env.settings);
  else
    provideSettings(() => {
      throw env.error;
    });
  return cli;
}

export async function main(argv: string[], scriptName?: string): Promise<void> {
  redactProcessOutput();
  const env = readEnvironment();
  const settings = 'settings' in env ? env.settings : undefined;
  const simple = settings?.fastPath ? parseSimpleRun(argv) : undefined;
  if (settings && simple) {
    try {
      const { runCollectors } = await import('../run/runner.js');
      process.exitCode = await runCollectors({ ...simple, settings });
    } catch (error) {
      await report(error, settings);
    }
    return;
  }
  if (settings?.fastPath && (argv.length === 1 || (argv.length === 2 && argv[1] === '--json')) && argv[0] === 'list') {
    // a plain `list` (what people and scripts run most after `run`) without yargs
    try {
      const { listCollectors } = await import('./commands/list.js');
      await listCollectors({ json: argv.length === 2 }, settings);
    } catch (error) {
      await report(error, settings);
    }
    return;
  }
  await (await viaYargs(env)).main(argv, scriptName);
}

/** `bin/<collector> [options]`: `metrics run <collector>` for one collector, named by the script. */
export async function collectorMain(name: string, argv: string[]): Promise<void> {
  redactProcessOutput();
  const env = readEnvironment();
  const settings = 'settings' in env ? env.settings : undefined;
  const simple = settings?.fastPath ? parseSimpleRun(['run', ...argv]) : undefined;
  if (settings && simple && simple.names.length === 0) {
    try {
      const { runCollectors } = await import('../run/runner.js');
      process.exitCode = await runCollectors({ ...simple, names: [name], settings });
    } catch (error) {
      await report(error, settings);
    }
    return;
  }
  await (await viaYargs(env)).collectorMain(name, argv);
}

/** Reports an error that ended the fast path: report.ts is loaded only then. */
async function report(error: unknown, settings: Settings): Promise<void> {
  const { reportError } = await import('./report.js');
  reportError(error, settings.debug);
}
