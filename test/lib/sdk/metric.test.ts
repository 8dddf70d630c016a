/**
 * The Metric base class (src/lib/sdk/metric.ts): what its run() does with the points collect()
 * returns (default time stamping, validation); then, as a user meets it (`bin/metrics run gen`),
 * an event issued with issue() is handed to the sink at once, so that it reaches InfluxDB (and
 * the metrics log) even when collect() throws afterwards, and points of one series without a time
 * get a warning naming the series while every one of them is still printed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Point } from '@influxdata/influxdb-client';
import { Metric, type Collected } from '../../../src/lib/sdk/metric.js';
import type { CollectedPoint } from '../../../src/lib/points/point.js';
import { makeGenCollector, type GenCollector } from '../../helpers/gen-collector.js';
import { CaptureSink } from '../../helpers/metric.js';
import { BatchingSink, emptyReport, type PointSink } from '../../../src/lib/run/sink.js';
import type { BatchTarget } from '../../../src/lib/delivery/delivery.js';
import { runCli, startInfluxd, type CliResult, type Influxd } from '../../helpers/servers.js';

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** 2023-11-14T22:13:20.123Z */
const T_MS = 1_700_000_000_123;
const T_NS = '1700000000123000000';
const DEFAULT_NS = '1600000000000000000';

// ------------------------------------------------------------------------------------------------
// Default time stamping through Metric.run()

class FixedMetric extends Metric {
  constructor(
    private readonly points: CollectedPoint[],
    options: ConstructorParameters<typeof Metric>[0],
  ) {
    super(options);
  }
  async collect(): Promise<Collected> {
    return this.points;
  }
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent, verbose: false };

describe('default time stamping in Metric.run()', () => {
  test('points without a time all get the same collection time; explicit times are kept', async () => {
    const sink = new CaptureSink();
    const before = Date.now();
    const report = await new FixedMetric(
      [
        { measurement: 'a', fields: { v: 1 } },
        { measurement: 'b', fields: { v: 2 } },
        { measurement: 'c', fields: { v: 3 }, time: T_MS },
        new Point('d').floatField('v', 4),
      ],
      { collector: 'stamp', sink, log: silent },
    ).run();
    const after = Date.now();
    assert.equal(report.ok, true, report.error);
    assert.equal(sink.lines.length, 4);
    const times = sink.lines.map((l) => l.split(' ').at(-1)!);
    assert.equal(times[2], T_NS);
    assert.equal(times[0], times[1]);
    assert.equal(times[0], times[3]);
    const ns = BigInt(times[0]!);
    assert.ok(ns >= BigInt(before) * 1_000_000n && ns <= BigInt(after) * 1_000_000n, `${ns} within the run`);
  });

  test('the runner-given collection time is used for points without a time', async () => {
    const sink = new CaptureSink();
    await new FixedMetric([{ measurement: 'a', fields: { v: 1 } }], {
      collector: 'stamp',
      sink,
      log: silent,
      collectionTime: DEFAULT_NS,
    }).run();
    assert.deepEqual(sink.lines, [`a v=1 ${DEFAULT_NS}`]);
  });

  test('an invalid point fails the run with a message naming collector, measurement and field', async () => {
    const sink = new CaptureSink();
    const report = await new FixedMetric(
      [
        { measurement: 'good', fields: { v: 1 } },
        { measurement: 'bad', fields: { v: Number.NaN } },
      ],
      { collector: 'stamp', sink, log: silent },
    ).run();
    assert.equal(report.ok, false);
    assert.match(report.error ?? '', /"stamp".*"bad".*"v"/s);
  });
});

