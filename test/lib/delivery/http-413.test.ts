/**
 * A request refused as too large (HTTP 413) never wedges delivery or the outbox, against the REAL
 * influxd 1.6.7 started with `[http] max-body-size = 20000` (bytes; the bulk collector's points
 * are about 40 bytes, so a batch of 5000 is about 200 000 bytes). Gzip is off
 * (INFLUX_GZIP_THRESHOLD=0): influxd 1.6.7 applies the limit to the bytes on the wire.
 *
 * - a batch over the limit is split in halves until each part is accepted: every point lands;
 * - a single point over the limit goes to the outbox's rejected/ with the 413 reason, the others
 *   land;
 * - an outbox filled with batches over the limit drains with `outbox flush` once
 *   INFLUX_BATCH_SIZE is lowered (stored batches are replayed in requests of at most
 *   INFLUX_BATCH_SIZE points), and a run replays them before its own points;
 * - a refused replay (here: a proxy answering 403 to the stored batch) does not send the run's
 *   new points to the outbox: they are tried, and land.
 *
 * Every point has its own timestamp, so `SELECT count(v)` is exact however often a part is sent.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import { freePort, runCli, startHttpFixtureServer, startInfluxd, type CliResult, type Influxd } from '../../helpers/servers.js';

const MAX_BODY = 20_000;
const root = mkdtempSync(join(tmpdir(), 'delivery-413-test-'));
let influx: Influxd | undefined;
let collectors: BulkCollectors | undefined;

/**
 * `big`: BIG_POINTS points `big,n=<i%10> v=<i>i <1700000000000 + i ms>`; the point at BIG_AT
 * also carries a string field `s` of BIG_BYTES characters.
 */
const BIG_INDEX = `export const RUN_INTERVAL = '5m';
export async function runMetric(options) {
  const { BigMetric } = await import('./big.js');
  return new BigMetric(options).run();
}
`;
const BIG_JS = `import { Metric, int } from '../../lib/sdk/index.js';
export class BigMetric extends Metric {
  collect() {
    const n = Number(this.env.BIG_POINTS ?? 1000);
    const at = Number(this.env.BIG_AT ?? -1);
    const big = 'x'.repeat(Number(this.env.BIG_BYTES ?? 0));
    const out = [];
    for (let i = 0; i < n; i++) {
      const fields = { v: int(i) };
      if (i === at) fields.s = big;
      out.push({ measurement: 'big', tags: { n: String(i % 10) }, fields, time: 1700000000000 + i });
    }
    return out;
  }
}
`;

before(async () => {
  influx = await startInfluxd({ maxBodySize: MAX_BODY });
  collectors = await makeBulkCollectors();
  mkdirSync(join(collectors.dir, 'big'));
  writeFileSync(join(collectors.dir, 'big', 'index.js'), BIG_INDEX);
  writeFileSync(join(collectors.dir, 'big', 'big.js'), BIG_JS);
});

after(async () => {
  await influx?.stop();
  await collectors?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

interface Ctx {
  db: string;
  state: string;
  env: Record<string, string>;
}

async function setup(t: TestContext, name: string): Promise<Ctx | undefined> {
  if (!influx || !collectors) {
    t.skip('influxd is not installed (Debian package influxdb)');
    return undefined;
  }
  const db = `d413_${name}`;
  await influx.createDatabase(db);
  const state = join(root, name);
  mkdirSync(state, { recursive: true });
  return {
    db,
    state,
    env: {
      METRICS_COLLECTORS_DIR: collectors.dir,
      METRICS_STATE_DIR: state,
      INFLUXDB_HOSTNAME: '127.0.0.1',
      INFLUXDB_PORT: String(influx.port),
      INFLUXDB_DATABASE: db,
      INFLUX_GZIP_THRESHOLD: '0',
      INFLUX_TIMEOUT: '10',
      INFLUX_MAX_RETRIES: '0',
    },
  };
}

function metrics(ctx: Ctx, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { env: { ...ctx.env, ...env }, timeoutMs: 60_000 });
}

async function count(db: string, measurement: string): Promise<number> {
  const rows = await influx!.rows(`SELECT count(v) FROM ${measurement}`, db);
  return rows.length === 0 ? 0 : Number(rows[0]!.count);
}

interface Status {
  dir: string;
  files: number;
  points: number;
  rejected: { files: number; points: number };
}

async function outbox(ctx: Ctx): Promise<Status> {
  const r = await metrics(ctx, ['outbox', 'status', '--json']);
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout) as Status;
}

/** Fills the outbox with batches of 5000 bulk points (about 200 000 bytes each): InfluxDB is not there. */
async function fillOutbox(ctx: Ctx, points: number): Promise<void> {
  const r = await metrics(ctx, ['run', 'bulk'], { BULK_POINTS: String(points), INFLUXDB_PORT: String(await freePort()) });
  assert.equal(r.code, 3, show(r));
  const s = await outbox(ctx);
  assert.equal(s.points, points + 1, JSON.stringify(s));
}

