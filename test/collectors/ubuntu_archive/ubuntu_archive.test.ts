/**
 * The ubuntu_archive collector against a recording of its sources (Launchpad, the archive team's
 * CSV and text reports, the team's active reviews page): the exact points the Python original
 * writes for the same answers, with their times, and the failures it used to log and forget.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runDryRun } from '../../helpers/in-process.js';
import {
  byArchSummary,
  countTeamReviews,
  csvTail,
  parseDateOutput,
  parseRfc2822,
  priorityMismatches,
} from '../../../src/collectors/ubuntu_archive/reports.js';
import { UbuntuArchiveMetric } from '../../../src/collectors/ubuntu_archive/ubuntu_archive.js';
import { type Expected, NOW_NS, expectPoints, runRecorded } from '../../helpers/recorded-run.js';
import { repoRoot } from '../../helpers/servers.js';

const FIXTURES = join(repoRoot, 'test', 'collectors', 'ubuntu_archive', 'fixtures', 'recording');
const env = { LAUNCHPAD_RETRIES: '0' };
const ARCH = ['amd64', 'arm64', 'armhf', 'i386', 'ppc64el', 'riscv64', 's390x'];
const NOW = Date.UTC(2026, 11, 2, 12);
const H = 3_600_000;
const ns = (ms: number) => `${ms}000000`;

const tmp = mkdtempSync(join(tmpdir(), 'ubuntu-archive-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the recording with the answer for the URL ending in `suffix` replaced. */
function variant(name: string, suffix: string, status: number, body: string): string {
  const dir = join(tmp, name);
  cpSync(FIXTURES, dir, { recursive: true });
  const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8')) as { requests: Array<Record<string, unknown>> };
  const e = index.requests.find((x) => String(x.url).endsWith(suffix))!;
  e.status = status;
  writeFileSync(join(dir, String(e.body)), body);
  writeFileSync(join(dir, 'requests.json'), JSON.stringify(index));
  return dir;
}

