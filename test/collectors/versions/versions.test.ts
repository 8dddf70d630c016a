/**
 * The versions collector against a recording of the desktop versions script's statistics (a text
 * list of reports, then `category=count` lines per report): the exact points, and the failures.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RUN_INTERVAL } from '../../../src/collectors/versions/index.js';
import { VersionsMetric, parseStats } from '../../../src/collectors/versions/versions.js';
import { runDryRun, runInProcess } from '../../helpers/in-process.js';
import type { ParsedPoint } from '../../helpers/line-protocol.js';
import { serveRecording, type RecordingServer } from '../../helpers/recording-server.js';
import { repoRoot, startHttpFixtureServer, type HttpFixtureServer } from '../../helpers/servers.js';

const RECORDING = join(repoRoot, 'test', 'collectors', 'versions', 'fixtures', 'recording');
const NOW = '2026-01-10T10:00:00Z';
const NS = `${BigInt(Date.parse(NOW)) * 1_000_000n}`;
const PATH = '/~platform/desktop/versions/stats/current/';

const stat = (report: string, category: string, count: number): ParsedPoint => ({
  measurement: 'versions_script_stats',
  tags: { category, report, series: 'devel' },
  fields: { count: { type: 'integer', value: count } },
  time: NS,
});

/** What the original writes for the recording. */
const EXPECTED: ParsedPoint[] = [
  stat('desktop', 'uptodate', 142),
  stat('desktop', 'outdated', 37),
  stat('desktop', 'unknown', 0),
  stat('gnome', 'uptodate', 61),
  stat('gnome', 'outdated', 9),
];

describe('the versions collector against its recording', () => {
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

  test('the exact points: one per report and category, integer counts, series "devel"', async () => {
    const r = await runInProcess(VersionsMetric, 'versions', {
      env: { VERSIONS_STATS_URL: `${server.base('people.canonical.com')}${PATH}` },
      now: NOW,
    });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.points, EXPECTED);
    assert.deepEqual(server.unmatched, []);
  });
});

describe('parseStats', () => {
  test('Python int() spellings: spaces around the number, a sign', () => {
    assert.deepEqual(parseStats('a= 5 \nb=+3\nc=-1\n', 'u'), [
      ['a', 5],
      ['b', 3],
      ['c', -1],
    ]);
  });
});

describe('the versions collector when a source fails', () => {
  let server: HttpFixtureServer;
  before(async () => {
    server = await startHttpFixtureServer({
      '/gone/reports': { status: 404, body: '<html><body>Not Found</body></html>' },
      '/down/desktop': { status: 500, body: 'oops' },
      '/html/reports': { body: 'desktop\n' },
      '/html/desktop': { body: '<!DOCTYPE html>\n<html><body>Maintenance</body></html>\n', headers: { 'content-type': 'text/html' } },
      '/twoeq/reports': { body: 'desktop\n' },
      '/twoeq/desktop': { body: 'a=1=2\n' },
      '/float/reports': { body: 'desktop\n' },
      '/float/desktop': { body: 'a=1.5\n' },
      '/badname/reports': { body: '../etc\n' },
    });
    server.routes['/down/reports'] = { body: 'desktop\n' };
  });
  after(async () => {
    await server?.close();
  });
  const cases: Array<[string, string, string, RegExp]> = [
    ['the report list answers 404', '/gone', '/gone/reports', /HTTP 404/],
    ['a report answers 500', '/down', '/down/desktop', /HTTP 500/],
    ['a report is an HTML page', '/html', '/html/desktop:1', /expected "category=count", got "<!DOCTYPE html>"/],
    ['a line with two "="', '/twoeq', '/twoeq/desktop:1', /expected "category=count"/],
    ['a count that is not a whole number', '/float', '/float/desktop:1', /expected "category=count", got "a=1.5"/],
    ['a report name that is a path', '/badname', '/badname/reports:1', /is not a report name/],
  ];
  for (const [what, prefix, where, why] of cases) {
    test(`${what}: the run fails naming the URL`, async () => {
      const r = await runInProcess(VersionsMetric, 'versions', { env: { VERSIONS_STATS_URL: `${server.url}${prefix}/` }, now: NOW });
      assert.equal(r.report.ok, false);
      assert.ok(r.errors[0]?.includes(`${server.url}${where}`), r.errors[0]);
      assert.match(r.errors[0] ?? '', why);
      assert.deepEqual(r.points, []);
    });
  }
});

const stateDir = mkdtempSync(join(tmpdir(), 'versions-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

test('offline: bin/metrics run versions --dry-run --replay <recording> prints the same points from the default URL', async () => {
  const r = await runDryRun('versions', { now: NOW, stateDir, replay: RECORDING });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.points, EXPECTED);
});
