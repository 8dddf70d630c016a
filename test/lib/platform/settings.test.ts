/**
 * Configuration mistakes are errors (exit 2, a message naming the variable or option and what is
 * allowed, never a secret's value), not outages:
 *
 * - INFLUX_URL with a query string or a fragment is refused, without printing it;
 * - durations beyond what one Node.js timer can wait (2 147 483 s) are refused: METRICS_TIMEOUT,
 *   `--timeout` (on the fast path and through yargs), the daemon's `--grace` and `--jitter`;
 * - numbers are plain decimals: INFLUXDB_PORT=0x1f90, 1e3, +80, " 80 " are refused;
 * - INFLUXDB_HOSTNAME=host:port is refused, naming INFLUXDB_PORT; IPv6 addresses stay accepted;
 * - secrets read from files (INFLUXDB_PASSWORD_FILE, INFLUX_TOKEN_FILE, $CREDENTIALS_DIRECTORY)
 *   lose all trailing whitespace (the server receives the right Authorization header); a secret
 *   with a line break or another control character inside is refused.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadInfluxConfig } from '../../../src/lib/platform/settings.js';
import { ConfigError } from '../../../src/lib/platform/errors.js';
import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import { freePort, runCli, startHttpFixtureServer, type CliResult, type HttpFixtureServer } from '../../helpers/servers.js';

let bulk: BulkCollectors;
const root = mkdtempSync(join(tmpdir(), 'config-test-'));
let seq = 0;

before(async () => {
  bulk = await makeBulkCollectors();
});

after(async () => {
  await bulk?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

function file(name: string, content: string): string {
  const p = join(root, `${++seq}-${name}`);
  writeFileSync(p, content);
  return p;
}

/** `metrics run quick` with `env`; INFLUX_MAX_RETRIES=0 so that an accepted mistake fails fast. */
function run(env: Record<string, string>, args: string[] = []): Promise<CliResult> {
  return runCli(['run', 'quick', ...args], { env: { METRICS_COLLECTORS_DIR: bulk.dir, INFLUX_MAX_RETRIES: '0', ...env } });
}

/** Exit 2, the stderr names every `names`, and holds none of `hidden`. */
function assertConfigError(r: CliResult, names: RegExp[], hidden: string[] = []): void {
  assert.equal(r.code, 2, show(r));
  for (const n of names) assert.match(r.stderr, n, show(r));
  for (const h of hidden) assert.ok(!(r.stdout + r.stderr).includes(h), `${JSON.stringify(h)} printed:\n${show(r)}`);
}

describe('INFLUX_URL', () => {
  test('with a query string: exit 2 naming INFLUX_URL, without printing the query (it may hold credentials)', async () => {
    const port = await freePort();
    const r = await run({
      INFLUX_URL: `http://127.0.0.1:${port}/?u=admin&p=Qu3ryPW`,
      INFLUX_TOKEN: 'tok-abcdef',
      INFLUX_ORG: 'o',
      INFLUX_BUCKET: 'b',
    });
    assertConfigError(r, [/INFLUX_URL/, /query string/], ['Qu3ryPW', 'u=admin']);
  });

  test('with a fragment: exit 2 naming INFLUX_URL, without printing the fragment', async () => {
    const port = await freePort();
    const r = await run({
      INFLUX_URL: `http://127.0.0.1:${port}/#Fr4gPW`,
      INFLUX_TOKEN: 'tok-abcdef',
      INFLUX_ORG: 'o',
      INFLUX_BUCKET: 'b',
    });
    assertConfigError(r, [/INFLUX_URL/, /fragment/], ['Fr4gPW']);
  });
});

describe('durations are bounded by what one timer can wait (2147483 s)', () => {
  const range = /2147483/;

  test('METRICS_TIMEOUT=3000000: exit 2 naming METRICS_TIMEOUT and the range', async () => {
    const r = await run({ METRICS_TIMEOUT: '3000000' }, ['--dry-run']);
    assertConfigError(r, [/METRICS_TIMEOUT/, range]);
  });

  test('METRICS_TIMEOUT=1e3 (not a plain decimal): exit 2', async () => {
    const r = await run({ METRICS_TIMEOUT: '1e3' }, ['--dry-run']);
    assertConfigError(r, [/METRICS_TIMEOUT/, /plain decimal/]);
  });

  test('--timeout 3000000 on the fast path: exit 2 naming --timeout and the range (not a silent fall-through)', async () => {
    for (const args of [['--timeout', '3000000'], ['--timeout=3000000']]) {
      const r = await run({}, ['--dry-run', ...args]);
      assertConfigError(r, [/--timeout/, range]);
    }
  });

  test('--timeout 3000000 through yargs (METRICS_NO_FAST_PATH): exit 2 naming --timeout and the range', async () => {
    const r = await run({ METRICS_NO_FAST_PATH: '1' }, ['--dry-run', '--timeout', '3000000']);
    assertConfigError(r, [/--timeout/, range]);
  });

  test('the largest allowed time limit still runs the collector', async () => {
    const r = await run({ METRICS_TIMEOUT: '2147483' }, ['--dry-run']);
    assert.equal(r.code, 0, show(r));
    const r2 = await run({}, ['--dry-run', '--timeout', '2147483']);
    assert.equal(r2.code, 0, show(r2));
  });

  test('daemon --grace 30d and --jitter 25d: exit 2 naming the option and the range', async () => {
    for (const option of [
      ['--grace', '30d'],
      ['--jitter', '25d'],
    ]) {
      // an unknown collector name: were the duration accepted, the daemon would refuse the name instead
      const r = await runCli(['daemon', ...option, 'no_such_collector'], { env: { METRICS_COLLECTORS_DIR: bulk.dir } });
      assertConfigError(r, [new RegExp(option[0]!), range]);
    }
  });
});

