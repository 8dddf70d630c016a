/**
 * The baseline of the dry-run row: `Point` of `@influxdata/influxdb-client` serializing the
 * stream collector's points, alone, in a loop (whole process: `node dist/bench/client-point.js N`).
 */
import { Point } from '@influxdata/influxdb-client';
import { T0_MS } from './common.js';

const n = Number(process.argv[2] ?? 1_000_000);
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
if (bytes === 0) process.exitCode = 1;
