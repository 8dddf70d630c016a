/** The `rls_bugs` collector: release-tracking bug tasks per team and series. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '1h';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { RlsBugsMetric } = await import('./rls_bugs.js');
  return new RlsBugsMetric(options).run();
}
