/**
 * Recordings (src/lib/platform/recording.ts): what the recorder saves of a collector's HTTP
 * exchanges, served back by the replayer, through the SDK's fetch helpers as a collector uses
 * them. Secrets never reach a file of the recorded folder: not the Authorization header, not a
 * token in a custom header (X-Api-Key, Private-Token), a cookie, a password in the URL, a token or
 * key in its query (even when the server echoes them back in its body or its Link header), nor a
 * collector's secret variable the answer happens to contain. Identical requests replay in order,
 * then the last repeats; a request not recorded fails naming the method, the URL and the folder.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { CollectorError, UsageError } from '../../../src/lib/platform/errors.js';
import {
  RECORDING_FORMAT,
  RecordingFetcher,
  ReplayFetcher,
  exchangeKey,
  readRecording,
  recordedUrl,
  secretLookingValues,
} from '../../../src/lib/platform/recording.js';
import { forgetSecrets } from '../../../src/lib/platform/redact.js';
import { fetchJson, fetchResponse, fetchText } from '../../../src/lib/sdk/fetch.js';
import { startHttpFixtureServer, type HttpFixtureServer } from '../../helpers/servers.js';

const tmp = mkdtempSync(join(tmpdir(), 'recording-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => forgetSecrets());
let n = 0;
const freshDir = () => join(tmp, `rec-${++n}`);

let server: HttpFixtureServer;
let counter = 0;
before(async () => {
  server = await startHttpFixtureServer({
    '/items.json': {
      body: { items: [1, 2, 3] },
      headers: { etag: '"abc"', 'x-ratelimit-remaining': '42', 'x-request-id': 'r-1', 'set-cookie': 'sid=cookie-value-123' },
    },
    '/count': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(String(++counter));
    },
    '/gone': { status: 404, body: 'not here' },
    '/moved': { status: 301, headers: { location: '/items.json' } },
    '/bytes': { body: Buffer.from([0, 1, 2, 255, 254, 10]), headers: { 'content-type': 'application/octet-stream' } },
    // echoes everything it was sent: a careless or hostile source
    '/echo': (req, res) => {
      const link = `<http://${req.headers.host}/echo?page=2&token=${req.query.get('token') ?? ''}>; rel="next"`;
      res.writeHead(200, { 'content-type': 'application/json', link, 'x-echo-auth': String(req.headers.authorization ?? '') });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    },
    'HEAD /big': (_req, res) => {
      res.writeHead(200, { 'content-length': '999999999', 'content-type': 'application/octet-stream' });
      res.end();
    },
  });
});
after(() => server?.close());

function filesOf(dir: string): Array<[string, string]> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => [join(d.parentPath, d.name), readFileSync(join(d.parentPath, d.name), 'latin1')]);
}

describe('record, then replay offline', () => {
  test('status, the headers that matter, bodies (text and binary), HEAD; replayed the same without the server', async () => {
    const dir = freshDir();
    const recorder = new RecordingFetcher();
    const items = await fetchResponse(`${server.url}/items.json`, { fetcher: recorder });
    const gone = await fetchText(`${server.url}/gone`, { fetcher: recorder, accept: [404] });
    const bytes = await fetchResponse(`${server.url}/bytes`, { fetcher: recorder });
    const head = await fetchResponse(`${server.url}/big`, { fetcher: recorder, method: 'HEAD' });
    assert.equal(gone, undefined);
    assert.equal(await recorder.save(dir), 4);

    const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8'));
    assert.equal(index.format, RECORDING_FORMAT);
    assert.deepEqual(
      index.requests.map((r: { method: string; url: string; status: number }) => `${r.method} ${r.url} ${r.status}`),
      [`GET ${server.url}/items.json 200`, `GET ${server.url}/gone 404`, `GET ${server.url}/bytes 200`, `HEAD ${server.url}/big 200`],
    );
    assert.deepEqual(index.requests[0].headers, { 'content-type': 'application/json', etag: '"abc"', 'x-ratelimit-remaining': '42' });
    assert.equal(index.requests[0].body, '001-items.json');
    assert.equal(index.requests[2].body, '003-bytes.bin');
    assert.equal(index.requests[3].body, undefined);
    assert.equal(index.requests[3].headers['content-length'], '999999999');

    const replay = await ReplayFetcher.open(dir);
    const again = await fetchResponse(`${server.url}/items.json`, { fetcher: replay });
    assert.equal(again.status, 200);
    assert.equal(again.text, items.text);
    assert.equal(again.headers.get('etag'), '"abc"');
    assert.equal(again.url, `${server.url}/items.json`);
    assert.equal(await fetchText(`${server.url}/gone`, { fetcher: replay, accept: [404] }), undefined);
    await assert.rejects(fetchText(`${server.url}/gone`, { fetcher: replay }), /GET .*\/gone failed: HTTP 404.*not here/);
    assert.deepEqual(Buffer.from((await fetchResponse(`${server.url}/bytes`, { fetcher: replay })).text, 'utf8'), Buffer.from(bytes.text));
    assert.deepEqual(
      Buffer.from(readFileSync(join(dir, '003-bytes.bin'))),
      Buffer.from([0, 1, 2, 255, 254, 10]),
      'binary bodies are saved byte for byte',
    );
    const head2 = await fetchResponse(`${server.url}/big`, { fetcher: replay, method: 'HEAD', maxBytes: 10 });
    assert.equal(head2.headers.get('content-length'), head.headers.get('content-length'));
  });

  test('a redirect followed by fetch is kept as a hop, and followed again in replay', async () => {
    const dir = freshDir();
    const recorder = new RecordingFetcher();
    const first = await fetchResponse(`${server.url}/moved`, { fetcher: recorder });
    assert.equal(first.url, `${server.url}/items.json`);
    await recorder.save(dir);
    const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8'));
    assert.deepEqual(index.requests[0], { method: 'GET', url: `${server.url}/moved`, status: 302, headers: { location: first.url } });
    assert.equal(index.requests[1].url, first.url);
    const again = await fetchResponse(`${server.url}/moved`, { fetcher: await ReplayFetcher.open(dir) });
    assert.equal(again.url, first.url);
    assert.equal(again.text, first.text);
  });

  test('identical requests replay in order, then the last one repeats', async () => {
    const dir = freshDir();
    const recorder = new RecordingFetcher();
    for (let i = 0; i < 2; i++) await fetchText(`${server.url}/count`, { fetcher: recorder });
    await recorder.save(dir);
    const replay = await ReplayFetcher.open(dir);
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await fetchText(`${server.url}/count`, { fetcher: replay }));
    assert.deepEqual(got, [String(counter - 1), String(counter), String(counter)]);
  });

  test('a request not in the recording fails naming the method, the URL and the folder', async () => {
    const dir = freshDir();
    const recorder = new RecordingFetcher();
    await fetchJson(`${server.url}/items.json`, { fetcher: recorder });
    await recorder.save(dir);
    const replay = await ReplayFetcher.open(dir);
    for (const [url, method] of [
      [`${server.url}/items.json?page=2`, 'GET'],
      [`${server.url}/items.json`, 'POST'],
    ] as const) {
      const e = await fetchJson(url, { fetcher: replay, method }).catch((error: unknown) => error as Error);
      assert.ok(e instanceof CollectorError, String(e));
      assert.equal(e.message.startsWith(`${method} ${url} is not in the recording ${dir}`), true, e.message);
    }
  });

  test('a second recording into the same folder replaces the first', async () => {
    const dir = freshDir();
    const first = new RecordingFetcher();
    await fetchJson(`${server.url}/items.json`, { fetcher: first });
    await fetchText(`${server.url}/count`, { fetcher: first });
    await first.save(dir);
    const second = new RecordingFetcher();
    await fetchText(`${server.url}/count`, { fetcher: second });
    await second.save(dir);
    assert.deepEqual(readdirSync(dir).sort(), ['001-count.txt', 'requests.json']);
  });
});

describe('reading a recording', () => {
  test('a folder that is not a recording, or a body outside it: a UsageError naming the file', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    await assert.rejects(readRecording(dir), (e: Error) => e instanceof UsageError && e.message.includes(join(dir, 'requests.json')));
    writeFileSync(join(dir, 'requests.json'), JSON.stringify({ format: 'other', requests: [] }));
    await assert.rejects(readRecording(dir), /is not a recording \(metrics-recording\/1\)/);
    const index = (r: object) => writeFileSync(join(dir, 'requests.json'), JSON.stringify({ format: RECORDING_FORMAT, requests: [r] }));
    index({ method: 'GET', url: 'http://x/a', status: 200, body: '../../etc/passwd' });
    await assert.rejects(readRecording(dir), /body "..\/..\/etc\/passwd" is not a file inside the folder/);
    index({ method: 'GET', url: 'not a url', status: 200 });
    await assert.rejects(readRecording(dir), /request #0: "url" must be an absolute URL/);
    index({ method: 'GET', url: 'http://x/a', status: 200, body: 'missing.json' });
    await assert.rejects(readRecording(dir), /cannot read the body of request #0/);
  });
  test('matching ignores the scheme, masks secret query values and user:password, and reads the query canonically', () => {
    assert.equal(exchangeKey('get', 'https://u:p@h:8080/a?b=1&token=x'), 'GET h:8080/a?b=1&token=***');
    assert.equal(exchangeKey('GET', 'http://h/a?q=a b'), exchangeKey('GET', 'http://h/a?q=a+b'));
    assert.equal(recordedUrl('https://u:p@h/a?private_token=x&page=2'), 'https://h/a?private_token=***&page=2');
    assert.equal(recordedUrl('https://h/a?page=2'), 'https://h/a?page=2');
  });
  test("a collector's secret-looking variables", () => {
    const env = {
      GITHUB_TOKEN: 'a',
      API_KEY: 'b',
      DB_PASSWORD: 'c',
      TOKEN: 'd',
      SOME_URL: 'e',
      EMPTY_SECRET: '',
      SSH_AUTH_SOCK: 'f',
      GITHUB_TOKEN_FILE: 'g',
      MONKEY: 'h',
      PATH_TOKEN: '/a/path',
    };
    assert.deepEqual(secretLookingValues(env), ['a', 'b', 'c', 'd']);
  });
});

describe('secrets never reach the recorded folder', () => {
  const SECRETS = {
    bearer: 'bearer-token-5f3a9c',
    apiKey: 'api-key-77e1d0',
    privateToken: 'private-token-91b2c4',
    cookie: 'cookie-session-0a8f6e',
    password: 'url-pa55word-d41d8c',
    queryToken: 'query-token-3c59dc',
    queryKey: 'query-key-e4da3b',
    envSecret: 'env-secret-1679091c',
  };

  test('headers, URL password and query, echoed back in the body and the headers, and a variable', async () => {
    const dir = freshDir();
    const recorder = new RecordingFetcher(undefined, secretLookingValues({ MY_COLLECTOR_TOKEN: SECRETS.envSecret, MY_URL: 'http://x' }));
    const url = new URL(`${server.url}/echo?page=1&token=${SECRETS.queryToken}&access_key=${SECRETS.queryKey}`);
    url.username = 'robot';
    url.password = SECRETS.password;
    // fetch refuses a URL with credentials: a collector sends them as Basic authorization
    const basic = Buffer.from(`robot:${SECRETS.password}`).toString('base64');
    const plain = `${server.url}/echo?page=1&token=${SECRETS.queryToken}&access_key=${SECRETS.queryKey}`;
    const headers = {
      authorization: `Bearer ${SECRETS.bearer}`,
      'x-api-key': SECRETS.apiKey,
      'private-token': SECRETS.privateToken,
      cookie: `sid=${SECRETS.cookie}`,
      'x-basic': `Basic ${basic}`,
      'x-note': `the variable is ${SECRETS.envSecret}`,
    };
    const r = await fetchResponse(plain, { fetcher: recorder, headers });
    assert.ok(r.text.includes(SECRETS.bearer), 'the server did echo the secrets');
    // the URL with a password goes through the recorder's bookkeeping too
    await recorder.fetch(url.toString(), { headers }).catch(() => {});
    await recorder.save(dir);

    const files = filesOf(dir);
    assert.ok(files.length >= 2);
    for (const [file, text] of files) {
      for (const [what, secret] of Object.entries(SECRETS)) {
        for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
          assert.equal(text.includes(form), false, `${what} (${form}) is in ${file}:\n${text}`);
        }
      }
      assert.equal(text.includes(basic), false, `the Basic credentials are in ${file}`);
    }
    // and the recording still answers the request, secrets and all
    const replay = await ReplayFetcher.open(dir);
    const again = await fetchResponse(plain, { fetcher: replay, headers });
    assert.equal(again.status, 200);
    assert.match(again.headers.get('link') ?? '', /token=\*\*\*/);
  });
});
