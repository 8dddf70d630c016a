/**
 * Secrets never appear in any byte we write (DESIGN.md, "Habits"):
 *
 * - unit tests of redact(): every derived form of a registered secret (raw, base64/base64url,
 *   base64 of user:password, URL-encoded, JSON-escaped, inside a larger base64 text), secrets of
 *   1 and 2 characters;
 * - end to end: `bin/metrics run quick` against a fake InfluxDB whose error bodies echo the
 *   request's Authorization header and the secret's derived forms, with HTTP Basic credentials
 *   (INFLUXDB_USERNAME/INFLUXDB_PASSWORD) and with a token (INFLUX_URL/INFLUX_TOKEN): no form of
 *   the secret is on stdout, stderr, or in any file of the state directory (outbox batches and
 *   their headers, rejected/ and corrupt/ with their reason files, runs/, locks/), and the
 *   collector_run point stored in the outbox carries the server's message redacted;
 * - credentials in bad host names and URLs (INFLUXDB_HOSTNAME, INFLUX_URL, PROMTAIL_PUSH_API_URL)
 *   are not printed in the configuration error;
 * - a token read from INFLUX_TOKEN_FILE or $CREDENTIALS_DIRECTORY reaches the server but no
 *   output of `run`, `check` or `outbox flush`, even when a 401 echoes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { forgetSecrets, redact, registerCredentialPair, registerSecret } from '../../../src/lib/platform/redact.js';
import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import { runCli, startHttpFixtureServer, type CliResult, type RecordedRequest } from '../../helpers/servers.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
const json = (s: string): string => JSON.stringify(s).slice(1, -1);

// ---------------------------------------------------------------------------------------------
// redact()

test('redact: the raw secret, and its base64 and base64url forms, padded and unpadded', () => {
  forgetSecrets();
  const secret = 'tok>?/"A+&' + randomBytes(5).toString('hex'); // base64 with '+' or '/' for some values
  registerSecret(secret);
  for (const form of [secret, b64(secret), b64(secret).replace(/=+$/, ''), b64url(secret)]) {
    assert.equal(redact(`before ${form} after`), 'before *** after', `form ${form}`);
  }
});

test('redact: the URL-encoded forms (encodeURIComponent, lower-case hex, form encoding) and the JSON-escaped form', () => {
  forgetSecrets();
  const secret = 'p w"\\/&=+ü' + randomBytes(4).toString('hex');
  registerSecret(secret);
  const uri = encodeURIComponent(secret);
  const forms = [
    uri,
    uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    new URLSearchParams({ p: secret }).toString().slice(2),
    json(secret),
  ];
  for (const form of forms) {
    assert.notEqual(form, secret);
    assert.equal(redact(`[${form}]`), '[***]', `form ${form}`);
  }
  assert.equal(redact(JSON.stringify({ token: secret })), '{"token":"***"}');
});

test('redact: base64/base64url of user:password (HTTP Basic) once the pair is registered, and the password alone', () => {
  forgetSecrets();
  const password = 'pa"ss/w+rd&' + randomBytes(4).toString('hex');
  registerCredentialPair('admin', password);
  const pair = `admin:${password}`;
  for (const form of [password, `Basic ${b64(pair)}`, b64(pair), b64url(pair), encodeURIComponent(b64(pair))]) {
    const out = redact(`Authorization: ${form}.`);
    assert.ok(!out.includes(form) && out.includes('***'), `form ${form}: ${out}`);
  }
  assert.equal(redact('user admin'), 'user admin', 'the user name alone is not a secret');
});

test('redact: the secret inside a larger base64 text, at any byte offset', () => {
  forgetSecrets();
  const token = 'tk_' + randomBytes(12).toString('hex');
  registerSecret(token);
  for (const prefix of ['', 'x', 'xy', 'Authorization: Token ']) {
    const whole = b64(`${prefix}${token} and more`);
    const out = redact(`echo ${whole}`);
    // what is left decodes to text without the token
    const left = out.replace('echo ', '').split('***');
    assert.ok(left.length > 1, `nothing redacted for prefix ${JSON.stringify(prefix)}: ${out}`);
    for (const part of left)
      assert.ok(!Buffer.from(part, 'base64').toString('latin1').includes(token.slice(3, 12)), `prefix ${JSON.stringify(prefix)}: ${out}`);
  }
});

test('redact: a 1-character and a 2-character secret are redacted too', () => {
  forgetSecrets();
  registerSecret('Q');
  assert.equal(redact('a Q b'), 'a *** b');
  registerSecret('z7');
  assert.equal(redact('xz7y'), 'x***y');
  assert.equal(redact(`basic ${b64('z7')}`), 'basic ***');
  forgetSecrets();
  registerCredentialPair('u', 'k');
  assert.equal(redact(`Basic ${b64('u:k')}`), 'Basic ***');
  assert.equal(redact('k'), '***');
});

// ---------------------------------------------------------------------------------------------
// end to end

let bulk: BulkCollectors;
const root = mkdtempSync(join(tmpdir(), 'redaction-'));

before(async () => {
  bulk = await makeBulkCollectors();
});

after(async () => {
  await bulk?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** Every form of `secret` that must never be written. */
