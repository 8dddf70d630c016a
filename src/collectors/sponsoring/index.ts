/** The `sponsoring` collector: size and age of the sponsoring queue. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { SponsoringMetric } = await import('./sponsoring.js');
  return new SponsoringMetric(options).run();
}
