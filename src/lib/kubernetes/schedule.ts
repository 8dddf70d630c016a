/**
 * A collector's RUN_INTERVAL as the `schedule` of a Kubernetes CronJob (five-field cron, evaluated
 * in `timeZone: Etc/UTC`, parsed by Kubernetes with robfig/cron's standard parser).
 *
 * - A **cron expression** maps exactly: the same expression, with two rewrites in the day fields
 *   so that Kubernetes reads it as cron-parser (our reference) does: Sunday written as `7`
 *   becomes `0` (robfig/cron accepts 0-6 only), and `*\/1` in a day field is written as its
 *   range (robfig/cron takes `*\/1` for a plain `*`, which changes which days fire when both day
 *   fields are restricted; cron-parser does not).
 * - A **time span** ("this long after the previous run ended" under systemd) becomes the nearest
 *   *regular* cron schedule, one whose runs are all equally far apart:
 *   every 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes (`*\/m * * * *`), every 1, 2, 3, 4, 6, 8
 *   or 12 hours (`0 *\/h * * *`), daily (`0 0 * * *`), weekly (`0 0 * * 0`), and, for spans of
 *   about a month or a year, monthly (`0 0 1 * *`, 28 to 31 days apart) and yearly
 *   (`0 0 1 1 *`). "Nearest" is the smallest difference between the span and the schedule's
 *   period (a month counted as systemd does, 30.44 days; a year 365.25 days); when two are
 *   equally near, the more frequent wins (a run too many rather than a gap too long). The mapping
 *   is exact when the span equals a regular period (`5m` → `*\/5 * * * *`, `1h` → `0 * * * *`,
 *   `1d`, `1w`); otherwise it reports the largest gap between two runs against the span (the tests
 *   check these numbers against cron-parser over a year of run times).
 *   Cron cannot run more often than once a minute: a span below one minute maps to every minute.
 * - `spread`: time spans only (cron expressions name wall-clock times on purpose): move each
 *   collector's runs by a stable offset derived from its name (`3-59/5 * * * *` instead of
 *   `*\/5 * * * *`, `17 *\/2 * * *` instead of `0 *\/2 * * *`), so that many collectors do not all
 *   start at the same second. The gaps stay the same.
 */
import cronParser from 'cron-parser';
import { nextRuns, parseSchedule, type Schedule } from '../schedule/schedule.js';

const { CronExpressionParser } = cronParser;

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface KubernetesSchedule {
  /** the five-field expression for `spec.schedule` (with `timeZone: Etc/UTC`) */
  schedule: string;
  /** the schedule fires exactly as RUN_INTERVAL asks (always for cron; for a time span, when it equals a regular period) */
  exact: boolean;
  /** RUN_INTERVAL as asked, in words: `every 7min (a time span)`, `cron '0 6 * * mon-fri' (UTC)` */
  asked: string;
  /** the schedule in words: `every 5 minutes` */
  described: string;
  /** the time span asked for, in seconds (undefined for a cron expression) */
  spanSec?: number;
  /** the largest gap between two consecutive runs of `schedule`, in seconds */
  largestGapSec: number;
  /** the shortest gap between two consecutive runs of `schedule`, in seconds */
  shortestGapSec: number;
  /** for an inexact mapping: what it means, for the YAML comment and the warning */
  note?: string;
}

interface Candidate {
  /** nominal period, seconds (what "nearest" compares) */
  period: number;
  /** the runs are equally far apart, `period` each */
  regular: boolean;
  largestGap: number;
  shortestGap: number;
  described: string;
  schedule: (offset: number) => string;
}

const MINUTE_STEPS = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];
const HOUR_STEPS = [1, 2, 3, 4, 6, 8, 12];

/** The regular schedules a time span can map to, shortest first. `offset` spreads the runs (0: none). */
const CANDIDATES: readonly Candidate[] = [
  ...MINUTE_STEPS.map(
    (m): Candidate => ({
      period: m * MINUTE,
      regular: true,
      largestGap: m * MINUTE,
      shortestGap: m * MINUTE,
      described: m === 1 ? 'every minute' : `every ${m} minutes`,
      schedule: (o) => (m === 1 ? '* * * * *' : o % m === 0 ? `*/${m} * * * *` : `${o % m}-59/${m} * * * *`),
    }),
  ),
  ...HOUR_STEPS.map(
    (h): Candidate => ({
      period: h * HOUR,
      regular: true,
      largestGap: h * HOUR,
      shortestGap: h * HOUR,
      described: h === 1 ? 'every hour' : `every ${h} hours`,
      schedule: (o) => {
        const minute = o % 60;
        const hourOffset = Math.floor(o / 60) % h;
        return h === 1 ? `${minute} * * * *` : hourOffset === 0 ? `${minute} */${h} * * *` : `${minute} ${hourOffset}-23/${h} * * *`;
      },
    }),
  ),
  {
    period: DAY,
    regular: true,
    largestGap: DAY,
    shortestGap: DAY,
    described: 'daily',
    schedule: (o) => `${o % 60} ${Math.floor(o / 60) % 24} * * *`,
  },
  {
    period: 7 * DAY,
    regular: true,
    largestGap: 7 * DAY,
    shortestGap: 7 * DAY,
    described: 'weekly',
    schedule: (o) => `${o % 60} ${Math.floor(o / 60) % 24} * * ${Math.floor(o / 1440) % 7}`,
  },
  {
    period: 2_629_800,
    regular: false,
    largestGap: 31 * DAY,
    shortestGap: 28 * DAY,
    described: 'monthly (on the 1st)',
    schedule: (o) => `${o % 60} ${Math.floor(o / 60) % 24} 1 * *`,
  },
  {
    period: 31_557_600,
    regular: false,
    largestGap: 366 * DAY,
    shortestGap: 365 * DAY,
    described: 'yearly (on 1 January)',
    schedule: (o) => `${o % 60} ${Math.floor(o / 60) % 24} 1 1 *`,
  },
];

