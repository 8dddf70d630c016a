/**
 * The InfluxDB transport (src/lib/delivery/transport.ts) as a user meets it: `bin/metrics run` and
 * `bin/metrics check` against a local server that answers like a broken or hostile InfluxDB.
 *
 * Bounded answers: a 500 whose body never ends, or a small gzip body that inflates to GiBs,
 * must never crash a run (it used to end in `RangeError: Invalid string length` with no summary
 * and the batch neither written nor stored). The run ends with its summary, the points (and the
 * collector_run point) wait in the outbox, exit 3; the client reads only the start of the answer
 * and closes the connection.
 *
 * An answer that never comes: `metrics check` against a server that answers /ping but never
 * /query ends (INFLUX_TIMEOUT) with a non-zero exit.
 *
 * Local request errors: a request Node refuses to send (a token holding a line break, a host
 * name that makes no valid URL) is a configuration problem, not an outage: exit 1 (or 2), the
 * points kept in the outbox, the message names the variable and never its value.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import {
  answerEndlessly,
  answerGzipBomb,
  runCli,
  startHttpFixtureServer,
  type CliResult,
  type FixtureHandler,
  type HostileAnswer,
  type HttpFixtureServer,
} from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'influx-transport-test-'));
let collectors: BulkCollectors;
let seq = 0;

before(async () => {
  collectors = await makeBulkCollectors();
});
after(async () => {
  await collectors?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** A fake server whose every answer comes from `handler`; records what each hostile answer sent. */
async function hostile(handler: (path: string) => ((res: Parameters<FixtureHandler>[1]) => Promise<HostileAnswer>) | undefined): Promise<{
  server: HttpFixtureServer;
  answers: Promise<HostileAnswer>[];
}> {
  const answers: Promise<HostileAnswer>[] = [];
  const server = await startHttpFixtureServer(async (req, res) => {
    const h = handler(req.path);
    if (h) {
      const p = h(res);
      answers.push(p);
      await p;
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not here');
  });
  return { server, answers };
}

/** A run of the `quick` collector (3 points) with its own state directory. */
function run(env: Record<string, string>, args = ['run', 'quick']): Promise<CliResult> {
  const state = join(root, `state-${++seq}`);
  return runCli(args, {
    env: {
      METRICS_COLLECTORS_DIR: collectors.dir,
      METRICS_STATE_DIR: state,
      INFLUX_MAX_RETRIES: '1',
      INFLUX_RETRY_DELAY: '0.05',
      INFLUX_TIMEOUT: '20',
      ...env,
    },
    timeoutMs: 60_000,
  }).then(async (r) => Object.assign(r, { state }));
}

async function outboxPoints(state: string): Promise<{ points: number; files: number; rejected: { points: number } }> {
  const r = await runCli(['outbox', 'status', '--json'], { env: { METRICS_STATE_DIR: state } });
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout) as { points: number; files: number; rejected: { points: number } };
}

const v1 = (port: number): Record<string, string> => ({
  INFLUXDB_HOSTNAME: '127.0.0.1',
  INFLUXDB_PORT: String(port),
  INFLUXDB_DATABASE: 'db',
});

/** Most bytes a bounded reader lets the server hand to its socket: the 64 KiB read plus the socket buffers (a few MiB on loopback). */
const SENT_BOUND = 16 * 1024 * 1024;

