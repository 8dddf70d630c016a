/**
 * The upload_queues collector against a recording of Launchpad (the distribution, its series in
 * two pages, getPackageUploads per active series and status, one queue in two pages): the exact
 * points the Python original writes for the same answers, and the failures it used to hide.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runDryRun } from '../../helpers/in-process.js';
import { UploadQueuesMetric, queueAges } from '../../../src/collectors/upload_queues/upload_queues.js';
import { withoutTime } from '../../helpers/line-protocol.js';
import { type Expected, NOW_NS, expectPoints, runRecorded } from '../../helpers/recorded-run.js';
import { repoRoot } from '../../helpers/servers.js';

const FIXTURES = join(repoRoot, 'test', 'collectors', 'upload_queues', 'fixtures', 'recording');
const lpEnv = { LAUNCHPAD_RETRIES: '0' };
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 2, 12);

const tmp = mkdtempSync(join(tmpdir(), 'upload-queues-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the recording with one exchange changed. */
function variant(name: string, change: (requests: Array<Record<string, unknown>>, dir: string) => void): string {
  const dir = join(tmp, name);
  cpSync(FIXTURES, dir, { recursive: true });
  const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8')) as { requests: Array<Record<string, unknown>> };
  change(index.requests, dir);
  writeFileSync(join(dir, 'requests.json'), JSON.stringify(index));
  return dir;
}

describe('queueAges', () => {
  test('whole days rounded down; the backlog is older than 10 days', () => {
    assert.deepEqual(queueAges([], NOW), { oldest_age_in_days: 0, ten_day_backlog_count: 0 });
    assert.deepEqual(queueAges([NOW - 10 * DAY - 1], NOW), { oldest_age_in_days: 10, ten_day_backlog_count: 0 });
    assert.deepEqual(queueAges([NOW - 11 * DAY], NOW), { oldest_age_in_days: 11, ten_day_backlog_count: 1 });
    assert.deepEqual(queueAges([NOW - DAY, NOW - 30 * DAY, NOW - 12 * DAY], NOW), { oldest_age_in_days: 30, ten_day_backlog_count: 2 });
  });
  test('an upload from the future is age -1 at most, not the oldest', () => {
    assert.deepEqual(queueAges([NOW + 1000], NOW), { oldest_age_in_days: 0, ten_day_backlog_count: 0 });
  });
});

describe('upload_queues against a Launchpad recording', () => {
  test('the points the original writes: sizes first, then ages, per active series and status', async () => {
    const r = await runRecorded(UploadQueuesMetric, FIXTURES, lpEnv);
    assert.equal(r.report.ok, true, r.report.error);
    const size = (release: string, status: string, devel: string, n: number): Expected => [
      'ubuntu_queue_size',
      { devel, release, status },
      { count: { i: n } },
    ];
    const ages = (release: string, status: string, devel: string, oldest: number, backlog: number): Expected => [
      'queue_ages',
      { devel, release, status },
      { oldest_age_in_days: { i: oldest }, ten_day_backlog_count: { i: backlog } },
    ];
    assert.deepEqual(
      withoutTime(r.points),
      expectPoints([
        size('resolute', 'Unapproved', 'True', 3),
        size('resolute', 'New', 'True', 0),
        size('questing', 'Unapproved', 'False', 1),
        size('questing', 'New', 'False', 1),
        size('noble', 'Unapproved', 'False', 2),
        size('noble', 'New', 'False', 0),
        size('jammy', 'Unapproved', 'False', 1),
        size('jammy', 'New', 'False', 0),
        ages('resolute', 'Unapproved', 'True', 12, 1),
        ages('resolute', 'New', 'True', 0, 0),
        ages('questing', 'Unapproved', 'False', 61, 1),
        ages('questing', 'New', 'False', 0, 0),
        ages('noble', 'Unapproved', 'False', 11, 1),
        ages('noble', 'New', 'False', 0, 0),
        ages('jammy', 'Unapproved', 'False', 365, 1),
        ages('jammy', 'New', 'False', 0, 0),
      ]),
    );
    assert.ok(
      r.points.every((p) => p.time === NOW_NS),
      'the collection time',
    );
    // the tags are written sorted, as the Python client writes them
    assert.match(r.lines[0]!, /^ubuntu_queue_size,devel=True,release=resolute,status=Unapproved count=3i /);
  });

  test('a Launchpad error answer fails the collector naming the URL and status', async () => {
    const dir = variant('error', (reqs, d) => {
      const e = reqs.find((x) => String(x.url).includes('noble?') && String(x.url).includes('New'))!;
      e.status = 503;
      e.headers = { 'content-type': 'text/html' };
      writeFileSync(join(d, 'oops.html'), '<html><body>Launchpad is down for maintenance</body></html>');
      e.body = 'oops.html';
    });
    const r = await runRecorded(UploadQueuesMetric, dir, lpEnv);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /GET https:\/\/api\.launchpad\.net\/devel\/ubuntu\/noble\?.*getPackageUploads.*New.* failed: HTTP 503/);
    assert.equal(r.points.length, 0, 'no partial queue sizes');
  });

  test('an unreachable Launchpad fails the collector naming the URL', async () => {
    const r = await runRecorded(UploadQueuesMetric, undefined, { LAUNCHPAD_API_URL: 'http://127.0.0.1:9/devel', LAUNCHPAD_RETRIES: '0' });
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /GET http:\/\/127\.0\.0\.1:9\/devel\/ubuntu failed: .*unreachable/);
  });

  test('an upload without a date is an error, not an age of 0', async () => {
    const dir = variant('nodate', (reqs, d) => {
      const e = reqs.find((x) => String(x.url).includes('jammy?') && String(x.url).includes('Unapproved'))!;
      const body = JSON.parse(readFileSync(join(d, String(e.body)), 'utf8'));
      body.entries[0].date_created = null;
      writeFileSync(join(d, String(e.body)), JSON.stringify(body));
    });
    const r = await runRecorded(UploadQueuesMetric, dir, lpEnv);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /jammy.*upload #0 has no valid date_created: null/);
  });
});

test('offline: bin/metrics run upload_queues --dry-run --replay <recording> prints the points of the in-process run', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'upload-queues-cli-state-'));
  try {
    const inProcess = await runRecorded(UploadQueuesMetric, FIXTURES, { LAUNCHPAD_RETRIES: '0' });
    const r = await runDryRun('upload_queues', { now: '2026-12-02T12:00:00Z', stateDir, replay: FIXTURES });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.points, inProcess.points);
    assert.match(r.stderr, /upload_queues\s+ok\s+16 points/);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
