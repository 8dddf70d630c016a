/**
 * The britney collector against a recording of proposed-migration (update_excuses.html pages,
 * Apache log directory listings, run logs, update_excuses.csv and update_excuses_by_team.yaml):
 * the exact points, the four bugs of the original fixed (run age losing whole days, a 0-minute
 * run taken as unfinished, error pages read as data, no development series), and the failures.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BritneyMetric, generatedAt, listedLogs, logDuration, parseLogTime, runAgeHours } from '../../../src/collectors/britney/britney.js';
import { parseByTeam, parseExcusesCsv, pythonInt } from '../../../src/collectors/britney/excuses.js';
import { RUN_INTERVAL } from '../../../src/collectors/britney/index.js';
import { runDryRun, runInProcess } from '../../helpers/in-process.js';
import type { ParsedPoint } from '../../helpers/line-protocol.js';
import { readRecording } from '../../../src/lib/platform/recording.js';
import { serveRecording } from '../../helpers/recording-server.js';
import { repoRoot, startHttpFixtureServer, type FixtureRoutes } from '../../helpers/servers.js';

const FIXTURES = join(repoRoot, 'test', 'collectors', 'britney', 'fixtures');
const RECORDING = join(FIXTURES, 'recording');
/** noble (supported and ESM), questing, and resolute in development on the day of NOW */
const CSV = join(FIXTURES, 'ubuntu.csv');
const NOW = '2026-01-10T10:30:00Z';
const NS = `${BigInt(Date.parse(NOW)) * 1_000_000n}`;
const HOST = 'ubuntu-archive-team.ubuntu.com';
const PM = '/proposed-migration/';

const int = (value: number) => ({ type: 'integer' as const, value });
const float = (value: number) => ({ type: 'float' as const, value });
const age = (release: string, hours: number): ParsedPoint => ({
  measurement: 'britney_last_run_age',
  tags: { release },
  fields: { run_age: int(hours) },
  time: NS,
});
const duration = (release: string, minutes: number): ParsedPoint => ({
  measurement: 'britney_last_run_duration',
  tags: { release },
  fields: { run_duration: int(minutes) },
  time: NS,
});
const stats = (ms: number, v: [number, number, number, number, number]): ParsedPoint => ({
  measurement: 'update_excuses_stats',
  tags: { release: 'resolute' },
  fields: { valid_candidates: int(v[0]), not_considered: int(v[1]), total: int(v[2]), median_age: int(v[3]), backlog: int(v[4]) },
  time: `${BigInt(ms) * 1_000_000n}`,
});
const team = (name: string, count: number, avg: number): ParsedPoint => ({
  measurement: 'update_excuses_by_team_stats',
  tags: { release: 'resolute', team: name },
  fields: { count: int(count), age: float(avg) },
  time: NS,
});

const RUN_AGES = [age('noble', 51), age('questing', 0), age('resolute', 2)];
const DURATIONS = [duration('noble', 0), duration('questing', 38), duration('resolute', 14)];
const EXPECTED: ParsedPoint[] = [
  ...RUN_AGES,
  ...DURATIONS,
  stats(1767997860000, [420, 3880, 4300, 11, 1480]),
  stats(1768032900000, [431, 3851, 4282, 11, 1471]),
  team('canonical-desktop-team', 2, 7.25),
  team('canonical-foundations', 0, 0),
  team('canonical-server', 0, 0),
  team('canonical-kernel-team', 1, 30),
];

test('RUN_INTERVAL is the original default, 5m', () => {
  assert.equal(RUN_INTERVAL, '5m');
});

describe('the britney collector against its recording', () => {
  test('the exact points: run ages with whole days, a 0-minute run, statistics of the last 12 hours, teams', async () => {
    const server = await serveRecording(RECORDING);
    try {
      const r = await runInProcess(BritneyMetric, 'britney', {
        env: { BRITNEY_URL: `${server.base(HOST)}${PM}`, UBUNTU_DISTRO_INFO_CSV: CSV },
        now: NOW,
      });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.points, EXPECTED);
      assert.deepEqual(server.unmatched, []);
      // newest log first: the unfinished 07:10 run is tried, then 06:50 (0 minutes) is taken; 05:10 is never read
      assert.ok(!server.requests.some((q) => q.includes('05:10:00.log')), server.requests.join('\n'));
      assert.ok(!server.requests.some((q) => q.includes('notest')));
    } finally {
      await server.close();
    }
  });
});

