/**
 * What the bench modules share: sizes (full or `--smoke`), paired whole-process timing with
 * medians, peak RSS (GNU time), and a temporary collector `stream` that yields generated points.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const metricsBin = join(repo, 'bin', 'metrics');

export interface BenchOptions {
  /** small sizes, one run each, no thresholds: the CI smoke */
  smoke: boolean;
  /** progress lines (stderr) */
  note: (line: string) => void;
}

/** The generated points: 2 tags, 2 fields (a float and an integer), each with its own time. */
export const T0_MS = 1_700_000_000_000;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface ProcessResult {
  ms: number;
  /** peak RSS in KiB (GNU time's %M), when measured */
  rssKb?: number;
  code: number | null;
  stderr: string;
}

/**
 * Runs `node args...` as a whole process (stdout thrown away) and times it from outside; with
 * `rss`, under /usr/bin/time for its peak RSS.
 */
export function runNode(args: string[], env: Record<string, string> = {}, rss = false): Promise<ProcessResult> {
  const cmd = rss ? '/usr/bin/time' : process.execPath;
  const argv = rss ? ['-f', 'RSS_KB=%M', process.execPath, ...args] : args;
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      const m = /RSS_KB=(\d+)/.exec(stderr);
      resolvePromise({ ms, code, stderr, ...(m ? { rssKb: Number(m[1]) } : {}) });
    });
  });
}

export function checkExit(what: string, r: ProcessResult): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}`);
}

/**
 * A collector folder `stream` in a temporary collectors directory (under dist/src, so that its
 * import of the SDK resolves), for `METRICS_COLLECTORS_DIR`. It yields BENCH_POINTS points,
 * in arrays of BENCH_YIELD_BATCH (0: one point per yield).
 */
export function makeStreamCollector(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(repo, 'dist', 'src', 'collectors-bench-'));
  mkdirSync(join(dir, 'stream'));
  writeFileSync(
    join(dir, 'stream', 'index.js'),
    `import { Metric, int } from '../../lib/sdk/index.js';
const point = (i) => ({
  measurement: 'bench',
  tags: { host: 'h' + (i % 100), region: 'eu west' },
  fields: { value: i * 0.5, count: int(i) },
  time: ${T0_MS} + i,
});
class Stream extends Metric {
  async *collect() {
    const n = Number(this.env.BENCH_POINTS ?? 1000000);
    const batch = Number(this.env.BENCH_YIELD_BATCH ?? 1000);
    if (batch === 0) {
      for (let i = 0; i < n; i++) yield point(i);
      return;
    }
    for (let i = 0; i < n; ) {
      const points = [];
      for (const end = Math.min(n, i + batch); i < end; i++) points.push(point(i));
      yield points;
    }
  }
}
export const RUN_INTERVAL = '5m';
export function runMetric(o) { return new Stream(o).run(); }
`,
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The line protocol of point `i` of the stream collector, as the serializer writes it. */
export function streamLine(i: number): string {
  return `bench,host=h${i % 100},region=eu\\ west value=${i * 0.5},count=${i}i ${T0_MS + i}000000`;
}

export function mib(kb: number): string {
  return `${(kb / 1024).toFixed(0)} MiB`;
}

export function count(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000} M` : n >= 1000 ? `${n / 1000} k` : String(n);
}
