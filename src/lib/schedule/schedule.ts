/**
 * schedule/: when collectors run: systemd time spans (timespan.ts), cron expressions (cron.ts),
 * the schedules built from them (this module) and the foreground daemon (daemon.ts). It imports
 * platform/ only: a collector reaches it as `{ name, runInterval }`, not as a discovered module.
 *
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
 * Light at import time: cron-parser is loaded (synchronously, on first use, by cron.ts) only when
 * a cron expression is parsed or evaluated.
 */
import { CronExpressionError, looksLikeCron, nextCronTimes, parseCronExpression } from './cron.js';
import { USEC_INFINITY, formatTimespan, parseTimespan } from './timespan.js';

/** What a schedule needs to know of a collector (a discovered collector has it). */
export interface ScheduledCollector {
  name: string;
  /** RUN_INTERVAL as written */
  runInterval: string;
  /** set when the collector is broken: it cannot be scheduled */
  error?: string;
}

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
  'or a five-field cron expression (minute hour day-of-month month day-of-week, evaluated in UTC) such as ' +
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

/**
 * Parse a RUN_INTERVAL. Throws `ScheduleError` (naming the collector and the value, and saying what
 * is valid) when it is neither a valid positive time span nor a supported cron expression.
 */
export function parseSchedule(raw: string, collector?: string): Schedule {
  if (typeof raw !== 'string') throw new ScheduleError(String(raw), 'it must be a string', collector);
  if (raw.trim() === '') throw new ScheduleError(raw, 'it is empty', collector);
  if (looksLikeCron(raw)) {
    try {
      return { kind: 'cron', raw, ...parseCronExpression(raw) };
    } catch (error) {
      const cronError = error instanceof CronExpressionError ? new ScheduleError(raw, error.reason, collector) : error;
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
  return nextCronTimes(schedule.expression, n, from);
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
export function describeNextRun(collector: ScheduledCollector, now: Date, lastRunEnd?: Date): NextRunInfo {
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
