/**
 * The SDK's HTTP helpers (src/lib/sdk/fetch.ts) and the Metric methods over them, against a local
 * HTTP server: a status in `accept` is an answer (the body helpers give undefined, fetchResponse
 * the status), any other non-2xx status is a CollectorError naming the URL and the status; headers,
 * the final URL and lines are readable; HEAD reads no body and its Content-Length is no limit
 * breach, while the size limit of a body still holds. The types: with `accept` a body helper may
 * give undefined, without it not (checked by the compiler).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CollectorError } from '../../../src/lib/platform/errors.js';
import { fetchJson, fetchLines, fetchResponse, fetchText, splitLines } from '../../../src/lib/sdk/fetch.js';
import { Metric, type Collected } from '../../../src/lib/sdk/metric.js';
import { startHttpFixtureServer, type HttpFixtureServer } from '../../helpers/servers.js';

let server: HttpFixtureServer;
before(async () => {
  server = await startHttpFixtureServer({
    '/data.json': { body: { a: 1 }, headers: { etag: '"v1"', link: '<http://x/next>; rel="next"' } },
    '/missing': { status: 404, body: 'no such thing' },
    '/broken': { status: 500, body: 'internal oops' },
    '/lines.txt': { body: 'one\r\ntwo\nthree\n', headers: { 'content-type': 'text/plain' } },
    '/redirect': { status: 302, headers: { location: '/data.json' } },
    '/big': { body: 'x'.repeat(2000) },
    'HEAD /huge': (_req, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024 * 1024), 'content-type': 'application/octet-stream' });
      res.end();
    },
  });
});
after(() => server?.close());

/** The error a promise rejects with (it must reject). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a rejection');
}

describe('accept: statuses that are answers', () => {
  test('404 accepted: the body helpers give undefined', async () => {
    assert.equal(await fetchJson(`${server.url}/missing`, { accept: [404] }), undefined);
    assert.equal(await fetchText(`${server.url}/missing`, { accept: [404] }), undefined);
    assert.equal(await fetchLines(`${server.url}/missing`, { accept: [404, 410] }), undefined);
  });
  test('404 accepted: fetchResponse gives the status and the body', async () => {
    const r = await fetchResponse(`${server.url}/missing`, { accept: [404] });
    assert.equal(r.status, 404);
    assert.equal(r.ok, false);
    assert.equal(r.text, 'no such thing');
  });
  test('an accepted status does not hide a 2xx answer', async () => {
    assert.deepEqual(await fetchJson(`${server.url}/data.json`, { accept: [404] }), { a: 1 });
  });
  test('404 not accepted: a CollectorError naming the URL and the status', async () => {
    const e = await rejection(fetchJson(`${server.url}/missing`));
    assert.ok(e instanceof CollectorError);
    assert.match(e.message, new RegExp(`GET ${server.url}/missing failed: HTTP 404`));
  });
  test('500 when only 404 is accepted: a CollectorError naming the URL, the status and the hint', async () => {
    const e = await rejection(fetchText(`${server.url}/broken`, { accept: [404], hint: 'set BROKEN_URL' }));
    assert.ok(e instanceof CollectorError);
    assert.match(e.message, new RegExp(`GET ${server.url}/broken failed: HTTP 500.*internal oops.*; set BROKEN_URL`));
  });
});

describe('fetchResponse', () => {
  test('status, headers and the final URL after a redirect', async () => {
    const r = await fetchResponse(`${server.url}/redirect`);
    assert.equal(r.status, 200);
    assert.equal(r.ok, true);
    assert.equal(r.url, `${server.url}/data.json`);
    assert.equal(r.headers.get('etag'), '"v1"');
    assert.equal(r.headers.get('link'), '<http://x/next>; rel="next"');
    assert.deepEqual(JSON.parse(r.text), { a: 1 });
  });
  test('HEAD: no body read, and a Content-Length beyond maxBytes is not a failure', async () => {
    const r = await fetchResponse(`${server.url}/huge`, { method: 'HEAD', maxBytes: 1000 });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('content-length'), String(10 * 1024 * 1024 * 1024));
  });
  test('the size limit still holds for a body', async () => {
    const e = await rejection(fetchResponse(`${server.url}/big`, { maxBytes: 1000 }));
    assert.ok(e instanceof CollectorError);
    assert.match(e.message, new RegExp(`GET ${server.url}/big answered with (2000 bytes, )?more than the limit of 1000 bytes`));
  });
});

describe('fetchLines', () => {
  test('lines without their endings, \\n or \\r\\n, no empty last line', async () => {
    assert.deepEqual(await fetchLines(`${server.url}/lines.txt`), ['one', 'two', 'three']);
  });
  test('splitLines', () => {
    assert.deepEqual(splitLines(''), []);
    assert.deepEqual(splitLines('a'), ['a']);
    assert.deepEqual(splitLines('a\n\nb\n'), ['a', '', 'b']);
    assert.deepEqual(splitLines('a\r\nb'), ['a', 'b']);
  });
});

describe('the types', () => {
  test('with accept a body helper may give undefined; without it, the type has no undefined', async () => {
    const maybe = await fetchJson<{ a: number }>(`${server.url}/data.json`, { accept: [404] });
    const sure = await fetchJson<{ a: number }>(`${server.url}/data.json`);
    // checked by tsc: these lines do not compile if the overloads are wrong
    const hasUndefined: undefined extends typeof maybe ? true : false = true;
    const noUndefined: undefined extends typeof sure ? true : false = false;
    assert.equal(sure.a, 1); // no `?.` needed
    assert.equal(maybe?.a, 1);
    assert.ok(hasUndefined && !noUndefined);
  });
});

// ------------------------------------------------------------------------------------------------
// The Metric methods

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent, verbose: false };

class Probe extends Metric {
  constructor(
    private readonly base: string,
    options: ConstructorParameters<typeof Metric>[0] = {},
  ) {
    super({ log: silent, ...options });
  }
  async collect(): Promise<Collected> {
    const missing = await this.fetchJson<{ a: number }>(`${this.base}/missing`, { accept: [404] });
    const data = await this.fetchJson<{ a: number }>(`${this.base}/data.json`);
    const lines = await this.fetchLines(`${this.base}/lines.txt`);
    const head = await this.fetchResponse(`${this.base}/data.json`);
    return [
      {
        measurement: 'probe',
        tags: { etag: head.headers.get('etag') ?? '' },
        fields: { a: data.a, missing: missing === undefined, lines: lines.length },
      },
    ];
  }
}

describe('Metric: fetch methods and now()', () => {
  test('the methods, in a collector', async () => {
    const out: string[] = [];
    const sink = { add: (line: string) => void out.push(line), finish: async () => ({ ...emptyReport() }) };
    const r = await new Probe(server.url, { sink, collectionTime: '1767225600000000000' }).run();
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(out, ['probe,etag="v1" a=1,missing=true,lines=3 1767225600000000000']);
  });
  test('now() and nowNs(): the collection time given, as a Date and as nanoseconds', () => {
    const m = new Probe(server.url, { collectionTime: '1767225600123456789' });
    assert.equal(m.nowNs(), '1767225600123456789');
    assert.equal(m.now().toISOString(), '2026-01-01T00:00:00.123Z');
  });
  test('now() without a given time: fixed at first use, and the time of the run', async () => {
    const m = new Probe(server.url);
    const before = Date.now();
    const first = m.now().getTime();
    assert.ok(first >= before && first <= Date.now());
    assert.equal(m.now().getTime(), first);
    assert.match(m.nowNs(), /^\d{19}$/);
  });
});

function emptyReport() {
  return { points: 0, measurements: {}, written: 0, deferred: 0, rejected: 0, lost: 0, refused: 0, errors: [] };
}
