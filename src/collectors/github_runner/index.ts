/**
 * The `github_runner` collector: extracts the metrics files that self-hosted runners wrote into a
 * shared storage directory, issues them as runner events (runner_installed, runner_start,
 * runner_stop), and cleans up; corrupt folders go to a quarantine. See README.md.
 */
import type { MetricOptions, RunReport } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '5m';

export async function runMetric(options: MetricOptions): Promise<RunReport> {
  const { GithubRunnerMetric } = await import('./github_runner.js');
  return new GithubRunnerMetric(options).run();
}
