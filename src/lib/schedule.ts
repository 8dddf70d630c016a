/**
 * Schedules: a collector's `RUN_INTERVAL`, either a systemd time span or a cron expression.
 *
 * Time span (`5m`, `90s`, `1h 30min`, `1h30m`, `1.5h`, `2d`, `1w`): parsed exactly as systemd's
 * `parse_sec()` does (systemd 252, `src/basic/time-util.c`), so that our verdict and our
 * normalized form agree with `systemd-analyze timespan` (the tests compare them). Units:
 * us/usec/µs/μs, ms/msec, s/sec/second/seconds, m/min/minute/minutes, h/hr/hour/hours,
 * d/day/days, w/week/weeks, M/month/months (30.44 d), y/year/years (365.25 d); a number without a
 * unit is seconds; parts add up (`1h30m`, `1h 30min`, `5s5` = 10 s); a fraction applies to its unit
 * (`1.5h` = 1h 30min), truncated to whole microseconds. Stricter than systemd: the span must be
 * greater than zero (`0` and `infinity` are refused: a timer needs a positive interval).
 * Semantics: the next run starts that long after the previous run of the collector ENDED
 * (systemd `OnUnitInactiveSec=`).
 *
 * Cron expression (`*\/15 * * * *`, `0 6 * * mon-fri`, `@daily`): five fields (minute, hour,
 * day of month, month, day of week) with numbers, names (jan-dec, sun-sat), `*`, ranges `a-b`,
 * lists `a,b`, steps `*\/n`, `a-b/n`, `a/n`; Sunday is 0 or 7; macros @hourly, @daily, @midnight,
 * @weekly, @monthly, @yearly, @annually. Evaluated in UTC by `cron-parser` (the reference
 * semantics: when both day of month and day of week are restricted, a day matching EITHER fires).
 * The systemd `OnCalendar=` lines are derived from cron-parser's own expansion of the fields, so
 * they fire at exactly the same instants (the tests compare 50 elapses per expression with
 * `systemd-analyze calendar`).
 *
 * Which one: a value starting with `@`, or made of exactly five whitespace-separated fields, or
 * containing `*`, `,` or `/`, is a cron expression; anything else is a time span. (A value such as
 * `1h 30min 10s 5ms 3us` has five fields but is not a valid cron expression; it is read as a time
 * span.)
 *
 * This module is light at import time: cron-parser is loaded (synchronously, on first use) only
 * when a cron expression is parsed or evaluated.
 */
import { createRequire } from 'node:module';
import type { DiscoveredCollector } from './discovery.js';

type CronParserModule = typeof import('cron-parser');

let cronParserModule: CronParserModule | undefined;
function cronParser(): CronParserModule {
  if (!cronParserModule) cronParserModule = createRequire(import.meta.url)('cron-parser') as CronParserModule;
  return cronParserModule;
}

// ---------------------------------------------------------------------------------------------
// Time spans (systemd parse_sec / format_timespan)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

export interface TimespanSchedule {
  kind: 'timespan';
  /** RUN_INTERVAL as written */
  raw: string;
  /** the span in microseconds (> 0) */
  usec: bigint;
  /** the span in milliseconds (may have a fraction) */
  ms: number;
  /** systemd's normalized form, e.g. `1h 30min` (what `systemd-analyze timespan` prints as "Human") */
  normalized: string;
}

export interface CronSchedule {
  kind: 'cron';
  raw: string;
  /** the five-field expression (a macro is expanded: `@daily` → `0 0 * * *`) */
  expression: string;
  /** equivalent systemd `OnCalendar=` values (UTC); a timer fires at the union of them */
  calendars: string[];
}

export type Schedule = TimespanSchedule | CronSchedule;

export const SCHEDULE_HELP =
  "Use a systemd time span such as '5m', '90s', '1h 30min', '1.5h', '2d' " +
  '(units: us, ms, s, min/m, h, d, w, M (month), y; counted from the end of the previous run), ' +
  "or a five-field cron expression (minute hour day-of-month month day-of-week, evaluated in UTC) such as " +
  "'*/15 * * * *', '0 6 * * mon-fri', or a macro @hourly, @daily, @weekly, @monthly, @yearly.";

