/**
 * The commands the entry point runs without yargs (main.ts; and cli/bundle.ts, the quick start):
 * under systemd every run is a fresh process, so the common case — `metrics run <names> [-n] [-v]
 * [--format F] [--timeout S]`, and `bin/<collector>` with those options — goes straight to the
 * runner, and so does a plain `metrics list [--json]` (`npm run bench` measures it: yargs costs
 * more than the rest of a dry-run together). Anything else is left to yargs (yargs.ts).
 */
import { COLLECTOR_NAME, isPlainNumber, type Settings } from '../platform/settings.js';
import type { RunOptions } from '../run/runner.js';

/** The options of a plain `run` command line, or undefined when yargs must parse it. */
export function parseSimpleRun(argv: string[]): Omit<RunOptions, 'settings' | 'log'> | undefined {
  if (argv[0] !== 'run') return undefined;
  const parsed = parseRunArgs(argv.slice(1));
  if (!parsed) return undefined; // an unknown option, a missing value: yargs says what is wrong
  const { names, format, timeout } = parsed;
  if (!names.every((n) => COLLECTOR_NAME.test(n))) return undefined;
  if (format !== undefined && format !== 'text' && format !== 'lp') return undefined;
  // a plain decimal is taken here and its range checked by the runner (exit 2 beyond it, as
  // through yargs); anything else is left to yargs and its message
  if (timeout !== undefined && !isPlainNumber(timeout)) return undefined;
  return {
    names,
    dryRun: parsed.dryRun,
    verbose: parsed.verbose,
    format: format ?? 'text',
    ...(timeout !== undefined ? { timeoutSec: Number(timeout) } : {}),
  };
}

interface RunArgs {
  names: string[];
  dryRun: boolean;
  verbose: boolean;
  format?: string;
  timeout?: string;
}

/**
 * The `run` arguments: names, `-n`/`--dry-run`, `-v`/`--verbose` (also grouped: `-nv`), `--format F`
 * and `--timeout S` (also `--format=F`); undefined for anything else, a value that looks like an
 * option or `--` included: yargs parses those and says what is wrong. Written out rather than
 * node:util's parseArgs, which costs a quick start about 2 ms (`npm run bench`, start-up rows).
 */
function parseRunArgs(args: string[]): RunArgs | undefined {
  const out: RunArgs = { names: [], dryRun: false, verbose: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--dry-run') out.dryRun = true;
    else if (arg === '--verbose') out.verbose = true;
    else if (/^-[nv]+$/.test(arg)) {
      if (arg.includes('n')) out.dryRun = true;
      if (arg.includes('v')) out.verbose = true;
    } else if (arg === '--format' || arg === '--timeout') {
      const value = args[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
      out[arg === '--format' ? 'format' : 'timeout'] = value;
    } else if (arg.startsWith('--format=')) out.format = arg.slice('--format='.length);
    else if (arg.startsWith('--timeout=')) out.timeout = arg.slice('--timeout='.length);
    else if (arg.startsWith('-')) return undefined;
    else out.names.push(arg);
  }
  return out;
}

/** A command the entry point runs without yargs: a plain `run` (or `bin/<collector>`) or a plain `list [--json]`. */
export type PlainCommand = { kind: 'run'; options: Omit<RunOptions, 'settings' | 'log'> } | { kind: 'list'; json: boolean };

/** `argv` as a {@link PlainCommand}, or undefined when yargs must parse it (`collector`: the argv of `bin/<collector>`). */
export function plainCommand(argv: string[], collector?: string): PlainCommand | undefined {
  if (collector !== undefined) {
    const simple = parseSimpleRun(['run', ...argv]);
    return simple && simple.names.length === 0 ? { kind: 'run', options: { ...simple, names: [collector] } } : undefined;
  }
  const simple = parseSimpleRun(argv);
  if (simple) return { kind: 'run', options: simple };
  // a plain `list` (what people and scripts run most after `run`)
  if (argv[0] === 'list' && (argv.length === 1 || (argv.length === 2 && argv[1] === '--json')))
    return { kind: 'list', json: argv.length === 2 };
  return undefined;
}

/** Runs a plain command; its error is reported as yargs' commands report theirs. */
export async function runPlain(command: PlainCommand, settings: Settings): Promise<void> {
  try {
    if (command.kind === 'run') {
      const { runCollectors } = await import('../run/runner.js');
      process.exitCode = await runCollectors({ ...command.options, settings });
    } else {
      const { listCollectors } = await import('./commands/list.js');
      await listCollectors({ json: command.json }, settings);
    }
  } catch (error) {
    await report(error, settings);
  }
}

/** Reports an error that ended the fast path: report.ts is loaded only then. */
async function report(error: unknown, settings: Settings): Promise<void> {
  const { reportError } = await import('./report.js');
  reportError(error, settings.debug);
}
