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
 * without loading yargs (measured by `npm run bench`: yargs costs more than the rest of a dry-run
 * together). Everything else, including `--help`, any argument this fast path does not know, and
 * an environment the settings refuse, is parsed by the yargs CLI in yargs.ts.
 */
import { redactProcessOutput } from '../platform/redact.js';
import { COLLECTOR_NAME, loadSettings, type Settings } from '../platform/settings.js';
import type { RunOptions } from '../run/runner.js';
import { provideSettings } from './context.js';

/** The options of a plain `run` command line, or undefined when yargs must parse it. */
export function parseSimpleRun(argv: string[]): Omit<RunOptions, 'settings' | 'log'> | undefined {
  if (argv[0] !== 'run') return undefined;
  const opts: Omit<RunOptions, 'settings' | 'log'> = { names: [], dryRun: false, verbose: false, format: 'text' };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-n' || a === '--dry-run') opts.dryRun = true;
    else if (a === '-v' || a === '--verbose') opts.verbose = true;
    else if (a === '-nv' || a === '-vn') opts.dryRun = opts.verbose = true;
    else if (a === '--format' || a.startsWith('--format=')) {
      const v = a === '--format' ? argv[++i] : a.slice('--format='.length);
      if (v !== 'text' && v !== 'lp') return undefined;
      opts.format = v;
    } else if (a === '--timeout' || a.startsWith('--timeout=')) {
      // a plain decimal is taken here and its range checked by the runner (exit 2 beyond it, as
      // through yargs); anything else is left to yargs and its message
      const v = a === '--timeout' ? argv[++i] : a.slice('--timeout='.length);
      if (v === undefined || !/^[0-9]+(\.[0-9]+)?$/.test(v)) return undefined;
      opts.timeoutSec = Number(v);
    } else if (COLLECTOR_NAME.test(a)) opts.names.push(a);
    else return undefined;
  }
  return opts;
}

/**
 * Reads the environment (the only place besides platform/settings.ts that names process.env) and
 * provides the settings to the commands. An environment the settings refuse is not thrown here:
 * the command that asks for them reports it (exit 2), and the fast path is not taken.
 */
function readEnvironment(): Settings | undefined {
  try {
    const settings = loadSettings(process.env);
    provideSettings(settings);
    return settings;
  } catch (error) {
    provideSettings(() => {
      throw error;
    });
    return undefined;
  }
}

export async function main(argv: string[], scriptName?: string): Promise<void> {
  redactProcessOutput();
  const settings = readEnvironment();
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
  const cli = await import('./yargs.js');
  await cli.main(argv, scriptName);
}

/** `bin/<collector> [options]`: `metrics run <collector>` for one collector, named by the script. */
export async function collectorMain(name: string, argv: string[]): Promise<void> {
  redactProcessOutput();
  const settings = readEnvironment();
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
  const cli = await import('./yargs.js');
  await cli.collectorMain(name, argv);
}

/** Reports an error that ended the fast path: report.ts is loaded only then. */
async function report(error: unknown, settings: Settings): Promise<void> {
  const { reportError } = await import('./report.js');
  reportError(error, settings.debug);
}
