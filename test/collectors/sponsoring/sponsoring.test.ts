/**
 * The sponsoring collector: its date parsing and statistics; the collector run in-process by the
 * SDK's harness (`collectPoints`) against its recorded fixture (fixtures/recording/) at fixed
 * times, and against a local server failing in every way; then as a user runs it
 * (`bin/metrics run sponsoring --dry-run`), including a fixture made with `--record` and replayed
 * offline with `--replay`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_URL, parseQueuedDate, stats } from '../../../src/collectors/sponsoring/sponsoring.js';
import { collectPoints } from '../../../src/lib/sdk/testing.js';
import { readRecording } from '../../helpers/recording-server.js';
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
/** the harness's default now, 2026-01-01T00:00:00Z */
const DEFAULT_NS = '1767225600000000000';
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
  test("the default URL is the original's current one, and the recording is of it", () => {
    assert.equal(DEFAULT_URL, 'http://sponsoring-reports.ubuntu.com/jsons/general.json');
    assert.deepEqual(
      readRecording(RECORDING).map((e) => [e.method, e.url, e.status]),
      [['GET', DEFAULT_URL, 200]],
    );
  });
});

describe('the recorded fixture, in-process (collectPoints)', () => {
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Entry[];

  for (const now of ['2026-12-01T00:00:00Z', '2026-03-02T23:59:59.999Z', '2027-02-28T06:00:00+09:00']) {
    test(`at ${now}: exact tags, integer fields, the collection time on every point`, async () => {
      const r = await collectPoints('sponsoring', { fixtures: RECORDING, now });
      assert.deepEqual(r.errors, []);
      const ns = String(BigInt(Date.parse(now)) * 1_000_000n);
      assert.deepEqual([...r.lines].sort(), expectedLines(fixture, Math.floor(Date.parse(now) / DAY), ns).sort());
      // reports: every set name, plus sponsoring for all entries; no report for the entries with no sets or without "sets"
      assert.deepEqual(r.points.map((p) => p.tags.report).sort(), ['main', 'sponsoring', 'ubuntu-sponsors', 'universe']);
      for (const p of r.points) {
        assert.equal(p.measurement, 'sponsoring_queue_stats');
        assert.equal(p.time, ns);
        assert.deepEqual(
          Object.values(p.fields).map((f) => f.type),
          ['integer', 'integer', 'integer'],
        );
      }
    });
  }

  test('at 2026-12-01 the numbers are the ones worked out by hand', async () => {
    const r = await collectPoints('sponsoring', { fixtures: RECORDING, now: '2026-12-01T00:00:00Z' });
    const all = r.points.find((p) => p.tags.report === 'sponsoring');
    // ages in days: 01/15 → 320, 03/02 → 274, 06/30 → 154, 10/01 → 61, 11/20 → 11, 11/25 → 6; 826 / 6 → 137
    assert.deepEqual(all?.fields, {
      count: { type: 'integer', value: 6 },
      oldest: { type: 'integer', value: 320 },
      average_age: { type: 'integer', value: 137 },
    });
  });
});

describe('sources that fail, in-process (collectPoints against a local server)', () => {
  let server: HttpFixtureServer;
  const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Entry[];

  before(async () => {
    server = await startHttpFixtureServer({
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

  const collect = (path: string) => collectPoints('sponsoring', { env: { SPONSORING_URL: `${server.url}${path}` } });

  test('an empty queue: a sponsoring report with zeros', async () => {
    const r = await collect('/empty.json');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.lines, [`sponsoring_queue_stats,report=sponsoring count=0i,oldest=0i,average_age=0i ${DEFAULT_NS}`]);
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
    test(`the source fails: ${what} → an error naming the URL, no points`, async () => {
      const r = await collect(path);
      assert.equal(r.errors.length, 1, r.logs.join('\n'));
      assert.ok(r.errors[0]!.includes(`${server.url}${path}`), `the URL is named: ${r.errors[0]}`);
      assert.match(r.errors[0]!, why);
      assert.deepEqual(r.points, [], 'no points from a failed source');
    });
  }

  test('the source is unreachable → an error naming the URL', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/queue.json`;
    const r = await collectPoints('sponsoring', { env: { SPONSORING_URL: url } });
    assert.ok(r.errors[0]?.includes(url), r.errors.join('\n'));
    assert.match(r.errors[0] ?? '', /unreachable|ECONNREFUSED/);
    assert.deepEqual(r.points, []);
  });
});

describe('the whole collector as a user runs it (bin/metrics)', () => {
  let server: HttpFixtureServer;
  before(async () => {
    server = await startHttpFixtureServer({
      '/queue.json': { body: readFileSync(FIXTURE, 'utf8'), headers: { 'content-type': 'application/json' } },
      '/500': { status: 500, body: 'internal oops' },
    });
  });
  after(async () => {
    await server?.close();
  });

  test('the fixture, fetched for real: the default collection time is the time of the run', async () => {
    const msBefore = Date.now();
    const r = await cli(['run', 'sponsoring', '--dry-run', '--format', 'lp'], { env: { SPONSORING_URL: `${server.url}/queue.json` } });
    const msAfter = Date.now();
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4, show(r));
    const ns = lines[0]?.split(' ').at(-1) ?? '';
    assert.match(ns, /^\d{19}$/, show(r));
    const ms = Number(BigInt(ns) / 1_000_000n);
    assert.ok(ms >= msBefore && ms <= msAfter, `collection time ${ms} not within the run`);
    assert.ok(
      lines.every((l) => l.endsWith(` ${ns}`)),
      'one time for the run',
    );
    assert.match(r.stderr, /sponsoring\s+ok\s+4 points \(sponsoring_queue_stats 4\)/, show(r));
    assert.equal(server.requests.at(-1)?.path, '/queue.json');
    assert.match(String(server.requests.at(-1)?.headers.accept), /application\/json/);
  });

  test('the readable dry-run format, replayed from the fixture at a fixed now', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run', '--replay', RECORDING, '--now', '2026-12-01T00:00:00Z']);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /^sponsoring_queue_stats {2}report="sponsoring" {2}count=6i oldest=320i average_age=137i {2}2026-12-01T00:00:00/m,
      show(r),
    );
  });

  test('a failing source: exit 1 naming the URL, and it does not stop another collector', async () => {
    const r = await cli(['run', 'sponsoring', 'system', '--dry-run', '--format', 'lp'], { env: { SPONSORING_URL: `${server.url}/500` } });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(`${server.url}/500`), show(r));
    assert.match(r.stdout, /^system_load,host=/m, show(r));
    assert.doesNotMatch(r.stdout, /^sponsoring/m, show(r));
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
