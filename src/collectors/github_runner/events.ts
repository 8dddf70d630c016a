/**
 * The runner event catalog: the metric events of self-hosted GitHub Actions runners and of the
 * manager that reconciles them (the reference design's `RunnerInstalled`, `RunnerStart`,
 * `RunnerStop`, `Reconciliation`). Durations are seconds (non-negative floats); counts are
 * non-negative integers.
 *
 * Importing this module registers the events (for `metrics event` and `parseEvent`). As points
 * (see src/lib/events/to-point.ts): measurement = event name; the string fields (flavor, workflow, repo,
 * github_event, status, job_conclusion) are tags; the numbers are fields, the counts and
 * `status_info_code` integers.
 */
import { z } from 'zod';
import { defineEvent, registerEvent } from '../../lib/sdk/events.js';

const flavor = () => z.string().describe('runner flavor (the application / label set the runner belongs to)');
const seconds = (what: string) => z.number().nonnegative().describe(`${what}, seconds`);
const count = (what: string) => z.int().nonnegative().describe(what);
const job = {
  flavor: flavor(),
  workflow: z.string().describe('workflow name'),
  repo: z.string().describe('repository, owner/name'),
  github_event: z.string().describe('the GitHub event that triggered the workflow (push, pull_request…)'),
};

/** A runner was installed (its machine set up and registered). */
export class RunnerInstalled extends defineEvent({
  flavor: flavor(),
  duration: seconds('time taken to install the runner'),
}) {
  static override readonly description = 'a runner was installed';
}

/** A runner started a job. */
export class RunnerStart extends defineEvent({
  ...job,
  idle: seconds('time the runner was idle before the job started'),
  queue_duration: seconds('time the job waited in the queue').optional(),
}) {
  static override readonly description = 'a runner started a job';
}

/** The exit code of the runner's job (`RunnerStop.status_info`). */
export const CodeInformation = z.strictObject({ code: z.int().describe('exit code') });

/** A runner stopped (its job finished, or it crashed). */
export class RunnerStop extends defineEvent({
  ...job,
  status: z.string().describe('how the runner stopped (e.g. normal, pre-job check failed, crashed)'),
  status_info: CodeInformation.optional().describe('details of the status: the exit code'),
  job_duration: seconds('duration of the job'),
  job_conclusion: z.string().optional().describe('the job conclusion reported by GitHub (success, failure, cancelled…)'),
}) {
  static override readonly description = 'a runner stopped';
}

/** A reconciliation (the manager bringing the runners to the expected number) finished. */
export class Reconciliation extends defineEvent({
  flavor: flavor(),
  crashed_runners: count('runners found crashed'),
  idle_runners: count('runners idle'),
  active_runners: count('runners running a job'),
  expected_runners: count('runners expected'),
  duration: seconds('duration of the reconciliation'),
}) {
  static override readonly description = 'a reconciliation of the runners finished';
}

registerEvent(RunnerInstalled);
registerEvent(RunnerStart);
registerEvent(RunnerStop);
registerEvent(Reconciliation);