describe('the report parsers', () => {
  test('generated times: RFC 2822 with an offset, and date(1) output in GMT', () => {
    assert.equal(parseRfc2822('Wed, 02 Dec 2026 11:04:05 +0000', 'u'), Date.UTC(2026, 11, 2, 11, 4, 5));
    assert.equal(parseRfc2822('Wed, 02 Dec 2026 13:04:05 +0200', 'u'), Date.UTC(2026, 11, 2, 11, 4, 5));
    assert.equal(parseDateOutput('Wed Dec  2 10:30:01 GMT 2026', 'u'), Date.UTC(2026, 11, 2, 10, 30, 1));
    assert.throws(() => parseRfc2822('2026-12-02T11:04:05Z', 'http://x/r.txt'), /http:\/\/x\/r\.txt: the generated time/);
    assert.throws(() => parseDateOutput('Wed Feb 30 10:30:01 GMT 2026', 'u'), /not a valid date/);
  });

  test('csvTail: a 206 drops its first line (a fragment), a 200 keeps all but a header', () => {
    assert.deepEqual(csvTail('5,6\n1,2,3\n4,5,6\n', 206, 3, 'u'), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(csvTail('time,removable,total\n1,2,3\n', 200, 3, 'u'), [[1, 2, 3]]);
    assert.deepEqual(csvTail('', 206, 3, 'u'), []);
  });

  test('csvTail: a truncated or changed line is an error naming the URL, status and line', () => {
    assert.throws(
      () => csvTail('frag\n1,2,3\n4,5\n', 206, 3, 'http://x/nbs.csv'),
      /http:\/\/x\/nbs\.csv \(HTTP 206\): line 3 of the tail is not 3 whole numbers.*"4,5"/,
    );
    assert.throws(() => csvTail('1,2,3\n<html>oops</html>\n', 200, 3, 'u'), /line 2/);
  });

  test('byArchSummary and priorityMismatches refuse a page that is not the report', () => {
    assert.throws(() => byArchSummary('<html>404 Not Found</html>', ARCH, 'http://x/u.txt'), /http:\/\/x\/u\.txt: no "\* summary" section/);
    assert.throws(() => priorityMismatches('<html>500</html>', ARCH, 'http://x/p.txt'), /http:\/\/x\/p\.txt: no "Generated:" time/);
  });

  test('countTeamReviews: merge proposals under the "requested" and "can do" headings only', () => {
    const head = (t: string) => `<tr><td class="section-heading" colspan="4">${t}</td></tr>`;
    const mp = (n: number) => `<tr><td><a href="/~a/b/+git/b/+merge/${n}">x</a></td><td><a href="/~a">A</a></td></tr>`;
    assert.equal(countTeamReviews(`${head('Requested reviews by X')}${mp(1)}${mp(2)}${head('Reviews X is waiting on')}${mp(3)}`), 2);
    assert.equal(countTeamReviews(`${head('Reviews X can do')}${mp(1)}${head('Other')}${mp(2)}`), 1);
    assert.equal(countTeamReviews(`${mp(1)}`), 0);
    // a heading holding more than one piece of text reads as empty (BeautifulSoup's tag.string)
    assert.equal(countTeamReviews(`${head('Requested <b>reviews</b>')}${mp(1)}`), 0);
  });
});

describe('ubuntu_archive against a recording of its sources', () => {
  test("the points the original writes, in its order, with the reports' own times", async () => {
    const r = await runRecorded(UbuntuArchiveMetric, FIXTURES, env);
    assert.equal(r.report.ok, true, r.report.error);
    const byArch = (m: string, counts: number[], extra: Array<[string, number]> = []): Expected[] => [
      ...ARCH.map((arch, i): Expected => [m, { arch, release: 'resolute' }, { count: { i: counts[i]! } }]),
      ...extra.map(([arch, n]): Expected => [m, { arch, release: 'resolute' }, { count: { i: n } }]),
    ];
    const mismatch = (pocket: string, counts: number[]): Expected[] =>
      (
        [
          ['promotion', 'source'],
          ['promotion', 'binary'],
          ['demotion', 'source'],
          ['demotion', 'binary'],
        ] as const
      ).map(([action, type], i) => [
        'component_mismatch_stats',
        { action, pocket, release: 'resolute', type },
        { count: { i: counts[i]! } },
      ]);
    const expected: Expected[] = [
      ['nbs_stats', { release: 'resolute' }, { removable: { i: 97 }, total: { i: 470 } }],
      ['nbs_stats', { release: 'resolute' }, { removable: { i: 95 }, total: { i: 466 } }],
      ...byArch('uninst_stats', [12, 3, 0, 5, 4, 9, 2]),
      ...byArch('outdate_stats', [1, 0, 0, 0, 0, 6, 0], [['powerpc', 2]]),
      ...byArch('priority_mismatch_stats', [3, 0, 0, 1, 0, 0, 0]),
      ...mismatch('release', [12, 30, 5, 9]),
      ...mismatch('release', [11, 28, 5, 10]),
      ...mismatch('proposed', [4, 6, 1, 0]),
      ['ubuntu_archive_reviews', {}, { count: { i: 3 } }],
      ['ubuntu_archive_bugs', { type: 'subscribed' }, { count: { i: 42 } }],
      ['ubuntu_archive_bugs', { type: 'assigned' }, { count: { i: 7 } }],
    ];
    assert.deepEqual(
      r.points.map(({ time: _t, ...p }) => p),
      expectPoints(expected),
    );
    const generated = Date.UTC(2026, 11, 2, 11, 4, 5);
    const times = [
      ns(NOW - 6 * H),
      ns(NOW - H / 2),
      ...Array(7).fill(ns(generated)),
      ...Array(8).fill(ns(generated + 2000)),
      ...Array(7).fill(ns(Date.UTC(2026, 11, 2, 10, 30, 1))),
      ...Array(4).fill(ns(NOW - 2 * H)),
      ...Array(4).fill(ns(NOW - H)),
      ...Array(4).fill(ns(NOW - 3 * H)),
      NOW_NS,
      NOW_NS,
      NOW_NS,
    ];
    assert.deepEqual(
      r.points.map((p) => p.time),
      times,
    );
  });

  test('a report answering 404 fails the run naming its URL and status; the other reports are written', async () => {
    const dir = variant('404', '/priority-mismatches.txt', 404, '<html><head><title>404 Not Found</title></head></html>');
    const r = await runRecorded(UbuntuArchiveMetric, dir, env);
    assert.equal(r.report.ok, false);
    assert.match(
      r.report.error!,
      /1 of 7 reports failed: priority mismatches: GET https:\/\/\S+\/priority-mismatches\.txt failed: HTTP 404/,
    );
    assert.ok(!r.points.some((p) => p.measurement === 'priority_mismatch_stats'));
    assert.ok(
      r.points.some((p) => p.measurement === 'ubuntu_archive_bugs'),
      'the later reports are still written',
    );
  });

  test('an error page served with 200 in place of a britney report is an error, not zeros', async () => {
    const dir = variant('page', '/resolute_uninst.txt', 200, '<html><body>Service Unavailable</body></html>');
    const r = await runRecorded(UbuntuArchiveMetric, dir, env);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /uninstallable: https:\/\/\S+resolute_uninst\.txt: no "\* summary" section/);
  });

  test('a truncated CSV is an error naming the URL and status', async () => {
    const dir = variant('truncated', '/nbs.csv', 206, 'ment\n1796191200000,97,470\n1796211000000,9');
    const r = await runRecorded(UbuntuArchiveMetric, dir, env);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /NBS: https:\/\/ubuntu-archive-team\.ubuntu\.com\/nbs\.csv \(HTTP 206\): line 3 of the tail/);
  });

  test('the reviews page failing is an error, not a count of 0', async () => {
    const dir = variant('reviews', '/+activereviews', 503, 'Launchpad is down');
    const r = await runRecorded(UbuntuArchiveMetric, dir, env);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /reviews: GET https:\/\/code\.launchpad\.net\/~ubuntu-archive\/\+activereviews failed: HTTP 503/);
    assert.ok(!r.points.some((p) => p.measurement === 'ubuntu_archive_reviews'));
  });
});

test('offline: bin/metrics run ubuntu_archive --dry-run --replay <recording> prints the points of the in-process run', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'ubuntu-archive-cli-state-'));
  try {
    const inProcess = await runRecorded(UbuntuArchiveMetric, FIXTURES, { LAUNCHPAD_RETRIES: '0' });
    const r = await runDryRun('ubuntu_archive', { now: '2026-12-02T12:00:00Z', stateDir, replay: FIXTURES });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.points, inProcess.points);
    assert.match(r.stderr, /ubuntu_archive\s+ok\s+39 points/);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
