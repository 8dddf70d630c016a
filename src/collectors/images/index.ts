/** The `images` collector: size and age of the daily images on cdimage.ubuntu.com. */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { ImagesMetric } = await import('./images.js');
  return new ImagesMetric(options).run();
}
