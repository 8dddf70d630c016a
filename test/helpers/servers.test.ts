import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  cleanEnv,
  findBinary,
  freePort,
  repoRoot,
  requireBinary,
  startHttpFixtureServer,
  startInfluxd,
  startVictoriaMetrics,
} from './servers.js';

test('freePort returns distinct usable loopback ports', async () => {
  const a = await freePort();
  const b = await freePort();
  assert.ok(a > 0 && a < 65536);
  assert.ok(b > 0 && b < 65536);
});

test('repoRoot points at the repository', () => {
  assert.ok(existsSync(`${repoRoot}/package.json`), repoRoot);
});

test('requireBinary finds binaries and reports missing ones', () => {
  assert.equal(requireBinary('node'), findBinary('node'));
  const saved = process.env.CI;
  try {
    process.env.CI = 'true';
    assert.throws(() => requireBinary('no-such-binary-xyz'), /no-such-binary-xyz is required in CI/);
    process.env.CI = 'false';
    const origWrite = process.stderr.write;
    let printed = '';
    process.stderr.write = ((s: string) => {
      printed += s;
      return true;
    }) as typeof process.stderr.write;
    try {
      let skipped: string | undefined;
      assert.equal(requireBinary('no-such-binary-xyz', { skip: (m) => (skipped = m) }), undefined);
      assert.match(skipped ?? '', /no-such-binary-xyz not found/);
    } finally {
      process.stderr.write = origWrite;
    }
    assert.match(printed, /\*\*\* SKIPPED: no-such-binary-xyz not found/);
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
});

test('cleanEnv drops collector variables and applies overrides', () => {
  process.env.INFLUX_TOKEN_TEST = 'x';
  process.env.METRICS_TEST = 'x';
  try {
    const env = cleanEnv({ METRICS_KEEP: 'y', PATH: undefined });
    assert.equal(env.INFLUX_TOKEN_TEST, undefined);
    assert.equal(env.METRICS_TEST, undefined);
    assert.equal(env.METRICS_KEEP, 'y');
    assert.equal('PATH' in env, false);
  } finally {
    delete process.env.INFLUX_TOKEN_TEST;
    delete process.env.METRICS_TEST;
  }
});

test('influxd: write, query back, SIGKILL + restart keeps data, stop removes the dir', async (t) => {
  const influx = await startInfluxd({ t });
  if (!influx) return;
  t.after(() => influx.stop());

  await influx.createDatabase('harness');
  const res = await fetch(`${influx.url}/write?db=harness&precision=s`, {
    method: 'POST',
    body: 'cpu,host=a\\ b usage=1.5,note="x \\"y\\"" 1700000000\n',
  });
  assert.equal(res.status, 204, await res.text());

  const rows = await influx.rows('SELECT * FROM cpu', 'harness', { epoch: 's' });
  assert.deepEqual(rows, [{ _measurement: 'cpu', time: 1700000000, host: 'a b', note: 'x "y"', usage: 1.5 }]);

  await assert.rejects(influx.query('SELECT * FROM', 'harness'), /InfluxDB \/query/);
  await assert.rejects(influx.query('SELECT * FROM cpu', 'nodb'), /database not found/);

  const pid = influx.pid;
  influx.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(influx.pid, undefined);
  await influx.restart();
  assert.notEqual(influx.pid, pid);
  const after = await influx.rows('SELECT usage FROM cpu', 'harness', { epoch: 's' });
  assert.deepEqual(after, [{ _measurement: 'cpu', time: 1700000000, usage: 1.5 }]);

  await influx.stop();
  assert.equal(existsSync(influx.dir), false);
});

test('influxd with auth: first admin created, unauthenticated queries refused', async (t) => {
  const influx = await startInfluxd({ t, auth: { username: 'admin', password: "p'w" } });
  if (!influx) return;
  t.after(() => influx.stop());
  await influx.createDatabase('secure');
  await influx.write('secure', 'm v=1 1', 'ns');
  assert.deepEqual(await influx.rows('SELECT v FROM m', 'secure', { epoch: 'ns' }), [{ _measurement: 'm', time: 1, v: 1 }]);
  const res = await fetch(`${influx.url}/query?q=SHOW+DATABASES`);
  assert.equal(res.status, 401);
});

test('victoria-metrics accepts a gzipped /api/v2/write line and exports it', async (t) => {
  const vm = await startVictoriaMetrics({ t });
  if (!vm) return;
  t.after(() => vm.stop());
  const ts = BigInt(Date.now()) * 1_000_000n + 123_456n;
  const res = await fetch(`${vm.url}/api/v2/write?org=o&bucket=b&precision=ns`, {
    method: 'POST',
    headers: { authorization: 'Token x', 'content-encoding': 'gzip' },
    body: gzipSync(`disk,host=h1 used=42i,free=0.5,label="s" ${ts}\n`),
  });
  assert.equal(res.status, 204, await res.text());
  const series = await vm.exportSeries('{__name__=~"disk_.*"}', { minSeries: 3 });
  const ms = Number(ts / 1_000_000n);
  assert.deepEqual(series, [
    { metric: { __name__: 'disk_free', host: 'h1' }, values: [0.5], timestamps: [ms] },
    { metric: { __name__: 'disk_label', host: 'h1' }, values: [0], timestamps: [ms] },
    { metric: { __name__: 'disk_used', host: 'h1' }, values: [42], timestamps: [ms] },
  ]);
  await vm.stop();
  assert.equal(existsSync(vm.dir), false);
});

test('fixture server serves routes, sequences, handlers and records requests', async (t) => {
  const fx = await startHttpFixtureServer({
    '/queue.json': { status: 200, body: { depth: 3 } },
    'POST /push': [{ status: 429, headers: { 'retry-after': '1' } }, { status: 204 }],
    '/echo': (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.text.toUpperCase());
    },
  });
  t.after(() => fx.close());

  const q = await fetch(`${fx.url}/queue.json?x=1`, { headers: { 'x-test': 'yes' } });
  assert.equal(q.status, 200);
  assert.equal(q.headers.get('content-type'), 'application/json');
  assert.deepEqual(await q.json(), { depth: 3 });

  const p1 = await fetch(`${fx.url}/push`, { method: 'POST', body: gzipSync('hello'), headers: { 'content-encoding': 'gzip' } });
  assert.equal(p1.status, 429);
  assert.equal(p1.headers.get('retry-after'), '1');
  const p2 = await fetch(`${fx.url}/push`, { method: 'POST', body: 'again' });
  assert.equal(p2.status, 204);
  const p3 = await fetch(`${fx.url}/push`, { method: 'POST', body: 'again' });
  assert.equal(p3.status, 204);

  const e = await fetch(`${fx.url}/echo`, { method: 'PUT', body: 'abc' });
  assert.equal(await e.text(), 'ABC');
  assert.equal((await fetch(`${fx.url}/nope`)).status, 404);

  assert.deepEqual(
    fx.requests.map((r) => `${r.method} ${r.url}`),
    ['GET /queue.json?x=1', 'POST /push', 'POST /push', 'POST /push', 'PUT /echo', 'GET /nope'],
  );
  assert.equal(fx.requests[0]!.headers['x-test'], 'yes');
  assert.equal(fx.requests[0]!.query.get('x'), '1');
  assert.equal(fx.requests[1]!.text, 'hello');
  assert.equal(fx.requests[2]!.body.toString(), 'again');
});
