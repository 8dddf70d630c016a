/**
 * Serialization rows:
 *  - in-process: our Serializer against `Point.toLineProtocol()` of @influxdata/influxdb-client,
 *    the same points built and serialized by each, in alternating rounds (median of the ratios);
 *  - whole process: `metrics run stream --dry-run --format lp` (start-up, the collector's async
 *    generator, validation, serialization, output) against a process in which the client's
 *    `Point` serializes the same points alone, in a loop (bench/client-point.ts).
 */
import { join } from 'node:path';
import { Point } from '@influxdata/influxdb-client';
import { Serializer } from '../src/lib/points/line-protocol.js';
import { int } from '../src/lib/points/point.js';
import { T0_MS, checkExit, count, makeStreamCollector, median, metricsBin, repo, runNode, type BenchOptions } from './common.js';
import { targetMet, type BenchRow } from './table.js';

function clientRound(n: number): number {
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const p = new Point('bench')
      .tag('host', `h${i % 100}`)
      .tag('region', 'eu west')
      .floatField('value', i * 0.5)
      .intField('count', i)
      .timestamp(new Date(T0_MS + i));
    bytes += p.toLineProtocol()!.length;
  }
  return bytes;
}

function ourRound(n: number): number {
  const s = new Serializer('bench', '0');
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const line = s.serialize({
      measurement: 'bench',
      tags: { host: `h${i % 100}`, region: 'eu west' },
      fields: { value: i * 0.5, count: int(i) },
      time: T0_MS + i,
    });
    bytes += line.length;
  }
  return bytes;
}

export function serializerRow(opts: BenchOptions): BenchRow {
  const n = opts.smoke ? 20_000 : 200_000;
  const rounds = opts.smoke ? 2 : 15;
  clientRound(n);
  ourRound(n); // warm both up
  const ratios: number[] = [];
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const a = clientRound(n);
    const clientMs = performance.now() - t;
    t = performance.now();
    const b = ourRound(n);
    const ourMs = performance.now() - t;
    if (a !== b) throw new Error(`the serializers disagree: ${a} bytes vs ${b}`);
    ratios.push(clientMs / ourMs);
    ours.push(ourMs);
    theirs.push(clientMs);
  }
  const rate = (ms: number) => `${(((n / ms) * 1000) / 1e6).toFixed(2)} M points/s`;
  const row: BenchRow = {
    group: 'serialization',
    what: `Serializer, seed-style points (2 tags, 2 fields, own time), ${rounds} rounds of ${count(n)}`,
    value: rate(median(ours)),
    baseline: `Point.toLineProtocol() of @influxdata/influxdb-client: ${rate(median(theirs))}`,
    ratio: median(ratios),
    direction: 'higher-is-better',
  };
  return opts.smoke ? row : { ...row, target: '>= 3x', met: targetMet(row, 3) };
}

export async function dryRunRows(opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.smoke ? 20_000 : 1_000_000;
  const pairs = opts.smoke ? 1 : 5;
  const collectors = makeStreamCollector();
  const rows: BenchRow[] = [];
  try {
    const client = join(repo, 'dist', 'bench', 'client-point.js');
    for (const batch of [1000, 0]) {
      const ours: number[] = [];
      const base: number[] = [];
      const ratios: number[] = [];
      for (let k = 0; k < pairs; k++) {
        const b = await runNode([client, String(n)]);
        checkExit('client Point loop', b);
        const o = await runNode([metricsBin, 'run', 'stream', '--dry-run', '--format', 'lp'], {
          METRICS_COLLECTORS_DIR: collectors.dir,
          BENCH_POINTS: String(n),
          BENCH_YIELD_BATCH: String(batch),
        });
        checkExit('metrics run stream --dry-run', o);
        base.push(b.ms);
        ours.push(o.ms);
        ratios.push(b.ms / o.ms);
      }
      const row: BenchRow = {
        group: 'serialization',
        what:
          `metrics run --dry-run --format lp streaming ${count(n)} points (whole process), ` +
          (batch ? `the generator yielding arrays of ${batch}` : 'the generator yielding single points'),
        value: `${(median(ours) / 1000).toFixed(2)} s`,
        baseline: `a process serializing them with the client's Point alone: ${(median(base) / 1000).toFixed(2)} s`,
        ratio: median(ratios),
        direction: 'higher-is-better',
      };
      rows.push(opts.smoke || batch === 0 ? row : { ...row, target: '>= 1.0x', met: targetMet(row, 1) });
      opts.note(`dry-run rows: ${row.what}: ${row.ratio.toFixed(2)}x`);
    }
  } finally {
    collectors.remove();
  }
  return rows;
}
