/**
 * `npm run bench`: speed and memory, each printed as a ratio against a baseline measured in the
 * same run on the same machine (never as a timed assertion in the tests).
 *
 *  1. start-up: `bin/metrics run system --dry-run` and friends against a bare `node -e 0`;
 *  2. serialization: our Serializer against `Point.toLineProtocol()` of @influxdata/influxdb-client;
 *  3. memory: a dry-run that streams 1 000 000 points against a bare node process (peak RSS).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Point } from '@influxdata/influxdb-client';
import { Serializer } from '../src/lib/points/line-protocol.js';
import { int } from '../src/lib/points/point.js';
import { startupRows } from './startup.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const metrics = join(repo, 'bin', 'metrics');
const runs = Number(process.env.BENCH_RUNS ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeCommand(args: string[], env: Record<string, string> = {}): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(performance.now() - t);
    if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return median(times);
}

function row(name: string, value: string, ratio: string): void {
  process.stdout.write(`${name.padEnd(52)} ${value.padStart(14)}  ${ratio}\n`);
}

process.stdout.write(`start-up (median of ${runs} runs; baseline: node -e 0)\n`);
const base = timeCommand(['-e', '0']);
row('node -e 0 (baseline)', `${base.toFixed(0)} ms`, '1.00x');
for (const [label, args, env] of [
  ['metrics run system --dry-run', [metrics, 'run', 'system', '--dry-run'], {}],
  ['same, through yargs (METRICS_NO_FAST_PATH=1)', [metrics, 'run', 'system', '--dry-run'], { METRICS_NO_FAST_PATH: '1' }],
  ['metrics list', [metrics, 'list'], {}],
  ['import yargs only', ['-e', "import('yargs')"], {}],
] as Array<[string, string[], Record<string, string>]>) {
  const t = timeCommand(args, env);
  row(label, `${t.toFixed(0)} ms`, `${(t / base).toFixed(2)}x`);
}

const N = Number(process.env.BENCH_POINTS ?? 1_000_000);
process.stdout.write(`\nserialization of ${N} points (baseline: @influxdata/influxdb-client Point.toLineProtocol)\n`);
const t0 = 1_700_000_000_000;
{
  let bytes = 0;
  const tb = performance.now();
  for (let i = 0; i < N; i++) {
    const p = new Point('bench')
      .tag('host', `h${i % 100}`)
      .tag('region', 'eu west')
      .floatField('value', i * 0.5)
      .intField('count', i)
      .timestamp(new Date(t0 + i));
    bytes += p.toLineProtocol()!.length;
  }
  const baseMs = performance.now() - tb;
  const s = new Serializer('bench', '0');
  const to = performance.now();
  let ours = 0;
  for (let i = 0; i < N; i++) {
    ours += s.serialize({
      measurement: 'bench',
      tags: { host: `h${i % 100}`, region: 'eu west' },
      fields: { value: i * 0.5, count: int(i) },
      time: t0 + i,
    }).length;
  }
  const oursMs = performance.now() - to;
  row('client Point (baseline)', `${Math.round(N / (baseMs / 1000))} pts/s`, '1.00x');
  row('Serializer, seed-style objects', `${Math.round(N / (oursMs / 1000))} pts/s`, `${(baseMs / oursMs).toFixed(2)}x faster`);
  if (Math.abs(bytes - ours) > N * 2) process.stdout.write(`  (note: output sizes differ: ${bytes} vs ${ours} bytes)\n`);
}

process.stdout.write(`\nmemory: dry-run streaming ${N} points (baseline: peak RSS of node -e 0)\n`);
{
  const dir = mkdtempSync(join(repo, 'dist', 'src', 'collectors-bench-'));
  try {
    mkdirSync(join(dir, 'stream'));
    writeFileSync(
      join(dir, 'stream', 'index.js'),
      `import { Metric, int } from '../../lib/sdk/index.js';
class Stream extends Metric {
  async *collect() {
    const n = Number(process.env.BENCH_POINTS ?? 1000000);
    for (let i = 0; i < n; i++) {
      yield { measurement: 'bench', tags: { host: 'h' + (i % 100) }, fields: { value: i * 0.5, count: int(i) }, time: 1700000000000 + i };
    }
  }
}
export const RUN_INTERVAL = '5m';
export function runMetric(o) { return new Stream(o).run(); }
`,
    );
    const rss = (args: string[], env: Record<string, string> = {}) => {
      const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf8',
      });
      const kb = Number(r.stderr.trim().split('\n').pop());
      if (r.status !== 0 || !Number.isFinite(kb)) throw new Error(`measuring RSS failed: ${r.stderr}`);
      return kb;
    };
    const baseKb = rss(['-e', '0']);
    const t = performance.now();
    const kb = rss([metrics, 'run', 'stream', '--dry-run', '--format', 'lp'], { METRICS_COLLECTORS_DIR: dir, BENCH_POINTS: String(N) });
    const ms = performance.now() - t;
    row('node -e 0 (baseline)', `${(baseKb / 1024).toFixed(0)} MiB`, '1.00x');
    row(`dry-run of ${N} streamed points (${(ms / 1000).toFixed(1)} s)`, `${(kb / 1024).toFixed(0)} MiB`, `${(kb / baseKb).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
void tmpdir;

process.stdout.write('\nstart-up, whole processes (median of pairwise ratios)\n');
for (const r of await startupRows({ smoke: process.env.BENCH_SMOKE === '1' }))
  row(r.what, r.value, `${r.ratio.toFixed(2)}x vs ${r.baseline} ${r.target ?? ''}`);
