/**
 * The contributors collector against a recording of Launchpad (ten team entries, the first page of
 * their members and participants, one size deferred to total_size_link): the exact points the
 * Python original writes, and a failing team that no longer disappears quietly.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runDryRun } from '../../helpers/in-process.js';
import { ContributorsMetric, TEAMS, parseTeams } from '../../../src/collectors/contributors/contributors.js';
import { withoutTime } from '../../helpers/line-protocol.js';
import { type Expected, expectPoints, runRecorded } from '../../helpers/recorded-run.js';
import { repoRoot } from '../../helpers/servers.js';

const FIXTURES = join(repoRoot, 'test', 'collectors', 'contributors', 'fixtures', 'recording');
const lpEnv = { LAUNCHPAD_RETRIES: '0' };

const tmp = mkdtempSync(join(tmpdir(), 'contributors-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const COUNTS: Record<string, [number, number]> = {
  motu: [153, 171],
  ubuntumembers: [640, 812],
  'ubuntu-archive': [27, 27],
  'ubuntu-core-dev': [118, 121],
  'ubuntu-dev': [5, 412],
  'ubuntu-developer-members': [4, 406],
  'ubuntu-release': [19, 19],
  'ubuntu-sru': [22, 22],
  'ubuntu-sru-developers': [31, 31],
  'ubuntu-uploaders': [3, 409],
};
const expected = (teams: readonly string[]): Expected[] =>
  teams.flatMap((team): Expected[] => [
    ['launchpad_team_members', { team, count_type: 'members' }, { count: { i: COUNTS[team]![0] } }],
    ['launchpad_team_members', { team, count_type: 'participants' }, { count: { i: COUNTS[team]![1] } }],
  ]);

describe('parseTeams', () => {
  test('comma-separated Launchpad names', () => {
    assert.deepEqual(parseTeams(' motu, ubuntu-sru ,'), ['motu', 'ubuntu-sru']);
    assert.throws(() => parseTeams(''), /CONTRIBUTORS_TEAMS="": it must be Launchpad team names/);
    assert.throws(() => parseTeams('motu,~bad/team'), /"~bad\/team" is not one/);
  });
});

describe('contributors against a Launchpad recording', () => {
  test('two points per team, in the order of the list; a deferred size is read from total_size_link', async () => {
    const r = await runRecorded(ContributorsMetric, FIXTURES, lpEnv);
    assert.equal(r.report.ok, true, r.report.error);
    assert.deepEqual(withoutTime(r.points), expectPoints(expected(TEAMS)));
    // the recording holds only one-entry pages (ws.size=1) and the total_size_link: a request for
    // anything else (walking a collection) would have failed the run
  });

  test('CONTRIBUTORS_TEAMS replaces the list', async () => {
    const r = await runRecorded(ContributorsMetric, FIXTURES, { ...lpEnv, CONTRIBUTORS_TEAMS: 'ubuntu-sru,motu' });
    assert.equal(r.report.ok, true, r.report.error);
    assert.deepEqual(withoutTime(r.points), expectPoints(expected(['ubuntu-sru', 'motu'])));
  });

  test('a team Launchpad does not know fails the run naming it and the status; the other teams are written', async () => {
    const dir = join(tmp, 'missing');
    cpSync(FIXTURES, dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8')) as { requests: Array<Record<string, unknown>> };
    const e = index.requests.find((x) => String(x.url).endsWith('/~ubuntu-release'))!;
    Object.assign(e, { status: 404, headers: { 'content-type': 'text/plain' }, body: 'nf.txt' });
    writeFileSync(join(dir, 'nf.txt'), "Object: <lp.registry.model.personset.PersonSet object>, name: '~ubuntu-release'\n");
    writeFileSync(join(dir, 'requests.json'), JSON.stringify(index));
    const r = await runRecorded(ContributorsMetric, dir, lpEnv);
    assert.equal(r.report.ok, false);
    assert.match(
      r.report.error!,
      /1 of 10 teams could not be read: team ubuntu-release: GET https:\/\/api\.launchpad\.net\/devel\/~ubuntu-release failed: HTTP 404/,
    );
    assert.deepEqual(withoutTime(r.points), expectPoints(expected(TEAMS.filter((t) => t !== 'ubuntu-release'))));
  });

  test('a person is not a team: an entry without member collections is an error', async () => {
    const dir = join(tmp, 'person');
    cpSync(FIXTURES, dir, { recursive: true });
    const body = JSON.parse(readFileSync(join(dir, 'motu.json'), 'utf8'));
    delete body.members_collection_link;
    writeFileSync(join(dir, 'motu.json'), JSON.stringify(body));
    const r = await runRecorded(ContributorsMetric, dir, { ...lpEnv, CONTRIBUTORS_TEAMS: 'motu' });
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /team motu: Launchpad \S+~motu: the entry has no members_collection_link/);
  });
});

test('offline: bin/metrics run contributors --dry-run --replay <recording> prints the points of the in-process run', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'contributors-cli-state-'));
  try {
    const inProcess = await runRecorded(ContributorsMetric, FIXTURES, { LAUNCHPAD_RETRIES: '0' });
    const r = await runDryRun('contributors', { now: '2026-12-02T12:00:00Z', stateDir, replay: FIXTURES });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.points, inProcess.points);
    assert.match(r.stderr, /contributors\s+ok\s+20 points/);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
