/**
 * sdk/: the one face of the framework that collectors import. A collector (src/collectors/**)
 * imports from src/lib only this module and, when it defines or issues metric events,
 * `sdk/events.js`; never another module of src/lib (test/lib/architecture.test.ts checks it).
 * The SDK may import every layer below it; nothing in src/lib imports it.
 *
 * The event API is a second entry (events.ts) rather than part of this one because it needs zod,
 * and loading zod costs about 45 ms: a collector without events (and its `--dry-run`) must not
 * pay it.
 *
 *     import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';
 *
 *     export class WeatherMetric extends Metric {
 *       async collect(): Promise<PointObject[]> {
 *         const stations = await this.fetchJson<Station[]>(this.env.WEATHER_URL ?? DEFAULT_URL);
 *         return stations.map((s) => ({
 *           measurement: 'weather',
 *           tags: { station: s.id },
 *           fields: { temp: s.temp, readings: int(s.readings) },
 *         }));
 *       }
 *     }
 */

/** The base class of every collector: see {@link Metric}. */
export { Metric, type Collected } from './metric.js';

/** The contract with the runner: what `runMetric(options)` receives and returns. */
export type { MetricOptions, RunReport } from '../run/contract.js';

/** Errors: throw `CollectorError` when the source fails; `PointError` is what an invalid point throws. */
export { CollectorError, PointError, errorMessage } from '../platform/errors.js';

/** Points: the seed-style object, integer fields, and the accepted field and time types. */
export { Integer, int, type CollectedPoint, type FieldValue, type PointObject, type TimeValue } from '../points/point.js';

/** The options of `this.fetchJson()` / `fetchText()` / `fetchLines()` / `fetchResponse()`, and what `fetchResponse()` gives. */
export type { AcceptingFetchOptions, FetchedResponse, FetchOptions } from './fetch.js';

/**
 * Retry with exponential backoff and jitter, honouring a server's Retry-After: the loop the
 * framework's own writers use. The caller says which failures a retry can fix (`classify`) and
 * logs (`onRetry`).
 */
export { retry, type RetryOptions } from '../platform/retry.js';

/** The type of `this.log`, for helpers that log on a collector's behalf. */
export type { Logger } from '../platform/log.js';

/**
 * A collector's own variables (`this.env`), checked by the rules the framework reads its own
 * with: {@link readSetting} with a rule (a whole number or a decimal in a range, a duration in
 * seconds, a boolean, a size), or a rule's `check(name, raw)` for a message of your own; and
 * its secrets with {@link readSecret} (`<NAME>_FILE` or a systemd credential, never printed).
 */
export { readSecret, readSetting, type SecretOptions } from './settings.js';
export {
  MAX_TIMER_SECONDS,
  booleanRule,
  decimalRule,
  durationRule,
  integerRule,
  sizeRule,
  type Checked,
  type NumberSettingRule,
  type SettingRule,
} from '../platform/setting-rules.js';
