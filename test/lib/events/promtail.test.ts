/**
 * The Promtail sink against a local HTTP server that checks the Loki push API format
 * (POST /loki/api/v1/push, JSON: {"streams":[{"stream":{labels},"values":[["<ns>","<line>"]]}]}).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pushToPromtail } from '../../../src/lib/events/promtail.js';
import { createEventSinks } from '../../../src/lib/events/sinks.js';
import { IssueMetricEventError } from '../../../src/lib/events/event.js';
import { createLogger } from '../../../src/lib/platform/log.js';
import { loadSettings } from '../../../src/lib/platform/settings.js';
import { RunnerInstalled, RunnerStop } from '../../../src/collectors/github_runner/events.js';
import { freePort, startHttpFixtureServer, type HttpFixtureServer, type RecordedRequest } from '../../helpers/servers.js';

const PATH = '/loki/api/v1/push';
const quiet = createLogger({ write: () => undefined });

/** Checks one request against the Loki push API's JSON format; returns the streams. */
function checkLokiPush(req: RecordedRequest): { stream: Record<string, string>; values: [string, string][] }[] {
  assert.equal(req.method, 'POST');
  assert.equal(req.path, PATH);
  assert.match(String(req.headers['content-type']), /^application\/json/);
  const body = JSON.parse(req.text) as { streams: unknown };
  assert.deepEqual(Object.keys(body), ['streams']);
  assert.ok(Array.isArray(body.streams) && body.streams.length > 0);
  for (const s of body.streams as { stream: Record<string, unknown>; values: unknown[] }[]) {
    assert.deepEqual(Object.keys(s).sort(), ['stream', 'values']);
    for (const [k, v] of Object.entries(s.stream)) {
      assert.match(k, /^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Loki label name');
      assert.equal(typeof v, 'string');
    }
    assert.ok(Array.isArray(s.values) && s.values.length > 0);
    for (const v of s.values) {
      assert.ok(Array.isArray(v) && v.length === 2, 'a value is [timestamp, line]');
      assert.equal(typeof v[0], 'string', 'the timestamp is a string');
      assert.match(v[0] as string, /^\d{19}$/, 'nanoseconds since the epoch');
      assert.equal(typeof v[1], 'string');
    }
  }
  return body.streams as { stream: Record<string, string>; values: [string, string][] }[];
}

describe('Promtail sink', () => {
  let server: HttpFixtureServer;
  // a fresh server per test: response sequences count per route
  beforeEach(async () => {
    server = await startHttpFixtureServer({});
  });
  afterEach(async () => {
    await server.close();
  });

  test('pushes the documented format: labels job and event, [ns timestamp, JSON line]', async () => {
    server.routes[`POST ${PATH}`] = { status: 204 };
    const before = server.requests.length;
    const a = new RunnerInstalled({ flavor: 'small', duration: 12.5, timestamp: 1700000000.123456 });
    const b = new RunnerStop({
      flavor: 'small',
      workflow: 'ci',
      repo: 'o/r',
      github_event: 'push',
      status: 'normal',
      job_duration: 3,
      timestamp: 1700000001,
    });
    const c = new RunnerInstalled({ flavor: 'large', duration: 1, timestamp: 1700000002 });
    const sinks = createEventSinks({ settings: loadSettings({ PROMTAIL_PUSH_API_URL: server.url + PATH }), log: quiet });
    assert.deepEqual(sinks.names(), ['promtail']);
    assert.deepEqual(await sinks.issue([a, b, c]), { sinks: ['promtail'] });
    const reqs = server.requests.slice(before);
    assert.equal(reqs.length, 1);
    const streams = checkLokiPush(reqs[0]!);
    assert.deepEqual(streams, [
      {
        stream: { job: 'metrics', event: 'runner_installed' },
        values: [
          ['1700000000123456000', a.toLine()],
          ['1700000002000000000', c.toLine()],
        ],
      },
      { stream: { job: 'metrics', event: 'runner_stop' }, values: [['1700000001000000000', b.toLine()]] },
    ]);
    assert.deepEqual(JSON.parse(streams[0]!.values[0]![1]), {
      timestamp: 1700000000.123456,
      event: 'runner_installed',
      flavor: 'small',
      duration: 12.5,
    });
  });

  test('429 with Retry-After, then 200: waits as asked, then succeeds', async () => {
    server.routes[`POST ${PATH}`] = [{ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' }, { status: 200 }];
    const before = server.requests.length;
    const warnings: string[] = [];
    const log = createLogger({ write: (l) => warnings.push(l) });
    const started = Date.now();
    await pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], server.url + PATH, { log, retry: { baseDelayMs: 10 } });
    const elapsed = Date.now() - started;
    assert.equal(server.requests.length - before, 2);
    assert.ok(elapsed >= 950, `Retry-After: 1 honoured (waited ${elapsed} ms)`);
    assert.ok(elapsed < 5000);
    assert.equal(server.requests[before]!.text, server.requests[before + 1]!.text, 'the same body is sent again');
    checkLokiPush(server.requests[before + 1]!);
    assert.match(warnings.join('\n'), /HTTP 429.*retrying in 1\.0 s \(attempt 2 of 5\)/);
  });

  test('400: a clear error at once (URL, status, body), no retry', async () => {
    server.routes[`POST ${PATH}`] = { status: 400, body: 'error at least one label pair is required per stream\n' };
    const before = server.requests.length;
    const url = server.url + PATH;
    await assert.rejects(pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], url, { log: quiet }), (e: Error) => {
      assert.ok(e instanceof IssueMetricEventError);
      assert.equal(e.sink, 'promtail');
      assert.ok(e.message.includes(url), e.message);
      assert.match(e.message, /HTTP 400 Bad Request: error at least one label pair is required per stream/);
      assert.match(e.message, /runner_installed/);
      return true;
    });
    assert.equal(server.requests.length - before, 1);
  });

  test('5xx every time: gives up after the bounded attempts with the last status', async () => {
    server.routes[`POST ${PATH}`] = { status: 503, body: 'unavailable' };
    const before = server.requests.length;
    await assert.rejects(
      pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], server.url + PATH, {
        log: quiet,
        retry: { attempts: 3, baseDelayMs: 5 },
      }),
      /failed after 3 attempts; last: HTTP 503 Service Unavailable: unavailable/,
    );
    assert.equal(server.requests.length - before, 3);
  });

  test('a Retry-After longer than the limit fails at once instead of hanging', async () => {
    server.routes[`POST ${PATH}`] = { status: 429, headers: { 'retry-after': '3600' } };
    const before = server.requests.length;
    const started = Date.now();
    await assert.rejects(
      pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], server.url + PATH, { log: quiet }),
      /asks to retry after 3600\.0 s, longer than the 30 s this client waits/,
    );
    assert.ok(Date.now() - started < 2000);
    assert.equal(server.requests.length - before, 1);
  });

  test('network errors are retried, then reported with the URL', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}${PATH}`;
    await assert.rejects(
      pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], url, { log: quiet, retry: { attempts: 2, baseDelayMs: 5 } }),
      (e: Error) =>
        e instanceof IssueMetricEventError &&
        e.message.includes(url) &&
        /after 2 attempts; last: network error: ECONNREFUSED/.test(e.message),
    );
  });

  test('credentials in the URL become basic auth and never appear in errors', async () => {
    server.routes[`POST ${PATH}`] = [{ status: 204 }, { status: 401, body: 'unauthorized' }];
    const before = server.requests.length;
    const url = server.url.replace('http://', 'http://promtail:s3cr3t-pass@') + PATH;
    await pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], url, { log: quiet });
    assert.equal(server.requests[before]!.headers.authorization, 'Basic ' + Buffer.from('promtail:s3cr3t-pass').toString('base64'));
    await assert.rejects(pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], url, { log: quiet }), (e: Error) => {
      assert.match(e.message, /HTTP 401/);
      assert.ok(!e.message.includes('s3cr3t'), e.message);
      return true;
    });
  });

  test('log and promtail together: a failing sink does not stop the other, the error says which', async () => {
    server.routes[`POST ${PATH}`] = { status: 400, body: 'bad' };
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'promtail-test-'));
    try {
      const path = join(dir, 'm.log');
      const e = new RunnerInstalled({ flavor: 's', duration: 1 });
      const sinks = createEventSinks({
        settings: loadSettings({ METRICS_LOG_PATH: path, PROMTAIL_PUSH_API_URL: server.url + PATH }),
        log: quiet,
      });
      await assert.rejects(sinks.issue(e), /could not be issued to promtail \(it was issued to log\): promtail: .*HTTP 400/);
      assert.equal(await readFile(path, 'utf8'), e.toLine() + '\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
