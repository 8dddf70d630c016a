/** The `cnf` collector: age of the command-not-found metadata of each active Ubuntu series. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { CommandNotFoundMetric } = await import('./cnf.js');
  return new CommandNotFoundMetric(options).run();
}
