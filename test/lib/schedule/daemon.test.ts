/**
 * The foreground scheduler: unit tests on an injected clock (no real waiting), then the real
 * `metrics daemon` with two fake collectors (1 s and 2 s) and a stub run command: runs counted,
 * no collector overlaps itself, and SIGTERM ends it promptly with exit code 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { runDaemon, type Clock, type DaemonLog, type RunRecord } from '../../../src/lib/schedule/daemon.js';
import type { DiscoveredCollector } from '../../../src/lib/run/discovery.js';
import { repoRoot } from '../../helpers/servers.js';

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** A virtual clock: sleep() waits for advance(). */
class FakeClock implements Clock {
  private timers: Array<{ at: number; fire: () => void }> = [];
  constructor(public t = Date.UTC(2024, 0, 1, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = {
        at: this.t + Math.max(0, ms),
        fire: () => {
          this.timers = this.timers.filter((x) => x !== timer);
          signal?.removeEventListener('abort', timer.fire);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', timer.fire, { once: true });
    });
  }
  /** Move time forward to `ms` later, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      next.fire();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const collector = (name: string, runInterval: string, error?: string): DiscoveredCollector => ({
  name,
  dir: `/x/${name}`,
  runInterval,
  ...(error ? { error } : {}),
});

function quietLog(): DaemonLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** A fake run taking `durationMs` of virtual time (or until aborted), recording start/end. */
function fakeRuns(clock: FakeClock, durationMs: (name: string) => number, code = 0) {
  const starts: Array<{ name: string; t: number }> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const spawnRun = async (name: string, signal: AbortSignal) => {
    starts.push({ name, t: clock.now() });
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await clock.sleep(durationMs(name), signal);
    concurrent--;
    return signal.aborted ? 143 : code;
  };
  return { spawnRun, starts, max: () => maxConcurrent };
}

function noSelfOverlap(records: RunRecord[]): void {
  const by = new Map<string, RunRecord[]>();
  for (const r of records) by.set(r.name, [...(by.get(r.name) ?? []), r]);
  for (const [name, list] of by) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i]!.start >= list[i - 1]!.end, `${name} overlaps itself: run ${i} started before run ${i - 1} ended`);
    }
  }
}

test('time spans: each run starts one interval after the previous run of the collector ended', async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const runs = fakeRuns(clock, () => 300);
  const records: RunRecord[] = [];
  const stop = new AbortController();
  const log = quietLog();
  const done = runDaemon({
    collectors: [collector('a', '1s'), collector('b', '2s')],
    clock,
    spawnRun: runs.spawnRun,
    signal: stop.signal,
    handleSignals: false,
    log,
    onRun: (r) => records.push(r),
  });
  await clock.advance(10_000);
  stop.abort();
  await clock.advance(1000);
  assert.equal(await done, 0);
  const startsOf = (name: string) => runs.starts.filter((s) => s.name === name).map((s) => s.t - t0);
  assert.deepEqual(startsOf('a'), [0, 1300, 2600, 3900, 5200, 6500, 7800, 9100]);
  assert.deepEqual(startsOf('b'), [0, 2300, 4600, 6900, 9200]);
  noSelfOverlap(records);
  const runLines = log.lines.filter((l) => / run started /.test(l));
  assert.equal(runLines.length, records.length);
  assert.match(
    runLines[0]!,
    new RegExp(
      /^info a: run started 2024-01-01T12:00:00\.000Z, ended 2024-01-01T12:00:00\.300Z, 0\.300 s, exit /.source +
        /0 \(ok\); next run 2024-01-01T12:00:01\.300Z$/.source,
    ),
  );
});

test('never two runs of one collector at once, at most maxConcurrent runs', async () => {
  const clock = new FakeClock();
  const runs = fakeRuns(clock, (name) => (name === 'slow' ? 5000 : 1000));
  const records: RunRecord[] = [];
  const stop = new AbortController();
  const done = runDaemon({
    collectors: [collector('slow', '1s'), collector('x', '1s'), collector('y', '1s'), collector('z', '1s')],
    clock,
    spawnRun: runs.spawnRun,
    maxConcurrent: 2,
    signal: stop.signal,
    handleSignals: false,
    log: quietLog(),
    onRun: (r) => records.push(r),
  });
  await clock.advance(30_000);
  stop.abort();
  await clock.advance(10_000);
  assert.equal(await done, 0);
  assert.equal(runs.max(), 2);
  noSelfOverlap(records);
  // every collector got its turn although 4 were due at once
  for (const name of ['slow', 'x', 'y', 'z']) assert.ok(records.filter((r) => r.name === name).length >= 2, name);
});