describe('a hostile InfluxDB answer never crashes a run', () => {
  test('a write answered 500 with a body that never ends: the run ends with its summary, points in the outbox, exit 3', async () => {
    const { server, answers } = await hostile((path) => (path === '/write' ? (res) => answerEndlessly(res, { status: 500 }) : undefined));
    try {
      const r = (await run(v1(server.port))) as CliResult & { state: string };
      assert.equal(r.code, 3, show(r));
      assert.doesNotMatch(r.stderr, /RangeError|Invalid string length/, show(r));
      assert.match(r.stderr, /summary:/, show(r));
      assert.match(r.stderr, /quick\s+DEFERRED\s+3 points .*: 0 written, 3 to the outbox/, show(r));
      assert.match(r.stderr, /HTTP 500/, show(r));
      const s = await outboxPoints(r.state);
      assert.equal(s.points, 3 + 1, `the 3 points and the collector_run point wait in the outbox: ${JSON.stringify(s)}`);
      const sent = await Promise.all(answers);
      assert.ok(sent.length >= 2, 'the write was tried (and retried)');
      for (const a of sent) {
        assert.ok(a.closedByClient, 'the client closed the endless answer');
        assert.ok(a.sent < SENT_BOUND, `the client read only the start of the answer, but the server could send ${a.sent} bytes`);
      }
    } finally {
      await server.close();
    }
  });

  test('a write answered 500 with a gzip bomb (2 GiB inflated): the run ends with its summary, points in the outbox, exit 3', async () => {
    const { server } = await hostile((path) => (path === '/write' ? (res) => answerGzipBomb(res, { status: 500 }) : undefined));
    try {
      const r = (await run(v1(server.port))) as CliResult & { state: string };
      assert.equal(r.code, 3, show(r));
      assert.doesNotMatch(r.stderr, /RangeError|Invalid string length|heap/i, show(r));
      assert.match(r.stderr, /quick\s+DEFERRED\s+3 points .*: 0 written, 3 to the outbox/, show(r));
      const s = await outboxPoints(r.state);
      assert.equal(s.points, 3 + 1, JSON.stringify(s));
    } finally {
      await server.close();
    }
  });

  test(
    '/ping (INFLUX_API_VERSION=auto) answered 500 with a body that never ends, then a gzip bomb: the run ends, points in the ' +
      'outbox, exit 3',
    async () => {
      for (const answer of [
        (res: Parameters<FixtureHandler>[1]) => answerEndlessly(res, { status: 500 }),
        (res: Parameters<FixtureHandler>[1]) => answerGzipBomb(res, { status: 500 }),
      ]) {
        const { server, answers } = await hostile((path) =>
          path === '/ping' ? answer : path === '/api/v2/write' ? (res) => answerEndlessly(res, { status: 503 }) : undefined,
        );
        try {
          const r = (await run({ INFLUX_URL: server.url, INFLUX_TOKEN: 'tok', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' })) as CliResult & {
            state: string;
          };
          assert.equal(r.code, 3, show(r));
          assert.doesNotMatch(r.stderr, /RangeError|Invalid string length/, show(r));
          assert.match(r.stderr, /quick\s+DEFERRED\s+3 points/, show(r));
          assert.ok(
            server.requests.some((q) => q.path === '/ping'),
            'the API was detected with /ping',
          );
          const s = await outboxPoints(r.state);
          assert.equal(s.points, 3 + 1, JSON.stringify(s));
          for (const a of await Promise.all(answers)) assert.ok(a.sent < SENT_BOUND, `${a.sent} bytes sent`);
        } finally {
          await server.close();
        }
      }
    },
  );

  test('metrics check against /query answering 500 endlessly, or 200 with a gzip bomb: ends with a clear message, exit 1', async () => {
    const cases: Array<{ answer: (res: Parameters<FixtureHandler>[1]) => Promise<HostileAnswer>; expect: RegExp }> = [
      { answer: (res) => answerEndlessly(res, { status: 500 }), expect: /check failed: HTTP 500 .*not read further/ },
      { answer: (res) => answerGzipBomb(res, { status: 200 }), expect: /check failed: .*\/query answered with more than 1 MiB/ },
    ];
    for (const c of cases) {
      const { server } = await hostile((path) => (path === '/query' ? c.answer : undefined));
      server.routes['/ping'] = { status: 204, headers: { 'x-influxdb-version': '1.6.7' } };
      try {
        const r = await runCli(['check'], { env: v1(server.port), timeoutMs: 60_000 });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stdout, /reachable: .*version 1\.6\.7/, show(r));
        assert.match(r.stdout, c.expect, show(r));
        assert.doesNotMatch(r.stderr, /RangeError|Invalid string length/, show(r));
      } finally {
        await server.close();
      }
    }
  });

  test('metrics check ends (non-zero) when the server answers /ping but never /query', async () => {
    const server = await startHttpFixtureServer({
      'GET /ping': { status: 204, headers: { 'x-influxdb-version': '1.6.7' } },
      '/query': () => {
        /* never answers */
      },
    });
    try {
      const r = await runCli(['check'], {
        env: { INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_PORT: String(server.port), INFLUXDB_DATABASE: 'x', INFLUX_TIMEOUT: '1' },
        timeoutMs: 10_000,
      });
      assert.notEqual(r.code, 0, show(r));
      assert.equal(r.signal, null, show(r));
      assert.ok(
        server.requests.some((q) => q.path === '/query'),
        `the check never asked /query\n${show(r)}`,
      );
    } finally {
      await server.close();
    }
  });
});

describe('a request Node refuses to send is a configuration problem, not an outage', () => {
  // a character no HTTP header may carry (outside Latin-1), which the configuration does not refuse
  // (a line break or another control character is refused earlier: see test/lib/platform/settings.test.ts)
  const SECRET = 'sEcReT-first-half\u20acsEcReT-second-half';

  test(
    'INFLUX_TOKEN with a character no header may carry: exit 1 naming INFLUX_TOKEN (not its value), nothing sent, points kept in ' +
      'the outbox',
    async () => {
      const server = await startHttpFixtureServer({ '/ping': { status: 204, headers: { 'x-influxdb-version': 'v2.7.1' } } });
      try {
        for (const api of ['2', 'auto']) {
          const r = (await run({
            INFLUX_URL: server.url,
            INFLUX_TOKEN: SECRET,
            INFLUX_ORG: 'o',
            INFLUX_BUCKET: 'b',
            INFLUX_API_VERSION: api,
          })) as CliResult & {
            state: string;
          };
          assert.ok(
            r.code === 1 || r.code === 2,
            `INFLUX_API_VERSION=${api}: a configuration problem, not "unavailable" (exit 3)\n${show(r)}`,
          );
          assert.match(r.stderr, /INFLUX_TOKEN/, show(r));
          assert.doesNotMatch(r.stderr + r.stdout, /sEcReT/, 'the token is never printed');
          assert.doesNotMatch(r.stderr, /retry \d+ of/, `not retried:\n${show(r)}`);
          const s = await outboxPoints(r.state);
          assert.equal(s.points, 3 + 1, `the points are kept in the outbox: ${JSON.stringify(s)}`);
        }
        assert.equal(server.requests.length, 0, 'nothing reached the server');

        const check = await runCli(['check'], {
          env: { INFLUX_URL: server.url, INFLUX_TOKEN: SECRET, INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' },
        });
        assert.ok(check.code === 1 || check.code === 2, show(check));
        assert.match(check.stdout + check.stderr, /INFLUX_TOKEN/, show(check));
        assert.doesNotMatch(check.stdout + check.stderr, /sEcReT|unreachable/, show(check));
      } finally {
        await server.close();
      }
    },
  );

  test('INFLUXDB_HOSTNAME that makes no valid URL: exit 1 or 2 naming INFLUXDB_HOSTNAME, never exit 3', async () => {
    const r = (await run({ INFLUXDB_HOSTNAME: 'influx^db.example', INFLUXDB_DATABASE: 'db' })) as CliResult & { state: string };
    assert.ok(r.code === 1 || r.code === 2, show(r));
    assert.match(r.stderr, /INFLUXDB_HOSTNAME/, show(r));
    assert.doesNotMatch(r.stderr, /retry \d+ of/, show(r));
  });
});
