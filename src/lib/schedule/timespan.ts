/**
 * systemd time spans (`5m`, `90s`, `1h 30min`, `1h30m`, `1.5h`, `2d`, `1w`), parsed exactly as
 * systemd's `parse_sec()` does (systemd 252, `src/basic/time-util.c`) and formatted as its
 * `format_timespan()`, so that our verdict and our normalized form agree with
 * `systemd-analyze timespan` (the tests compare them). See schedule.ts for the units and rules.
 */

export const USEC_PER_MSEC = 1000n;
export const USEC_PER_SEC = 1_000_000n;
export const USEC_PER_MINUTE = 60n * USEC_PER_SEC;
export const USEC_PER_HOUR = 60n * USEC_PER_MINUTE;
export const USEC_PER_DAY = 24n * USEC_PER_HOUR;
export const USEC_PER_WEEK = 7n * USEC_PER_DAY;
export const USEC_PER_MONTH = 2_629_800n * USEC_PER_SEC;
export const USEC_PER_YEAR = 31_557_600n * USEC_PER_SEC;
/** systemd's USEC_INFINITY (UINT64_MAX) */
export const USEC_INFINITY = (1n << 64n) - 1n;
const LLONG_MAX = (1n << 63n) - 1n;

/** Suffixes in systemd's order: the first prefix that matches wins ("ms" before "m", "min" before "m"). */
const PARSE_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['seconds', USEC_PER_SEC],
  ['second', USEC_PER_SEC],
  ['sec', USEC_PER_SEC],
  ['s', USEC_PER_SEC],
  ['minutes', USEC_PER_MINUTE],
  ['minute', USEC_PER_MINUTE],
  ['min', USEC_PER_MINUTE],
  ['months', USEC_PER_MONTH],
  ['month', USEC_PER_MONTH],
  ['M', USEC_PER_MONTH],
  ['msec', USEC_PER_MSEC],
  ['ms', USEC_PER_MSEC],
  ['m', USEC_PER_MINUTE],
  ['hours', USEC_PER_HOUR],
  ['hour', USEC_PER_HOUR],
  ['hr', USEC_PER_HOUR],
  ['h', USEC_PER_HOUR],
  ['days', USEC_PER_DAY],
  ['day', USEC_PER_DAY],
  ['d', USEC_PER_DAY],
  ['weeks', USEC_PER_WEEK],
  ['week', USEC_PER_WEEK],
  ['w', USEC_PER_WEEK],
  ['years', USEC_PER_YEAR],
  ['year', USEC_PER_YEAR],
  ['y', USEC_PER_YEAR],
  ['usec', 1n],
  ['us', 1n],
  ['\u03bcs', 1n], // GREEK SMALL LETTER MU
  ['\u00b5s', 1n], // MICRO SIGN
];

const FORMAT_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['y', USEC_PER_YEAR],
  ['month', USEC_PER_MONTH],
  ['w', USEC_PER_WEEK],
  ['d', USEC_PER_DAY],
  ['h', USEC_PER_HOUR],
  ['min', USEC_PER_MINUTE],
  ['s', USEC_PER_SEC],
  ['ms', USEC_PER_MSEC],
  ['us', 1n],
];

/** systemd's WHITESPACE (skipped between parts) */
const WHITESPACE = ' \t\n\r';
/** C isspace() in the C locale (what strtoll skips) */
const ISSPACE = ' \t\n\v\f\r';
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

export type TimespanParse =
  | { ok: true; usec: bigint }
  /** `EINVAL`: not a time span; `ERANGE`: negative or too large (systemd's two errors) */
  | { ok: false; code: 'EINVAL' | 'ERANGE'; reason: string };

/** C strtoll(p, &e, 10) on a JS string: the value, where it ended (start when no digits), overflow. */
function strtoll(s: string, start: number): { value: bigint; end: number; overflow: boolean } {
  let i = start;
  while (i < s.length && ISSPACE.includes(s[i]!)) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  const digitsStart = i;
  while (isDigit(s[i])) i++;
  if (i === digitsStart) return { value: 0n, end: start, overflow: false };
  let value = BigInt(s.slice(digitsStart, i));
  if (negative) value = -value;
  const overflow = value > LLONG_MAX || value < -LLONG_MAX - 1n;
  return { value, end: i, overflow };
}

