/**
 * Schedules: our time-span parser against `systemd-analyze timespan`, and our cron → OnCalendar
 * conversion against `systemd-analyze calendar` (50 elapses each) compared with cron-parser.
 * systemd-analyze missing: the comparisons are skipped loudly, except with CI=true where they fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import type { DiscoveredCollector } from '../../../src/lib/run/discovery.js';
import { ScheduleError, describeNextRun, nextRuns, parseSchedule, type CronSchedule } from '../../../src/lib/schedule/schedule.js';
import { USEC_INFINITY, formatTimespan, parseTimespan } from '../../../src/lib/schedule/timespan.js';
import { requireBinary } from '../../helpers/servers.js';

// ---------------------------------------------------------------------------------------------
// Time spans: [input, expected normalized form or null when we reject it]

const TIMESPANS: Array<[string, string | null]> = [
  ['5m', '5min'],
  ['90s', '1min 30s'],
  ['1h 30min', '1h 30min'],
  ['1h30m', '1h 30min'],
  ['2d', '2d'],
  ['1w', '1w'],
  ['1.5h', '1h 30min'],
  ['1.5', '1.500000s'],
  ['.5', '500ms'],
  ['0.25s', '250ms'],
  ['300', '5min'],
  ['1M', '1month'],
  ['1month', '1month'],
  ['2 months', '2month'],
  ['1y', '1y'],
  ['1 year 2 weeks', '1y 2w'],
  ['1y1M', '1y 1month'],
  ['1.5M', '1month 2w 1d 5h 15min'],
  ['1.1y', '1y 1month 6d 2h 6min'],
  ['3600s', '1h'],
  ['61s', '1min 1s'],
  ['61.5s', '1min 1.500000s'],
  ['1h30', '1h 30s'],
  ['5s5', '10s'],
  ['5 s', '5s'],
  [' 5m ', '5min'],
  ['+5', '5s'],
  ['5 minutes 3 seconds', '5min 3s'],
  ['1 hours', '1h'],
  ['1hr', '1h'],
  ['12hours', '12h'],
  ['7days', '1w'],
  ['1 day 1 hour', '1d 1h'],
  ['5ms', '5ms'],
  ['5msec', '5ms'],
  ['1.5ms', '1.500ms'],
  ['250us', '250us'],
  ['3usec', '3us'],
  ['3µs', '3us'], // MICRO SIGN
  ['3μs', '3us'], // GREEK SMALL LETTER MU
  ['1.2345678s', '1.234567s'],
  ['1.999999999s', '1.999999s'],
  ['2.5w', '2w 3d 12h'],
  ['12.34 .56', '12.900000s'],
  ['12.34s.56', '12.900000s'],
  ['1min 0.5s', '1min 500ms'],
  // refused by systemd
  ['', null],
  [' ', null],
  ['5.', null],
  ['5mins', null],
  ['5 m s', null],
  ['five minutes', null],
  ['1e3', null],
  ['0x10', null],
  ['1,5s', null],
  ['5m,', null],
  ['12.34.56', null],
  ['-5', null],
  ['-0', null],
  ['5 -1s', null],
  ['9999999999y', null],
  ['100000000000000', null],
  ['18446744073709551615', null],
  ['1 fortnight', null],
  ['3.sec', null],
  // accepted by systemd, refused by us: a schedule must be positive and finite
  ['0', null],
  ['0s', null],
  ['0.0000001s', null],
  ['0.5us', null],
  ['infinity', null],
];

test('time-span table: at least 40 entries, valid and invalid', () => {
  assert.ok(TIMESPANS.length >= 40, `${TIMESPANS.length}`);
  assert.ok(TIMESPANS.filter(([, n]) => n !== null).length >= 20);
  assert.ok(TIMESPANS.filter(([, n]) => n === null).length >= 20);
});

test('time spans: our verdict and normalized form', () => {
  for (const [input, expected] of TIMESPANS) {
    if (expected === null) {
      assert.throws(() => parseSchedule(input, 'probe'), ScheduleError, `should reject ${JSON.stringify(input)}`);
    } else {
      const s = parseSchedule(input, 'probe');
      assert.equal(s.kind, 'timespan', input);
      assert.equal(s.kind === 'timespan' && s.normalized, expected, `normalized form of ${JSON.stringify(input)}`);
    }
  }
});

test('time spans agree with systemd-analyze timespan', (t) => {
  const analyze = requireBinary('systemd-analyze', t);
  if (!analyze) return;
  for (const [input] of TIMESPANS) {
    const r: { status: number | null; stdout: string; stderr: string } = spawnSync(analyze, ['timespan', '--', input], {
      encoding: 'utf8',
    });
    const systemdOk: boolean = r.status === 0;
    const ours = parseTimespan(input);
    assert.equal(ours.ok, systemdOk, `validity of ${JSON.stringify(input)}: systemd says ${systemdOk ? 'valid' : r.stderr.trim()}`);
    let schedulable = false;
    if (systemdOk && ours.ok) {
      const usec = BigInt(/μs: (\d+)/.exec(r.stdout)![1]!);
      const human = /Human: (.*)/.exec(r.stdout)![1]!;
      assert.equal(ours.usec, usec, `microseconds of ${JSON.stringify(input)}`);
      assert.equal(formatTimespan(ours.usec), human, `normalized form of ${JSON.stringify(input)}`);
      schedulable = usec > 0n && usec !== USEC_INFINITY;
      if (schedulable) {
        const s = parseSchedule(input);
        assert.equal(s.kind === 'timespan' && s.normalized, human);
      }
    }
    if (!schedulable) {
      // systemd refuses it, or it is 0 / infinity: no timer can use it
      assert.throws(() => parseSchedule(input, 'probe'), ScheduleError, JSON.stringify(input));
    }
    if (!systemdOk) {
      const code = /out of range/i.test(r.stderr) ? 'ERANGE' : 'EINVAL';
      assert.equal(!ours.ok && ours.code, code, `error kind of ${JSON.stringify(input)}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Cron expressions

const CRONS: string[] = [
  '* * * * *',
  '*/15 * * * *',
  '*/7 * * * *',
  '5/15 * * * *',
  '10-40/10 3 * * *',
  '0 * * * *',
  '0 */5 * * *',
  '23 0-20/2 * * *',
  '0,30 8-17 * * *',
  '0 9,12,15 * * *',
  '0 0 1,15 * *',
  '0 4 8-14 * *',
  '0 0 */3 * *',
  '0 0 31 * *',
  '0 0 29 2 *',
  '0 0,12 1 */2 *',
  '0 9 * jan-mar *',
  '0 0 1 jan,jul *',
  '30 2 * 6-8 *',
  '5 4 * * sun',
  '0 0 * * 7',
  '30 6 * * 5-7',
  '0 22 * * 1-5',
  '0 12 * * MON-FRI',
  '0 0 * * 1-7/2',
  '0 8 * * sat,sun',
  '0 9 * jan-mar mon',
  // day of month AND day of week restricted: fires when either matches
  '0 0 1 * 1',
  '0 0 1-7 * 1',
  '0 0 */3 * 2',
  '15 10 13 * fri',
  '0 12 1,15 * mon-wed',
  // macros
  '@hourly',
  '@daily',
  '@midnight',
  '@weekly',
  '@monthly',
  '@yearly',
  '@annually',
];

