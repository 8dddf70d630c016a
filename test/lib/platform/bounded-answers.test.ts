/**
 * Every body we read from a server is bounded, error bodies included (DESIGN.md, "Habits"):
 * a collector's source (src/lib/sdk/fetch.ts) and the Promtail push (src/lib/events/promtail.ts),
 * both through readBounded() of src/lib/platform/http.ts, read at most 64 KiB of an error
 * answer, then close the connection. The InfluxDB side is in test/lib/delivery/transport.test.ts.
 *
 * The hostile server answers with a body that never ends. What the server manages to hand to
 * its socket before the client closes is the part the client read plus what the kernel's socket
 * buffers absorb (a few MiB on loopback); a client that reads to its old 16 MiB limit, or
 * without a limit, makes it send more than SENT_BOUND.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pushToPromtail } from '../../../src/lib/events/promtail.js';
import { IssueMetricEventError } from '../../../src/lib/events/event.js';
import { createLogger } from '../../../src/lib/platform/log.js';
import { RunnerInstalled } from '../../../src/collectors/github_runner/events.js';
import {
  answerEndlessly,
  runCli,
  startHttpFixtureServer,
  type CliResult,
  type HostileAnswer,
  type HttpFixtureServer,
} from '../../helpers/servers.js';

const SENT_BOUND = 16 * 1024 * 1024;
/** An unbounded client would read this much, then wait for its time limit (kept finite so it cannot eat all memory). */
const CAP = 256 * 1024 * 1024;

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

let server: HttpFixtureServer;
const answers: Promise<HostileAnswer>[] = [];

before(async () => {
  server = await startHttpFixtureServer(async (_req, res) => {
    const p = answerEndlessly(res, { status: 500, headers: { 'content-type': 'text/plain' }, capBytes: CAP });
    answers.push(p);
    await p;
  });
});
after(() => server.close());

describe("a collector's source answering 500 with a body that never ends", () => {
  test('fails the collector with the URL and the status, having read only the start of the answer', async () => {
    const url = `${server.url}/queue.json`;
    const first = answers.length;
    const r = await runCli(['run', 'sponsoring', '--dry-run'], { env: { SPONSORING_URL: url }, timeoutMs: 60_000 });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /sponsoring\s+FAILED/, show(r));
    assert.ok(r.stderr.includes(url), `the URL is named:\n${show(r)}`);
    assert.match(r.stderr, /HTTP 500/, `the status is named:\n${show(r)}`);
    const got = await Promise.all(answers.slice(first));
    assert.equal(got.length, 1);
    assert.ok(got[0]!.closedByClient, 'the collector closed the connection');
    assert.ok(got[0]!.sent < SENT_BOUND, `the server could send ${got[0]!.sent} bytes`);
  });
});

describe('a Promtail push answered 500 with a body that never ends', () => {
  test('is retried and reported with the status, each answer read only at its start', async () => {
    const url = `${server.url}/loki/api/v1/push`;
    const first = answers.length;
    await assert.rejects(
      pushToPromtail([new RunnerInstalled({ flavor: 's', duration: 1 })], url, {
        log: createLogger({ write: () => undefined }),
        retry: { attempts: 2, baseDelayMs: 1, timeoutMs: 5000 },
      }),
      (e: Error) => {
        assert.ok(e instanceof IssueMetricEventError, String(e));
        assert.ok(e.message.includes(url), e.message);
        assert.match(e.message, /failed after 2 attempts; last: HTTP 500/);
        return true;
      },
    );
    const got = await Promise.all(answers.slice(first));
    assert.equal(got.length, 2);
    for (const a of got) {
      assert.ok(a.closedByClient, 'the push closed the connection');
      assert.ok(a.sent < SENT_BOUND, `the server could send ${a.sent} bytes`);
    }
  });
});