/** The recording served by path on a plain fixture server, with some answers replaced. */
async function serveWith(overrides: FixtureRoutes) {
  const routes: FixtureRoutes = {};
  for (const e of await readRecording(RECORDING)) {
    const u = new URL(e.url);
    routes[u.pathname] = { status: e.status, headers: e.headers, body: e.bodyBytes };
  }
  return startHttpFixtureServer({ ...routes, ...overrides });
}

async function runAgainst(overrides: FixtureRoutes, env: Record<string, string> = {}) {
  const server = await serveWith(overrides);
  try {
    const r = await runInProcess(BritneyMetric, 'britney', {
      env: { BRITNEY_URL: `${server.url}${PM}`, UBUNTU_DISTRO_INFO_CSV: CSV, ...env },
      now: NOW,
    });
    return { ...r, url: server.url, requested: server.requests.map((q) => q.path) };
  } finally {
    await server.close();
  }
}

describe('the fixed bugs of the original', () => {
  test('no development series in distro-info-data: run ages and durations, no crash, no update_excuses statistics', async () => {
    const r = await runAgainst({}, { UBUNTU_DEVEL_SERIES: 'none' });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.points, [...RUN_AGES, ...DURATIONS]);
    assert.ok(
      r.logs.some((l) => /no development series/.test(l)),
      r.logs.join('\n'),
    );
    assert.ok(!r.requested.some((p) => p.endsWith('.csv') || p.endsWith('.yaml')));
  });
  test('the same when the data itself has none (the day after the last release)', async () => {
    const server = await serveWith({});
    try {
      const r = await runInProcess(BritneyMetric, 'britney', {
        env: { BRITNEY_URL: `${server.url}${PM}`, UBUNTU_DISTRO_INFO_CSV: CSV, BRITNEY_SERIES: 'noble' },
        now: '2026-04-24T10:30:00Z',
      });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(
        r.points.map((p) => p.measurement),
        ['britney_last_run_age', 'britney_last_run_duration'],
      );
    } finally {
      await server.close();
    }
  });
  test('run age: whole days count (the original kept only timedelta.seconds: 3 hours instead of 51)', () => {
    const generated = generatedAt('<p>Generated: 2026.01.08 07:05:00 +0000</p>')!;
    assert.equal(runAgeHours(generated, new Date('2026-01-10T10:30:00Z')), 51);
    assert.equal(runAgeHours(generated, new Date('2026-01-08T08:04:59Z')), 0);
    assert.equal(runAgeHours(generated, new Date('2026-01-08T08:05:00Z')), 1);
    assert.equal(runAgeHours(generated, new Date('2026-01-01T00:00:00Z')), 0, 'a page from the future: 0, not 23');
  });
  test('a run of 0 minutes is a finished run (the original took it for unfinished and reported an older run)', () => {
    assert.equal(logDuration('Thu, 08 Jan 2026 06:50:00 +0000\nx\nFinished at: Thu, 08 Jan 2026 06:50:41 +0000\n', 'u'), 0);
    assert.equal(logDuration('Thu, 08 Jan 2026 06:50:00 +0000\nx\n', 'u'), undefined);
    assert.equal(logDuration('', 'u'), undefined);
    assert.equal(logDuration('Thu, 08 Jan 2026 23:50:00 +0000\nFinished at: Sat, 10 Jan 2026 00:20:00 +0000', 'u'), 24 * 60 + 30);
  });
  const errorPages: Array<[string, string, number, RegExp]> = [
    ['update_excuses.html answers 404', `${PM}questing/update_excuses.html`, 404, /questing\/update_excuses\.html failed: HTTP 404/],
    ['update_excuses.html answers 500', `${PM}noble/update_excuses.html`, 500, /noble\/update_excuses\.html failed: HTTP 500/],
    ['a log directory answers 500', `${PM}log/resolute/2026-01-10/`, 500, /log\/resolute\/2026-01-10\/ failed: HTTP 500/],
    ['a listed log answers 404', `${PM}log/noble/2026-01-08/07:10:00.log`, 404, /07:10:00\.log failed: HTTP 404/],
    ['update_excuses.csv answers 500', `${PM}update_excuses.csv`, 500, /update_excuses\.csv failed: HTTP 500/],
    ['update_excuses_by_team.yaml answers 503', `${PM}update_excuses_by_team.yaml`, 503, /update_excuses_by_team\.yaml failed: HTTP 503/],
  ];
  for (const [what, path, status, why] of errorPages) {
    test(`an error page is no data: ${what} → the run fails naming the URL and status`, async () => {
      const r = await runAgainst({
        [path]: { status, body: `<html><body><h1>${status}</h1><p>Generated: 2026.01.10 10:00:00</p></body></html>` },
      });
      assert.equal(r.report.ok, false);
      assert.ok(r.errors[0]?.includes(`${r.url}${path}`), r.errors[0]);
      assert.match(r.errors[0] ?? '', why);
    });
  }
  test("a log directory that does not exist yet (404, the day's first run has not started): no duration, a warning", async () => {
    const path = `${PM}log/resolute/2026-01-10/`;
    const r = await runAgainst({ [path]: { status: 404, body: '<html><body>Not Found</body></html>' } });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.points.filter((p) => p.measurement === 'britney_last_run_duration'),
      DURATIONS.filter((p) => p.tags.release !== 'resolute'),
    );
    assert.ok(
      r.logs.some((l) => l.includes(`${r.url}${path}`) && /HTTP 404/.test(l)),
      r.logs.join('\n'),
    );
  });
});