// month, year and leap-day roll-overs, and a base time off the minute
const BASE_TIMES = ['2024-01-01 00:00:00', '2023-02-27 13:47:10', '2023-12-31 23:50:00', '2024-02-28 22:10:30'];

/**
 * Elapses printed by `systemd-analyze calendar` (TZ=UTC) for each calendar, as ISO strings: one
 * invocation for all of them (it prints one block per calendar, separated by blank lines).
 */
function systemdElapses(analyze: string, calendars: string[], base: string): string[][] {
  const r = spawnSync(analyze, ['calendar', '--iterations=50', `--base-time=${base} UTC`, ...calendars], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  });
  assert.equal(r.status, 0, `systemd-analyze calendar: ${r.stderr}`);
  const blocks = r.stdout.trim().split(/\n\s*\n/);
  assert.equal(blocks.length, calendars.length, r.stdout);
  return blocks.map((block, i) => {
    assert.ok(block.includes(`Normalized form: `), `block ${i} for ${calendars[i]}: ${block}`);
    const times: string[] = [];
    for (const m of block.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC/g)) {
      times.push(`${m[1]}T${m[2]}.000Z`);
    }
    return times;
  });
}

test('cron table: at least 30 expressions', () => {
  assert.ok(CRONS.length >= 30, `${CRONS.length}`);
  for (const e of CRONS) assert.equal(parseSchedule(e, 'probe').kind, 'cron', e);
});