/**
 * Parse a time span exactly as systemd 252's `parse_sec()`: returns the microseconds, or why not.
 * Accepts what systemd accepts, including `0` and `infinity` (USEC_INFINITY); `parseSchedule`
 * adds our own rule that a schedule must be positive and finite.
 */
export function parseTimespan(text: string): TimespanParse {
  const einval = (reason: string): TimespanParse => ({ ok: false, code: 'EINVAL', reason });
  const erange = (reason: string): TimespanParse => ({ ok: false, code: 'ERANGE', reason });
  if (text.includes('\0')) return einval('it contains a NUL character');
  const t = text;
  const skipWs = (i: number) => {
    while (i < t.length && WHITESPACE.includes(t[i]!)) i++;
    return i;
  };
  let p = skipWs(0);
  if (t.startsWith('infinity', p)) {
    if (skipWs(p + 8) !== t.length) return einval('unexpected text after "infinity"');
    return { ok: true, usec: USEC_INFINITY };
  }
  let usec = 0n;
  let something = false;
  for (;;) {
    p = skipWs(p);
    if (p >= t.length) {
      if (!something) return einval('it is empty');
      break;
    }
    if (t[p] === '-') return erange('a time span cannot be negative');
    const { value: l, end: e, overflow } = strtoll(t, p);
    if (overflow) return erange('the number is too large');
    if (l < 0n) return erange('a time span cannot be negative');
    if (t[e] === '.') {
      p = e + 1;
      while (isDigit(t[p])) p++;
    } else if (e === p) {
      return einval(`expected a number at ${JSON.stringify(t.slice(p))}`);
    } else {
      p = e;
    }
    const q = skipWs(p);
    let multiplier = USEC_PER_SEC;
    let s = q;
    for (const [suffix, usecPer] of PARSE_UNITS) {
      if (t.startsWith(suffix, q)) {
        multiplier = usecPer;
        s = q + suffix.length;
        break;
      }
    }
    if (s === p && p < t.length) return einval(`unknown unit at ${JSON.stringify(t.slice(p))}`);
    p = s;
    if (l >= USEC_INFINITY / multiplier) return erange('the time span is too large');
    let k = l * multiplier;
    if (k >= USEC_INFINITY - usec) return erange('the time span is too large');
    usec += k;
    something = true;
    if (t[e] === '.') {
      let m = multiplier / 10n;
      let b = e + 1;
      for (; isDigit(t[b]); b++, m /= 10n) {
        k = BigInt(t.charCodeAt(b) - 48) * m;
        if (k >= USEC_INFINITY - usec) return erange('the time span is too large');
        usec += k;
      }
      if (b === e + 1) return einval('a "." must be followed by digits');
    }
  }
  return { ok: true, usec };
}

/** systemd's `format_timespan(t, accuracy = 1us)`, as printed by `systemd-analyze timespan` ("Human:"). */
export function formatTimespan(usec: bigint): string {
  if (usec === USEC_INFINITY) return 'infinity';
  if (usec <= 0n) return '0';
  const parts: string[] = [];
  let t = usec;
  for (const [suffix, unit] of FORMAT_UNITS) {
    if (t <= 0n) break;
    if (t < unit) continue;
    const a = t / unit;
    const b = t % unit;
    if (t < USEC_PER_MINUTE && b > 0n) {
      let digits = 0;
      for (let cc = unit; cc > 1n; cc /= 10n) digits++;
      if (digits > 0) {
        parts.push(`${a}.${b.toString().padStart(digits, '0')}${suffix}`);
        t = 0n;
        continue;
      }
    }
    parts.push(`${a}${suffix}`);
    t = b;
  }
  return parts.join(' ');
}
