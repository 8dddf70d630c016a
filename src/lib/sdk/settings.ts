/**
 * A collector's own variables (`this.env`), read by the framework's rules (platform/
 * setting-rules.ts: the same plain decimals, ranges, booleans and sizes, and the same messages,
 * as the framework's own variables). A bad value fails the collector, not the run.
 */
import { CollectorError } from '../platform/errors.js';
import type { SettingRule } from '../platform/setting-rules.js';

/**
 * The variable `name` of `env` by `rule`, or `fallback` when it is unset or empty. A value
 * `rule` refuses throws a CollectorError naming the variable and the allowed values:
 *
 *     const limit = readSetting(this.env, 'WEATHER_MAX_STATIONS', integerRule({ min: 1, max: 1000 }), 100);
 */
export function readSetting<T>(env: Readonly<Record<string, string | undefined>>, name: string, rule: SettingRule<T>, fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const checked = rule.check(name, raw);
  if (!checked.ok) throw new CollectorError(checked.problem);
  return checked.value;
}