test('cron: the OnCalendar lines fire at the same 50 instants as cron-parser (UTC)', (t) => {
  const analyze = requireBinary('systemd-analyze', t);
  if (!analyze) return;
  // systemd's calendar arithmetic stops at the year 2199; only '0 0 29 2 *' gets that far
  const horizon = '2200-01-01T00:00:00.000Z';
  const schedules = CRONS.map((e) => parseSchedule(e) as CronSchedule);
  const calendars = schedules.flatMap((s) => s.calendars);
  for (const base of BASE_TIMES) {
    const elapses = systemdElapses(analyze, calendars, base);
    let next = 0;
    schedules.forEach((schedule, i) => {
      const expression = CRONS[i]!;
      const merged = new Set<string>();
      for (const _ of schedule.calendars) for (const time of elapses[next++]!) merged.add(time);
      const fromSystemd = [...merged].sort().slice(0, 50);
      const fromCron = nextRuns(schedule, 50, new Date(`${base.replace(' ', 'T')}Z`))
        .map((d) => d.toISOString())
        .filter((iso) => iso < horizon);
      assert.ok(fromSystemd.length === 50 || expression === '0 0 29 2 *', `${expression}: only ${fromSystemd.length} elapses`);
      assert.deepEqual(fromSystemd, fromCron, `${expression} from ${base} → ${JSON.stringify(schedule.calendars)}`);
    });
  }
});

test('cron: conversion examples', () => {
  const cal = (e: string) => (parseSchedule(e) as CronSchedule).calendars;
  assert.deepEqual(cal('*/15 * * * *'), ['*-*-* *:00..45/15:00 UTC']);
  assert.deepEqual(cal('0 0 1 * 1'), ['Mon *-*-* 00:00:00 UTC', '*-*-01 00:00:00 UTC']);
  assert.deepEqual(cal('30 6 * * 5-7'), ['Fri..Sun *-*-* 06:30:00 UTC']);
  assert.deepEqual(cal('0 0 * * 7'), ['Sun *-*-* 00:00:00 UTC']);
  assert.deepEqual(cal('@weekly'), ['Sun *-*-* 00:00:00 UTC']);
  assert.deepEqual(cal('23 0-20/2 * * *'), ['*-*-* 00..20/2:23:00 UTC']);
  assert.equal(parseSchedule('@daily').kind === 'cron' && (parseSchedule('@daily') as CronSchedule).expression, '0 0 * * *');
});

test('cron: invalid expressions are clear errors naming the collector and the value', () => {
  const bad: Array<[string, RegExp]> = [
    ['* * * *', /five fields/],
    ['* * * * * *', /five fields/],
    ['60 * * * *', /60/],
    ['0 24 * * *', /24/],
    ['0 0 0 * *', /0/],
    ['0 0 * 13 *', /13/],
    ['0 0 * * 8', /8/],
    ['*/0 * * * *', /repeat|step|0/],
    ['0 0 L * *', /not supported/],
    ['0 0 * * 5#2', /not supported/],
    ['0 0 ? * *', /not supported/],
    ['0 0 30 2 *', /never fires/],
    ['0 0 * * fri-mon', /range/i],
    ['0 0 * foo *', /month field/],
    ['@reboot', /unknown macro/],
    ['@every 5m', /unknown macro/],
    ['*/5 * * * * foo', /five fields/],
    ['5,,10 * * * *', /empty list item/],
  ];
  for (const [value, reason] of bad) {
    assert.throws(
      () => parseSchedule(value, 'mycollector'),
      (error: unknown) => {
        assert.ok(error instanceof ScheduleError, `${value}: ${String(error)}`);
        assert.match(error.message, /^collector "mycollector": RUN_INTERVAL /);
        assert.ok(error.message.includes(JSON.stringify(value)), error.message);
        assert.match(error.message, reason, error.message);
        assert.match(error.message, /time span such as '5m'.*cron expression/);
        assert.equal(error.collector, 'mycollector');
        assert.equal(error.value, value);
        return true;
      },
      value,
    );
  }
});

