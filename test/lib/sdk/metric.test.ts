/**
 * The Metric base class (src/lib/sdk/metric.ts): what its run() does with the points collect()
 * returns (default time stamping, validation).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Point } from '@influxdata/influxdb-client';
import { Metric, type Collected } from '../../../src/lib/sdk/metric.js';
import type { CollectedPoint } from '../../../src/lib/points/point.js';
import { emptyReport, type PointSink, type SinkReport } from '../../../src/lib/run/sink.js';

/** 2023-11-14T22:13:20.123Z */
const T_MS = 1_700_000_000_123;
const T_NS = '1700000000123000000';
const DEFAULT_NS = '1600000000000000000';

// ------------------------------------------------------------------------------------------------
// Default time stamping through Metric.run()

class CaptureSink implements PointSink {
  lines: string[] = [];
  add(line: string): void {
    this.lines.push(line);
  }
  async finish(): Promise<SinkReport> {
    return { ...emptyReport(), points: this.lines.length, written: this.lines.length };
  }
}

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
    await new FixedMetric([{ measurement: 'a', fields: { v: 1 } }], { collector: 'stamp', sink, log: silent, collectionTime: DEFAULT_NS }).run();
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
