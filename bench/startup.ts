/**
 * Start-up rows of `npm run bench`, each measured as whole processes, A and B in turn (A B A B
 * …), the ratio taken pair by pair and its median quoted, so that a machine whose speed drifts
 * still gives a fair ratio:
 *  - `metrics run system --dry-run` with 500 collector folders present vs with 3 (≤ 1.1×);
 *  - `metrics list` with 500 collectors (≤ 0.3 s);
 *  - `metrics run system --dry-run` vs bare `node -e 0` (≤ 1.25×);
 *  - `metrics list` vs bare node (≤ 1.6×);
 *  - edit → dry-run: from saving a change to a collector's source to the end of its dry-run (dev
 *    mode transpiles it), vs a dry-run of unchanged, compiled code (and in seconds: < 1 s).
 * Each runs in a copy of the checkout in a temp directory (src, bin and the built dist; node_modules
 * linked), so that 500 folders and edits never touch the real tree.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { targetMet, type BenchRow } from './table.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** A checkout copy: src, bin, package.json and the built dist (timestamps kept); node_modules linked. */
function copyCheckout(collectors: number): string {
  const root = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  // timestamps kept, as `cp -a` keeps them: the copy is the checkout as built, quick-start bundles
  // (dist/fast, current while their inputs' modification times and sizes are the build's) included
  for (const part of ['package.json', 'bin', 'src', 'dist'])
    cpSync(join(repo, part), join(root, part), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  rmSync(join(root, 'dist', '.dev-cache'), { recursive: true, force: true });
  // exactly `collectors` collectors: system and the first others, then copies of system (source
  // and compiled, as a build leaves them)
  const sources = join(root, 'src', 'collectors');
  const existing = readdirSync(sources).filter((n) => !n.startsWith('_') && existsSync(join(sources, n, 'index.ts')));
  const keep = new Set(['system', ...existing.filter((n) => n !== 'system').sort()].slice(0, collectors));
  for (const n of existing.filter((x) => !keep.has(x))) {
    rmSync(join(sources, n), { recursive: true, force: true });
    rmSync(join(root, 'dist', 'src', 'collectors', n), { recursive: true, force: true });
  }
  for (let i = 0; i < collectors - keep.size; i++) {
    const name = `copy_${String(i).padStart(3, '0')}`;
    cpSync(join(root, 'src', 'collectors', 'system'), join(root, 'src', 'collectors', name), { recursive: true });
    cpSync(join(root, 'dist', 'src', 'collectors', 'system'), join(root, 'dist', 'src', 'collectors', name), { recursive: true });
  }
  // the build's last step: the manifest of what is there now
  const m = spawnSync(process.execPath, [join(root, 'dist', 'src', 'lib', 'run', 'write-manifest.js')], { encoding: 'utf8' });
  if (m.status !== 0) throw new Error(`writing the manifest failed: ${m.stderr}`);
  return root;
}

type Command = { argv: string[]; env?: Record<string, string>; before?: () => void };

function runOnce(c: Command): number {
  c.before?.();
  const t = performance.now();
  const r = spawnSync(process.execPath, c.argv, { env: { ...process.env, ...c.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${c.argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** A and B in turn after one warm-up each: medians of each and of the pairwise ratio A/B. */
function pair(a: Command, b: Command, runs: number): { a: number; b: number; ratio: number } {
  runOnce(a);
  runOnce(b);
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ta = runOnce(a);
    const tb = runOnce(b);
    as.push(ta);
    bs.push(tb);
    ratios.push(ta / tb);
  }
  return { a: median(as), b: median(bs), ratio: median(ratios) };
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

function row(what: string, value: string, baseline: string, ratio: number, target: number | undefined, smoke: boolean): BenchRow {
  const r: BenchRow = { group: 'start-up', what, value, baseline, ratio, direction: 'lower-is-better' };
  if (target !== undefined && !smoke) {
    r.target = `<= ${target}x`;
    r.met = targetMet(r, target);
  }
  return r;
}

/** The start-up rows (smoke: 3 runs, 50 folders instead of 500, no targets). */
export async function startupRows(opts: { smoke: boolean }): Promise<BenchRow[]> {
  const runs = opts.smoke ? 3 : Number(process.env.BENCH_RUNS ?? 15);
  const many = opts.smoke ? 50 : 500;
  const small = copyCheckout(3);
  const big = copyCheckout(many);
  // dev mode is what is measured in the edit row; the others run compiled code in any case
  const env = { CI: '', METRICS_NO_FAST_PATH: '' };
  const node: Command = { argv: ['-e', '0'] };
  const run = (root: string, name = 'system'): Command => ({ argv: [join(root, 'bin', 'metrics'), 'run', name, '--dry-run'], env });
  const list = (root: string): Command => ({ argv: [join(root, 'bin', 'metrics'), 'list'], env });
  const rows: BenchRow[] = [];
  try {
    const r1 = pair(run(big), run(small), runs);
    rows.push(
      row(`metrics run system --dry-run, ${many} collectors vs 3`, ms(r1.a), `3 collectors: ${ms(r1.b)}`, r1.ratio, 1.1, opts.smoke),
    );

    const r2 = pair(list(big), node, runs);
    const listRow = row(`metrics list, ${many} collectors`, ms(r2.a), `node -e 0: ${ms(r2.b)}`, r2.ratio, undefined, opts.smoke);
    if (!opts.smoke) {
      listRow.target = '<= 0.3 s';
      listRow.met = r2.a <= 300;
    }
    rows.push(listRow);

    const r3 = pair(run(small), node, runs);
    rows.push(row('metrics run system --dry-run vs node -e 0', ms(r3.a), `node -e 0: ${ms(r3.b)}`, r3.ratio, 1.25, opts.smoke));

    const r4 = pair(list(small), node, runs);
    rows.push(row('metrics list vs node -e 0', ms(r4.a), `node -e 0: ${ms(r4.b)}`, r4.ratio, 1.6, opts.smoke));

    // edit → dry-run: a built collector whose source is changed (saved) before each timed run, vs
    // another built one, unchanged (both copies of system in the same tree)
    let n = 0;
    const source = join(big, 'src', 'collectors', 'copy_000', 'system.ts');
    const edit: Command = { ...run(big, 'copy_000'), before: () => appendFileSync(source, `// edit ${++n}\n`) };
    const r5 = pair(edit, run(big, 'copy_001'), runs);
    const editRow = row(
      'edit → dry-run (source changed, transpiled) vs dry-run of unchanged code',
      `${(r5.a / 1000).toFixed(2)} s`,
      `unchanged: ${ms(r5.b)}`,
      r5.ratio,
      undefined,
      opts.smoke,
    );
    if (!opts.smoke) {
      editRow.target = '< 1 s';
      editRow.met = r5.a < 1000;
    }
    rows.push(editRow);
  } finally {
    rmSync(small, { recursive: true, force: true });
    rmSync(big, { recursive: true, force: true });
  }
  return rows;
}