/** A stable number from a name (FNV-1a, 32 bits): the same collector always gets the same offset. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Seconds as a short text: `90s`, `7min`, `1h 30min`, `2d`, `31d`. */
export function formatSeconds(sec: number): string {
  const parts: string[] = [];
  let rest = Math.round(sec * 1000) / 1000;
  for (const [unit, size] of [
    ['d', DAY],
    ['h', HOUR],
    ['min', MINUTE],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest = Math.round((rest % size) * 1000) / 1000;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join(' ');
}

/** The nearest regular schedule for a time span (see the module comment for the rule). */
function nearestCandidate(spanSec: number): Candidate {
  let best = CANDIDATES[0]!;
  for (const c of CANDIDATES) {
    // strictly nearer only: on a tie the earlier (more frequent) candidate stays
    if (Math.abs(c.period - spanSec) < Math.abs(best.period - spanSec)) best = c;
  }
  return best;
}

/** Rewrites of the day fields so that robfig/cron (Kubernetes) reads the expression as cron-parser does. */
function kubernetesCron(expression: string): string {
  const fields = expression.trim().split(/\s+/);
  const [dom, dow] = [fields[2]!, fields[4]!];
  const stepOne = /(^|,)\*\/1(,|$)/;
  if (!/7/.test(dow) && !stepOne.test(dow) && !stepOne.test(dom)) return fields.join(' ');
  // cron-parser's own normalized form of the fields: Sunday as 0, `*/1` as its range
  const normalized = CronExpressionParser.parse(fields.join(' '), { tz: 'UTC' }).fields.stringify().split(' ');
  if (normalized.length !== 5) throw new Error(`unexpected normalized cron expression ${JSON.stringify(normalized.join(' '))}`);
  if (stepOne.test(dom)) fields[2] = normalized[2]!;
  if (/7/.test(dow) || stepOne.test(dow)) fields[4] = normalized[4]!;
  return fields.join(' ');
}

/** The shortest and largest gap (seconds) among the first runs of a cron expression after a fixed date. */
function cronGaps(schedule: Schedule): { shortest: number; largest: number } {
  // a fixed start keeps the output the same whenever it is generated
  const runs = nextRuns(schedule, 500, new Date(Date.UTC(2025, 0, 1)));
  let shortest = Infinity;
  let largest = 0;
  for (let i = 1; i < runs.length; i++) {
    const gap = (runs[i]!.getTime() - runs[i - 1]!.getTime()) / 1000;
    shortest = Math.min(shortest, gap);
    largest = Math.max(largest, gap);
  }
  return Number.isFinite(shortest) ? { shortest, largest } : { shortest: 365 * DAY, largest: 365 * DAY };
}

/**
 * The CronJob schedule for a RUN_INTERVAL. Throws ScheduleError (naming the collector) when the
 * RUN_INTERVAL is invalid. `spread`: move a time span's runs by a stable offset from `collector`.
 */
export function kubernetesSchedule(runInterval: string, collector?: string, opts: { spread?: boolean } = {}): KubernetesSchedule {
  const parsed = parseSchedule(runInterval, collector);
  if (parsed.kind === 'cron') {
    const gaps = cronGaps(parsed);
    return {
      schedule: kubernetesCron(parsed.expression),
      exact: true,
      asked: `cron '${parsed.expression}' (UTC)`,
      described: `cron '${parsed.expression}' (UTC)`,
      largestGapSec: gaps.largest,
      shortestGapSec: gaps.shortest,
    };
  }
  const spanSec = Number(parsed.usec) / 1e6;
  const c = nearestCandidate(spanSec);
  const offset = opts.spread && collector !== undefined ? nameHash(collector) % (c.period < HOUR ? c.period / MINUTE : 7 * 1440) : 0;
  const exact = c.regular && c.period === spanSec;
  const asked = `every ${parsed.normalized} (a time span)`;
  const result: KubernetesSchedule = {
    schedule: c.schedule(offset),
    exact,
    asked,
    described: c.described,
    spanSec,
    largestGapSec: c.largestGap,
    shortestGapSec: c.shortestGap,
  };
  if (!exact) {
    const why =
      spanSec < MINUTE
        ? 'a CronJob runs at most once a minute'
        : c.regular
          ? 'no regular cron schedule has that period'
          : 'a calendar month or year is not a fixed span';
    const gaps = c.regular
      ? `every run ${formatSeconds(c.largestGap)} after the previous one`
      : `runs ${formatSeconds(c.shortestGap)} to ${formatSeconds(c.largestGap)} apart`;
    result.note =
      `RUN_INTERVAL '${runInterval}' (${parsed.normalized}) has no exact cron equivalent (${why}): ` +
      `the nearest schedule is ${c.described}, ${gaps}; the largest gap is ${formatSeconds(c.largestGap)} against the ` +
      `${formatSeconds(spanSec)} asked`;
  }
  return result;
}
