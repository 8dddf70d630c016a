/**
 * The cnf collector against recordings of Launchpad (the active series) and of the archive's
 * Apache listings of dists/<series>/main/cnf/: the exact points the Python original writes, and
 * the failures it used to skip silently or crash on.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runDryRun } from '../../helpers/in-process.js';
import { CommandNotFoundMetric, listedCommandsTime } from '../../../src/collectors/cnf/cnf.js';
import { withoutTime } from '../../helpers/line-protocol.js';
import { expectPoints, runRecorded } from '../../helpers/recorded-run.js';
import { repoRoot } from '../../helpers/servers.js';

const FIXTURES = join(repoRoot, 'test', 'collectors', 'cnf', 'fixtures', 'recording');
const env = { LAUNCHPAD_RETRIES: '0' };

const tmp = mkdtempSync(join(tmpdir(), 'cnf-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the recording with one series' listing replaced. */
function archiveVariant(name: string, series: string, status: number, body: string): string {
  const dir = join(tmp, name);
  cpSync(FIXTURES, dir, { recursive: true });
  const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8')) as { requests: Array<Record<string, unknown>> };
  const e = index.requests.find((x) => String(x.url).includes(`/dists/${series}/`))!;
  e.status = status;
  writeFileSync(join(dir, String(e.body)), body);
  writeFileSync(join(dir, 'requests.json'), JSON.stringify(index));
  return dir;
}

describe('listedCommandsTime', () => {
  const row = (name: string, when: string) =>
    `<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="${name}">${name}</a></td>` +
    `<td align="right">${when}  </td><td align="right"> 37K</td><td>&nbsp;</td></tr>`;
  test('the last Commands line wins, as in the original (not the newest)', () => {
    const html = [
      row('Commands-amd64.xz', '2026-12-02 09:36'),
      row('Commands-s390x.xz', '2026-11-01 00:00'),
      row('Other', '2027-01-01 00:00'),
    ];
    assert.equal(listedCommandsTime(html.join('\n'), 'u'), Date.UTC(2026, 10, 1));
  });
  test('no Commands line: undefined; a Commands line without a date: an error naming the URL', () => {
    assert.equal(listedCommandsTime('<html>Index of /</html>', 'u'), undefined);
    assert.throws(
      () => listedCommandsTime(row('Commands-amd64.xz', '02-Dec-2026 09:36'), 'http://x/cnf/'),
      /http:\/\/x\/cnf\/: the listing line/,
    );
    assert.throws(() => listedCommandsTime(row('Commands-amd64.xz', '2026-02-30 09:36'), 'u'), /no date/);
  });
});

describe('cnf against recordings of Launchpad and the archive', () => {
  test('one point per active series: the age in days (float) and out_of_date (boolean)', async () => {
    const r = await runRecorded(CommandNotFoundMetric, FIXTURES, env);
    assert.equal(r.report.ok, true, r.report.error);
    assert.deepEqual(
      withoutTime(r.points),
      expectPoints([
        ['command_not_found_age', { release: 'resolute' }, { cnf_age: 0.1, out_of_date: false }],
        ['command_not_found_age', { release: 'questing' }, { cnf_age: 1, out_of_date: false }],
        ['command_not_found_age', { release: 'noble' }, { cnf_age: 2.5, out_of_date: true }],
        ['command_not_found_age', { release: 'jammy' }, { cnf_age: 365, out_of_date: true }],
      ]),
    );
  });

  test('a listing answering 404 fails the run naming the series, URL and status; the other series are written', async () => {
    const dir = archiveVariant('404', 'noble', 404, '<html><head><title>404 Not Found</title></head><body>Not Found</body></html>');
    const r = await runRecorded(CommandNotFoundMetric, dir, env);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /1 of 4 series failed: noble: GET http:\S+\/dists\/noble\/main\/cnf\/ failed: HTTP 404/);
    assert.deepEqual(
      r.points.map((p) => p.tags.release),
      ['resolute', 'questing', 'jammy'],
    );
  });

  test('an answer that is no cnf listing (a proxy page) is an error, not a missing point', async () => {
    const dir = archiveVariant('proxy', 'jammy', 200, '<html><body>Please log in to the proxy</body></html>');
    const r = await runRecorded(CommandNotFoundMetric, dir, env);
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /jammy: \S+\/dists\/jammy\/main\/cnf\/: the listing names no Commands file/);
  });

  test('CNF_URL without {series} is refused', async () => {
    const r = await runRecorded(CommandNotFoundMetric, FIXTURES, { ...env, CNF_URL: 'http://mirror/cnf/' });
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /CNF_URL="http:\/\/mirror\/cnf\/" has no \{series\}/);
  });
});

test('offline: bin/metrics run cnf --dry-run --replay <recording> prints the points of the in-process run', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'cnf-cli-state-'));
  try {
    const inProcess = await runRecorded(CommandNotFoundMetric, FIXTURES, { LAUNCHPAD_RETRIES: '0' });
    const r = await runDryRun('cnf', { now: '2026-12-02T12:00:00Z', stateDir, replay: FIXTURES });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.points, inProcess.points);
    assert.match(r.stderr, /cnf\s+ok\s+4 points/);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
