/**
 * The rls_bugs collector against a recording of the release manager's reports (JSON) for the
 * series distro-info-data supports on the day: the exact points, the report names, and failures.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseUbuntuCsv } from '../../../src/collectors/_ubuntu/series.js';
import { RUN_INTERVAL } from '../../../src/collectors/rls_bugs/index.js';
import { RlsBugsMetric, reportFile } from '../../../src/collectors/rls_bugs/rls_bugs.js';
import { runDryRun, runInProcess } from '../../helpers/in-process.js';
import type { ParsedPoint } from '../../helpers/line-protocol.js';
import { serveRecording, type RecordingServer } from '../../helpers/recording-server.js';
import { repoRoot, startHttpFixtureServer, type HttpFixtureServer } from '../../helpers/servers.js';

const RECORDING = join(repoRoot, 'test', 'collectors', 'rls_bugs', 'fixtures', 'recording');
const CSV = join(repoRoot, 'test', 'collectors', '_ubuntu', 'fixtures', 'ubuntu.csv');
/** On this day the fixture's distro-info-data supports jammy, noble, questing and resolute. */
const NOW = '2026-06-01T10:00:00Z';
const NS = `${BigInt(Date.parse(NOW)) * 1_000_000n}`;

const tasks = (tag: string, team: string, release: string, count: number): ParsedPoint => ({
  measurement: 'distro_rls_bug_tasks',
  tags: { release, tag, team_name: team },
  fields: { count: { type: 'integer', value: count } },
  time: NS,
});

/** What the original writes for the recording: each team once per bug, in the order it first meets them. */
const EXPECTED: ParsedPoint[] = [
  tasks('incoming', 'desktop-packages', 'jammy', 2),
  tasks('incoming', 'desktop-packages', 'resolute', 2),
  tasks('incoming', 'ubuntu-server', 'questing', 1),
  tasks('incoming', 'ubuntu-server', 'resolute', 1),
  tasks('incoming', 'foundations-bugs', 'resolute', 2),
  tasks('tracking', 'foundations-bugs', 'noble', 1),
  tasks('tracking', 'foundations-bugs', 'resolute', 1),
  tasks('tracking', 'kernel-packages', 'resolute', 2),
];

describe('reportFile', () => {
  const all = parseUbuntuCsv(
    'version,codename,series,created,release,eol\n16.04,X,xenial,2015-10-22,2016-04-21,2021-04-30\n' +
      '17.10,A,artful,2017-04-13,2017-10-19,2018-07-19\n18.04,B,bionic,2017-10-19,2018-04-26,2023-05-31\n',
    'x.csv',
  );
  test('one letter before artful, two from artful on, two for a series the data does not know', () => {
    assert.equal(reportFile(all, 'xenial', 'incoming'), 'rls-x-incoming.json');
    assert.equal(reportFile(all, 'artful', 'tracking'), 'rls-aa-tracking.json');
    assert.equal(reportFile(all, 'bionic', 'incoming'), 'rls-bb-incoming.json');
    assert.equal(reportFile(all, 'tumbling', 'incoming'), 'rls-tt-incoming.json');
  });
});

describe('the rls_bugs collector against its recording', () => {
  let server: RecordingServer;
  before(async () => {
    server = await serveRecording(RECORDING);
  });
  after(async () => {
    await server?.close();
  });

  test('RUN_INTERVAL is the original one, 1h', () => {
    assert.equal(RUN_INTERVAL, '1h');
  });

  test('the exact points: each team once per bug, in the order the original writes them', async () => {
    const r = await runInProcess(RlsBugsMetric, 'rls_bugs', {
      env: { RLS_BUGS_URL: `${server.base('reqorts.qa.ubuntu.com')}/reports/rls-mgr/`, UBUNTU_DISTRO_INFO_CSV: CSV },
      now: NOW,
    });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.points, EXPECTED);
    assert.deepEqual(server.unmatched, []);
    assert.equal(server.requests.length, 8);
  });
});

describe('the rls_bugs collector when a source fails', () => {
  let server: HttpFixtureServer;
  const empty = { tasks: {} };
  before(async () => {
    server = await startHttpFixtureServer({
      '/gone/rls-nn-incoming.json': { status: 404, body: '<html><body><h1>Not Found</h1></body></html>' },
      '/html/rls-nn-incoming.json': { body: '<html><body>Maintenance</body></html>', headers: { 'content-type': 'text/html' } },
      '/truncated/rls-nn-incoming.json': { body: '{"tasks": {"1": [{"team": ["a"', headers: { 'content-type': 'application/json' } },
      '/shape/rls-nn-incoming.json': { body: { bugs: [] } },
      '/team/rls-nn-incoming.json': { body: { tasks: { 7: [{ team: 'foundations-bugs' }] } } },
      '/noteam/rls-nn-incoming.json': { body: { tasks: { 7: [{ status: 'New' }] } } },
    });
    for (const p of ['/gone', '/html', '/truncated', '/shape', '/team', '/noteam'])
      server.routes[`${p}/rls-nn-tracking.json`] = { body: empty };
  });
  after(async () => {
    await server?.close();
  });
  const cases: Array<[string, string, RegExp]> = [
    ['a 404 error page', '/gone', /rls-nn-incoming\.json failed: HTTP 404/],
    ['an HTML page', '/html', /rls-nn-incoming\.json returned invalid JSON/],
    ['a truncated body', '/truncated', /rls-nn-incoming\.json returned invalid JSON/],
    ['no "tasks"', '/shape', /rls-nn-incoming\.json: expected an object with "tasks"/],
    ['a team that is a string', '/team', /bug 7, task #0: "team" must be a list of team names/],
    ['a task without "team"', '/noteam', /bug 7, task #0: no "team"/],
  ];
  for (const [what, prefix, why] of cases) {
    test(`${what}: the run fails naming the URL`, async () => {
      const r = await runInProcess(RlsBugsMetric, 'rls_bugs', {
        env: { RLS_BUGS_URL: `${server.url}${prefix}`, UBUNTU_DISTRO_INFO_CSV: CSV, UBUNTU_SERIES: 'noble' },
        now: NOW,
      });
      assert.equal(r.report.ok, false);
      assert.ok(r.errors[0]?.includes(`${server.url}${prefix}/rls-nn-incoming.json`), r.errors[0]);
      assert.match(r.errors[0] ?? '', why);
      assert.deepEqual(r.points, []);
    });
  }
  test('distro-info-data missing: the error names the package', async () => {
    const r = await runInProcess(RlsBugsMetric, 'rls_bugs', {
      env: { RLS_BUGS_URL: server.url, UBUNTU_DISTRO_INFO_CSV: join(repoRoot, 'no-such.csv') },
      now: NOW,
    });
    assert.match(r.errors[0] ?? '', /no-such\.csv does not exist: install the Debian package distro-info-data/);
  });
});

const stateDir = mkdtempSync(join(tmpdir(), 'rls_bugs-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

test('offline: bin/metrics run rls_bugs --dry-run --replay <recording> prints the same points from the default URL', async () => {
  const r = await runDryRun('rls_bugs', { env: { UBUNTU_DISTRO_INFO_CSV: CSV }, now: NOW, stateDir, replay: RECORDING });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.points, EXPECTED);
});
