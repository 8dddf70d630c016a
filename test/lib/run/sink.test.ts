/**
 * The delivering sink (src/lib/run/sink.ts BatchingSink): pipelined, so the collector fills the
 * next batch while one is sent, with at most INFLUX_BATCHES_IN_FLIGHT batches handed over; the
 * target still gets the batches one after the other, in order, never two at once, and the counts
 * are exact. Against a target whose sends finish when the test says so (no timing).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BatchTarget, SendResult } from '../../../src/lib/delivery/delivery.js';
import { CollectorError } from '../../../src/lib/platform/errors.js';
import { BatchingSink } from '../../../src/lib/run/sink.js';
import { EncodedLines, EncodedLinesWriter, linesOf } from '../../../src/lib/delivery/encoded.js';

/** A target whose sends stay open until `finishNext(result)`; it records what it got and when. */
class HeldTarget implements BatchTarget {
  readonly batches: string[][] = [];
  open = 0;
  maxOpen = 0;
  private readonly waiting: Array<(r: SendResult) => void> = [];
  send(batch: string[] | EncodedLines): Promise<SendResult> {
    const lines = linesOf(batch);
    this.batches.push(lines);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    return new Promise((resolve) =>
      this.waiting.push((r) => {
        this.open--;
        resolve(r);
      }),
    );
  }
  /** finishes the oldest open send */
  finishNext(r?: Partial<SendResult>): void {
    const next = this.waiting.shift();
    assert.ok(next, 'a send is open');
    const n = this.batches[this.batches.length - this.waiting.length - 1]!.length;
    next({ written: n, deferred: 0, rejected: 0, ...r });
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('BatchingSink: pipelined delivery', () => {
  test('with 2 in flight the collector fills the next batch while one is sent, and waits at the bound', async () => {
    const target = new HeldTarget();
    const sink = new BatchingSink(target, 'c', 2, 2);
    assert.equal(sink.add('a1', 'm'), undefined);
    assert.equal(sink.add('a2', 'm'), undefined, 'first batch handed over: the collector goes on');
    await tick();
    assert.deepEqual(target.batches, [['a1', 'a2']]);
    assert.equal(sink.add('b1', 'm'), undefined);
    const waiting = sink.add('b2', 'm');
    assert.ok(waiting instanceof Promise, 'two batches handed over: add() waits');
    let resumed = false;
    void waiting.then(() => (resumed = true));
    await tick();
    assert.equal(target.batches.length, 1, 'the second batch waits for the first: one request at a time');
    assert.equal(resumed, false);
    target.finishNext();
    await waiting;
    await tick();
    assert.deepEqual(target.batches, [
      ['a1', 'a2'],
      ['b1', 'b2'],
    ]);
    sink.add('c1', 'm');
    const finished = sink.finish();
    target.finishNext();
    await tick();
    target.finishNext();
    const report = await finished;
    assert.deepEqual(target.batches.at(-1), ['c1']);
    assert.equal(target.maxOpen, 1, 'never two sends at once');
    assert.equal(report.points, 5);
    assert.equal(report.written, 5);
    assert.deepEqual(report.measurements, { m: 5 });
  });

  test('with 1 in flight add() waits for every full batch (no pipelining)', async () => {
    const target = new HeldTarget();
    const sink = new BatchingSink(target, 'c', 1, 1);
    const w = sink.add('a', 'm');
    assert.ok(w instanceof Promise);
    await tick();
    target.finishNext();
    await w;
    assert.equal((await sink.finish()).written, 1);
  });

  test('flush() resolves only when every batch handed over was sent', async () => {
    const target = new HeldTarget();
    const sink = new BatchingSink(target, 'c', 2, 4);
    for (const l of ['a', 'b', 'c', 'd', 'e']) assert.equal(sink.add(l, 'm'), undefined);
    let flushed = false;
    const f = sink.flush().then(() => (flushed = true));
    for (let i = 0; i < 3; i++) {
      await tick();
      assert.equal(flushed, false);
      target.finishNext();
    }
    await f;
    assert.deepEqual(target.batches, [['a', 'b'], ['c', 'd'], ['e']]);
  });

  test('lost points stop the collector at its next point; batches filled meanwhile are given back, not sent', async () => {
    const target = new HeldTarget();
    const sink = new BatchingSink(target, 'c', 2, 2);
    sink.add('a', 'm');
    sink.add('b', 'm');
    sink.add('c', 'n');
    const waiting = sink.add('d', 'n');
    assert.ok(waiting instanceof Promise);
    await tick();
    target.finishNext({ written: 0, lost: 2, error: 'the outbox failed: ENOSPC' });
    await assert.rejects(waiting, (e: unknown) => e instanceof CollectorError && /collection stopped.*ENOSPC/.test(e.message));
    assert.throws(() => sink.add('x', 'm'), CollectorError);
    const report = await sink.finish();
    assert.deepEqual(target.batches, [['a', 'b']], 'the batch filled meanwhile is not sent');
    assert.equal(report.points, 2, 'nor counted');
    assert.deepEqual(report.measurements, { m: 2 });
    assert.equal(report.lost, 2);
    assert.equal(report.written, 0);
    assert.deepEqual(report.errors, ['the outbox failed: ENOSPC']);
  });

  test('deferred and rejected points are counted exactly, batch by batch', async () => {
    const target = new HeldTarget();
    const sink = new BatchingSink(target, 'c', 2, 2);
    for (const l of ['a', 'b', 'c', 'd', 'e']) {
      const w = sink.add(l, 'm');
      await tick();
      if (w) {
        target.finishNext({ written: 0, deferred: 2, error: 'InfluxDB unavailable' });
        await w;
      }
    }
    const finished = sink.finish();
    await tick();
    target.finishNext({ written: 1, rejected: 1 });
    await tick();
    target.finishNext({ written: 0, rejected: 1, error: 'HTTP 400' });
    const report = await finished;
    assert.equal(report.points, 5);
    assert.equal(report.deferred, 2);
    assert.equal(report.written, 1);
    assert.equal(report.rejected, 2);
    assert.deepEqual(report.errors, ['InfluxDB unavailable', 'HTTP 400']);
  });
});

describe('EncodedLines: a batch kept as its request body', () => {
  test('the body is the lines joined by newlines (UTF-8); lines() gives them back exactly, newlines in strings included', () => {
    const w = new EncodedLinesWriter(4);
    const lines = ['m v=1 1', 'm,t=Zürich\\,\\ CH s="日本語 🚀" 2', 'm s="two\nlines" 3', `m s="${'x'.repeat(100_000)}" 4`, 'm v=5 5'];
    for (const l of lines) w.add(l);
    const batch = w.take();
    assert.ok(batch instanceof EncodedLines);
    assert.equal(batch.length, 5);
    assert.deepEqual(batch.body, Buffer.from(lines.join('\n'), 'utf8'));
    assert.deepEqual(batch.lines(), lines);
    assert.equal(w.length, 0);
    w.reuse(batch);
    w.add('n v=1 1');
    const next = w.take();
    assert.deepEqual(next.lines(), ['n v=1 1']);
    assert.deepEqual(next.body, Buffer.from('n v=1 1'));
  });

  test('many lines, ASCII and not, in any mix: the body and the lines are exact, batch after batch', () => {
    const w = new EncodedLinesWriter(1000);
    const line = (i: number): string =>
      i % 97 === 5
        ? `m,t=é${i} v=${i}`
        : i % 131 === 7
          ? `m s="🚀\n${i}" 1`
          : i % 211 === 3
            ? `m s="${'x'.repeat(70_000)}" ${i}`
            : `m v=${i} ${i}`;
    for (const n of [1, 63, 64, 65, 200, 1000]) {
      const lines = Array.from({ length: n }, (_, i) => line(i + n));
      for (const l of lines) w.add(l);
      assert.equal(w.length, n);
      const batch = w.take();
      assert.equal(batch.length, n);
      assert.deepEqual(batch.body, Buffer.from(lines.join('\n'), 'utf8'), `${n} lines`);
      assert.deepEqual(batch.lines(), lines, `${n} lines`);
      w.reuse(batch);
    }
  });

  test('a buffer whose request failed is not filled again', () => {
    const w = new EncodedLinesWriter(2);
    w.add('a v=1 1');
    const first = w.take();
    first.reusable = false;
    w.reuse(first);
    w.add('b v=1 1');
    w.take();
    assert.deepEqual(first.lines(), ['a v=1 1'], 'the failed batch is untouched');
  });
});
