/**
 * The commands the entry point runs without yargs (main.ts; and cli/bundle.ts, the quick start):
 * under systemd every run is a fresh process, so the common case — `metrics run <names> [-n] [-v]
 * [--format F] [--timeout S]`, and `bin/<collector>` with those options — goes straight to the
 * runner, and so does a plain `metrics list [--json]` (`npm run bench` measures it: yargs costs
 * more than the rest of a dry-run together). Anything else is left to yargs (yargs.ts).
 */
import { parseArgs } from 'node:util';
import { COLLECTOR_NAME, isPlainNumber, type Settings } from '../platform/settings.js';
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
