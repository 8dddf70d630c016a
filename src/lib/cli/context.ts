/**
 * The settings of this process, for the command handlers. The entry point (main.ts) reads the
 * environment once and provides them here; a handler asks with `settings()`. They are loaded
 * when the first handler asks, so that `--help` and usage errors work whatever the environment
 * holds: an invalid variable stops the command that needs the settings (exit 2), not the help.
 */
import type { Settings } from '../platform/settings.js';

let load: (() => Settings) | undefined;
let loaded: Settings | undefined;

/** Called by the entry point: how to get the settings (a loaded object, or a loader that may throw). */
export function provideSettings(source: Settings | (() => Settings)): void {
  loaded = typeof source === 'function' ? undefined : source;
  load = typeof source === 'function' ? source : () => source;
}

/** The settings; throws the ConfigError of an invalid environment. */
export function settings(): Settings {
  if (loaded) return loaded;
  if (!load) throw new Error('the settings were not provided: bin/ scripts start through cli/main.ts');
  loaded = load();
  return loaded;
}

/** The settings if they were loaded (for the error report: METRICS_DEBUG), else undefined. */
export function loadedSettings(): Settings | undefined {
  return loaded;
}
