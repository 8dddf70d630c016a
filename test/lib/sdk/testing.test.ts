/**
 * The SDK's test harness (src/lib/sdk/testing.ts): `collectPoints` runs one collector in-process,
 * by folder name or by class, against a recording, at a fixed "now" (a default one, an RFC 3339
 * string or a Date), with only the variables given; it gives back typed points, lines, log lines
 * and errors, with the points yielded before a failure; a request missing from the recording, a
 * crash and a collector that outlives its time limit are errors, a test's own mistakes throw. The
 * result needs no casts (the compiler checks the field accesses below).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CollectorError, Metric, int, type PointObject } from '../../../src/lib/sdk/index.js';
import { DEFAULT_TEST_NOW, collectPoints, type Collection, type ParsedPoint } from '../../../src/lib/sdk/testing.js';
import { repoRoot } from '../../helpers/servers.js';

const tmp = mkdtempSync(join(tmpdir(), 'harness-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SPONSORING_FIXTURES = join(repoRoot, 'test', 'collectors', 'sponsoring', 'fixtures', 'recording');
const DEFAULT_NS = '1767225600000000000'; // 2026-01-01T00:00:00Z
const API = 'https://api.example/v1/items';

/** A recording folder answering one GET of `url` with `body` as JSON. */
function recording(name: string, url: string, body: unknown, status = 200): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'body.json'), JSON.stringify(body));
  writeFileSync(
    join(dir, 'requests.json'),
    JSON.stringify({
      format: 'metrics-recording/1',
      requests: [{ method: 'GET', url, status, headers: { 'content-type': 'application/json' }, body: 'body.json' }],
    }),
  );
  return dir;
}

/** Items from the API, one point each; `FAIL_AFTER` items are yielded, then it fails. */
class ItemsMetric extends Metric {
  async *collect(): AsyncGenerator<PointObject> {
    const items = await this.fetchJson<Array<{ id: string; n: number }>>(this.env.ITEMS_URL ?? API);
    const failAfter = this.env.FAIL_AFTER === undefined ? Number.POSITIVE_INFINITY : Number(this.env.FAIL_AFTER);
    this.log.info(`${items.length} items; now is ${this.now().toISOString()}`);
    for (const [i, item] of items.entries()) {
      if (i >= failAfter) throw new CollectorError(`item #${i} is broken`);
      yield { measurement: 'items', tags: { id: item.id }, fields: { n: int(item.n), ratio: item.n / 2, ok: true, label: `#${i}` } };
    }
  }
}

describe('collectPoints', () => {
  test('a collector by folder name, against its recorded fixture: typed points at the default now', async () => {
    const r: Collection = await collectPoints('sponsoring', { fixtures: SPONSORING_FIXTURES });
    assert.deepEqual(r.errors, []);
    assert.equal(r.report.ok, true);
    const all = r.points.find((p) => p.tags.report === 'sponsoring');
    // 2026-01-01: the fixture's entries were queued in 2026 later than that, so every age is 0
    assert.deepEqual(all, {
      measurement: 'sponsoring_queue_stats',
      tags: { report: 'sponsoring' },
      fields: { count: { type: 'integer', value: 6 }, oldest: { type: 'integer', value: 0 }, average_age: { type: 'integer', value: 0 } },
      time: DEFAULT_NS,
    });
    assert.equal(r.lines.length, 4);
    assert.equal(r.lines[0], `sponsoring_queue_stats,report=sponsoring count=6i,oldest=0i,average_age=0i ${DEFAULT_NS}`);
    assert.ok(
      r.logs.some((l) => l.startsWith('debug [sponsoring] ')),
      r.logs.join('\n'),
    );
  });

  test('a Metric class, at a given now (RFC 3339 or Date): fields keep their line-protocol types', async () => {
    const fixtures = recording('items', API, [
      { id: 'a', n: 3 },
      { id: 'b', n: 4 },
    ]);
    for (const now of ['2026-03-01T12:00:00Z', new Date('2026-03-01T12:00:00Z')]) {
      const r = await collectPoints(ItemsMetric, { fixtures, now });
      assert.deepEqual(r.errors, []);
      const first: ParsedPoint | undefined = r.points[0];
      assert.deepEqual(first, {
        measurement: 'items',
        tags: { id: 'a' },
        fields: {
          n: { type: 'integer', value: 3 },
          ratio: { type: 'float', value: 1.5 },
          ok: { type: 'boolean', value: true },
          label: { type: 'string', value: '#0' },
        },
        time: '1772366400000000000',
      });
      assert.equal(r.points[1]?.fields.n?.value, 4); // no casts needed
      assert.ok(r.logs.includes('info [ItemsMetric] 2 items; now is 2026-03-01T12:00:00.000Z'), r.logs.join('\n'));
    }
  });

  test('points yielded before a failure are returned, with the failure in errors', async () => {
    const fixtures = recording('items3', API, [
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
      { id: 'c', n: 3 },
    ]);
    const r = await collectPoints(ItemsMetric, { fixtures, env: { FAIL_AFTER: '2' }, name: 'items' });
    assert.deepEqual(
      r.points.map((p) => p.tags.id),
      ['a', 'b'],
    );
    assert.deepEqual(r.errors, ['collector "items": item #2 is broken']);
    assert.equal(r.report.ok, false);
    assert.ok(r.logs.includes('error [items] collector "items": item #2 is broken'), r.logs.join('\n'));
  });

  test('a request missing from the recording: an error naming the URL and the folder', async () => {
    const fixtures = recording('other', 'https://api.example/v1/other', []);
    const r = await collectPoints(ItemsMetric, { fixtures });
    assert.deepEqual(r.points, []);
    assert.equal(r.errors.length, 1);
    assert.ok(r.errors[0]!.includes(`GET ${API} is not in the recording ${fixtures}`), r.errors[0]);
  });

  test("the environment is only what is given, never the test process's", async () => {
    let seen: Record<string, string | undefined> = { unset: 'yes' };
    class EnvMetric extends Metric {
      collect() {
        seen = { ...this.env };
        return [];
      }
    }
    await collectPoints(EnvMetric);
    assert.deepEqual(seen, {});
    await collectPoints(EnvMetric, { env: { A: '1' } });
    assert.deepEqual(seen, { A: '1' });
  });

  test('a crash, and a collector that outlives its time limit, are errors', async () => {
    class Crash extends Metric {
      collect(): PointObject[] {
        throw new TypeError('oops');
      }
    }
    const crash = await collectPoints(Crash);
    assert.match(crash.errors[0] ?? '', /^collector "Crash" crashed: oops/);
    class Hang extends Metric {
      async collect(): Promise<PointObject[]> {
        await new Promise(() => {}); // never settles, ignores its signal
        return [];
      }
    }
    const hang = await collectPoints(Hang, { timeoutMs: 10 });
    assert.deepEqual(hang.errors, ['collector "Hang": time limit of 10 ms exceeded and it did not stop']);
  });

  test("a test's own mistakes throw: an unknown collector, an invalid now, a folder that is not a recording", async () => {
    await assert.rejects(collectPoints('no-such-collector'), /no collector "no-such-collector"; known collectors: .*sponsoring/);
    await assert.rejects(collectPoints(ItemsMetric, { now: 'tomorrow' }), /now "tomorrow" is not an RFC 3339 date and time/);
    await assert.rejects(collectPoints(ItemsMetric, { fixtures: tmp }), /requests\.json/);
  });

  test('the default now', () => {
    assert.equal(DEFAULT_TEST_NOW, '2026-01-01T00:00:00Z');
  });
});