/** An invalid RUN_INTERVAL: says which collector, the value, why, and what is valid. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
  constructor(
    readonly value: string,
    readonly reason: string,
    readonly collector?: string,
  ) {
    super(
      `${collector ? `collector "${collector}": ` : ''}RUN_INTERVAL ${JSON.stringify(value)} is not valid: ${reason}. ${SCHEDULE_HELP}`,
    );
  }
}

const MACROS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Is this value meant as a cron expression (rather than a time span)? */
function looksLikeCron(value: string): boolean {
  const v = value.trim();
  return v.startsWith('@') || /[*,/]/.test(v) || v.split(/\s+/).length === 5;
}

/** Our grammar for one cron field (stricter than cron-parser: no L, W, #, ?, H). */
function checkCronField(field: string, index: number): string | undefined {
  const what = FIELD_NAMES[index]!;
  const names = index === 3 ? MONTH_NAMES : index === 4 ? DAY_NAMES : undefined;
  const value = names ? `(?:\\d+|${names.join('|')})` : '\\d+';
  const item = new RegExp(`^(?:\\*|${value}(?:-${value})?)(?:/\\d+)?$`, 'i');
  for (const part of field.split(',')) {
    if (part === '') return `the ${what} field ${JSON.stringify(field)} has an empty list item`;
    if (!item.test(part)) {
      const hint = /[LW#?H]/.test(part)
        ? ' (L, W, #, ? and H are not supported: they have no exact systemd equivalent)'
        : names
          ? ` (use numbers, ranges a-b, steps */n or a-b/n, lists a,b, or names such as ${names.slice(0, 3).join(', ')})`
          : ' (use numbers, *, ranges a-b, steps */n or a-b/n, and lists a,b)';
      return `the ${what} field ${JSON.stringify(field)} is not valid${hint}`;
    }
  }
  return undefined;
}

function parseCron(raw: string, collector?: string): CronSchedule {
  const trimmed = raw.trim();
  let expression: string;
  if (trimmed.startsWith('@')) {
    const macro = MACROS[trimmed.toLowerCase()];
    if (!macro) throw new ScheduleError(raw, `unknown macro ${trimmed} (known: ${Object.keys(MACROS).join(', ')})`, collector);
    expression = macro;
  } else {
    const fields = trimmed.split(/\s+/);
    if (fields.length !== 5) {
      throw new ScheduleError(raw, `a cron expression has exactly five fields (minute hour day-of-month month day-of-week), this has ${fields.length}`, collector);
    }
    for (let i = 0; i < 5; i++) {
      const problem = checkCronField(fields[i]!, i);
      if (problem) throw new ScheduleError(raw, problem, collector);
    }
    expression = fields.join(' ');
  }
  const { CronExpressionParser } = cronParser();
  let parsed: ReturnType<typeof CronExpressionParser.parse>;
  try {
    parsed = CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: new Date(Date.UTC(2000, 0, 1)) });
    parsed.next(); // throws when it never fires (e.g. 30 February)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const reason = /loop limit|invalid explicit day of month/i.test(message)
      ? 'it never fires (no such day in that month, e.g. 30 February)'
      : /duplicate values/i.test(message)
        ? `a field lists the same value twice (${message}); list each value once (Sunday is both 0 and 7)`
        : message.replace(/\.$/, '');
    throw new ScheduleError(raw, reason, collector);
  }
  return { kind: 'cron', raw, expression, calendars: calendarsFromFields(parsed.fields) };
}

/**
 * Parse a RUN_INTERVAL. Throws `ScheduleError` (naming the collector and the value, and saying what
 * is valid) when it is neither a valid positive time span nor a supported cron expression.
 */