describe('the britney collector when a source is wrong', () => {
  const cases: Array<[string, FixtureRoutes, RegExp]> = [
    [
      'a page without "Generated:"',
      { [`${PM}noble/update_excuses.html`]: { body: '<html><body>Maintenance</body></html>' } },
      /noble\/update_excuses\.html: no "Generated:/,
    ],
    [
      'a truncated CSV (a short last row)',
      { [`${PM}update_excuses.csv`]: { body: 'time,valid candidates,not considered,total,median age,backlog\n1768032900000,431,3851\n' } },
      /update_excuses\.csv:2: 3 columns, the header has 6 \(a truncated/,
    ],
    [
      'an HTML page instead of the CSV',
      { [`${PM}update_excuses.csv`]: { body: '<!DOCTYPE html><html><body>Maintenance</body></html>' } },
      /update_excuses\.csv:1: the header lacks/,
    ],
    [
      'a CSV value that is not a whole number',
      {
        [`${PM}update_excuses.csv`]: {
          body: 'time,valid candidates,not considered,total,median age,backlog\n1768032900000,431,3851,4282,11.5,1471\n',
        },
      },
      /update_excuses\.csv:2: median age "11\.5" is not a whole number/,
    ],
    ['invalid YAML', { [`${PM}update_excuses_by_team.yaml`]: { body: 'team: [unclosed\n' } }, /update_excuses_by_team\.yaml: invalid YAML/],
    ['YAML of another shape', { [`${PM}update_excuses_by_team.yaml`]: { body: '- a\n- b\n' } }, /expected a mapping of teams, got a list/],
    [
      'a YAML item without an age',
      { [`${PM}update_excuses_by_team.yaml`]: { body: 'desktop:\n- package: x\n' } },
      /team desktop, item #0: no "age"/,
    ],
    [
      'a log whose start is not a time',
      { [`${PM}log/questing/2026-01-10/09:20:00.log`]: { body: 'garbage\nFinished at: Sat, 10 Jan 2026 09:58:40 +0000\n' } },
      /09:20:00\.log:1: expected the start time/,
    ],
  ];
  for (const [what, overrides, why] of cases) {
    test(`${what}: the run fails naming the source`, async () => {
      const r = await runAgainst(overrides);
      assert.equal(r.report.ok, false);
      assert.ok(r.errors[0]?.includes(r.url), r.errors[0]);
      assert.match(r.errors[0] ?? '', why);
    });
  }
  test('BRITNEY_SERIES limits the series; a bad value names the variable', async () => {
    const r = await runAgainst({}, { BRITNEY_SERIES: 'questing', UBUNTU_DEVEL_SERIES: 'none' });
    assert.deepEqual(r.points, [age('questing', 0), duration('questing', 38)]);
    const bad = await runAgainst({}, { BRITNEY_SERIES: 'Questing!' });
    assert.match(bad.errors[0] ?? '', /BRITNEY_SERIES="Questing!"/);
  });
});

describe('parsers', () => {
  test('parseLogTime: %a, %d %b %Y %H:%M:%S %z', () => {
    assert.equal(parseLogTime('Sat, 10 Jan 2026 09:00:01 +0100'), Date.UTC(2026, 0, 10, 8, 0, 1));
    assert.equal(parseLogTime('Sat, 10 Jan 2026 09:00:01 -0230'), Date.UTC(2026, 0, 10, 11, 30, 1));
    assert.equal(parseLogTime('Sat, 31 Feb 2026 09:00:01 +0000'), undefined);
    assert.equal(parseLogTime('2026-01-10 09:00:01'), undefined);
  });
  test('listedLogs: the .log links of the directory, newest first, without notest runs', () => {
    const listing = readFileSync(join(RECORDING, 'noble-2026-01-08.html'), 'utf8');
    const base = 'https://h/proposed-migration/log/noble/2026-01-08/';
    assert.deepEqual(listedLogs(listing, base), [`${base}07:10:00.log`, `${base}06:50:00.log`, `${base}05:10:00.log`]);
    assert.deepEqual(listedLogs('<a href="a%3Ab.log">x</a><a href="../x.log">p</a><a href="sub/y.log">s</a>', base), [`${base}a:b.log`]);
  });
  test('generatedAt: the Generated line, or undefined', () => {
    assert.equal(generatedAt('x\n<p>Generated: 2026.01.10 08:15:00 +0000</p>\n')?.toISOString(), '2026-01-10T08:15:00.000Z');
    assert.equal(generatedAt('<p>Generated: 2026.02.30 08:15:00</p>'), undefined);
    assert.equal(generatedAt('<h1>404 Not Found</h1>'), undefined);
  });
  test('pythonInt: as Python int() for decimal text', () => {
    assert.equal(pythonInt(' 42 '), 42);
    assert.equal(pythonInt('+1_000'), 1000);
    assert.equal(pythonInt('4.0'), undefined);
    assert.equal(pythonInt(''), undefined);
  });
  test('parseExcusesCsv: quoted cells, blank lines, only rows after the cutoff', () => {
    const text = '"time","valid candidates","not considered","total","median age","backlog"\n\n5,1,2,3,4,5\n10,"6",7,8,9,10\n';
    assert.deepEqual(parseExcusesCsv(text, 'u', 5), [
      { time: 10, valid_candidates: 6, not_considered: 7, total: 8, median_age: 9, backlog: 10 },
    ]);
  });
  test('parseByTeam: an empty file is no team; a team without packages has count 0 and age 0', async () => {
    assert.deepEqual(await parseByTeam('', 'u'), []);
    assert.deepEqual(await parseByTeam('t:\n', 'u'), [{ team: 't', count: 0, age: 0 }]);
  });
});

const stateDir = mkdtempSync(join(tmpdir(), 'britney-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

test('offline: bin/metrics run britney --dry-run --replay <recording> prints the same points from the default URLs', async () => {
  const r = await runDryRun('britney', { env: { UBUNTU_DISTRO_INFO_CSV: CSV }, now: NOW, stateDir, replay: RECORDING });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.points, EXPECTED);
});