describe('numbers are plain decimals', () => {
  for (const port of ['0x1f90', '1e3', '+80', ' 80 ', '80.0']) {
    test(`INFLUXDB_PORT=${JSON.stringify(port)}: exit 2 naming INFLUXDB_PORT`, async () => {
      const r = await run({ INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_DATABASE: 'db', INFLUXDB_PORT: port });
      assertConfigError(r, [/INFLUXDB_PORT/, /1 to 65535/]);
    });
  }

  test('INFLUX_TIMEOUT=0x10 and INFLUX_RETRY_DELAY=1e0: exit 2 naming each', async () => {
    const r = await run({ INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_DATABASE: 'db', INFLUX_TIMEOUT: '0x10', INFLUX_RETRY_DELAY: '1e0' });
    assertConfigError(r, [/INFLUX_TIMEOUT/, /INFLUX_RETRY_DELAY/]);
  });

  test('plain decimals within range are accepted', () => {
    const c = loadInfluxConfig({
      INFLUXDB_HOSTNAME: 'influx',
      INFLUXDB_DATABASE: 'db',
      INFLUXDB_PORT: '8087',
      INFLUX_TIMEOUT: '2.5',
      INFLUX_MAX_RETRIES: '0',
    });
    assert.equal(c.url, 'http://influx:8087');
    assert.equal(c.timeoutMs, 2500);
    assert.equal(c.maxRetries, 0);
  });
});

describe('INFLUXDB_HOSTNAME', () => {
  test('host:port: exit 2 naming INFLUXDB_PORT as the fix', async () => {
    for (const host of ['influx.example:8086', '[::1]:8086']) {
      const r = await run({ INFLUXDB_HOSTNAME: host, INFLUXDB_DATABASE: 'db' });
      assertConfigError(r, [/INFLUXDB_HOSTNAME/, /INFLUXDB_PORT/]);
    }
  });

  test('IPv6 addresses, bare or in brackets, stay accepted', () => {
    for (const [host, url] of [
      ['::1', 'http://[::1]:8086'],
      ['[::1]', 'http://[::1]:8086'],
      ['fe80::1:2', 'http://[fe80::1:2]:8086'],
    ]) {
      assert.equal(loadInfluxConfig({ INFLUXDB_HOSTNAME: host, INFLUXDB_DATABASE: 'db' }).url, url);
    }
  });
});

describe('INFLUX_GZIP_THRESHOLD and INFLUX_BATCHES_IN_FLIGHT defaults', () => {
  test('gzip above 1000 bytes by default; off to a loopback host unless set', () => {
    const v1 = (host: string, extra: Record<string, string> = {}) =>
      loadInfluxConfig({ INFLUXDB_HOSTNAME: host, INFLUXDB_DATABASE: 'db', ...extra }).gzipThreshold;
    assert.equal(v1('influx.example'), 1000);
    assert.equal(v1('10.0.0.7'), 1000);
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) assert.equal(v1(host), 0, host);
    assert.equal(v1('127.0.0.1', { INFLUX_GZIP_THRESHOLD: '100' }), 100, 'an explicit value applies to loopback too');
    assert.equal(v1('influx.example', { INFLUX_GZIP_THRESHOLD: '0' }), 0);
    const v2 = (url: string) => loadInfluxConfig({ INFLUX_URL: url, INFLUX_TOKEN: 't', INFLUX_BUCKET: 'b' }).gzipThreshold;
    assert.equal(v2('http://localhost:8086'), 0);
    assert.equal(v2('https://influx.example'), 1000);
  });

  test('2 batches in flight by default; 1 to 64 accepted', async () => {
    const c = (extra: Record<string, string> = {}) =>
      loadInfluxConfig({ INFLUXDB_HOSTNAME: 'influx', INFLUXDB_DATABASE: 'db', ...extra }).batchesInFlight;
    assert.equal(c(), 2);
    assert.equal(c({ INFLUX_BATCHES_IN_FLIGHT: '1' }), 1);
    assert.equal(c({ INFLUX_BATCHES_IN_FLIGHT: '64' }), 64);
    assert.throws(
      () => c({ INFLUX_BATCHES_IN_FLIGHT: '0' }),
      (e: unknown) => e instanceof ConfigError && /INFLUX_BATCHES_IN_FLIGHT/.test(e.message),
    );
  });
});

