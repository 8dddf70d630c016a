/**
 * InfluxDB 1.x, for real: `bin/metrics run ...` in a subprocess writes to the real influxd 1.6.7
 * (started by the harness on a free loopback port), and the test queries back through /query:
 * rows, tags, exact values byte for byte, field types, timestamps; a failing source beside a
 * working collector; authentication; `metrics check`. No password appears in any output.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort,
  repoRoot,
  runCli,
  startHttpFixtureServer,
  startInfluxd,
  type CliOptions,
  type CliResult,
  type HttpFixtureServer,
  type Influxd,
  type InfluxQueryAnswer,
} from '../../helpers/servers.js';

const PASSWORD = 'Pa55-w0rd-never-printed-7f3c';
const WRONG_PASSWORD = 'wr0ng-Pa55-never-printed-91ad';
const SECRETS = [
  PASSWORD,
  WRONG_PASSWORD,
  Buffer.from(`admin:${PASSWORD}`).toString('base64'),
  Buffer.from(`admin:${WRONG_PASSWORD}`).toString('base64'),
];

/** Every output of every CLI run of this file, checked for secrets at the end. */
const outputs: Array<{ args: string[]; out: string }> = [];

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

function assertNoSecret(text: string, where: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `a secret appears in ${where}:\n${text}`);
}

/** A state directory (outbox, locks, last runs) of this file's own, removed at the end. */
const stateRoot = mkdtempSync(join(tmpdir(), 'influx-v1-state-'));
after(() => rmSync(stateRoot, { recursive: true, force: true }));

/** `bin/metrics ...args`, each run with a fresh state directory (no outbox replay between tests). */
async function metrics(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const state = mkdtempSync(join(stateRoot, 'run-'));
  const r = await runCli(args, { timeoutMs: 45_000, ...opts, env: { STATE_DIRECTORY: state, ...opts.env } });
  outputs.push({ args, out: r.stdout + r.stderr });
  assertNoSecret(r.stdout, `stdout of metrics ${args.join(' ')}`);
  assertNoSecret(r.stderr, `stderr of metrics ${args.join(' ')}`);
  return r;
}

