/**
 * The InfluxDB v2 write API (/api/v2/write, token, org, bucket), for real:
 *  - the request shape, recorded by a fake server playing InfluxDB 2.x's documented write
 *    endpoint (path, org/bucket/precision query, `Authorization: Token`, gzip, body lines);
 *  - what lands, in VictoriaMetrics (which implements /api/v2/write): series, labels, exact
 *    integer values and the run's timestamp (VictoriaMetrics keeps milliseconds).
 * The token never appears in any output.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  repoRoot,
  runCli,
  startHttpFixtureServer,
  startVictoriaMetrics,
  type CliOptions,
  type CliResult,
  type HttpFixtureServer,
  type RecordedRequest,
  type VictoriaMetrics,
  type VmSeries,
} from '../../helpers/servers.js';

const TOKEN = 'some-secret-token';
const DAY = 86_400_000;
const FIXTURE = join(repoRoot, 'test', 'collectors', 'sponsoring', 'fixtures', 'recording', 'general.json');
const fixtureText = readFileSync(FIXTURE, 'utf8');
const fixture = JSON.parse(fixtureText) as Array<{ date_queued: string; sets: string[] }>;

const outputs: Array<{ args: string[]; out: string }> = [];

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

function assertNoToken(text: string, where: string): void {
  assert.ok(!text.includes(TOKEN), `the token appears in ${where}:\n${text}`);
  assert.ok(!text.includes(Buffer.from(TOKEN).toString('base64')), `the token (base64) appears in ${where}:\n${text}`);
}

const stateRoot = mkdtempSync(join(tmpdir(), 'influx-v2-state-'));
after(() => rmSync(stateRoot, { recursive: true, force: true }));

/** `bin/metrics ...args` with a fresh state directory; every output is checked for the token. */
async function metrics(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const state = mkdtempSync(join(stateRoot, 'run-'));
  const r = await runCli(args, { timeoutMs: 45_000, ...opts, env: { STATE_DIRECTORY: state, ...opts.env } });
  outputs.push({ args, out: r.stdout + r.stderr });
  assertNoToken(r.stdout, `stdout of metrics ${args.join(' ')}`);
  assertNoToken(r.stderr, `stderr of metrics ${args.join(' ')}`);
  return r;
}

/** report → { count, oldest, average_age } for a UTC day number, computed independently. */
function expectedStats(todayDay: number): Map<string, { count: number; oldest: number; average_age: number }> {
  const byReport = new Map<string, number[]>([['sponsoring', []]]);
  for (const e of fixture) {
    const [mm, dd, yy] = e.date_queued.split('/').map(Number) as [number, number, number];
    const age = Math.max(0, todayDay - Date.UTC(2000 + yy, mm - 1, dd) / DAY);
    byReport.get('sponsoring')!.push(age);
    for (const s of new Set(e.sets)) {
      if (!byReport.has(s)) byReport.set(s, []);
      byReport.get(s)!.push(age);
    }
  }
  return new Map(
    [...byReport].map(([report, ages]) => [
      report,
      {
        count: ages.length,
        oldest: ages.length ? Math.max(...ages) : 0,
        average_age: ages.length ? Math.floor(ages.reduce((a, b) => a + b, 0) / ages.length) : 0,
      },
    ]),
  );
}

function expectedLines(todayDay: number, ns: string): string[] {
  return [...expectedStats(todayDay)].map(
    ([report, s]) => `sponsoring_queue_stats,report=${report} count=${s.count}i,oldest=${s.oldest}i,average_age=${s.average_age}i ${ns}`,
  );
}

