/**
 * The sponsoring collector: its date parsing and statistics, and the whole collector run as a
 * user runs it (`bin/metrics run sponsoring --dry-run --format lp`) against the recorded fixture
 * served by a local HTTP server (SPONSORING_URL), including a source that fails in every way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_URL, parseQueuedDate, stats } from '../../../src/collectors/sponsoring/sponsoring.js';
import { readRecording } from '../../../src/lib/platform/recording.js';
import {
  freePort,
  repoRoot,
  runCli,
  startHttpFixtureServer,
  type CliOptions,
  type CliResult,
  type HttpFixtureServer,
} from '../../helpers/servers.js';

/** This file's own state directory (locks, outbox, last runs): never the machine's. */
const stateDir = mkdtempSync(join(tmpdir(), 'sponsoring-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** `bin/metrics ...args` as a user runs it, with this file's state directory. */
const cli = (args: string[], opts: CliOptions = {}) => runCli(args, { ...opts, env: { STATE_DIRECTORY: stateDir, ...opts.env } });

/** The recording of the source (metrics-recording/1): general.json as sponsoring-reports.ubuntu.com serves it. */
const RECORDING = join(repoRoot, 'test', 'collectors', 'sponsoring', 'fixtures', 'recording');
const FIXTURE = join(RECORDING, 'general.json');
const DAY = 86_400_000;

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

describe('parseQueuedDate', () => {
  test('MM/DD/YY is UTC midnight of that day', () => {
    assert.equal(parseQueuedDate('01/15/26'), Date.UTC(2026, 0, 15));
    assert.equal(parseQueuedDate('12/31/25'), Date.UTC(2025, 11, 31));
    assert.equal(parseQueuedDate('02/29/24'), Date.UTC(2024, 1, 29));
  });
  test('two-digit years as Python %y: 69-99 are 19xx, 00-68 are 20xx', () => {
    assert.equal(parseQueuedDate('01/01/68'), Date.UTC(2068, 0, 1));
    assert.equal(parseQueuedDate('01/01/69'), Date.UTC(1969, 0, 1));
    assert.equal(parseQueuedDate('12/31/99'), Date.UTC(1999, 11, 31));
    assert.equal(parseQueuedDate('01/01/00'), Date.UTC(2000, 0, 1));
  });
  test('impossible dates are undefined, not rolled over', () => {
    assert.equal(parseQueuedDate('02/29/25'), undefined);
    assert.equal(parseQueuedDate('13/01/26'), undefined);
    assert.equal(parseQueuedDate('00/10/26'), undefined);
    assert.equal(parseQueuedDate('04/31/26'), undefined);
    assert.equal(parseQueuedDate('01/00/26'), undefined);
  });
  test('other formats are undefined', () => {
    for (const s of ['1/5/26', '2026-01-15', '01/15/2026', '', ' 01/15/26', '01-15-26', 'aa/bb/cc']) {
      assert.equal(parseQueuedDate(s), undefined, s);
    }
  });
});

describe('stats', () => {
  test('no ages: zeros', () => {
    assert.deepEqual(stats([]), { count: 0, oldest: 0, average_age: 0 });
  });
  test('count, oldest, and the average truncated to whole days', () => {
    assert.deepEqual(stats([1, 2, 4]), { count: 3, oldest: 4, average_age: 2 });
    assert.deepEqual(stats([5]), { count: 1, oldest: 5, average_age: 5 });
    assert.deepEqual(stats([0, 0, 1]), { count: 3, oldest: 1, average_age: 0 });
    assert.deepEqual(stats([10, 11]), { count: 2, oldest: 11, average_age: 10 });
    assert.deepEqual(stats([300, 1, 299]), { count: 3, oldest: 300, average_age: 200 });
  });
});

// ------------------------------------------------------------------------------------------------

interface Entry {
  date_queued: string;
  sets?: string[];
}

/** The expected lines for a given UTC day, computed independently of the collector. */
function expectedLines(entries: Entry[], todayDay: number, ns: string): string[] {
  const dayOf = (mmddyy: string): number => {
    const [mm, dd, yy] = mmddyy.split('/').map(Number) as [number, number, number];
    return Date.UTC(2000 + yy, mm - 1, dd) / DAY; // the fixture's years are 20xx
  };
  const byReport = new Map<string, number[]>([['sponsoring', []]]);
  for (const e of entries) {
    const age = Math.max(0, todayDay - dayOf(e.date_queued));
    byReport.get('sponsoring')!.push(age);
    for (const s of new Set(e.sets ?? [])) {
      if (!byReport.has(s)) byReport.set(s, []);
      byReport.get(s)!.push(age);
    }
  }
  return [...byReport].map(([report, ages]) => {
    const sum = ages.reduce((a, b) => a + b, 0);
    const avg = ages.length ? Math.floor(sum / ages.length) : 0;
    const oldest = ages.length ? Math.max(...ages) : 0;
    return `sponsoring_queue_stats,report=${report} count=${ages.length}i,oldest=${oldest}i,average_age=${avg}i ${ns}`;
  });
}

describe('the source', () => {
  test("the default URL is the original's current one, and the recording is of it", async () => {
    assert.equal(DEFAULT_URL, 'http://sponsoring-reports.ubuntu.com/jsons/general.json');
    assert.deepEqual(
      (await readRecording(RECORDING)).map((e) => [e.method, e.url, e.status]),
      [['GET', DEFAULT_URL, 200]],
    );
  });
});

describe('the sponsoring collector against a fixture server', () => {
  let server: HttpFixtureServer;
  const fixtureText = readFileSync(FIXTURE, 'utf8');
  const fixture = JSON.parse(fixtureText) as Entry[];

  before(async () => {
    server = await startHttpFixtureServer({
      '/queue.json': { body: fixtureText, headers: { 'content-type': 'application/json' } },
      '/empty.json': { body: [] },
      '/500': { status: 500, body: 'internal oops' },
      '/invalid.json': { body: '{"date_queued": "01/15/26", oops', headers: { 'content-type': 'application/json' } },
      '/object.json': { body: { entries: fixture } },
      '/bad-date.json': { body: [fixture[0], { date_queued: '02/30/26', sets: ['main'] }] },
      '/bad-format.json': { body: [{ date_queued: '2026-01-15', sets: ['main'] }] },
      '/bad-sets.json': { body: [{ date_queued: '01/15/26', sets: 'main' }] },
    });
  });
  after(async () => {
    await server?.close();
  });

  const run = (path: string, extra: string[] = []) =>
    cli(['run', 'sponsoring', '--dry-run', '--format', 'lp', ...extra], { env: { SPONSORING_URL: `${server.url}${path}` } });

  test('the fixture: exact tags and integer fields, one time for the run', async () => {
    const dayBefore = Math.floor(Date.now() / DAY);
    const msBefore = Date.now();
    const r = await run('/queue.json');
    const msAfter = Date.now();
    const dayAfter = Math.floor(Date.now() / DAY);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n');
    const ns = lines[0]?.split(' ').at(-1) ?? '';
    assert.match(ns, /^\d{19}$/, show(r));
    const ms = Number(BigInt(ns) / 1_000_000n);
    assert.ok(ms >= msBefore && ms <= msAfter, `collection time ${ms} not within the run`);
    // the run may straddle midnight UTC: then either day is right
    const candidates = [expectedLines(fixture, dayBefore, ns), expectedLines(fixture, dayAfter, ns)].map((l) => [...l].sort());
    const got = [...lines].sort();
    assert.ok(
      candidates.some((c) => JSON.stringify(c) === JSON.stringify(got)),
      `got:\n${got.join('\n')}\nexpected:\n${candidates[0]!.join('\n')}`,
    );
    // reports: every set name, plus sponsoring for all entries; no report for the entries with no sets or without "sets"
    assert.deepEqual(got.map((l) => /report=([^ ]+)/.exec(l)![1]).sort(), ['main', 'sponsoring', 'ubuntu-sponsors', 'universe']);
    assert.match(r.stderr, /sponsoring\s+ok\s+4 points \(sponsoring_queue_stats 4\)/, show(r));
    assert.equal(server.requests.at(-1)?.path, '/queue.json');
    assert.match(String(server.requests.at(-1)?.headers.accept), /application\/json/);
  });

  test('the readable dry-run format shows the same numbers', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run'], { env: { SPONSORING_URL: `${server.url}/queue.json` } });
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /^sponsoring_queue_stats {2}report="sponsoring" {2}count=6i oldest=\d+i average_age=\d+i {2}\d{4}-\d\d-\d\dT/m,
      show(r),
    );
  });

  test('an empty queue: a sponsoring report with zeros', async () => {
    const r = await run('/empty.json');
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout.trim(), /^sponsoring_queue_stats,report=sponsoring count=0i,oldest=0i,average_age=0i \d{19}$/, show(r));
  });

  const failures: Array<[string, string, RegExp]> = [
    ['HTTP 500', '/500', /HTTP 500/],
    ['invalid JSON', '/invalid.json', /invalid JSON/],
    ['a JSON object instead of a list', '/object.json', /expected a JSON list/],
    ['an entry with an impossible date', '/bad-date.json', /entry #1.*02\/30\/26/],
    ['an entry with a date in another format', '/bad-format.json', /entry #0.*date_queued/],
    ['an entry whose sets is not a list', '/bad-sets.json', /entry #0.*sets/],
  ];
  for (const [what, path, why] of failures) {
    test(`the source fails: ${what} → exit 1 naming the URL`, async () => {
      const r = await run(path);
      assert.equal(r.code, 1, show(r));
      assert.ok(r.stderr.includes(`${server.url}${path}`), `the URL is named:\n${show(r)}`);
      assert.match(r.stderr, why, show(r));
      assert.match(r.stderr, /sponsoring\s+FAILED/, show(r));
      assert.equal(r.stdout, '', 'no points from a failed source');
    });
  }

  test('the source is unreachable → exit 1 naming the URL', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/queue.json`;
    const r = await cli(['run', 'sponsoring', '--dry-run'], { env: { SPONSORING_URL: url } });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(url), show(r));
    assert.match(r.stderr, /unreachable|ECONNREFUSED/, show(r));
    assert.equal(r.stdout, '');
  });

  test('a failing source does not stop another collector', async () => {
    const r = await cli(['run', 'sponsoring', 'system', '--dry-run', '--format', 'lp'], { env: { SPONSORING_URL: `${server.url}/500` } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /^system_load,host=/m, show(r));
    assert.match(r.stderr, /sponsoring\s+FAILED/);
    assert.match(r.stderr, /system\s+ok/);
  });
});

describe('a test fixture made with --record, replayed offline with --replay', () => {
  const NOW = '2026-01-20T12:00:00Z';
  const recording = join(stateDir, 'recorded-queue');
  let url = '';
  let recorded: CliResult;

  before(async () => {
    const server = await startHttpFixtureServer({
      '/reports/queue.json': { body: readFileSync(FIXTURE, 'utf8'), headers: { 'content-type': 'application/json' } },
    });
    url = `${server.url}/reports/queue.json`;
    try {
      recorded = await cli(['run', 'sponsoring', '--dry-run', '--format', 'lp', '--now', NOW, '--record', recording], {
        env: { SPONSORING_URL: url },
      });
    } finally {
      await server.close(); // from here on, nothing answers at the URL
    }
  });

  test('the recording holds the answer', () => {
    assert.equal(recorded.code, 0, show(recorded));
    assert.match(recorded.stderr, /recorded 1 HTTP request into /, show(recorded));
    const index = JSON.parse(readFileSync(join(recording, 'requests.json'), 'utf8'));
    assert.deepEqual(index.requests, [
      { method: 'GET', url, status: 200, headers: { 'content-type': 'application/json' }, body: '001-queue.json' },
    ]);
    assert.deepEqual(JSON.parse(readFileSync(join(recording, '001-queue.json'), 'utf8')), JSON.parse(readFileSync(FIXTURE, 'utf8')));
  });

  test('replayed with the server gone: the same points', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run', '--format', 'lp', '--now', NOW, '--replay', recording], {
      env: { SPONSORING_URL: url },
    });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, recorded.stdout);
    assert.equal(r.stdout.trim().split('\n').length, 4, show(r));
  });

  test('a request missing from the recording fails, naming the URL and the recording', async () => {
    const other = url.replace('queue.json', 'other.json');
    const r = await cli(['run', 'sponsoring', '--dry-run', '--replay', recording], { env: { SPONSORING_URL: other } });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(`GET ${other} is not in the recording ${recording}`), show(r));
    assert.match(r.stderr, /sponsoring\s+FAILED/, show(r));
    assert.equal(r.stdout, '');
  });

  test('--replay in a real write is refused (exit 2)', async () => {
    const r = await cli(['run', 'sponsoring', '--replay', recording], { env: { SPONSORING_URL: url } });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--replay answers from a recording: use it with --dry-run/, show(r));
  });
});
