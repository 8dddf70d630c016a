/**
 * Which collectors get units. A generator runs without the service's EnvironmentFile, so
 * METRICS_DISABLE is also read from that file.
 */
import { readFileSync } from 'node:fs';
import type { DiscoveredCollector } from '../run/discovery.js';
import { DEFAULTS } from './options.js';

/**
 * The collectors that get units: `opts.collectors` when given, else the enabled ones discovered in
 * `opts.collectorsDir` (or the default directory).
 */
export async function discoverForUnits(opts: { collectors?: DiscoveredCollector[]; collectorsDir?: string; environmentFile?: string }): Promise<DiscoveredCollector[]> {
  if (opts.collectors) return opts.collectors;
  const { discoverCollectors, enabledOnly } = await import('../run/discovery.js');
  // systemd runs a generator without the service's EnvironmentFile: take METRICS_DISABLE from it
  const env = { ...process.env };
  if (env.METRICS_DISABLE === undefined) {
    const fromFile = envFileValue(opts.environmentFile === undefined ? DEFAULTS.environmentFile : opts.environmentFile, 'METRICS_DISABLE');
    if (fromFile !== undefined) env.METRICS_DISABLE = fromFile;
  }
  return enabledOnly(await discoverCollectors({ ...(opts.collectorsDir ? { dir: opts.collectorsDir } : {}), env }));
}

/** One `NAME=value` of an environment file (systemd's simple form; quotes removed), if present and readable. */
function envFileValue(path: string | undefined, name: string): string | undefined {
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && m[1] === name) return m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return undefined;
}