function formsOf(secret: string, user?: string): string[] {
  const forms = [secret, b64(secret), b64url(secret), encodeURIComponent(secret), json(secret)];
  if (user !== undefined) forms.push(b64(`${user}:${secret}`), b64url(`${user}:${secret}`));
  return forms;
}

/** A fake InfluxDB answer: `status`, with a plain-text body echoing the credentials it received. */
function echoing(status: number) {
  return (req: RecordedRequest, res: ServerResponse): void => {
    const auth = String(req.headers.authorization ?? '');
    let secret = auth.replace(/^Token /, '');
    let decoded = '';
    if (auth.startsWith('Basic ')) {
      decoded = Buffer.from(auth.slice('Basic '.length), 'base64').toString('utf8');
      secret = decoded.slice(decoded.indexOf(':') + 1);
    }
    // not JSON (the writer would show only its message): every form stays in the text
    const body =
      `request refused: authorization=${auth} decoded=${decoded} b64=${b64(secret)} b64url=${b64url(secret)} ` +
      `url=${encodeURIComponent(secret)} json={"token":"${json(secret)}"`;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** A batch as an older version stored it: its header's reason holds `reason` raw; its body is garbled. */
function plantCorruptBatch(outboxDir: string, reason: string): string {
  const name = '20000101T000000000Z-0000000001-00000001.lp';
  const header = { collector: 'quick', created: '2000-01-01T00:00:00.000Z', reason, lines: 1, bytes: 999, sha256: '0'.repeat(64) };
  writeFileSync(join(outboxDir, name), `#metrics-outbox v1 ${JSON.stringify(header)}\nquick v=1i 946684800000000000\n`);
  return name;
}

async function proveNothingLeaks(opts: { path: string; env: Record<string, string>; secret: string; user?: string }): Promise<void> {
  const server = await startHttpFixtureServer({ 'GET /ping': { status: 204 } });
  const state = mkdtempSync(join(root, 'state-'));
  const forms = formsOf(opts.secret, opts.user);
  const env = { ...opts.env, METRICS_COLLECTORS_DIR: bulk.dir, METRICS_STATE_DIR: state, INFLUX_MAX_RETRIES: '0' };
  const leaks: string[] = [];
  const check = (text: string, where: string): void => {
    for (const f of forms) if (text.includes(f)) leaks.push(`${where} holds ${JSON.stringify(f)}:\n${text}`);
  };
  try {
    const port = new URL(server.url).port;
    const e = { ...env, ...(opts.env.INFLUXDB_HOSTNAME ? { INFLUXDB_PORT: port } : { INFLUX_URL: server.url }) };

    // 1. InfluxDB unavailable (503 echoing the secret): the points and collector_run wait in the outbox
    server.routes[`POST ${opts.path}`] = echoing(503);
    const r1 = await runCli(['run', 'quick', '--verbose'], { env: e });
    assert.equal(r1.code, 3, show(r1));
    check(r1.stdout, 'stdout of run 1');
    check(r1.stderr, 'stderr of run 1');
    assert.match(r1.stderr, /HTTP 503/, 'the server message is shown (redacted)');
    const outbox = join(state, 'outbox');
    const stored = walk(outbox).filter((p) => p.endsWith('.lp'));
    assert.ok(stored.length >= 2, `the points and collector_run are in the outbox: ${stored.join(', ')}`);
    for (const p of stored)
      assert.match(readFileSync(p, 'utf8').split('\n')[0]!, /HTTP 503.*\*\*\*/, `the header reason of ${p} is the redacted server message`);
    const collectorRun = stored
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n')
      .split('\n')
      .find((l) => l.startsWith('collector_run,'));
    assert.ok(
      collectorRun && /error="[^"]*HTTP 503[^"]*\*\*\*/.test(collectorRun),
      `the collector_run line carries the redacted error: ${collectorRun}`,
    );

    // 2. a batch stored by an older version, its reason holding the raw secret, garbled: corrupt/
    const planted = plantCorruptBatch(outbox, `HTTP 401: ${forms.join(' ')}`);

    // 3. InfluxDB now rejects the data (400 echoing the secret): everything moves to rejected/
    server.routes[`POST ${opts.path}`] = echoing(400);
    const r2 = await runCli(['run', 'quick'], { env: e });
    assert.equal(r2.code, 1, show(r2));
    check(r2.stdout, 'stdout of run 2');
    check(r2.stderr, 'stderr of run 2');

    const files = walk(state);
    const rel = files.map((p) => relative(state, p));
    assert.ok(rel.includes(`outbox/corrupt/${planted}.reason.txt`), rel.join('\n'));
    assert.ok(
      rel.some((p) => /^outbox\/rejected\/.*\.lp\.reason\.txt$/.test(p)),
      rel.join('\n'),
    );
    assert.ok(
      rel.some((p) => p.startsWith('runs/')),
      rel.join('\n'),
    );
    assert.match(readFileSync(join(outbox, 'corrupt', `${planted}.reason.txt`), 'utf8'), /stored because: HTTP 401: \*\*\*/);
    for (const p of files) {
      if (p === join(outbox, 'corrupt', planted)) continue; // our planted input, moved as it was
      check(readFileSync(p).toString('utf8'), relative(state, p));
    }
    assert.ok(
      server.requests.some((q) => q.path === opts.path && q.headers.authorization),
      'the credentials were sent',
    );
    assert.deepEqual(leaks, [], leaks.join('\n=====\n'));
  } finally {
    await server.close();
  }
}

test(
  'no form of the InfluxDB 1.x password (raw, base64 of user:password, URL-encoded, JSON) reaches stdout, stderr or any file of ' +
    'the state directory, though the server echoes it',
  async () => {
    const password = 'pa"ss/w+rd&' + randomBytes(6).toString('hex');
    await proveNothingLeaks({
      path: '/write',
      env: { INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_DATABASE: 'db', INFLUXDB_USERNAME: 'admin', INFLUXDB_PASSWORD: password },
      secret: password,
      user: 'admin',
    });
  },
);

test(
  'no form of the InfluxDB 2.x token (raw, base64, URL-encoded, JSON) reaches stdout, stderr or any file of the state directory, ' +
    'though the server echoes it',
  async () => {
    const token = 'tok/"A+&' + randomBytes(12).toString('hex');
    await proveNothingLeaks({
      path: '/api/v2/write',
      env: { INFLUX_TOKEN: token, INFLUX_ORG: 'o', INFLUX_BUCKET: 'b', INFLUX_API_VERSION: '2' },
      secret: token,
    });
  },
);

// ---------------------------------------------------------------------------------------------
// secrets in the configuration and in credential files: never printed

let seq = 0;
function fresh(name: string): string {
  const d = join(root, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

test('credentials in bad host names and URLs are never printed', async () => {
  const cases: Array<[Record<string, string>, string[], string]> = [
    [{ INFLUXDB_HOSTNAME: 'me:TopS3cret@h', INFLUXDB_DATABASE: 'x' }, ['run', 'system'], 'TopS3cret'],
    [{ INFLUX_URL: 'ftp://me:TopS3cret@h', INFLUX_BUCKET: 'b' }, ['run', 'system'], 'TopS3cret'],
    [{ INFLUX_URL: 'htp//me:TopS3cret@h', INFLUX_BUCKET: 'b' }, ['run', 'system'], 'TopS3cret'],
    [{ PROMTAIL_PUSH_API_URL: 'htp://user:S3cretPromtail@x' }, ['event', 'runner_installed', 'flavor=a', 'duration=1'], 'S3cretPromtail'],
  ];
  for (const [env, args, secret] of cases) {
    const r = await runCli(args, { env });
    const what = `${JSON.stringify(env)} metrics ${args.join(' ')}\n${show(r)}`;
    assert.equal(r.code, 2, what);
    assert.ok(!(r.stdout + r.stderr).includes(secret), `secret printed: ${what}`);
    assert.ok(r.stderr.trim().length > 0, `no error message: ${what}`);
  }
});

test('a token from INFLUX_TOKEN_FILE / $CREDENTIALS_DIRECTORY reaches the server but never the output, even echoed in a 401', async () => {
  const echo401 = (req: RecordedRequest, res: import('node:http').ServerResponse): void => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'unauthorized', message: `token is invalid: ${String(req.headers.authorization)}` }));
  };
  const server = await startHttpFixtureServer({
    'GET /ping': { status: 204, headers: { 'x-influxdb-version': 'v2.7.1' } },
    'POST /api/v2/write': echo401,
    'GET /api/v2/buckets': echo401,
  });
  try {
    const base = fresh('secrets');
    const tokenA = 'tokA-' + randomBytes(12).toString('hex');
    const tokenB = 'tokB-' + randomBytes(12).toString('hex');
    writeFileSync(join(base, 'token'), tokenA + '\n');
    const creds = join(base, 'creds');
    mkdirSync(creds);
    writeFileSync(join(creds, 'INFLUX_TOKEN'), tokenB + '\n');
    const common = { INFLUX_URL: server.url, INFLUX_API_VERSION: '2', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b', INFLUX_MAX_RETRIES: '0' };
    const leaks: string[] = [];
    for (const [token, extra] of [
      [tokenA, { INFLUX_TOKEN_FILE: join(base, 'token') }],
      [tokenB, { CREDENTIALS_DIRECTORY: creds }],
    ] as const) {
      const before = server.requests.length;
      const state = fresh('secrets-state');
      for (const args of [['run', 'system'], ['check'], ['outbox', 'flush']]) {
        const r = await runCli(args, { env: { ...common, ...extra, METRICS_STATE_DIR: state } });
        const what = `metrics ${args.join(' ')} with ${Object.keys(extra)[0]}\n${show(r)}`;
        assert.notEqual(r.code, 0, what);
        if ((r.stdout + r.stderr).includes(token)) leaks.push(`token printed: ${what}`);
        if ((r.stdout + r.stderr).includes(Buffer.from(token).toString('base64'))) leaks.push(`token printed (base64): ${what}`);
      }
      const writes = server.requests.slice(before).filter((q) => q.method === 'POST' && q.path === '/api/v2/write');
      assert.ok(writes.length > 0, 'no write reached the server');
      for (const w of writes) assert.equal(w.headers.authorization, `Token ${token}`);
    }
    assert.deepEqual(leaks, [], leaks.join('\n=====\n'));
  } finally {
    await server.close();
  }
});

test('the framework output (writeStdout/writeStderr): redacted, in order with process.stdout, before and after it is made', () => {
  const redactModule = new URL('../../../src/lib/platform/redact.js', import.meta.url).href;
  const script = `
    const r = await import(${JSON.stringify(redactModule)});
    r.redactProcessOutput();
    r.registerSecret('s3cr3t-value');
    r.writeStdout('1 s3cr3t-value ü\\n');
    r.writeStderr('e1 s3cr3t-value\\n');
    process.stdout.write('2 s3cr3t-value\\n');
    r.writeStdout('3 s3cr3t-value ü\\n');
    console.log('4 s3cr3t-value');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1 *** ü\n2 ***\n3 *** ü\n4 ***\n');
  assert.equal(r.stderr, 'e1 ***\n');
});
