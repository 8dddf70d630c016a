/** The `system` collector: load, memory, disk usage and uptime of this host. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '1m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { SystemMetric } = await import('./system.js');
  return new SystemMetric(options).run();
}
