/**
 * The outbox end to end, as a user meets it (`bin/metrics run gen` and `bin/metrics outbox
 * flush` against the real InfluxDB 1.6.7, or a fixture server for a 401): which answers keep the
 * stored batches pending and which reject them, and a batch replayed byte for byte.
 *
 *  - a missing database (404) and bad credentials (401) keep the batches pending in the outbox
 *    (not rejected/): they wait until the database exists or the credentials are fixed; a run
 *    against a missing database exits 1 (not 3: waiting alone will not fix it);
 *  - a 400 (a field type conflict) still goes to rejected/ with the server's message;
 *  - a string field holding a newline goes through the outbox byte for byte.
 *
 * The collector `gen` is test/helpers/gen-collector.ts: its points come from GEN_POINTS.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { OutboxStatus } from '../../../src/lib/delivery/outbox/store.js';
import { makeGenCollector, type GenCollector } from '../../helpers/gen-collector.js';
import { freePort, runCli, startHttpFixtureServer, startInfluxd, type CliResult, type Influxd } from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'outbox-replay-test-'));
let gen: GenCollector;
let influxd: Influxd | undefined;

let seq = 0;
function fresh(name: string): string {
  const d = join(root, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

before(async () => {
  gen = await makeGenCollector();
  influxd = await startInfluxd();
});

after(async () => {
  await influxd?.stop();
  await gen?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** Environment of a `run` of the gen collector against the real influxd. */
function influxEnv(db: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(influxd!.port),
    INFLUXDB_DATABASE: db,
    INFLUX_MAX_RETRIES: '0',
    METRICS_COLLECTORS_DIR: gen.dir,
    ...extra,
  };
}

async function closedPort(): Promise<string> {
  return String(await freePort());
}

function outboxStatus(stateDir: string): Promise<{ r: CliResult; s: OutboxStatus }> {
  return runCli(['outbox', 'status', '--json'], { env: { METRICS_STATE_DIR: stateDir } }).then((r) => {
    assert.equal(r.code, 0, show(r));
    return { r, s: JSON.parse(r.stdout) };
  });
}

function pendingFiles(stateDir: string): string[] {
  const dir = join(stateDir, 'outbox');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.lp'))
    .sort();
}

const QUICK_POINTS = JSON.stringify(
  [0, 1, 2].map((i) => ({ measurement: 'quick', tags: { n: String(i) }, fields: { v: i }, time: 1700000000000 + i })),
);

test('stored batches are not rejected by a missing database (404): they wait until it exists', async (t) => {
  if (!influxd) return t.skip('influxd missing');
  const state = fresh('state-404');
  const down = await runCli(['run', 'gen'], {
    env: influxEnv('r2a', { METRICS_STATE_DIR: state, INFLUXDB_PORT: await closedPort(), GEN_POINTS: QUICK_POINTS }),
  });
  assert.equal(down.code, 3, show(down));
  const before = pendingFiles(state);
  assert.ok(before.length > 0, `nothing in the outbox\n${show(down)}`);
  const { s: s0 } = await outboxStatus(state);

  // the server is up, the database is not there
  const f1 = await runCli(['outbox', 'flush'], { env: influxEnv('r2a', { METRICS_STATE_DIR: state }) });
  assert.notEqual(f1.code, 0, show(f1));
  assert.match(f1.stdout + f1.stderr, /404|database not found|does not exist/i, show(f1));
  assert.deepEqual(pendingFiles(state), before, show(f1));
  const { s: s1 } = await outboxStatus(state);
  assert.equal(s1.files, s0.files, JSON.stringify(s1));
  assert.equal(s1.points, s0.points, JSON.stringify(s1));
  assert.equal(s1.rejected.files, 0, JSON.stringify(s1));
  assert.ok(!existsSync(join(state, 'outbox', 'rejected')) || readdirSync(join(state, 'outbox', 'rejected')).length === 0, show(f1));

  await influxd.query('CREATE DATABASE r2a');
  const f2 = await runCli(['outbox', 'flush'], { env: influxEnv('r2a', { METRICS_STATE_DIR: state }) });
  assert.equal(f2.code, 0, show(f2));
  assert.deepEqual(pendingFiles(state), [], show(f2));
  const rows = await influxd.rows('SELECT count(v) FROM quick', 'r2a');
  assert.equal(rows[0]?.count, 3, JSON.stringify(rows));
});

