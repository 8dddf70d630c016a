/**
 * cli/: the command line: this entry point (bin/metrics and bin/<collector> import it), the yargs
 * CLI (yargs.ts), one module per command (commands/), the settings the entry point hands to the
 * commands (context.ts), and the error report every command shares (report.ts). It may import
 * every other part of src/lib; nothing imports it. Commands load what they need when they run
 * (dynamic imports), so that a plain `metrics run <collector>` starts fast.
 *
 * The entry point of `bin/metrics` and `bin/<collector>` (when the quick start of cli/bundle.ts
 * does not take the command), and the edge where the environment is read:
 * `loadSettings(process.env)` (platform/settings.ts), once; every command receives the settings
 * (context.ts). A plain `run` or `list` goes straight to its command without yargs (plain.ts).
 * Everything else, including `--help`, any argument the plain commands do not know, and an
 * environment the settings refuse, is parsed by the yargs CLI in yargs.ts.
 */
import { redactProcessOutput } from '../platform/redact.js';
import { loadSettings, type Settings } from '../platform/settings.js';
import { plainCommand, runPlain } from './plain.js';

/**
 * Reads the environment: the only place besides platform/settings.ts that names process.env. An
 * environment the settings refuse is not thrown here: the command that asks for the settings
 * reports it (exit 2), and the fast path is not taken.
 */
export function readEnvironment(): { settings: Settings } | { error: unknown } {
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
  const plain = 'settings' in env && env.settings.fastPath ? plainCommand(argv) : undefined;
  if (plain && 'settings' in env) return runPlain(plain, env.settings);
  await (await viaYargs(env)).main(argv, scriptName);
}

/** `bin/<collector> [options]`: `metrics run <collector>` for one collector, named by the script. */
export async function collectorMain(name: string, argv: string[]): Promise<void> {
  redactProcessOutput();
  const env = readEnvironment();
  const plain = 'settings' in env && env.settings.fastPath ? plainCommand(argv, name) : undefined;
  if (plain && 'settings' in env) return runPlain(plain, env.settings);
  await (await viaYargs(env)).collectorMain(name, argv);
}
