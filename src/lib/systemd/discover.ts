/**
 * Which collectors get units. A generator runs without the service's EnvironmentFile, so
 * METRICS_DISABLE, when the environment does not set it, is also read from that file.
 */
import type { DiscoveredCollector } from '../run/discovery.js';
import { disabledFromEnvironmentFile, type RunSettings } from '../platform/settings.js';
import { DEFAULTS } from './options.js';

/**
 * The collectors that get units: `opts.collectors` when given, else the enabled ones discovered in
 * `opts.collectorsDir` (or the run settings' directory). `warn` is told about names in the
 * environment file's METRICS_DISABLE that are not collector names (left out).
 */
export async function discoverForUnits(
  opts: { collectors?: DiscoveredCollector[]; collectorsDir?: string; environmentFile?: string; run?: RunSettings },
  warn?: (message: string) => void,
): Promise<DiscoveredCollector[]> {
  if (opts.collectors) return opts.collectors;
  if (!opts.run) throw new Error('no collectors given, and no run settings to discover them with');
  const { discoverCollectors, enabledOnly } = await import('../run/discovery.js');
  let run = opts.run;
  // systemd runs a generator without the service's EnvironmentFile: take METRICS_DISABLE from it
  if (run.disabled === undefined) {
    const fromFile = disabledFromEnvironmentFile(opts.environmentFile === undefined ? DEFAULTS.environmentFile : opts.environmentFile);
    if (fromFile) {
      for (const p of fromFile.problems) warn?.(p);
      run = { ...run, disabled: fromFile.names };
    }
  }
  return enabledOnly(await discoverCollectors(run, { ...(opts.collectorsDir ? { dir: opts.collectorsDir } : {}), cheap: true }));
}
