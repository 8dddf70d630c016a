/**
 * serveRecording: a recording served over HTTP, links to recorded hosts rewritten to the server,
 * requests outside the recording answered 404 and listed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveRecording } from './recording-server.js';

test('a recording is served by host and path, its links rewritten; an unrecorded request is a listed 404', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recording-'));
  try {
    mkdirSync(join(dir, 'api.example'), { recursive: true });
    writeFileSync(join(dir, 'api.example', 'page1.json'), '{"next":"https://api.example/page2?ws.start=2"}');
    writeFileSync(join(dir, 'api.example', 'page2.json'), '{"entries":[1]}');
    writeFileSync(
      join(dir, 'requests.json'),
      JSON.stringify({
        format: 'metrics-recording/1',
        requests: [
          {
            method: 'GET',
            url: 'https://api.example/page1',
            status: 200,
            headers: { 'content-type': 'application/json', link: '<https://api.example/page2?ws.start=2>; rel="next"' },
            body: 'api.example/page1.json',
          },
          { method: 'GET', url: 'https://api.example/page2?ws.start=2', status: 200, body: 'api.example/page2.json' },
          { method: 'GET', url: 'https://api.example/gone', status: 404 },
        ],
      }),
    );
    const server = await serveRecording(dir);
    try {
      const first = await fetch(`${server.base('api.example')}/page1`);
      assert.equal(first.status, 200);
      const next = ((await first.json()) as { next: string }).next;
      assert.equal(next, `${server.url}/api.example/page2?ws.start=2`);
      assert.equal(first.headers.get('link'), `<${server.url}/api.example/page2?ws.start=2>; rel="next"`);
      assert.deepEqual(await (await fetch(next)).json(), { entries: [1] });
      assert.equal((await fetch(`${server.base('api.example')}/gone`)).status, 404);
      const missing = await fetch(`${server.base('api.example')}/page2?ws.start=3`);
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /not in the recording: GET api\.example\/page2\?ws\.start=3/);
      assert.deepEqual(server.unmatched, ['GET /api.example/page2?ws.start=3']);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('line protocol read back: types kept, float spellings equal, escapes undone', async () => {
  const { parseLine, parseLines, withoutTime } = await import('./line-protocol.js');
  assert.deepEqual(parseLine('m\\ 1,a\\,b=c\\ d,e=f x=0,y=0.0,n=42i,s="say \\"hi\\" \\\\ ok",b=true 1700000000000000000'), {
    measurement: 'm 1',
    tags: { 'a,b': 'c d', e: 'f' },
    fields: {
      x: { type: 'float', value: 0 },
      y: { type: 'float', value: 0 },
      n: { type: 'integer', value: 42 },
      s: { type: 'string', value: 'say "hi" \\ ok' },
      b: { type: 'boolean', value: true },
    },
    time: '1700000000000000000',
  });
  assert.deepEqual(parseLine('m v=1e-05').fields.v, parseLine('m v=0.00001').fields.v);
  assert.notDeepEqual(parseLine('m v=42i').fields.v, parseLine('m v=42').fields.v);
  assert.deepEqual(withoutTime(parseLines('# comment\nm v=1 5\n\nm,t=x v="a b"\n')), [
    { measurement: 'm', tags: {}, fields: { v: { type: 'float', value: 1 } } },
    { measurement: 'm', tags: { t: 'x' }, fields: { v: { type: 'string', value: 'a b' } } },
  ]);
  assert.throws(() => parseLine('m v=abc'), /not line protocol/);
});
