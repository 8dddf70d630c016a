/** The `versions` collector: the statistics of the desktop team's versions script. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '1h';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { VersionsMetric } = await import('./versions.js');
  return new VersionsMetric(options).run();
}
