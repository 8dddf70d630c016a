/**
 * The shared Launchpad client against a local server speaking Launchpad's JSON: collections paged
 * through next_collection_link, counts from total_size or total_size_link, the bounded retry, and
 * errors naming the resource. Then the Launchpad collectors as the runner sees them: `metrics
 * list` with their intervals, `metrics systemd generate` with their timers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Launchpad, sameLink } from '../../../src/collectors/_launchpad/launchpad.js';
import { fetchJson } from '../../../src/lib/sdk/fetch.js';
import type { FetchOptions } from '../../../src/lib/sdk/index.js';
import { captureLogger } from '../../helpers/metric.js';
import { type HttpFixtureServer, startHttpFixtureServer } from '../../helpers/servers.js';

let server: HttpFixtureServer;
const json = { 'content-type': 'application/json' };
const page = (entries: unknown[], extra: Record<string, unknown> = {}) => ({ start: 0, entries, ...extra });

before(async () => {
  server = await startHttpFixtureServer((req, res) => {
    const url = new URL(req.url, server.url);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, json);
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const base = `${server.url}/devel`;
    switch (url.pathname) {
      case '/devel/things':
        if (url.searchParams.get('ws.start') === '2') return send(200, page([{ n: 3 }], { total_size: 3 }));
        return send(200, page([{ n: 1 }, { n: 2 }], { total_size: 3, next_collection_link: `${base}/things?ws.size=2&ws.start=2` }));
      case '/devel/deferred':
        if (url.searchParams.get('ws.show') === 'total_size') return send(200, '812');
        return send(200, page([{ n: 1 }], { total_size_link: `${base}/deferred?ws.show=total_size`, next_collection_link: `${base}/x` }));
      case '/devel/sizeless':
        return send(200, page([{ n: 1 }], { next_collection_link: `${base}/sizeless?ws.start=1` }));
      case '/devel/loop':
        return send(200, page([{ n: 1 }], { next_collection_link: `${base}/loop?again=1` }));
      case '/devel/entry':
        return send(200, [1, 2]);
      case '/devel/flaky': {
        const seen = server.requests.filter((r) => r.path.startsWith('/devel/flaky')).length;
        return seen === 1 ? send(503, 'try later') : send(200, { ok: true });
      }
      case '/devel/missing':
        return send(404, 'Object: <Launchpad>, name: missing');
      case '/devel/ubuntu':
        return send(200, {
          self_link: `${base}/ubuntu`,
          current_series_link: `${base}/ubuntu/b`,
          series_collection_link: `${base}/ubuntu/series`,
        });
      case '/devel/ubuntu/series':
        return send(
          200,
          page(
            ['b', 'a', 'old'].map((name) => ({ name, active: name !== 'old', self_link: `${base}/ubuntu/${name}` })),
            { total_size: 3 },
          ),
        );
      default:
        return send(404, 'not here');
    }
  });
});
after(() => server?.close());

function client(env: Record<string, string> = {}) {
  const { log, lines } = captureLogger();
  const host = {
    env: { LAUNCHPAD_API_URL: `${server.url}/devel`, ...env },
    log,
    signal: new AbortController().signal,
    fetchJson: <T>(url: string, opts?: FetchOptions) => fetchJson<T>(url, opts ?? {}),
  };
  return { lp: new Launchpad(host), lines };
}

describe('the Launchpad client', () => {
  test('a collection is read page by page through next_collection_link', async () => {
    const { lp } = client();
    assert.deepEqual(await lp.all('things'), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.equal(server.requests.find((r) => r.path === '/devel/things')!.query.get('ws.size'), '300');
  });

  test('a count is total_size, or the number behind total_size_link, from a one-entry page', async () => {
    const { lp } = client();
    assert.equal(await lp.count('things'), 3);
    assert.equal(server.requests.at(-1)!.query.get('ws.size'), '1');
    assert.equal(await lp.count('deferred', { 'ws.op': 'searchTasks' }), 812);
    await assert.rejects(lp.count('sizeless'), /sizeless\?ws\.size=1: the collection has neither total_size nor total_size_link/);
  });

  test('named operations go as ws.op; entry links are passed as URLs', () => {
    const { lp } = client();
    const url = lp.url('~team', { 'ws.op': 'searchTasks', assignee: 'https://api.launchpad.net/devel/~team', skipped: undefined });
    assert.equal(url, `${server.url}/devel/~team?ws.op=searchTasks&assignee=https%3A%2F%2Fapi.launchpad.net%2Fdevel%2F%7Eteam`);
    assert.equal(lp.url('https://api.launchpad.net/devel/ubuntu/noble'), 'https://api.launchpad.net/devel/ubuntu/noble');
  });

  test('what is not the expected shape is an error naming the URL', async () => {
    const { lp } = client();
    await assert.rejects(lp.entry('entry'), /Launchpad http:\S+\/devel\/entry: expected an entry \(a JSON object\), got a list/);
    await assert.rejects(lp.all('entry'), /expected a collection \(an object with "entries"\), got a list/);
    await assert.rejects(lp.all('loop'), /the collection goes on past \d+ pages \(or loops at \S+loop\?again=1\)/);
  });

  test('a 503 is retried (logged), a 404 is not; with no retries left the error names the URL and status', async () => {
    const { lp, lines } = client({ LAUNCHPAD_RETRIES: '1' });
    assert.deepEqual(await lp.get('flaky'), { ok: true });
    assert.ok(
      lines.some((l) => /HTTP 503.*retry 1 of 1 in 1 s/.test(l)),
      lines.join('\n'),
    );
    const before = server.requests.length;
    await assert.rejects(lp.get('missing'), /GET http:\S+\/devel\/missing failed: HTTP 404/);
    assert.equal(server.requests.length - before, 1, 'a 404 is asked once');
  });

  test('the active series, and the development series from current_series_link', async () => {
    const { lp } = client();
    const s = await lp.ubuntuSeries();
    assert.deepEqual(
      s.active.map((x) => x.name),
      ['b', 'a'],
    );
    assert.equal(s.current, 'b');
    assert.ok(sameLink('https://api.launchpad.net/devel/ubuntu/b', 'https://api.launchpad.net/1.0/ubuntu/b/'));
  });

  test('its variables are checked', () => {
    assert.throws(
      () => client({ LAUNCHPAD_API_URL: 'api.launchpad.net' }),
      /LAUNCHPAD_API_URL="api\.launchpad\.net" is not an http\(s\) URL/,
    );
    assert.throws(() => client({ LAUNCHPAD_RETRIES: '99' }), /LAUNCHPAD_RETRIES="99"/);
    assert.throws(() => client({ LAUNCHPAD_TIMEOUT: '0' }), /LAUNCHPAD_TIMEOUT="0"/);
  });
});