describe('an async generator may yield arrays of points', () => {
  class Batches extends Metric {
    async *collect(): AsyncGenerator<CollectedPoint | CollectedPoint[]> {
      yield [
        { measurement: 'a', fields: { v: 1 }, time: T_MS },
        { measurement: 'a', fields: { v: 2 }, time: T_MS + 1 },
      ];
      yield { measurement: 'b', fields: { v: 3 }, time: T_MS };
      yield [];
      yield [{ measurement: 'c', fields: { v: 4 }, time: T_MS }];
    }
  }

  test('each array is taken as its points, in order, mixed with single points', async () => {
    const sink = new CaptureSink();
    const report = await new Batches({ collector: 'batches', sink, log: silent }).run();
    assert.equal(report.ok, true, report.error);
    assert.deepEqual(sink.lines, [`a v=1 ${T_NS}`, 'a v=2 1700000000124000000', `b v=3 ${T_NS}`, `c v=4 ${T_NS}`]);
  });

  test('an invalid point inside an array fails the run naming its position', async () => {
    class Bad extends Metric {
      async *collect(): AsyncGenerator<CollectedPoint[]> {
        yield [{ measurement: 'a', fields: { v: 1 } }];
        yield [
          { measurement: 'a', fields: { v: 2 } },
          { measurement: 'a', fields: { v: Number.POSITIVE_INFINITY } },
        ];
      }
    }
    const sink = new CaptureSink();
    const report = await new Bad({ collector: 'bad', sink, log: silent }).run();
    assert.equal(report.ok, false);
    assert.match(report.error ?? '', /"bad".*point #3.*"v"/s);
    assert.equal(sink.lines.length, 2);
  });
});

describe('a generator that never waits for I/O still lets the event loop turn', () => {
  test('its time limit (a timer) stops it', async () => {
    const total = 3_000_000; // seconds of work: without turns the timer would fire only after the last point
    class Long extends Metric {
      async *collect(): AsyncGenerator<CollectedPoint[]> {
        for (let i = 0; i < total; i++) yield [{ measurement: 'a', fields: { v: i }, time: T_MS + i }];
      }
    }
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('time limit exceeded')), 20);
    let points = 0;
    const sink: PointSink = {
      add: () => void points++,
      finish: async () => ({ ...emptyReport(), points }),
    };
    const report = await new Long({ collector: 'long', sink, log: silent, signal: controller.signal }).run();
    assert.equal(report.ok, false);
    assert.match(report.error ?? '', /"long": time limit exceeded/);
    assert.ok(points > 0 && points < total, `${points} points`);
  });

  test('a batch handed over reaches the socket before the collector fills the next batch', async () => {
    // a request's bytes leave in a nextTick (node:http), which runs only once the microtasks are
    // done: this target records how many points the collector had made when its nextTick ran
    let made = 0;
    const madeAtSend: number[] = [];
    const target: BatchTarget = {
      async send(lines) {
        await new Promise<void>((resolve) => process.nextTick(resolve));
        madeAtSend.push(made);
        await new Promise<void>((resolve) => setImmediate(resolve)); // the answer
        return { written: lines.length, deferred: 0, rejected: 0 };
      },
    };
    class Stream extends Metric {
      async *collect(): AsyncGenerator<CollectedPoint[]> {
        for (let i = 0; i < 20_000; ) {
          const points: CollectedPoint[] = [];
          for (const end = i + 1000; i < end; i++) points.push({ measurement: 'a', fields: { v: i }, time: T_MS + i });
          made += points.length;
          yield points;
        }
      }
    }
    const sink = new BatchingSink(target, 'stream', 2000, 2);
    const report = await new Stream({ collector: 'stream', sink, log: silent }).run();
    assert.equal(report.written, 20_000, report.error);
    assert.equal(madeAtSend.length, 10);
    // batch i (2000 points) is full when 2000 (i + 1) points are made; at most one more array (1000
    // points) is made before its bytes leave, never the whole next batch
    for (const [i, m] of madeAtSend.entries()) {
      assert.ok(m <= 2000 * (i + 1) + 1000, `batch ${i + 1} left when ${m} points were made`);
    }
  });
});

// ------------------------------------------------------------------------------------------------
// As a user meets it: `bin/metrics run gen` (test/helpers/gen-collector.ts)

describe('Metric.run() and issue() in a run of bin/metrics', () => {
  const root = mkdtempSync(join(tmpdir(), 'metric-test-'));
  let gen: GenCollector;
  let influxd: Influxd | undefined;
  before(async () => {
    gen = await makeGenCollector();
    influxd = await startInfluxd();
  });
  after(async () => {
    await influxd?.stop();
    await gen?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  let seq = 0;
  const fresh = (name: string): string => {
    const d = join(root, `${++seq}-${name}`);
    mkdirSync(d, { recursive: true });
    return d;
  };

  /** Environment of a `run` of the gen collector against the real influxd. */
  const influxEnv = (db: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(influxd!.port),
    INFLUXDB_DATABASE: db,
    INFLUX_MAX_RETRIES: '0',
    METRICS_COLLECTORS_DIR: gen.dir,
    ...extra,
  });

  test('an event issued before collect() throws is still written to InfluxDB', async (t) => {
    if (!influxd) return t.skip('influxd missing');
    await influxd.createDatabase('r1');
    const log = join(fresh('log'), 'metrics.log');
    const r = await runCli(['run', 'gen'], {
      env: influxEnv('r1', { GEN_EVENT: 'p1', GEN_THROW: 'boom after the event', METRICS_LOG_PATH: log }),
    });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /boom after the event/, show(r));
    const rows = await influxd.rows('SELECT * FROM review_probe', 'r1', { epoch: 'ms' });
    assert.equal(rows.length, 1, `review_probe rows: ${JSON.stringify(rows)}\n${show(r)}`);
    assert.equal(rows[0]!.probe, 'p1');
    assert.equal(rows[0]!.value, 42);
    assert.equal(rows[0]!.time, 1700000123500);
    // and it went to the metrics log too
    assert.match(readFileSync(log, 'utf8'), /"event":"review_probe"/);
  });

  test('points of one series without time: a warning naming the series, and all are printed', async () => {
    const points = JSON.stringify([1, 2, 3].map((v) => ({ measurement: 'coll', tags: { k: 'x' }, fields: { v } })));
    const r = await runCli(['run', 'gen', '--dry-run', '--format', 'lp'], { env: { METRICS_COLLECTORS_DIR: gen.dir, GEN_POINTS: points } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /no time/, show(r));
    assert.match(r.stderr, /coll,k=x/, show(r));
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 3, show(r));
    for (const [i, l] of lines.entries()) assert.match(l, new RegExp(`^coll,k=x v=${i + 1} \\d+$`), show(r));
    // control: with their own times there is no warning
    const timed = JSON.stringify([1, 2, 3].map((v) => ({ measurement: 'coll', tags: { k: 'x' }, fields: { v }, time: 1700000000000 + v })));
    const r2 = await runCli(['run', 'gen', '--dry-run', '--format', 'lp'], { env: { METRICS_COLLECTORS_DIR: gen.dir, GEN_POINTS: timed } });
    assert.equal(r2.code, 0, show(r2));
    assert.doesNotMatch(r2.stderr, /no time/, show(r2));
  });
});
