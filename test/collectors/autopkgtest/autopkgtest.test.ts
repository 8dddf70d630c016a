/**
 * The autopkgtest collector against a recording of its four sources (queue sizes and running
 * tests of production and staging, as autopkgtest.ubuntu.com serves them): the exact points, with
 * the running tests of every instance (the original returned after the first), and every way a
 * source can fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AutopkgtestMetric } from '../../../src/collectors/autopkgtest/autopkgtest.js';
import { RUN_INTERVAL } from '../../../src/collectors/autopkgtest/index.js';
import { runDryRun, runInProcess } from '../../helpers/in-process.js';
import type { ParsedPoint } from '../../helpers/line-protocol.js';
import { serveRecording, type RecordingServer } from '../../helpers/recording-server.js';
import { repoRoot, startHttpFixtureServer, type FixtureRoutes, type HttpFixtureServer } from '../../helpers/servers.js';

const RECORDING = join(repoRoot, 'test', 'collectors', 'autopkgtest', 'fixtures', 'recording');
const NOW = '2026-01-10T10:55:00Z';
const NS = `${BigInt(Date.parse(NOW)) * 1_000_000n}`;

const point = (measurement: string, tags: Record<string, string>, count: number): ParsedPoint => ({
  measurement,
  tags,
  fields: { count: { type: 'integer', value: count } },
  time: NS,
});
const queue = (context: string, release: string, arch: string, instance: string, n: number) =>
  point('autopkgtest_queue_size', { arch, context, instance, release }, n);
const running = (release: string, arch: string, instance: string, n: number) =>
  point('autopkgtest_running', { arch, instance, release }, n);

/** What the original writes for the recording, with the running tests of staging too. */
const EXPECTED: ParsedPoint[] = [
  queue('huge', 'noble', 'amd64', 'production', 3),
  queue('huge', 'noble', 'arm64', 'production', 0),
  queue('huge', 'resolute', 'amd64', 'production', 12),
  queue('ubuntu', 'noble', 'amd64', 'production', 41),
  queue('ubuntu', 'noble', 'arm64', 'production', 7),
  queue('ubuntu', 'noble', 's390x', 'production', 0),
  queue('ubuntu', 'resolute', 'amd64', 'production', 250),
  queue('ubuntu', 'resolute', 'ppc64el', 'production', 18),
  queue('upstream', 'resolute', 'amd64', 'production', 1),
  queue('ubuntu', 'resolute', 'amd64', 'staging', 2),
  queue('ubuntu', 'resolute', 'riscv64', 'staging', 5),
  running('resolute', 'amd64', 'production', 3),
  running('resolute', 'arm64', 'production', 1),
  running('noble', 's390x', 'production', 1),
  running('resolute', 'riscv64', 'staging', 1),
  running('resolute', 'amd64', 'staging', 2),
];

describe('the autopkgtest collector against its recording', () => {
  let server: RecordingServer;
  before(async () => {
    server = await serveRecording(RECORDING);
  });
  after(async () => {
    await server?.close();
  });
  const env = () => ({
    AUTOPKGTEST_URL: `${server.base('autopkgtest.ubuntu.com')}/`,
    AUTOPKGTEST_STAGING_URL: server.base('autopkgtest.staging.ubuntu.com'), // without the final slash: added
  });

  test('RUN_INTERVAL is the original default, 5m', () => {
    assert.equal(RUN_INTERVAL, '5m');
  });

  test('the exact points: queue sizes, then running tests of both instances (staging included: the fix)', async () => {
    const r = await runInProcess(AutopkgtestMetric, 'autopkgtest', { env: env(), now: NOW });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.points, EXPECTED);
    assert.deepEqual(server.unmatched, []);
  });
});