describe('secrets read from files', () => {
  let server: HttpFixtureServer;
  before(async () => {
    server = await startHttpFixtureServer({ 'POST /write': { status: 204 }, 'POST /api/v2/write': { status: 204 } });
  });
  after(() => server?.close());

  /** Runs quick against the fake server; returns the Authorization header of its write. */
  async function authorizationSent(env: Record<string, string>): Promise<string | undefined> {
    const before = server.requests.length;
    const r = await run(env);
    assert.equal(r.code, 0, show(r));
    const writes = server.requests.slice(before).filter((q) => q.method === 'POST');
    assert.ok(writes.length > 0, 'nothing written');
    return writes[0]!.headers.authorization;
  }
  const v1 = (): Record<string, string> => ({
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(server.port),
    INFLUXDB_DATABASE: 'db',
    INFLUXDB_USERNAME: 'admin',
  });
  const v2 = (): Record<string, string> => ({ INFLUX_URL: server.url, INFLUX_API_VERSION: '2', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' });
  const basic = (password: string): string => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

  test('INFLUXDB_PASSWORD_FILE ending in a blank line, or a space and a newline: the trailing whitespace is stripped', async () => {
    for (const content of ['s3cret-pw\n\n', 's3cret-pw \n', 's3cret-pw\r\n\t\n']) {
      const auth = await authorizationSent({ ...v1(), INFLUXDB_PASSWORD_FILE: file('password', content) });
      assert.equal(auth, basic('s3cret-pw'), JSON.stringify(content));
    }
  });

  test('INFLUX_TOKEN_FILE ending in a blank line: the trailing whitespace is stripped', async () => {
    for (const content of ['tok-123abc\n\n', 'tok-123abc \n', 'tok-123abc\r\n\r\n']) {
      const auth = await authorizationSent({ ...v2(), INFLUX_TOKEN_FILE: file('token', content) });
      assert.equal(auth, 'Token tok-123abc', JSON.stringify(content));
    }
  });

  test('a $CREDENTIALS_DIRECTORY file ending in a blank line: the trailing whitespace is stripped', async () => {
    const dir = join(root, `${++seq}-creds`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'INFLUX_TOKEN'), 'tok-456def\n\n');
    writeFileSync(join(dir, 'INFLUXDB_PASSWORD'), 'cred-pw \n\n');
    assert.equal(await authorizationSent({ ...v2(), CREDENTIALS_DIRECTORY: dir }), 'Token tok-456def');
    assert.equal(await authorizationSent({ ...v1(), CREDENTIALS_DIRECTORY: dir }), basic('cred-pw'));
  });

  test('a secret with a line break or a control character inside: exit 2 naming the variable, not the value', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ...v2(), INFLUX_TOKEN_FILE: file('token', 'tok-first\ntok-second\n') }, /INFLUX_TOKEN_FILE/],
      [{ ...v2(), INFLUX_TOKEN: 'tok-first\rtok-second' }, /INFLUX_TOKEN/],
      [{ ...v1(), INFLUXDB_PASSWORD_FILE: file('password', 'tok-first\0tok-second') }, /INFLUXDB_PASSWORD_FILE/],
      [{ ...v1(), INFLUXDB_PASSWORD: 'tok-first\ntok-second' }, /INFLUXDB_PASSWORD/],
    ];
    for (const [env, name] of cases) {
      const r = await run(env);
      assertConfigError(r, [name, /line break or another control character/], ['tok-first', 'tok-second']);
    }
  });

  test('a secret file holding only whitespace: exit 2 saying it is empty', async () => {
    const r = await run({ ...v2(), INFLUX_TOKEN_FILE: file('token', ' \n\n') });
    assertConfigError(r, [/INFLUX_TOKEN_FILE/, /empty/]);
  });

  test('loadInfluxConfig throws a ConfigError for a token with an inner newline', () => {
    assert.throws(() => loadInfluxConfig({ INFLUX_URL: 'http://influx:8086', INFLUX_TOKEN: 'a\nb', INFLUX_BUCKET: 'b' }), ConfigError);
  });
});
