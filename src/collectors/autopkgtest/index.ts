/** The `autopkgtest` collector: autopkgtest queue sizes and running tests, production and staging. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { AutopkgtestMetric } = await import('./autopkgtest.js');
  return new AutopkgtestMetric(options).run();
}