export function parseSchedule(raw: string, collector?: string): Schedule {
  if (typeof raw !== 'string') throw new ScheduleError(String(raw), 'it must be a string', collector);
  if (raw.trim() === '') throw new ScheduleError(raw, 'it is empty', collector);
  if (looksLikeCron(raw)) {
    try {
      return parseCron(raw, collector);
    } catch (cronError) {
      // five fields that are not cron, but a valid time span ("1h 30min 10s 5ms 3us")
      if (!/[*,/@]/.test(raw)) {
        const span = parseTimespan(raw);
        if (span.ok && span.usec > 0n && span.usec !== USEC_INFINITY) return timespanSchedule(raw, span.usec);
      }
      throw cronError;
    }
  }
  const span = parseTimespan(raw);
  if (!span.ok) {
    throw new ScheduleError(raw, `it is not a systemd time span (${span.reason})`, collector);
  }
  if (span.usec === 0n) throw new ScheduleError(raw, 'a time span must be greater than zero', collector);
  if (span.usec === USEC_INFINITY) throw new ScheduleError(raw, '"infinity" would never run', collector);
  return timespanSchedule(raw, span.usec);
}

function timespanSchedule(raw: string, usec: bigint): TimespanSchedule {
  return { kind: 'timespan', raw, usec, ms: Number(usec) / 1000, normalized: formatTimespan(usec) };
}

/** A short human description: `every 5min (after the previous run ends)` or `cron '0 * * * *' (UTC)`. */
export function describeSchedule(schedule: Schedule): string {
  return schedule.kind === 'timespan'
    ? `every ${schedule.normalized} (after the previous run ends)`
    : `cron '${schedule.expression}' (UTC)`;
}

// ---------------------------------------------------------------------------------------------
// cron → OnCalendar
// ---------------------------------------------------------------------------------------------

