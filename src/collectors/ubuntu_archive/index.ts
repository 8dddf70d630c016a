/** The `ubuntu_archive` collector: the Ubuntu archive team's reports, bugs and reviews. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '1h';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { UbuntuArchiveMetric } = await import('./ubuntu_archive.js');
  return new UbuntuArchiveMetric(options).run();
}