test('cron: fires at cron-parser times in UTC; an occurrence during a run is skipped', async () => {
  const clock = new FakeClock(Date.UTC(2024, 0, 1, 12, 0, 30));
  const runs = fakeRuns(clock, () => 70_000);
  const stop = new AbortController();
  const done = runDaemon({
    collectors: [collector('c', '* * * * *')],
    clock,
    spawnRun: runs.spawnRun,
    signal: stop.signal,
    handleSignals: false,
    log: quietLog(),
  });
  await clock.advance(6 * 60_000);
  stop.abort();
  await clock.advance(120_000);
  assert.equal(await done, 0);
  assert.deepEqual(
    runs.starts.map((s) => new Date(s.t).toISOString()),
    ['2024-01-01T12:01:00.000Z', '2024-01-01T12:03:00.000Z', '2024-01-01T12:05:00.000Z'],
  );
});

test('jitter delays each run by a random part of jitterMs', async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const runs = fakeRuns(clock, () => 0);
  const stop = new AbortController();
  const done = runDaemon({
    collectors: [collector('a', '10s')],
    clock,
    spawnRun: runs.spawnRun,
    jitterMs: 1000,
    random: () => 0.5,
    signal: stop.signal,
    handleSignals: false,
    log: quietLog(),
  });
  await clock.advance(25_000);
  stop.abort();
  await clock.advance(1000);
  assert.equal(await done, 0);
  assert.deepEqual(
    runs.starts.map((s) => s.t - t0),
    [500, 11_000, 21_500],
  );
});

test('a recorded last run is continued: the first run waits for the rest of the interval', async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const runs = fakeRuns(clock, () => 0);
  const stop = new AbortController();
  const done = runDaemon({
    collectors: [collector('a', '10s'), collector('b', '10s')],
    clock,
    spawnRun: runs.spawnRun,
    lastRunEnd: (name) => (name === 'a' ? new Date(t0 - 4000) : undefined),
    signal: stop.signal,
    handleSignals: false,
    log: quietLog(),
  });
  await clock.advance(7000);
  stop.abort();
  await clock.advance(1000);
  assert.equal(await done, 0);
  assert.deepEqual(
    runs.starts.map((s) => `${s.name}@${s.t - t0}`),
    ['b@0', 'a@6000'],
  );
});

test('stop: no new runs, running ones get the grace period, then are terminated; resolves 0', async () => {
  const clock = new FakeClock();
  const t0 = clock.now();
  const runs = fakeRuns(clock, (name) => (name === 'hang' ? 3_600_000 : 500));
  const records: RunRecord[] = [];
  const stop = new AbortController();
  const log = quietLog();
  const done = runDaemon({
    collectors: [collector('hang', '1s'), collector('quick', '1s')],
    clock,
    spawnRun: runs.spawnRun,
    graceMs: 5000,
    signal: stop.signal,
    handleSignals: false,
    log,
    onRun: (r) => records.push(r),
  });
  await clock.advance(100);
  stop.abort(); // both are running
  let resolved = false;
  void done.then(() => (resolved = true));
  await clock.advance(1000);
  assert.equal(resolved, false, 'waits for the hanging run');
  assert.deepEqual(
    records.map((r) => r.name),
    ['quick'],
  );
  await clock.advance(4000);
  assert.equal(await done, 0);
  assert.equal(clock.now() - t0, 5100);
  assert.deepEqual(
    records.map((r) => `${r.name}:${r.code}`),
    ['quick:0', 'hang:143'],
  );
  assert.equal(runs.starts.length, 2, 'no run started after the stop');
  assert.match(log.lines.join('\n'), /grace period over: terminating hang/);
});

test('broken collectors and invalid schedules are logged and skipped, the others run', async () => {
  const clock = new FakeClock();
  const runs = fakeRuns(clock, () => 0);
  const stop = new AbortController();
  const log = quietLog();
  const done = runDaemon({
    collectors: [collector('broken', '5m', 'collector "broken" failed to load: boom'), collector('bad', 'whenever'), collector('ok', '1s')],
    clock,
    spawnRun: runs.spawnRun,
    signal: stop.signal,
    handleSignals: false,
    log,
  });
  await clock.advance(2500);
  stop.abort();
  await clock.advance(100);
  assert.equal(await done, 0);
  assert.deepEqual([...new Set(runs.starts.map((s) => s.name))], ['ok']);
  assert.match(log.lines.join('\n'), /error broken: skipped, the collector is broken: collector "broken" failed to load: boom/);
  assert.match(log.lines.join('\n'), /error bad: skipped: collector "bad": RUN_INTERVAL "whenever" is not valid/);
  // nothing schedulable: exit 2 at once
  assert.equal(await runDaemon({ collectors: [collector('bad', 'whenever')], clock, handleSignals: false, log: quietLog() }), 2);
});