interface FieldLike {
  values: ReadonlyArray<number | string>;
  isWildcard: boolean;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Compact systemd calendar component for a set of values within [min, max]. */
function calendarComponent(values: number[], min: number, max: number): string {
  const v = [...new Set(values)].sort((a, b) => a - b);
  if (v.length === max - min + 1) return '*';
  if (v.length >= 2) {
    const step = v[1]! - v[0]!;
    const progression = v.every((x, i) => x === v[0]! + i * step);
    // Always with an explicit end: systemd 252 gets the open form "a/step" wrong when the
    // repetition runs past the end of the field (for "00/5" hours it skips midnight: from
    // 2023-02-28 23:50 the next elapse of "*-*-* 00/5:00:00" is 05:00, not 00:00).
    if (progression && step > 1 && v.length >= 3) return `${pad2(v[0]!)}..${pad2(v[v.length - 1]!)}/${step}`;
  }
  const parts: string[] = [];
  for (let i = 0; i < v.length; ) {
    let j = i;
    while (j + 1 < v.length && v[j + 1] === v[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${pad2(v[i]!)}..${pad2(v[j]!)}`);
    else for (let k = i; k <= j; k++) parts.push(pad2(v[k]!));
    i = j + 1;
  }
  return parts.join(',');
}

/** systemd weekday list (Mon first, as systemd orders them; ranges never wrap). */
function weekdayComponent(days: number[]): string {
  const NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const idx = [...new Set(days.map((d) => (d % 7 + 6) % 7))].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${NAMES[idx[i]!]}..${NAMES[idx[j]!]}`);
    else for (let k = i; k <= j; k++) parts.push(NAMES[idx[k]!]!);
    i = j + 1;
  }
  return parts.join(',');
}

function numbers(field: FieldLike): number[] {
  return field.values.filter((x): x is number => typeof x === 'number');
}

/**
 * OnCalendar= values equivalent to cron-parser's expansion of the fields, in UTC. When both day of
 * month and day of week are restricted, cron fires on a day matching either: two lines, whose
 * union systemd fires at.
 */
function calendarsFromFields(fields: {
  minute: FieldLike;
  hour: FieldLike;
  dayOfMonth: FieldLike;
  month: FieldLike;
  dayOfWeek: FieldLike;
}): string[] {
  const minute = calendarComponent(numbers(fields.minute), 0, 59);
  const hour = calendarComponent(numbers(fields.hour), 0, 23);
  const month = calendarComponent(numbers(fields.month), 1, 12);
  const dom = calendarComponent(numbers(fields.dayOfMonth), 1, 31);
  const dowDays = [...new Set(numbers(fields.dayOfWeek).map((d) => d % 7))];
  const weekdays = dowDays.length === 7 ? '' : weekdayComponent(dowDays);
  const time = `${hour}:${minute}:00 UTC`;
  const line = (wd: string, day: string) => `${wd ? wd + ' ' : ''}*-${month}-${day} ${time}`;
  const domRestricted = !fields.dayOfMonth.isWildcard;
  const dowRestricted = !fields.dayOfWeek.isWildcard;
  if (domRestricted && dowRestricted) {
    const byWeekday = line(weekdays, '*');
    const byDay = line('', dom);
    return byWeekday === byDay ? [byDay] : [byWeekday, byDay];
  }
  if (dowRestricted) return [line(weekdays, '*')];
  return [line('', domRestricted ? dom : '*')];
}

// ---------------------------------------------------------------------------------------------
// Next runs
// ---------------------------------------------------------------------------------------------

/**
 * The next `count` run times after `from`.
 * - time span: the first is `lastRunEnd + span` (or `from` when that is already past, or when no
 *   run is known: a collector without a recorded run is due now), then every span after it
 *   (assuming runs take no time: each real run shifts the following ones by its duration);
 * - cron: the next `count` times strictly after `from`, in UTC.
 */
export function nextRuns(schedule: Schedule, count: number, from: Date, lastRunEnd?: Date): Date[] {
  const n = Math.max(0, Math.floor(count));
  if (schedule.kind === 'timespan') {
    let first = from.getTime();
    if (lastRunEnd && !Number.isNaN(lastRunEnd.getTime())) first = Math.max(first, lastRunEnd.getTime() + schedule.ms);
    return Array.from({ length: n }, (_, i) => new Date(first + i * schedule.ms));
  }
  const { CronExpressionParser } = cronParser();
  const expr = CronExpressionParser.parse(schedule.expression, { tz: 'UTC', currentDate: from });
  const out: Date[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(expr.next().toDate());
    } catch {
      break;
    }
  }
  return out;
}

/** The next cron time strictly after `from` (UTC), or undefined when it never fires again. */
export function nextCronRun(schedule: CronSchedule, from: Date): Date | undefined {
  return nextRuns(schedule, 1, from)[0];
}

export interface NextRunInfo {
  /** the schedule, described (`every 5min (after the previous run ends)`), or the raw value when invalid */
  schedule: string;
  /** the next run; absent when unknown (a time span with no recorded run) or invalid */
  next?: Date;
  /** why the collector cannot be scheduled (broken folder or invalid RUN_INTERVAL) */
  error?: string;
  /** where `next` comes from: `cron`, `last run`, or `no run recorded` */
  basis?: 'cron' | 'last run' | 'no run recorded';
}

/**
 * For `metrics list`: a collector's schedule and its next run. For a time span the next run is
 * counted from the end of the last completed run (pass `lastRunEnd`, e.g. from `readLastRun()`);
 * without one it is unknown (under systemd the timer's first run is at boot/installation; the
 * daemon runs it at start). Never throws.
 */
export function describeNextRun(collector: DiscoveredCollector, now: Date, lastRunEnd?: Date): NextRunInfo {
  if (collector.error) return { schedule: collector.runInterval, error: collector.error };
  let schedule: Schedule;
  try {
    schedule = parseSchedule(collector.runInterval, collector.name);
  } catch (error) {
    return { schedule: collector.runInterval, error: error instanceof Error ? error.message : String(error) };
  }
  const text = describeSchedule(schedule);
  try {
    if (schedule.kind === 'cron') return { schedule: text, next: nextCronRun(schedule, now), basis: 'cron' };
    if (!lastRunEnd) return { schedule: text, basis: 'no run recorded' };
    return { schedule: text, next: nextRuns(schedule, 1, now, lastRunEnd)[0], basis: 'last run' };
  } catch (error) {
    return { schedule: text, error: error instanceof Error ? error.message : String(error) };
  }
}