describe('InfluxDB v2 write API', () => {
  let source: HttpFixtureServer;
  let recorder: HttpFixtureServer;
  let vm: VictoriaMetrics | undefined;

  before(async () => {
    source = await startHttpFixtureServer({ '/queue.json': { body: fixtureText, headers: { 'content-type': 'application/json' } } });
    // plays InfluxDB 2.x: POST /api/v2/write answers 204 No Content
    recorder = await startHttpFixtureServer({ 'POST /api/v2/write': { status: 204 } });
    vm = await startVictoriaMetrics();
  });
  after(async () => {
    await source?.close();
    await recorder?.close();
    await vm?.stop();
  });

  const v2env = (url: string, extra: Record<string, string> = {}): Record<string, string> => ({
    SPONSORING_URL: `${source.url}/queue.json`,
    INFLUX_URL: url,
    INFLUX_TOKEN: TOKEN,
    INFLUX_ORG: 'my-org',
    INFLUX_BUCKET: 'my bucket/raw',
    INFLUX_API_VERSION: '2',
    ...extra,
  });

  const writesOf = (reqs: RecordedRequest[]) => reqs.filter((r) => r.path === '/api/v2/write');

  test('the request: path, org, bucket, precision, token header, gzip, body lines', async () => {
    const first = recorder.requests.length;
    const dayBefore = Math.floor(Date.now() / DAY);
    const r = await metrics(['run', 'sponsoring', '--verbose'], { env: v2env(recorder.url, { INFLUX_GZIP_THRESHOLD: '100' }) });
    const dayAfter = Math.floor(Date.now() / DAY);
    assert.equal(r.code, 0, show(r));
    const reqs = recorder.requests.slice(first);
    const writes = writesOf(reqs);
    assert.ok(writes.length >= 1, `no write request:\n${show(r)}`);
    for (const w of writes) {
      assert.equal(w.method, 'POST');
      assert.equal(w.path, '/api/v2/write');
      assert.equal(w.query.get('org'), 'my-org');
      assert.equal(w.query.get('bucket'), 'my bucket/raw');
      assert.equal(w.query.get('precision'), 'ns');
      assert.equal(w.query.get('db'), null);
      assert.equal(w.headers.authorization, `Token ${TOKEN}`);
      assert.match(String(w.headers['content-type']), /^text\/plain/);
      // bodies over INFLUX_GZIP_THRESHOLD are gzipped, smaller ones are not
      const size = Buffer.byteLength(w.text, 'utf8');
      assert.equal(w.headers['content-encoding'], size > 100 ? 'gzip' : undefined, `body of ${size} bytes`);
      if (size > 100) assert.deepEqual(w.body.subarray(0, 2), Buffer.from([0x1f, 0x8b]), 'a gzip stream');
    }
    const data = writes.find((w) => w.text.includes('sponsoring_queue_stats'));
    assert.ok(data, 'the sponsoring points were sent');
    assert.equal(data.headers['content-encoding'], 'gzip');
    const lines = data.text.split('\n').filter((l) => l.startsWith('sponsoring_queue_stats'));
    const ns = lines[0]!.split(' ').at(-1)!;
    assert.match(ns, /^\d{19}$/);
    const got = [...lines].sort();
    const candidates = [expectedLines(dayBefore, ns), expectedLines(dayAfter, ns)].map((l) => [...l].sort());
    assert.ok(
      candidates.some((c) => JSON.stringify(c) === JSON.stringify(got)),
      `got:\n${got.join('\n')}\nexpected:\n${candidates[0]!.join('\n')}`,
    );
    // nothing went to the InfluxDB 1.x endpoints
    assert.deepEqual(
      reqs.filter((q) => q.path === '/write'),
      [],
    );
  });

  test('gzip off (INFLUX_GZIP_THRESHOLD=0): plain bodies', async () => {
    const first = recorder.requests.length;
    const r = await metrics(['run', 'sponsoring'], { env: v2env(recorder.url, { INFLUX_GZIP_THRESHOLD: '0' }) });
    assert.equal(r.code, 0, show(r));
    const writes = writesOf(recorder.requests.slice(first));
    assert.ok(writes.length >= 1);
    for (const w of writes) {
      assert.equal(w.headers['content-encoding'], undefined);
      assert.equal(w.body.toString('utf8'), w.text);
    }
    assert.ok(writes.some((w) => /^sponsoring_queue_stats,report=sponsoring count=6i,/m.test(w.text)));
  });

  test('a 401 from the server: exit 1 with the message, token not printed', async () => {
    const rejecting = await startHttpFixtureServer({
      'POST /api/v2/write': { status: 401, body: { code: 'unauthorized', message: 'unauthorized access' } },
    });
    try {
      const r = await metrics(['run', 'sponsoring', '--verbose'], { env: v2env(rejecting.url) });
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /401/, show(r));
      assert.match(r.stderr, /unauthorized access/, show(r));
      assert.equal(rejecting.requests.filter((q) => q.path === '/api/v2/write').length >= 1, true);
    } finally {
      await rejecting.close();
    }
  });

  /** The sponsoring series in VictoriaMetrics, with the samples taken within [fromMs, toMs]. */
  async function samplesBetween(
    fromMs: number,
    toMs: number,
  ): Promise<Array<{ metric: Record<string, string>; value: number; ts: number }>> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const series: VmSeries[] = await vm!.exportSeries('{__name__=~"sponsoring_queue_stats_.*"}', { minSeries: 12 });
      const samples = series.flatMap((s) =>
        s.timestamps.map((ts, i) => ({ metric: s.metric, value: s.values[i]!, ts })).filter((x) => x.ts >= fromMs && x.ts <= toMs),
      );
      if (samples.length >= 12 || Date.now() > deadline) return samples;
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  function checkSamples(samples: Array<{ metric: Record<string, string>; value: number; ts: number }>, day: number): void {
    const stats = expectedStats(day);
    const expected = [...stats]
      .flatMap(([report, s]) => (['count', 'oldest', 'average_age'] as const).map((f) => `sponsoring_queue_stats_${f} ${report} ${s[f]}`))
      .sort();
    const got = samples.map((x) => `${x.metric.__name__} ${x.metric.report} ${x.value}`).sort();
    assert.deepEqual(got, expected);
    for (const x of samples) assert.deepEqual(Object.keys(x.metric).sort(), ['__name__', 'report'], JSON.stringify(x.metric));
    // one timestamp for the whole run
    assert.equal(new Set(samples.map((x) => x.ts)).size, 1, JSON.stringify(samples.map((x) => x.ts)));
  }

  test("victoria-metrics stores the series with report labels, exact integers and the run's time", async (t) => {
    if (!vm) return t.skip('victoria-metrics not installed');
    const msBefore = Date.now();
    const r = await metrics(['run', 'sponsoring'], { env: v2env(vm.url) });
    const msAfter = Date.now();
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /sponsoring\s+ok\s+4 points .*: 4 written/, show(r));
    const samples = await samplesBetween(msBefore, msAfter);
    assert.equal(samples.length, 12, JSON.stringify(samples));
    // near midnight UTC the run may belong to either day
    const day = Math.floor(samples[0]!.ts / DAY);
    checkSamples(samples, day);
    const names = [...new Set(samples.map((x) => x.metric.__name__))].sort();
    assert.deepEqual(names, ['sponsoring_queue_stats_average_age', 'sponsoring_queue_stats_count', 'sponsoring_queue_stats_oldest']);
    const count = samples.find((x) => x.metric.__name__ === 'sponsoring_queue_stats_count' && x.metric.report === 'sponsoring');
    assert.equal(count?.value, 6);
  });

  test('INFLUX_API_VERSION=auto works against victoria-metrics', async (t) => {
    if (!vm) return t.skip('victoria-metrics not installed');
    const msBefore = Date.now();
    const r = await metrics(['run', 'sponsoring', '--verbose'], { env: v2env(vm.url, { INFLUX_API_VERSION: 'auto' }) });
    const msAfter = Date.now();
    assert.equal(r.code, 0, show(r));
    const samples = await samplesBetween(msBefore, msAfter);
    assert.equal(samples.length, 12, JSON.stringify(samples));
    checkSamples(samples, Math.floor(samples[0]!.ts / DAY));
  });
});

test('the token appears in no output of this file', () => {
  assert.ok(outputs.length >= 3, 'the runs happened');
  for (const o of outputs) assertNoToken(o.out, `metrics ${o.args.join(' ')}`);
});
