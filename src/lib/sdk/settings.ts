/**
 * A collector's own variables (`this.env`), read by the framework's rules (platform/
 * setting-rules.ts: the same plain decimals, ranges, booleans and sizes, and the same messages,
 * as the framework's own variables). A bad value fails the collector, not the run.
 */
import { CollectorError, ConfigError } from '../platform/errors.js';
import { registerSecret } from '../platform/redact.js';
import type { SettingRule } from '../platform/setting-rules.js';
import { readSecret as readFrameworkSecret } from '../platform/settings.js';

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

/** Options of {@link readSecret}. */
export interface SecretOptions {
  /**
   * Accept the secret from the variable `name` itself (default true, as the framework's own
   * `INFLUX_TOKEN`). `false`: only from `<name>_FILE` or the credential `name`; a value in the
   * environment is refused (and still never printed): a unit's environment is readable with
   * `systemctl show`, its files and credentials are not.
   */
  environment?: boolean;
}

/**
 * A collector's secret, read as the framework reads its own (platform/settings.ts): from the file
 * named by `<name>_FILE`, from systemd's `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`), or
 * (unless `opts.environment` is false) from the variable `name`; `undefined` when none is set.
 * Trailing whitespace of a file is removed; the value is registered with the redactor, so it
 * appears in no log line, error or point. A problem (an unreadable or empty file, a value with a
 * line break, both forms set) throws a CollectorError naming the variable and the file, never the
 * value:
 *
 *     const token = readSecret(this.env, 'WEATHER_TOKEN', { environment: false });
 */
export function readSecret(env: Readonly<Record<string, string | undefined>>, name: string, opts: SecretOptions = {}): string | undefined {
  if (opts.environment === false && env[name] !== undefined && env[name] !== '') {
    registerSecret(env[name]);
    throw new CollectorError(
      `${name} is set in the environment, where it is not read (a unit's environment is shown by systemctl show): ` +
        `unset it and put the secret in a file named by ${name}_FILE, or in a systemd credential ${name} (LoadCredential=)`,
    );
  }
  try {
    return readFrameworkSecret(env, name);
  } catch (error) {
    if (error instanceof ConfigError) throw new CollectorError(error.message);
    throw error;
  }
}
