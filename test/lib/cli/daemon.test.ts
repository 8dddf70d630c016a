/**
 * `metrics daemon --dry-run` (src/lib/cli/commands/daemon.ts), as a user runs it: a collector on a
 * 1 s interval runs on its schedule, its points are printed run after run, and nothing is written:
 * no request reaches the configured InfluxDB, no outbox, no lock, no run recorded in the state
 * directory. SIGTERM stops it with exit 0. The scheduler itself: test/lib/schedule/daemon.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot, runCli, spawnCli, startHttpFixtureServer } from '../../helpers/servers.js';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups) await c();
});

/** A collectors directory beside dist/src/collectors (so that `../../lib/sdk/index.js` resolves) with `tick`, every 1 s. */
function tickCollector(): string {
  const dir = join(repoRoot, 'dist', 'src', `collectors-daemon-${randomBytes(6).toString('hex')}`);
  mkdirSync(join(dir, 'tick'), { recursive: true });
  writeFileSync(
    join(dir, 'tick', 'index.js'),
    `import { Metric, int } from '../../lib/sdk/index.js';
export const RUN_INTERVAL = '1s';
class TickMetric extends Metric {
  collect() {
    return [{ measurement: 'tick', tags: { pid: String(process.pid) }, fields: { n: int(1) } }];
  }
}
export async function runMetric(options) {
  return new TickMetric(options).run();
}
`,
  );
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('metrics daemon --dry-run: the points of run after run printed, nothing written anywhere; SIGTERM → exit 0', async () => {
  const collectors = tickCollector();
  const state = mkdtempSync(join(tmpdir(), 'daemon-dry-state-'));
  cleanups.push(() => rmSync(state, { recursive: true, force: true }));
  const influx = await startHttpFixtureServer({});
  cleanups.push(() => influx.close());
  const child = spawnCli(['daemon', '--dry-run', '--format', 'lp', 'tick'], {
    env: {
      METRICS_COLLECTORS_DIR: collectors,
      METRICS_STATE_DIR: state,
      INFLUX_URL: influx.url,
      INFLUX_TOKEN: 'secret-token',
      INFLUX_ORG: 'o',
      INFLUX_BUCKET: 'b',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // three runs, each a fresh process: three different pids in the printed points
  const pids = await new Promise<Set<string>>((resolve, reject) => {
    const seen = new Set<string>();
    child.stdout!.on('data', (d) => {
      stdout += d;
      for (const m of stdout.matchAll(/^tick,pid=(\d+) n=1i \d{19}$/gm)) seen.add(m[1]!);
      if (seen.size >= 3) resolve(seen);
    });
    void exited.then((code) => reject(new Error(`the daemon exited (${code}) early:\n${stdout}\n${stderr}`)));
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.equal(pids.size >= 3, true);
  assert.match(stderr, /dry run: every run prints its points; nothing is written/);
  assert.match(stderr, /tick every 1s/);
  assert.match(stderr, /SIGTERM received: taking no new runs/);
  assert.deepEqual(influx.requests, [], 'nothing sent to InfluxDB');
  assert.deepEqual(existsSync(state) ? readdirSync(state) : [], [], 'no outbox, lock or last run in the state directory');
  assert.ok(!stdout.includes('secret-token') && !stderr.includes('secret-token'));
});

test('metrics daemon --dry-run refuses --run-command, and --format without --dry-run', async () => {
  const a = await runCli(['daemon', '--dry-run', '--run-command', '/bin/true']);
  assert.equal(a.code, 2, a.stderr);
  assert.match(a.stderr, /cannot be combined with --run-command/);
  const b = await runCli(['daemon', '--format', 'lp']);
  assert.equal(b.code, 2, b.stderr);
  assert.match(b.stderr, /--format is for --dry-run/);
});