test('exit codes are logged with their meaning; a run that cannot start is a failed run', async () => {
  const clock = new FakeClock();
  const log = quietLog();
  const stop = new AbortController();
  const codes = [4, 3, 1];
  let calls = 0;
  const done = runDaemon({
    collectors: [collector('a', '1s')],
    clock,
    spawnRun: () => {
      if (calls++ === 3) throw new Error('spawn ENOENT');
      return Promise.resolve(codes.shift() ?? 0);
    },
    signal: stop.signal,
    handleSignals: false,
    log,
  });
  await clock.advance(4500);
  stop.abort();
  await clock.advance(100);
  assert.equal(await done, 0);
  const text = log.lines.join('\n');
  assert.match(text, /info a: .*exit 4 \(skipped: another run holds the lock\)/);
  assert.match(text, /info a: .*exit 3 \(collected, points deferred to the outbox\)/);
  assert.match(text, /warn a: .*exit 1 \(failed\)/);
  assert.match(text, /warn a: .*exit - \(did not start: spawn ENOENT\)/);
});

// ---------------------------------------------------------------------------------------------
// The real command

test('metrics daemon: collectors at 1 s and 2 s for a few seconds, no self-overlap, SIGTERM → exit 0 promptly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-daemon-'));
  tmpDirs.push(dir);
  const collectors = join(dir, 'collectors');
  for (const [name, interval] of [
    ['every1s', '1s'],
    ['every2s', '2s'],
  ] as const) {
    mkdirSync(join(collectors, name), { recursive: true });
    writeFileSync(join(collectors, name, 'index.js'), `export const RUN_INTERVAL = '${interval}';\nexport async function runMetric() {}\n`);
  }
  const runsLog = join(dir, 'runs.log');
  const stub = join(dir, 'stub-run');
  // stands in for `metrics run <name>`: records its start and end, takes 0.3 s
  writeFileSync(stub, `#!/bin/sh\necho "start $1 $(date +%s%N)" >> '${runsLog}'\nsleep 0.3\necho "end $1 $(date +%s%N)" >> '${runsLog}'\n`);
  chmodSync(stub, 0o755);

  const argv = [join(repoRoot, 'bin', 'metrics')];
  const child = spawn(process.execPath, [...argv, 'daemon', '--run-command', stub, '--grace', '10s'], {
    env: { ...process.env, METRICS_COLLECTORS_DIR: collectors, METRICS_STATE_DIR: join(dir, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    // until every1s has started 3 times and every2s twice (a loaded machine makes runs slower, so
    // wait for runs rather than for a fixed time; 30 s at most)
    const started = (name: string): number => {
      const text = existsSync(runsLog) ? readFileSync(runsLog, 'utf8') : '';
      return text.split('\n').filter((l) => l.startsWith(`start ${name} `)).length;
    };
    for (const t0 = Date.now(); started('every1s') < 3 || started('every2s') < 2; ) {
      if (Date.now() - t0 > 30_000) throw new Error(`the daemon did not run the collectors in 30 s; stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = Date.now();
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no exit 3 s after SIGTERM; stderr:\n${stderr}`)), 3000);
      }),
    ]).finally(() => clearTimeout(timer));
    const tookMs = Date.now() - sent;
    assert.deepEqual(result, { code: 0, signal: null }, stderr);
    assert.ok(tookMs < 2000, `exit took ${tookMs} ms after SIGTERM`);

    const events = readFileSync(runsLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [kind, name, ns] = line.split(' ');
        return { kind: kind!, name: name!, ms: Number(BigInt(ns!) / 1_000_000n) };
      });
    const runs = (name: string) => {
      const starts = events.filter((e) => e.kind === 'start' && e.name === name).map((e) => e.ms);
      const ends = events.filter((e) => e.kind === 'end' && e.name === name).map((e) => e.ms);
      return { starts, ends };
    };
    const a = runs('every1s');
    const b = runs('every2s');
    // every run that started also ended: the daemon waited for the running ones
    assert.equal(a.ends.length, a.starts.length, stderr);
    assert.equal(b.ends.length, b.starts.length, stderr);
    assert.ok(a.starts.length >= 3, `every1s ran ${a.starts.length} times\n${stderr}`);
    assert.ok(b.starts.length >= 2, `every2s ran ${b.starts.length} times\n${stderr}`);
    for (const { starts, ends, intervalMs } of [
      { ...a, intervalMs: 1000 },
      { ...b, intervalMs: 2000 },
    ]) {
      for (let i = 1; i < starts.length; i++) {
        assert.ok(starts[i]! >= ends[i - 1]!, `a run started before the previous one of the same collector ended\n${stderr}`);
        // the interval counts from the end of the previous run
        const gap = starts[i]! - ends[i - 1]!;
        assert.ok(gap >= intervalMs - 100, `only ${gap} ms between the end of a run and the next start (interval ${intervalMs} ms)`);
      }
    }
    // one log line per run, and the shutdown
    const runLines = stderr.split('\n').filter((l) => / run started /.test(l));
    assert.equal(runLines.length, a.starts.length + b.starts.length, stderr);
    assert.match(stderr, /SIGTERM received: taking no new runs/);
    assert.match(stderr, /stopped/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