describe('HTTP 413 from the real influxd 1.6.7 (max-body-size 20000)', () => {
  test('a batch larger than max-body-size is split until accepted: every point lands, exact count, nothing in the outbox', async (t) => {
    const ctx = await setup(t, 'split');
    if (!ctx) return;
    const r = await metrics(ctx, ['run', 'bulk'], { BULK_POINTS: '20000' });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /bulk\s+ok\s+20000 points \(bulk 20000\): 20000 written/, show(r));
    assert.equal(await count(ctx.db, 'bulk'), 20000);
    const s = await outbox(ctx);
    assert.equal(s.points, 0, JSON.stringify(s));
    assert.equal(s.rejected.points, 0, JSON.stringify(s));
    const self = await influx!.rows(`SELECT "written", "rejected" FROM collector_run WHERE collector = 'bulk'`, ctx.db);
    assert.deepEqual(
      self.map((x) => [x.written, x.rejected]),
      [[20000, 0]],
    );
  });

  test('a single point larger than max-body-size goes to rejected/ with the 413 reason; the other points land', async (t) => {
    const ctx = await setup(t, 'single');
    if (!ctx) return;
    const r = await metrics(ctx, ['run', 'big'], { BIG_POINTS: '1000', BIG_AT: '500', BIG_BYTES: '30000' });
    assert.equal(r.code, 1, `the run fails: a point was refused\n${show(r)}`);
    assert.match(r.stderr, /big\s+FAILED\s+1000 points \(big 1000\): 999 written, 1 rejected/, show(r));
    assert.match(r.stderr, /single point of \d+ bytes as too large \(HTTP 413/, show(r));
    assert.equal(await count(ctx.db, 'big'), 999);
    const rows = await influx!.rows('SELECT v FROM big WHERE v = 500', ctx.db);
    assert.equal(rows.length, 0, 'the big point is not in InfluxDB');

    const s = await outbox(ctx);
    assert.equal(s.points, 0, JSON.stringify(s));
    assert.deepEqual(s.rejected, { ...s.rejected, files: 1, points: 1 }, JSON.stringify(s));
    const dir = join(s.dir, 'rejected');
    const reason = readdirSync(dir).find((n) => n.endsWith('.reason.txt'))!;
    const text = readFileSync(join(dir, reason), 'utf8');
    assert.match(text, /HTTP 413/, text);
    assert.match(text, /max-body-size/, text);
    const batch = readFileSync(join(dir, reason.replace(/\.reason\.txt$/, '')), 'utf8');
    assert.match(batch, /^big,n=0 v=500i,s="x{30000}" 1700000000500000000$/m, 'the refused point is kept byte for byte');
  });

  test(
    'an outbox filled with batches over the limit drains with `outbox flush` after INFLUX_BATCH_SIZE is lowered: exit 0, exact ' +
      'count, outbox empty',
    async (t) => {
      const ctx = await setup(t, 'flush');
      if (!ctx) return;
      await fillOutbox(ctx, 20000);
      const flush = await metrics(ctx, ['outbox', 'flush'], { INFLUX_BATCH_SIZE: '250' });
      assert.equal(flush.code, 0, show(flush));
      assert.match(flush.stdout, /sent 20001 points \(5 files\); rejected 0 points/, show(flush));
      assert.equal(await count(ctx.db, 'bulk'), 20000);
      const s = await outbox(ctx);
      assert.equal(s.files, 0, JSON.stringify(s));
      assert.equal(s.points, 0, JSON.stringify(s));
      assert.equal(s.rejected.points, 0, JSON.stringify(s));
    },
  );

  test('stored batches over the limit are replayed by the next run, and its new points land too (not to the outbox)', async (t) => {
    const ctx = await setup(t, 'replay');
    if (!ctx) return;
    await fillOutbox(ctx, 10000);
    const r = await metrics(ctx, ['run', 'quick']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /quick\s+ok\s+3 points \(quick 3\): 3 written/, show(r));
    assert.equal(await count(ctx.db, 'bulk'), 10000);
    assert.equal(await count(ctx.db, 'quick'), 3);
    assert.equal((await outbox(ctx)).points, 0);
  });

  test("a refused replay (403 for the stored batch) does not send the run's new points to the outbox: they land", async (t) => {
    const ctx = await setup(t, 'refused');
    if (!ctx) return;
    await fillOutbox(ctx, 100);
    // a proxy that refuses the stored bulk points (as an authorization proxy might) and passes the rest on
    const proxy = await startHttpFixtureServer(async (req, res) => {
      if (req.method === 'POST' && req.path === '/write' && /^bulk,/m.test(req.text)) {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end('{"error":"forbidden: bulk (injected by the test proxy)"}');
        return;
      }
      const up = await fetch(`${influx!.url}${req.url}`, {
        method: req.method,
        headers: { 'content-type': String(req.headers['content-type'] ?? 'text/plain') },
        body: req.method === 'POST' ? req.body : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' });
      res.end(Buffer.from(await up.arrayBuffer()));
    });
    t.after(() => proxy.close());
    const r = await metrics(ctx, ['run', 'quick'], { INFLUXDB_PORT: String(proxy.port) });
    assert.match(r.stderr, /refuses the stored points/, show(r));
    assert.match(r.stderr, /quick\s+ok\s+3 points \(quick 3\): 3 written/, show(r));
    // the collector itself succeeded (the refusal of the stored batch is reported above, and by outbox status)
    assert.equal(r.code, 0, show(r));
    assert.equal(await count(ctx.db, 'quick'), 3);
    const self = await influx!.rows(`SELECT "written" FROM collector_run WHERE collector = 'quick'`, ctx.db);
    assert.deepEqual(
      self.map((x) => x.written),
      [3],
      'the collector_run point of this run landed too',
    );
    const s = await outbox(ctx);
    assert.equal(s.points, 100 + 1, `only the stored batch and its collector_run point wait: ${JSON.stringify(s)}`);
  });
});
