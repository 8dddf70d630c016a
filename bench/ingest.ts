/**
 * The rows that need a real InfluxDB (1.6.7, `influxd`, started on a free loopback port in a temp
 * dir by test/helpers/servers.ts; skipped with a message when it is not installed):
 *  - end-to-end ingest: `metrics run stream` writing N points, whole process, against a minimal
 *    client POSTing the same points, pre-built as line protocol, in 5 000-line batches;
 *  - peak RSS of a real write, at N and at a tenth of N (flat: the same);
 *  - gzip (level 1) on against off, to loopback and through a throttling proxy (bench/throttle.ts):
 *    what INFLUX_GZIP_THRESHOLD's default is chosen by.
 * Every measurement writes into a database of its own, so no run overwrites another's points.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startInfluxd, type Influxd } from '../test/helpers/servers.js';
import { startThrottle } from './throttle.js';
import { checkExit, count, makeStreamCollector, median, metricsBin, mib, repo, runNode, streamLine, type BenchOptions } from './common.js';
import { targetMet, type BenchRow } from './table.js';

export async function ingestRows(opts: BenchOptions): Promise<BenchRow[]> {
  const influxd = await startInfluxd({});
  if (!influxd) {
    opts.note('ingest and memory rows SKIPPED: influxd (Debian package influxdb) is not installed');
    return [];
  }
  const collectors = makeStreamCollector();
  try {
    return [
      await ingestRow(influxd, collectors.dir, opts),
      ...(await memoryRows(influxd, collectors.dir, opts)),
      ...(await gzipRows(influxd, collectors.dir, opts)),
    ];
  } finally {
    collectors.remove();
    await influxd.stop();
  }
}

let databases = 0;
async function freshDatabase(influxd: Influxd): Promise<string> {
  const db = `bench${++databases}`;
  await influxd.createDatabase(db);
  return db;
}

function runEnv(influxd: Influxd, collectorsDir: string, db: string, points: number, extra: Record<string, string> = {}) {
  return {
    METRICS_COLLECTORS_DIR: collectorsDir,
    METRICS_STATE_DIR: join(influxd.dir, `state-${db}`),
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(influxd.port),
    INFLUXDB_DATABASE: db,
    BENCH_POINTS: String(points),
    ...extra,
  };
}

async function ingestRow(influxd: Influxd, collectorsDir: string, opts: BenchOptions): Promise<BenchRow> {
  const n = opts.smoke ? 20_000 : 1_000_000;
  const pairs = opts.smoke ? 1 : 3;
  const file = join(influxd.dir, 'points.lp');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(streamLine(i));
  writeFileSync(file, lines.join('\n') + '\n');
  lines.length = 0;
  const client = join(repo, 'dist', 'bench', 'minimal-client.js');
  const ours: number[] = [];
  const base: number[] = [];
  const ratios: number[] = [];
  for (let k = 0; k < pairs; k++) {
    const b = await runNode([client, influxd.url, await freshDatabase(influxd), file, '5000']);
    checkExit('minimal client', b);
    const db = await freshDatabase(influxd);
    const o = await runNode([metricsBin, 'run', 'stream'], runEnv(influxd, collectorsDir, db, n));
    checkExit('metrics run stream', o);
    const landed = await influxd.rows('SELECT count(value) FROM bench', db);
    if (landed[0]?.count !== n) throw new Error(`metrics run stream: ${JSON.stringify(landed)} points landed, expected ${n}`);
    base.push(b.ms);
    ours.push(o.ms);
    ratios.push(b.ms / o.ms);
    opts.note(`ingest pair ${k + 1}/${pairs}: minimal client ${b.ms.toFixed(0)} ms, metrics run ${o.ms.toFixed(0)} ms`);
  }
  const ratio = median(ratios);
  const row: BenchRow = {
    group: 'ingest',
    what: `metrics run of a collector streaming ${count(n)} points into InfluxDB 1.6.7 (whole process)`,
    value: `${(median(ours) / 1000).toFixed(2)} s, ${((n / median(ours)) * 1000).toFixed(0)} points/s`,
    baseline: `minimal client POSTing them pre-built in 5 000-line batches: ${(median(base) / 1000).toFixed(2)} s`,
    ratio,
    direction: 'higher-is-better',
  };
  return opts.smoke ? row : { ...row, target: '>= 0.9x', met: targetMet(row, 0.9) };
}

async function memoryRows(influxd: Influxd, collectorsDir: string, opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.smoke ? 30_000 : 3_000_000;
  const rss = async (points: number): Promise<number> => {
    const db = await freshDatabase(influxd);
    const r = await runNode([metricsBin, 'run', 'stream'], runEnv(influxd, collectorsDir, db, points), true);
    checkExit('metrics run stream', r);
    opts.note(`real write of ${count(points)} points: peak RSS ${mib(r.rssKb!)}, ${(r.ms / 1000).toFixed(1)} s`);
    return r.rssKb!;
  };
  const small = await rss(n / 10);
  const large = await rss(n);
  const row: BenchRow = {
    group: 'memory',
    what: `peak RSS of a real write of ${count(n)} streamed points`,
    value: mib(large),
    baseline: `the same with ${count(n / 10)} points: ${mib(small)}`,
    ratio: large / small,
    direction: 'lower-is-better',
  };
  return [opts.smoke ? row : { ...row, target: '<= 120 MiB', met: large <= 120 * 1024 }];
}

async function gzipRows(influxd: Influxd, collectorsDir: string, opts: BenchOptions): Promise<BenchRow[]> {
  const n = opts.smoke ? 10_000 : 200_000;
  const pairs = opts.smoke ? 1 : 3;
  const rows: BenchRow[] = [];
  for (const mbit of [0, 100, 20]) {
    const throttle = mbit ? await startThrottle({ host: '127.0.0.1', port: influxd.port }, (mbit * 1e6) / 8) : undefined;
    try {
      const port = String(throttle?.port ?? influxd.port);
      const on: number[] = [];
      const off: number[] = [];
      const ratios: number[] = [];
      for (let k = 0; k < pairs; k++) {
        const time = async (threshold: string) => {
          const db = await freshDatabase(influxd);
          const env = runEnv(influxd, collectorsDir, db, n, { INFLUXDB_PORT: port, INFLUX_GZIP_THRESHOLD: threshold });
          const r = await runNode([metricsBin, 'run', 'stream'], env);
          checkExit(`metrics run stream (INFLUX_GZIP_THRESHOLD=${threshold})`, r);
          return r.ms;
        };
        const plain = await time('0');
        const gz = await time('1000');
        off.push(plain);
        on.push(gz);
        ratios.push(plain / gz);
      }
      const link = mbit ? `a ${mbit} Mbit/s link (throttling proxy)` : 'loopback';
      rows.push({
        group: 'gzip',
        what: `gzip level 1 on, ${count(n)} points to InfluxDB over ${link}`,
        value: `${(median(on) / 1000).toFixed(2)} s`,
        baseline: `gzip off: ${(median(off) / 1000).toFixed(2)} s`,
        ratio: median(ratios),
        direction: 'higher-is-better',
      });
      opts.note(`gzip over ${link}: on ${(median(on) / 1000).toFixed(2)} s, off ${(median(off) / 1000).toFixed(2)} s`);
    } finally {
      await throttle?.close();
    }
  }
  return rows;
}
