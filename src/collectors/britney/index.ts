/** The `britney` collector: proposed-migration run age and duration, update_excuses statistics. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { BritneyMetric } = await import('./britney.js');
  return new BritneyMetric(options).run();
}
