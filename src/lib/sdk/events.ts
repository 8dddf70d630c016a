/**
 * The collector SDK's event API: define typed metric events, register them (so that
 * `metrics event` knows them), and issue them with `this.issue(event)` from a Metric. A separate
 * entry from index.ts because it loads zod (see index.ts); a collector imports it only when it
 * defines or handles events.
 *
 *     import { z } from 'zod';
 *     import { defineEvent, registerEvent } from '../../lib/sdk/events.js';
 *
 *     export class RunnerInstalled extends defineEvent({ flavor: z.string(), duration: z.number().nonnegative() }) {
 *       static override readonly description = 'a runner was installed';
 *     }
 *     registerEvent(RunnerInstalled);
 */

/** The event base class, its alias, and the class factory: see {@link defineEvent}. */
export {
  Event,
  MetricEvent,
  defineEvent,
  type DefinedEventClass,
  type EventClass,
  type EventInput,
  type EventShape,
} from '../events/event.js';

/** The errors: invalid event data, and an event that could not reach a sink. */
export { EventValidationError, IssueMetricEventError } from '../events/event.js';

/** One problem of invalid event data (`EventValidationError.issues`). */
export type { EventIssue } from '../events/issues.js';

/** Makes an event class known by its event name (to `metrics event` and `parseEvent`). */
export { registerEvent } from '../events/registry.js';