test('a run against a missing database exits 1 (not 3) and keeps its points in the outbox', async (t) => {
  if (!influxd) return t.skip('influxd missing');
  const state = fresh('state-missing-db');
  const r = await runCli(['run', 'gen'], { env: influxEnv('r2b_missing', { METRICS_STATE_DIR: state, GEN_POINTS: QUICK_POINTS }) });
  assert.equal(r.code, 1, show(r));
  const { s } = await outboxStatus(state);
  assert.ok(s.points >= 3, `outbox: ${JSON.stringify(s)}\n${show(r)}`);
  assert.equal(s.rejected.files, 0, `outbox: ${JSON.stringify(s)}\n${show(r)}`);
});

test('a 401 keeps the stored batches pending too', async () => {
  const server = await startHttpFixtureServer({
    'GET /ping': { status: 204, headers: { 'x-influxdb-version': '1.6.7' } },
    'POST /write': { status: 401, body: { error: 'authorization failed' } },
  });
  try {
    const state = fresh('state-401');
    const env = {
      INFLUXDB_HOSTNAME: '127.0.0.1',
      INFLUXDB_PORT: String(server.port),
      INFLUXDB_DATABASE: 'r2c',
      INFLUXDB_USERNAME: 'u',
      INFLUXDB_PASSWORD: 'wrong-password',
      INFLUX_MAX_RETRIES: '0',
      METRICS_COLLECTORS_DIR: gen.dir,
      METRICS_STATE_DIR: state,
    };
    const r = await runCli(['run', 'gen'], { env: { ...env, GEN_POINTS: QUICK_POINTS } });
    assert.equal(r.code, 1, show(r));
    const before = pendingFiles(state);
    assert.ok(before.length > 0, show(r));
    const f = await runCli(['outbox', 'flush'], { env });
    assert.notEqual(f.code, 0, show(f));
    assert.deepEqual(pendingFiles(state), before, show(f));
    const { s } = await outboxStatus(state);
    assert.equal(s.rejected.files, 0, JSON.stringify(s));
    assert.ok(
      server.requests.some((q) => q.method === 'POST' && q.path === '/write'),
      'no write reached the server',
    );
  } finally {
    await server.close();
  }
});

test('a 400 (field type conflict) still goes to rejected/ with the server message', async (t) => {
  if (!influxd) return t.skip('influxd missing');
  await influxd.createDatabase('r2d');
  await influxd.write('r2d', 'm v=1 1700000000000000000');
  const state = fresh('state-400');
  const r = await runCli(['run', 'gen'], {
    env: influxEnv('r2d', {
      METRICS_STATE_DIR: state,
      GEN_POINTS: JSON.stringify([{ measurement: 'm', fields: { v: 'str' }, time: 1700000001000 }]),
    }),
  });
  assert.equal(r.code, 1, show(r));
  const { s } = await outboxStatus(state);
  assert.equal(s.rejected.files, 1, `outbox: ${JSON.stringify(s)}\n${show(r)}`);
  const rejectedDir = join(state, 'outbox', 'rejected');
  const reasons = readdirSync(rejectedDir).filter((n) => n.endsWith('.reason.txt'));
  assert.equal(reasons.length, 1, readdirSync(rejectedDir).join(', '));
  assert.match(readFileSync(join(rejectedDir, reasons[0]!), 'utf8'), /field type conflict/);
});

test('a string field with a newline is stored and replayed byte for byte', async (t) => {
  if (!influxd) return t.skip('influxd missing');
  await influxd.createDatabase('r3');
  const state = fresh('state-newline');
  const points = JSON.stringify([{ measurement: 'nl', fields: { s: 'one\ntwo' }, time: 1700000002000 }]);
  const down = await runCli(['run', 'gen'], {
    env: influxEnv('r3', { METRICS_STATE_DIR: state, INFLUXDB_PORT: await closedPort(), GEN_POINTS: points }),
  });
  assert.equal(down.code, 3, show(down));
  const f = await runCli(['outbox', 'flush'], { env: influxEnv('r3', { METRICS_STATE_DIR: state }) });
  assert.equal(f.code, 0, show(f));
  const rows = await influxd.rows('SELECT s FROM nl', 'r3', { epoch: 'ms' });
  assert.deepEqual(
    rows.map((x) => [x.time, x.s]),
    [[1700000002000, 'one\ntwo']],
  );
  const { s } = await outboxStatus(state);
  assert.equal(s.corrupt, 0, JSON.stringify(s));
});
