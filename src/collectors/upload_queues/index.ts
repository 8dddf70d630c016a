/** The `upload_queues` collector: sizes and ages of the Ubuntu upload queues (Launchpad). */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { UploadQueuesMetric } = await import('./upload_queues.js');
  return new UploadQueuesMetric(options).run();
}