/** /query with the raw JSON text (int64 values and ns timestamps do not fit in a JS number). */
async function rawQuery(influx: Influxd, q: string, db: string): Promise<string> {
  const res = await fetch(`${influx.url}/query?${new URLSearchParams({ q, db, epoch: 'ns' })}`, { signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

/** JSON.parse that keeps integers of 16+ digits as strings. */
function parseBig(text: string): InfluxQueryAnswer {
  return JSON.parse(text.replace(/([[,:])(-?\d{16,})(?=[,\]}])/g, '$1"$2"'));
}

/** { column: value } objects of the first series of the first result. */
function seriesRows(json: InfluxQueryAnswer): Array<Record<string, unknown>> {
  const series = json.results?.[0]?.series?.[0];
  if (!series) return [];
  return (series.values ?? []).map((v) => Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
}

// ------------------------------------------------------------------------------------------------
// The round-trip collector: a small JS module in a sibling of dist/src/collectors

const TAG_VALUE = 'Zürich, "ÖPNV" = a\\b ✓';
const TAG_KEY = 'tag key, with=odd "chars"';
const TEXT = 'Zürich, "ÖPNV" = a\\b ✓\nzweite Zeile\twith a tab, 日本語 🚀 and a trailing backslash \\';
const FIELD_KEY = 'field key, with=odd "chars"';
const MEASUREMENT = 'round trip, m=1';
const TIME_NS = '1700000000123456789';
const BIG = '9007199254740993';

const ROUNDTRIP_MODULE = `
import { Metric, int } from '../../lib/sdk/index.js';

export const RUN_INTERVAL = '1h';

class RoundTrip extends Metric {
  async collect() {
    return [
      {
        measurement: 'roundtrip',
        tags: { city: ${JSON.stringify(TAG_VALUE)}, ${JSON.stringify(TAG_KEY)}: 'x y' },
        fields: {
          text: ${JSON.stringify(TEXT)},
          ${JSON.stringify(FIELD_KEY)}: 'v',
          count: int(42),
          big: ${BIG}n,
          ratio: 0.5,
          whole: 3,
          ok: true,
          no: false,
        },
        time: ${TIME_NS}n,
      },
      {
        measurement: ${JSON.stringify(MEASUREMENT)},
        tags: { city: ${JSON.stringify(TAG_VALUE)} },
        fields: { v: int(1) },
        time: new Date(1700000000123),
      },
    ];
  }
}

export async function runMetric(options) {
  return new RoundTrip(options).run();
}
`;

// ------------------------------------------------------------------------------------------------

describe('InfluxDB 1.6.7 without authentication', () => {
  let influx: Influxd | undefined;
  let fixtures: HttpFixtureServer;
  const collectorsDir = join(repoRoot, 'dist', 'src', `collectors-test-${randomBytes(4).toString('hex')}`);
  const v1env = (db: string): Record<string, string> => ({
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(influx!.port),
    INFLUXDB_DATABASE: db,
  });

  before(async () => {
    influx = await startInfluxd();
    fixtures = await startHttpFixtureServer({ '/sponsoring.json': { status: 500, body: 'upstream exploded' } });
    mkdirSync(join(collectorsDir, 'roundtrip'), { recursive: true });
    writeFileSync(join(collectorsDir, 'roundtrip', 'index.js'), ROUNDTRIP_MODULE);
  });
  after(async () => {
    rmSync(collectorsDir, { recursive: true, force: true });
    await fixtures?.close();
    await influx?.stop();
  });

  test('run system writes rows with the host tag', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    await influx.createDatabase('sys');
    const msBefore = Date.now();
    const r = await metrics(['run', 'system'], { env: v1env('sys') });
    const msAfter = Date.now();
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /system\s+ok\s+4 points .*: 4 written/, show(r));
    const host = hostname();
    for (const [m, cols] of Object.entries({
      system_load: ['load1', 'load5', 'load15'],
      system_memory: ['total', 'available', 'used', 'used_percent', 'swap_total', 'swap_used'],
      system_disk: ['total', 'free', 'used', 'used_percent', 'inodes_total', 'inodes_free'],
      system_uptime: ['uptime'],
    })) {
      const rows = await influx.rows(`SELECT * FROM ${m}`, 'sys', { epoch: 'ms' });
      assert.equal(rows.length, 1, `${m}: ${JSON.stringify(rows)}`);
      const row = rows[0]!;
      assert.equal(row.host, host, m);
      for (const c of cols) assert.equal(typeof row[c], 'number', `${m}.${c}: ${JSON.stringify(row)}`);
      const time = row.time as number;
      assert.ok(time >= msBefore && time <= msAfter, `${m} time ${time} not within the run`);
    }
    const disk = (await influx.rows('SELECT * FROM system_disk', 'sys'))[0]!;
    assert.equal(disk.path, '/');
    // integers stay integers, floats floats
    const types = Object.fromEntries(
      (await influx.rows('SHOW FIELD KEYS FROM system_memory', 'sys')).map((r) => [r.fieldKey, r.fieldType]),
    );
    assert.deepEqual(types, {
      available: 'integer',
      swap_total: 'integer',
      swap_used: 'integer',
      total: 'integer',
      used: 'integer',
      used_percent: 'float',
    });
    const loadTypes = (await influx.rows('SHOW FIELD KEYS FROM system_load', 'sys')).map((r) => r.fieldType);
    assert.deepEqual(loadTypes, ['float', 'float', 'float']);
  });

  test('a second run adds rows without a type conflict', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['run', 'system'], { env: v1env('sys') });
    assert.equal(r.code, 0, show(r));
    const rows = await influx.rows('SELECT * FROM system_memory', 'sys');
    assert.equal(rows.length, 2);
  });

  test('round trip: tags, strings, types and the timestamp come back byte for byte', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    await influx.createDatabase('rt');
    const r = await metrics(['run', 'roundtrip'], { env: { ...v1env('rt'), METRICS_COLLECTORS_DIR: collectorsDir } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /roundtrip\s+ok\s+2 points .*: 2 written/, show(r));

    const text = await rawQuery(influx, 'SELECT * FROM roundtrip', 'rt');
    const rows = seriesRows(parseBig(text));
    assert.equal(rows.length, 1, text);
    const row = rows[0]!;
    assert.equal(row.time, TIME_NS, 'exact nanosecond timestamp');
    assert.equal(row.city, TAG_VALUE);
    assert.deepEqual(Buffer.from(String(row.city), 'utf8'), Buffer.from(TAG_VALUE, 'utf8'));
    assert.equal(row[TAG_KEY], 'x y');
    assert.equal(row.text, TEXT);
    assert.deepEqual(Buffer.from(String(row.text), 'utf8'), Buffer.from(TEXT, 'utf8'));
    assert.equal(row[FIELD_KEY], 'v');
    assert.equal(row.count, 42);
    assert.equal(row.big, BIG, 'int64 beyond 2^53 is exact');
    assert.equal(row.ratio, 0.5);
    assert.equal(row.whole, 3);
    assert.equal(row.ok, true);
    assert.equal(row.no, false);

    const types = Object.fromEntries((await influx.rows('SHOW FIELD KEYS FROM roundtrip', 'rt')).map((x) => [x.fieldKey, x.fieldType]));
    assert.deepEqual(types, {
      big: 'integer',
      count: 'integer',
      [FIELD_KEY]: 'string',
      no: 'boolean',
      ok: 'boolean',
      ratio: 'float',
      text: 'string',
      whole: 'float',
    });
    const tagKeys = (await influx.rows('SHOW TAG KEYS FROM roundtrip', 'rt')).map((x) => x.tagKey);
    assert.deepEqual(tagKeys, ['city', TAG_KEY]);

    // the measurement name with a space, a comma and = also comes back exactly
    const names = (await influx.rows('SHOW MEASUREMENTS', 'rt')).map((x) => x.name).filter((n) => n !== 'collector_run');
    assert.deepEqual(names.sort(), [MEASUREMENT, 'roundtrip'].sort());
    const other = seriesRows(parseBig(await rawQuery(influx, `SELECT * FROM "${MEASUREMENT}"`, 'rt')));
    assert.deepEqual(other, [{ time: '1700000000123000000', city: TAG_VALUE, v: 1 }]);
  });

  test("a failing source: exit 1 with the URL, and the other collector's points are written", async (t) => {
    if (!influx) return t.skip('influxd not installed');
    await influx.createDatabase('failing');
    const url = `${fixtures.url}/sponsoring.json`;
    const r = await metrics(['run', 'sponsoring', 'system'], { env: { ...v1env('failing'), SPONSORING_URL: url } });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(url), `the URL is named:\n${show(r)}`);
    assert.match(r.stderr, /HTTP 500/, show(r));
    assert.match(r.stderr, /sponsoring\s+FAILED/, show(r));
    assert.match(r.stderr, /system\s+ok\s+4 points .*: 4 written/, show(r));
    const rows = await influx.rows('SELECT * FROM system_load', 'failing');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.host, hostname());
    const none = await influx.rows('SHOW MEASUREMENTS', 'failing');
    assert.ok(!none.some((x) => x.name === 'sponsoring_queue_stats'), 'no points from the failed source');
  });

  test('metrics check: version 1.6.7 and the database exists → exit 0', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['check'], { env: v1env('sys') });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /1\.6\.7/, show(r));
    assert.match(r.stdout, /database: sys exists/, show(r));
  });

  test('metrics check: a missing database → exit 1 saying it does not exist', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['check'], { env: v1env('nosuchdb') });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /nosuchdb does NOT exist/, show(r));
  });

  test("writing to a missing database (HTTP 404): the server's message, not retried, non-zero exit", async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['run', 'system'], { env: { ...v1env('nosuchdb'), INFLUX_MAX_RETRIES: '2', INFLUX_RETRY_DELAY: '0.1' } });
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /database not found: "nosuchdb"/, show(r));
    assert.doesNotMatch(r.stderr, /retry \d+ of/, `a 4xx must not be retried (ISSUE 2: "4xx not retried"):\n${show(r)}`);
  });

  test('InfluxDB unreachable: the run does not report success', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const port = await freePort();
    const r = await metrics(['run', 'system'], {
      env: { INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_PORT: String(port), INFLUXDB_DATABASE: 'x', INFLUX_MAX_RETRIES: '0' },
    });
    assert.notEqual(r.code, 0, `points that were neither written nor kept must not give exit 0:\n${show(r)}`);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`), show(r));
  });
});

describe('InfluxDB 1.6.7 with authentication', () => {
  let influx: Influxd | undefined;
  const auth = { username: 'admin', password: PASSWORD };
  const env = (password: string, db = 'authdb'): Record<string, string> => ({
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(influx!.port),
    INFLUXDB_DATABASE: db,
    INFLUXDB_USERNAME: 'admin',
    INFLUXDB_PASSWORD: password,
  });

  before(async () => {
    influx = await startInfluxd({ auth });
    await influx?.createDatabase('authdb');
  });
  after(async () => {
    await influx?.stop();
  });

  test('wrong password: non-zero exit with the 401 message, no password printed, nothing written', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['run', 'system', '--verbose'], { env: env(WRONG_PASSWORD) });
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /401/, show(r));
    assert.match(r.stderr, /authorization failed|credentials/i, show(r));
    const rows = await influx.rows('SHOW MEASUREMENTS', 'authdb');
    assert.deepEqual(rows, []);
  });

  test('wrong password given in a file (INFLUXDB_PASSWORD_FILE): not printed either', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const file = join(influx.dir, 'password');
    writeFileSync(file, WRONG_PASSWORD + '\n');
    const r = await metrics(['run', 'system', '-v'], { env: { ...env(''), INFLUXDB_PASSWORD: undefined, INFLUXDB_PASSWORD_FILE: file } });
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /401/, show(r));
  });

  test('right password: the points land', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['run', 'system', '--verbose'], { env: env(PASSWORD) });
    assert.equal(r.code, 0, show(r));
    const rows = await influx.rows('SELECT * FROM system_load', 'authdb');
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.host, hostname());
  });

  test('metrics check with the right password: exit 0, version, credentials accepted, database exists', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['check'], { env: env(PASSWORD) });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /1\.6\.7/, show(r));
    assert.match(r.stdout, /credentials: accepted/, show(r));
    assert.match(r.stdout, /database: authdb exists/, show(r));
  });

  test('metrics check with a wrong password: exit 1, credentials rejected', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['check'], { env: env(WRONG_PASSWORD) });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /credentials: REJECTED/, show(r));
  });

  test('metrics check with the right password and a missing database: exit 1', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const r = await metrics(['check'], { env: env(PASSWORD, 'missingdb') });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /missingdb does NOT exist/, show(r));
  });
});

test('no password value appears in any output of this file', () => {
  assert.ok(outputs.length > 0 || !process.env.CI, 'the runs happened');
  for (const o of outputs) assertNoSecret(o.out, `metrics ${o.args.join(' ')}`);
});
