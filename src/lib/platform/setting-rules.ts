/**
 * The rules by which a setting's text becomes a value: a plain decimal number or whole number in
 * a range, a duration in seconds, a boolean, a size in bytes. The settings loader (settings.ts)
 * reads every framework variable with them, and the SDK re-exports them so that collectors check
 * their own variables the same way and with the same messages.
 *
 * One error format for every setting: `<what was given> <what is wrong>: it must be <the allowed
 * values>`, where what was given is `NAME="value"` for a variable and `--option "value"` (or
 * `--option value` for a number yargs parsed) for an option. A secret's value is never shown: the
 * loader reads secrets with their own messages (readSecret).
 */

/** The value, or why the text is not allowed (a message naming the setting and the allowed values). */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** How one setting is written and which values it allows. */
export interface SettingRule<T> {
  /** the allowed values in words, for messages: "a plain decimal whole number from 1 to 65535" */
  readonly description: string;
  /** the same, short, for the README's table: "whole number, 1 to 65535" */
  readonly summary: string;
  /** `raw` as a value, or a problem naming `name` (a variable, or an option starting with `--`) */
  check(name: string, raw: string): Checked<T>;
}

/**
 * The longest duration, in seconds, that Node.js can wait for with one timer (2^31-1 ms, about
 * 24.8 days): a longer one fires after 1 ms. Every duration setting is bounded by it.
 */
export const MAX_TIMER_SECONDS = 2_147_483;

/** `NAME="raw"` for a variable, `--option "raw"` for an option. */
export function shownSetting(name: string, raw: string): string {
  return name.startsWith('-') ? `${name} ${JSON.stringify(raw)}` : `${name}=${JSON.stringify(raw)}`;
}

export interface NumberRule {
  min: number;
  max: number;
  /** whole numbers only */
  integer?: boolean;
  /** `min` itself is not allowed (e.g. a time limit greater than 0) */
  minExclusive?: boolean;
  /** what the number counts, for messages (e.g. `seconds`) */
  unit?: string;
  /** at most this many digits after the decimal point (default: any) */
  fractionDigits?: number;
}

function formatBound(n: number): string {
  return n === MAX_TIMER_SECONDS ? `${n} (about 24.8 days, the longest timer Node.js can set)` : String(n);
}

/** The allowed values in words, e.g. "a plain decimal number of seconds greater than 0 and at most 3600". */
export function describeRule(rule: NumberRule): string {
  const what = `${rule.integer ? 'a plain decimal whole number' : 'a plain decimal number'}${rule.unit ? ` of ${rule.unit}` : ''}`;
  const low = rule.minExclusive ? `greater than ${rule.min}` : `from ${rule.min}`;
  return `${what} ${low}${rule.minExclusive ? ' and at most' : ' to'} ${formatBound(rule.max)}`;
}

/** 1000000 → "1 000 000": round large numbers grouped, as the README writes them. */
function grouped(n: number): string {
  return n >= 1_000_000 && n % 1000 === 0 ? String(n).replace(/\B(?=(\d{3})+$)/g, ' ') : String(n);
}

function summarize(rule: NumberRule): string {
  const what = rule.unit ?? (rule.integer ? 'whole number' : 'number');
  const range = rule.minExclusive
    ? `greater than ${grouped(rule.min)}, at most ${grouped(rule.max)}`
    : `${grouped(rule.min)} to ${grouped(rule.max)}`;
  return `${what}, ${range}`;
}

function plainPattern(rule: Pick<NumberRule, 'integer' | 'fractionDigits'>): RegExp {
  if (rule.integer) return /^[0-9]+$/;
  return rule.fractionDigits === undefined ? /^[0-9]+(\.[0-9]+)?$/ : new RegExp(`^[0-9]+(\\.[0-9]{1,${rule.fractionDigits}})?$`);
}

/** Whether `raw` is written as `rule` wants it (digits, and a fraction when not an integer): no sign, exponent, hex or spaces. */
export function isPlainNumber(raw: string, rule: Pick<NumberRule, 'integer' | 'fractionDigits'> = {}): boolean {
  return plainPattern(rule).test(raw);
}

/** Why `value` is outside `rule` (a message naming `label`), or undefined when it is inside. */
export function rangeProblem(label: string, value: number, rule: NumberRule): string | undefined {
  const ok =
    Number.isFinite(value) &&
    (rule.minExclusive ? value > rule.min : value >= rule.min) &&
    value <= rule.max &&
    (!rule.integer || Number.isInteger(value));
  return ok ? undefined : `${label} is out of range: it must be ${describeRule(rule)}`;
}

/** A number setting (see {@link integerRule}, {@link decimalRule}, {@link durationRule}). */
export interface NumberSettingRule extends SettingRule<number> {
  readonly rule: NumberRule;
  /** a number given already parsed (a yargs option): undefined when inside the range, else the problem naming `label` */
  rangeProblem(label: string, value: number): string | undefined;
}