test('time span or cron: how a value is read', () => {
  assert.equal(parseSchedule('1 2 3 4 5').kind, 'cron'); // five fields: cron
  const s = parseSchedule('1h 30min 10s 5ms 3us'); // five fields, not cron, a valid time span
  assert.equal(s.kind === 'timespan' && s.normalized, '1h 30min 10.005003s');
  assert.equal(parseSchedule('5m').kind, 'timespan');
  assert.equal(parseSchedule('1 2').kind, 'timespan');
  assert.throws(() => parseSchedule('*/5'), /five fields/);
  assert.throws(() => parseSchedule('every 5m', 'x'), /collector "x": RUN_INTERVAL "every 5m" is not valid: it is not a systemd time span/);
  assert.throws(() => parseSchedule('0', 'x'), /greater than zero/);
  assert.throws(() => parseSchedule('infinity', 'x'), /never run/);
});

// ---------------------------------------------------------------------------------------------
// Next runs

test('nextRuns: time spans count from the end of the last run', () => {
  const s = parseSchedule('10min');
  const now = new Date('2024-05-01T12:00:00Z');
  // no recorded run: due now, then every span
  assert.deepEqual(
    nextRuns(s, 3, now).map((d) => d.toISOString()),
    ['2024-05-01T12:00:00.000Z', '2024-05-01T12:10:00.000Z', '2024-05-01T12:20:00.000Z'],
  );
  // the last run ended 3 min ago: next in 7 min
  assert.deepEqual(
    nextRuns(s, 2, now, new Date('2024-05-01T11:57:00Z')).map((d) => d.toISOString()),
    ['2024-05-01T12:07:00.000Z', '2024-05-01T12:17:00.000Z'],
  );
  // overdue: now
  assert.equal(nextRuns(s, 1, now, new Date('2024-05-01T10:00:00Z'))[0]!.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.deepEqual(
    nextRuns(parseSchedule('1.5s'), 2, new Date(0)).map((d) => d.getTime()),
    [0, 1500],
  );
});

test('nextRuns: cron in UTC, strictly after from', () => {
  const s = parseSchedule('0 6 * * mon-fri');
  const from = new Date('2024-05-03T06:00:00Z'); // a Friday, exactly at 06:00
  assert.deepEqual(
    nextRuns(s, 3, from).map((d) => d.toISOString()),
    ['2024-05-06T06:00:00.000Z', '2024-05-07T06:00:00.000Z', '2024-05-08T06:00:00.000Z'],
  );
});

test('describeNextRun for the list command', () => {
  const c = (runInterval: string, extra: Partial<DiscoveredCollector> = {}): DiscoveredCollector => ({
    name: 'c',
    dir: '/x/c',
    runInterval,
    ...extra,
  });
  const now = new Date('2024-05-01T12:00:00Z');
  assert.deepEqual(describeNextRun(c('*/15 * * * *'), now), {
    schedule: "cron '*/15 * * * *' (UTC)",
    next: new Date('2024-05-01T12:15:00Z'),
    basis: 'cron',
  });
  assert.deepEqual(describeNextRun(c('5m'), now), { schedule: 'every 5min (after the previous run ends)', basis: 'no run recorded' });
  assert.deepEqual(describeNextRun(c('5m'), now, new Date('2024-05-01T11:58:00Z')), {
    schedule: 'every 5min (after the previous run ends)',
    next: new Date('2024-05-01T12:03:00Z'),
    basis: 'last run',
  });
  const bad = describeNextRun(c('soon'), now);
  assert.equal(bad.schedule, 'soon');
  assert.match(bad.error!, /collector "c": RUN_INTERVAL "soon" is not valid/);
  assert.deepEqual(describeNextRun(c('5m', { error: 'broken' }), now), { schedule: '5m', error: 'broken' });
});