describe('the autopkgtest collector when a source fails', () => {
  let server: HttpFixtureServer;
  const file = (name: string) => readFileSync(join(RECORDING, name), 'utf8');
  const json = { 'content-type': 'application/json' };
  const good = (prefix: string, which: 'production' | 'staging'): FixtureRoutes => ({
    [`${prefix}/queue_size.json`]: { body: file(`${which}-queue_size.json`), headers: json },
    [`${prefix}/static/running.json`]: { body: file(`${which}-running.json`), headers: json },
  });
  before(async () => {
    server = await startHttpFixtureServer({
      ...good('/ok', 'production'),
      ...good('/ok-staging', 'staging'),
      '/down/queue_size.json': { body: file('staging-queue_size.json'), headers: json },
      '/down/static/running.json': { status: 500, body: '<html><body><h1>500 Internal Server Error</h1></body></html>' },
      '/gone/queue_size.json': { status: 404, body: '<html><body><h1>Not Found</h1></body></html>' },
      '/html/queue_size.json': { body: '<!DOCTYPE html><html><body>Maintenance</body></html>', headers: { 'content-type': 'text/html' } },
      '/html/static/running.json': { body: '{}', headers: json },
      '/truncated/queue_size.json': { body: '{"huge": {"noble": {"amd64": 3, "arm', headers: json },
      '/truncated/static/running.json': { body: '{}', headers: json },
      '/shape/queue_size.json': { body: { ubuntu: { noble: { amd64: 'many' } } } },
      '/shape/static/running.json': { body: '{}', headers: json },
      '/list/queue_size.json': { body: [] },
      '/list/static/running.json': { body: '{}', headers: json },
      '/badrun/queue_size.json': { body: {} },
      '/badrun/static/running.json': { body: { hello: { key: ['resolute'] } } },
    });
  });
  after(async () => {
    await server?.close();
  });

  test('staging running.json answers 500: production points are still written, the run fails naming the URL and status', async () => {
    const r = await runInProcess(AutopkgtestMetric, 'autopkgtest', {
      env: { AUTOPKGTEST_URL: `${server.url}/ok/`, AUTOPKGTEST_STAGING_URL: `${server.url}/down/` },
      now: NOW,
    });
    assert.equal(r.report.ok, false);
    assert.ok(r.errors[0]?.includes(`${server.url}/down/static/running.json`), r.errors[0]);
    assert.match(r.errors[0] ?? '', /HTTP 500/);
    const production = EXPECTED.filter((p) => p.tags.instance === 'production');
    const stagingQueue = EXPECTED.filter((p) => p.tags.instance === 'staging' && p.measurement === 'autopkgtest_queue_size');
    assert.deepEqual(r.points, [
      ...production.filter((p) => p.measurement === 'autopkgtest_queue_size'),
      ...stagingQueue,
      ...production.filter((p) => p.measurement === 'autopkgtest_running'),
    ]);
  });

  const cases: Array<[string, string, RegExp]> = [
    ['a 404 error page', '/gone', /queue_size\.json failed: HTTP 404/],
    ['an HTML page with status 200', '/html', /queue_size\.json returned invalid JSON/],
    ['a truncated JSON body', '/truncated', /queue_size\.json returned invalid JSON/],
    ['a count that is not a number', '/shape', /queue_size\.json: ubuntu\.noble\.amd64: expected a count/],
    ['a list instead of an object', '/list', /queue_size\.json: expected an object of contexts, got a list/],
    ['running.json of another shape', '/badrun', /running\.json: hello\.key: expected an object of releases, got a list/],
  ];
  for (const [what, prefix, why] of cases) {
    test(`${what}: the run fails naming the URL`, async () => {
      const r = await runInProcess(AutopkgtestMetric, 'autopkgtest', {
        env: { AUTOPKGTEST_URL: `${server.url}${prefix}/`, AUTOPKGTEST_STAGING_URL: `${server.url}/ok-staging/` },
        now: NOW,
      });
      assert.equal(r.report.ok, false);
      assert.ok(r.errors[0]?.includes(`${server.url}${prefix}/`), r.errors[0]);
      assert.match(r.errors[0] ?? '', why);
    });
  }

  test('a base URL that is not http(s) is an error naming the variable', async () => {
    const r = await runInProcess(AutopkgtestMetric, 'autopkgtest', { env: { AUTOPKGTEST_URL: 'ftp://x/' }, now: NOW });
    assert.match(r.errors[0] ?? '', /AUTOPKGTEST_URL="ftp:\/\/x\/" is not an http\(s\) URL/);
  });
});

const stateDir = mkdtempSync(join(tmpdir(), 'autopkgtest-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

test('offline: bin/metrics run autopkgtest --dry-run --replay <recording> prints the same points from the default URLs', async () => {
  const r = await runDryRun('autopkgtest', { now: NOW, stateDir, replay: RECORDING });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.points, EXPECTED);
  assert.match(r.stderr, /autopkgtest\s+ok\s+16 points/);
});
