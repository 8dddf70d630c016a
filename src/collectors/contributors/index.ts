/** The `contributors` collector: member and participant counts of Launchpad teams. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '1d';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { ContributorsMetric } = await import('./contributors.js');
  return new ContributorsMetric(options).run();
}