function numberRule(rule: NumberRule): NumberSettingRule {
  const description = describeRule(rule);
  return {
    rule,
    description,
    summary: summarize(rule),
    check(name, raw) {
      const shown = shownSetting(name, raw);
      if (!isPlainNumber(raw, rule)) {
        const form = rule.integer
          ? 'digits 0-9 only'
          : `digits 0-9, with an optional fraction such as ` +
            `2.5${rule.fractionDigits !== undefined ? ` (at most ${rule.fractionDigits} digits after the point)` : ''}`;
        return {
          ok: false,
          problem: `${shown} is not written as a plain decimal (${form}; no sign, exponent, hex or spaces): it must be ${description}`,
        };
      }
      const value = Number(raw);
      const problem = rangeProblem(shown, value, rule);
      return problem ? { ok: false, problem } : { ok: true, value };
    },
    rangeProblem: (label, value) => rangeProblem(label, value, rule),
  };
}

/** A plain decimal whole number from `min` to `max` (digits only). */
export function integerRule(range: { min: number; max: number; unit?: string }): NumberSettingRule {
  return numberRule({ ...range, integer: true });
}

/** A plain decimal number (digits, an optional fraction) from `min` (or greater than it) to `max`. */
export function decimalRule(range: {
  min: number;
  max: number;
  minExclusive?: boolean;
  unit?: string;
  fractionDigits?: number;
}): NumberSettingRule {
  return numberRule(range);
}

/**
 * A duration: a plain decimal number of seconds (`2.5`), from `min` (default 0; or greater than
 * it) to `max` (default, and at most, {@link MAX_TIMER_SECONDS}: the longest one timer can wait).
 */
export function durationRule(
  range: { min?: number; max?: number; minExclusive?: boolean; fractionDigits?: number } = {},
): NumberSettingRule {
  const max = Math.min(range.max ?? MAX_TIMER_SECONDS, MAX_TIMER_SECONDS);
  return numberRule({ min: range.min ?? 0, max, minExclusive: range.minExclusive, fractionDigits: range.fractionDigits, unit: 'seconds' });
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/** A boolean: true, yes, on, 1 or false, no, off, 0 (any case). */
export function booleanRule(): SettingRule<boolean> {
  const description = 'true or false (also yes/no, on/off, 1/0)';
  return {
    description,
    summary: '`true` or `false`',
    check(name, raw) {
      if (TRUE.test(raw)) return { ok: true, value: true };
      if (FALSE.test(raw)) return { ok: true, value: false };
      return { ok: false, problem: `${shownSetting(name, raw)} is not a boolean: it must be ${description}` };
    },
  };
}

const SIZE_UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 } as const;

/** bytes → the largest exact suffix form: 268435456 → "256M". */
export function formatSize(bytes: number): string {
  for (const [suffix, mult] of [
    ['T', SIZE_UNITS.t],
    ['G', SIZE_UNITS.g],
    ['M', SIZE_UNITS.m],
    ['K', SIZE_UNITS.k],
  ] as const) {
    if (bytes >= mult && bytes % mult === 0) return `${bytes / mult}${suffix}`;
  }
  return bytes === 1 ? '1 byte' : `${bytes} bytes`;
}

/**
 * A size in bytes: digits (an optional fraction) and a suffix K, M, G or T (powers of 1024, an
 * optional `B` or `iB` after it: `256M`, `500MB`, `64KiB`, `1.5G`), or plain bytes; from `min` to
 * `max` bytes. No sign or spaces.
 */
export function sizeRule(range: { min: number; max: number }): SettingRule<number> {
  const description =
    `a size from ${formatSize(range.min)} to ${formatSize(range.max)}: ` + `digits and a suffix K, M, G or T (powers of 1024), e.g. 256M`;
  return {
    description,
    summary: `size, ${formatSize(range.min)} to ${formatSize(range.max)}`,
    check(name, raw) {
      const shown = shownSetting(name, raw);
      const m = /^([0-9]+(?:\.[0-9]+)?)([kmgt]?)(?:i?b)?$/i.exec(raw);
      if (!m) return { ok: false, problem: `${shown} is not a size (no sign or spaces): it must be ${description}` };
      const value = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase() as keyof typeof SIZE_UNITS]);
      if (!(value >= range.min && value <= range.max)) return { ok: false, problem: `${shown} is out of range: it must be ${description}` };
      return { ok: true, value };
    },
  };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
/** 2262-04-11T23:47:16Z: the last whole second that nanoseconds since the epoch fit in 64 bits */
const LAST_NS_SECOND = 9_223_372_036;

/**
 * An RFC 3339 date and time with its time zone (`2026-01-01T00:00:00Z`,
 * `2026-01-01T01:00:00.5+01:00`), as nanoseconds since the epoch (a decimal string, exact to the
 * nanosecond); undefined when it is not one, or outside 1970 to 2262 (what line protocol can hold).
 */
export function parseRfc3339(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMin = 0;
  if (!m[8]) {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const seconds = ms / 1000 - offsetMin * 60;
  if (seconds < 0 || seconds > LAST_NS_SECOND) return undefined;
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0'));
  return String(BigInt(seconds) * 1_000_000_000n + fraction);
}

/** A point in time written as RFC 3339 (METRICS_NOW, `--now`), read as nanoseconds since the epoch. */
export const RFC3339_RULE: SettingRule<string> = {
  description: 'an RFC 3339 date and time with its time zone, from 1970 to 2262, such as 2026-01-01T00:00:00Z',
  summary: 'an RFC 3339 date and time, e.g. `2026-01-01T00:00:00Z`',
  check(name, raw) {
    const ns = parseRfc3339(raw.trim());
    if (ns !== undefined) return { ok: true, value: ns };
    return { ok: false, problem: `${shownSetting(name, raw)} is not a date and time: it must be ${this.description}` };
  },
};
