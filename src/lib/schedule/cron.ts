/**
 * Cron expressions (`*\/15 * * * *`, `0 6 * * mon-fri`, `@daily`): our grammar (stricter than
 * cron-parser's), their evaluation in UTC by `cron-parser`, and their translation into systemd
 * `OnCalendar=` lines that fire at exactly the same instants (see schedule.ts for the rules).
 *
 * Light at import time: cron-parser is loaded (synchronously, on first use) only when a cron
 * expression is parsed or evaluated.
 */
import { createRequire } from 'node:module';

type CronParserModule = typeof import('cron-parser');

let cronParserModule: CronParserModule | undefined;
function cronParser(): CronParserModule {
  if (!cronParserModule) cronParserModule = createRequire(import.meta.url)('cron-parser') as CronParserModule;
  return cronParserModule;
}

/** A cron expression we do not accept; `reason` says why (parseSchedule makes it a ScheduleError). */
export class CronExpressionError extends Error {
  override name = 'CronExpressionError';
  constructor(readonly reason: string) {
    super(reason);
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
export function looksLikeCron(value: string): boolean {
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

/**
 * A cron expression (five fields or a macro) checked against our grammar and cron-parser:
 * the expression (a macro expanded) and its OnCalendar= lines. Throws CronExpressionError.
 */
export function parseCronExpression(raw: string): { expression: string; calendars: string[] } {
  const trimmed = raw.trim();
  let expression: string;
  if (trimmed.startsWith('@')) {
    const macro = MACROS[trimmed.toLowerCase()];
    if (!macro) throw new CronExpressionError(`unknown macro ${trimmed} (known: ${Object.keys(MACROS).join(', ')})`);
    expression = macro;
  } else {
    const fields = trimmed.split(/\s+/);
    if (fields.length !== 5) {
      throw new CronExpressionError(
        `a cron expression has exactly five fields (minute hour day-of-month month day-of-week), this has ${fields.length}`,
      );
    }
    for (let i = 0; i < 5; i++) {
      const problem = checkCronField(fields[i]!, i);
      if (problem) throw new CronExpressionError(problem);
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
    throw new CronExpressionError(reason);
  }
  return { expression, calendars: calendarsFromFields(parsed.fields) };
}

/** The next `count` times of a five-field expression strictly after `from`, in UTC (fewer when it stops firing). */
export function nextCronTimes(expression: string, count: number, from: Date): Date[] {
  const { CronExpressionParser } = cronParser();
  const expr = CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: from });
  const out: Date[] = [];
  for (let i = 0; i < count; i++) {
    try {
      out.push(expr.next().toDate());
    } catch {
      break;
    }
  }
  return out;
}

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
  const idx = [...new Set(days.map((d) => ((d % 7) + 6) % 7))].sort((a, b) => a - b);
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
