import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { acquireLock, acquireLockWait, describeHolder, lockPath, procStartTime, type Lock } from '../../../src/lib/delivery/lock.js';

const LOCK_MODULE = new URL('../../../src/lib/delivery/lock.js', import.meta.url).href;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lock-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function asLock(r: Awaited<ReturnType<typeof acquireLock>>): Lock {
  assert.equal(r.busy, false, r.busy ? r.message : '');
  return r as Lock;
}

/**
 * A child node process that takes the lock on "go" (or at once with mode 'now'), prints
 * {"busy":..,"pid":..,"holderPid":..,"tookOver":..} and then holds it until "exit" arrives on stdin
 * (released normally) or it is killed.
 */
const CHILD_SRC = `
import { createInterface } from 'node:readline';
const { acquireLock } = await import(process.argv[2]);
const path = process.argv[3];
const mode = process.argv[4];
const rl = createInterface({ input: process.stdin });
let lock;
async function take() {
  const r = await acquireLock(path);
  lock = r.busy ? undefined : r;
  console.log(JSON.stringify({ busy: r.busy, pid: process.pid, holderPid: r.holder.pid, tookOver: r.busy ? null : r.tookOver ?? null }));
}
rl.on('line', async (l) => {
  if (l === 'go') await take();
  if (l === 'exit') process.exit(0);          // lock released by the exit hook
});
if (mode === 'now') await take(); else console.log('ready');
`;

class Child {
  readonly proc: ChildProcess;
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  constructor(script: string, path: string, mode: 'now' | 'wait') {
    this.proc = spawn(process.execPath, [script, LOCK_MODULE, path, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((res) => this.waiters.push(res));
  }
  send(l: string): void {
    this.proc.stdin!.write(l + '\n');
  }
  exited(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return Promise.resolve(this.proc.exitCode);
    return new Promise((res) => this.proc.once('exit', (code) => res(code)));
  }
}

async function childScript(dir: string): Promise<string> {
  const p = join(dir, 'child.mjs');
  await writeFile(p, CHILD_SRC);
  return p;
}

test('lockPath builds <stateDir>/locks/<name>.lock and refuses odd names', () => {
  assert.equal(lockPath('/var/lib/metrics', 'collector-cpu'), '/var/lib/metrics/locks/collector-cpu.lock');
  assert.throws(() => lockPath('/x', '../etc/passwd'), /not valid/);
  assert.throws(() => lockPath('/x', ''), /not valid/);
  assert.throws(() => lockPath('/x', '.hidden'), /not valid/);
});

test('second acquire is busy and names the holder; release frees it', async (t) => {
  const dir = await tempDir(t);
  const path = lockPath(dir, 'cpu');
  const a = asLock(await acquireLock(path, { command: 'metrics run cpu' }));
  assert.equal((await stat(join(dir, 'locks'))).mode & 0o777, 0o700);
  const onDisk = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(onDisk.pid, process.pid);
  assert.equal(onDisk.host, hostname());
  assert.equal(onDisk.command, 'metrics run cpu');
  if (existsSync('/proc/self/stat')) assert.equal(onDisk.startTime, procStartTime(process.pid));

  const b = await acquireLock(path);
  assert.equal(b.busy, true);
  if (!b.busy) return;
  assert.equal(b.holder.pid, process.pid);
  assert.equal(b.holder.host, hostname());
  assert.equal(b.holder.since, a.holder.since);
  assert.equal(b.holder.command, 'metrics run cpu');
  assert.match(b.message, new RegExp(`held by pid ${process.pid} on .* since .*metrics run cpu`));
  assert.equal(describeHolder(b.holder), b.message.replace(`lock ${path} is held by `, ''));

  await a.release();
  assert.equal(existsSync(path), false);
  await a.release(); // idempotent
  const c = asLock(await acquireLock(path));
  await c.release();
  // no temp files left behind
  assert.deepEqual(await readdir(join(dir, 'locks')), []);
});

test('release removes the file only if it is still ours', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.lock');
  const a = asLock(await acquireLock(path));
  const other = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), token: 'someone-else' });
  await writeFile(path, other);
  await a.release();
  assert.equal(await readFile(path, 'utf8'), other);
});

test('a lock left by a SIGKILLed process is taken over; a live one is busy', async (t) => {
  const dir = await tempDir(t);
  const script = await childScript(dir);
  const path = join(dir, 'locks', 'job.lock');
  const child = new Child(script, path, 'now');
  const r = JSON.parse(await child.next());
  assert.equal(r.busy, false);

  const busy = await acquireLock(path);
  assert.equal(busy.busy, true);
  assert.equal(busy.holder.pid, child.proc.pid);

  child.proc.kill('SIGKILL');
  await child.exited();
  assert.equal(existsSync(path), true, 'a killed process cannot clean up');
  const warnings: string[] = [];
  const l = asLock(await acquireLock(path, { log: { warn: (m) => warnings.push(m) } }));
  assert.match(l.tookOver ?? '', new RegExp(`pid ${child.proc.pid} .*no longer running`));
  assert.equal(warnings.length, 1);
  await l.release();
});

test('a normal exit releases the lock (exit hook)', async (t) => {
  const dir = await tempDir(t);
  const script = await childScript(dir);
  const path = join(dir, 'job.lock');
  const child = new Child(script, path, 'now');
  assert.equal(JSON.parse(await child.next()).busy, false);
  assert.equal(existsSync(path), true);
  child.send('exit');
  assert.equal(await child.exited(), 0);
  assert.equal(existsSync(path), false);
});

test('pid reuse, reboot, foreign host and garbage locks', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.lock');
  const now = new Date().toISOString();

  // Our own pid is alive, but the recorded start time is another process's: pid was reused.
  const st = procStartTime(process.pid);
  if (st !== undefined) {
    await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), since: now, startTime: st + 12345 }));
    const l = asLock(await acquireLock(path));
    assert.match(l.tookOver ?? '', /now belongs to another process/);
    await l.release();
  }

  // Taken before the last reboot.
  if (existsSync('/proc/sys/kernel/random/boot_id')) {
    await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), since: now, bootId: 'not-this-boot' }));
    const l = asLock(await acquireLock(path));
    assert.match(l.tookOver ?? '', /before the last reboot/);
    await l.release();
  }

  // Another host: cannot check its pid; busy until staleMs.
  await writeFile(path, JSON.stringify({ pid: 4242, host: 'elsewhere.example', since: now }));
  const b = await acquireLock(path, { staleMs: 60_000 });
  assert.equal(b.busy, true);
  assert.equal(b.holder.host, 'elsewhere.example');
  await writeFile(path, JSON.stringify({ pid: 4242, host: 'elsewhere.example', since: new Date(Date.now() - 120_000).toISOString() }));
  const l2 = asLock(await acquireLock(path, { staleMs: 60_000 }));
  assert.match(l2.tookOver ?? '', /elsewhere.example/);
  await l2.release();

  // Garbage: busy while fresh (could be a writer in progress), stale once old.
  await writeFile(path, '');
  const g = await acquireLock(path, { garbageMs: 5000 });
  assert.equal(g.busy, true);
  assert.equal(g.holder.pid, 0);
  assert.match(g.busy ? g.message : '', /unknown process/);
  const old = new Date(Date.now() - 10_000);
  await utimes(path, old, old);
  const l3 = asLock(await acquireLock(path, { garbageMs: 5000 }));
  assert.match(l3.tookOver ?? '', /unreadable/);
  await l3.release();
});

test('acquireLockWait waits for a short holder, and gives up after its timeout', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'w.lock');
  const a = asLock(await acquireLock(path));
  setTimeout(() => void a.release(), 100);
  const started = Date.now();
  const b = asLock(await acquireLockWait(path, { timeoutMs: 3000 }));
  assert.ok(Date.now() - started >= 80);
  const c = await acquireLockWait(path, { timeoutMs: 100 });
  assert.equal(c.busy, true);
  await b.release();
});

async function race(dir: string, path: string, n: number) {
  const script = await childScript(dir);
  const children = Array.from({ length: n }, () => new Child(script, path, 'wait'));
  try {
    for (const c of children) assert.equal(await c.next(), 'ready');
    for (const c of children) c.send('go');
    const results = await Promise.all(children.map(async (c) => JSON.parse(await c.next())));
    return results as { busy: boolean; pid: number; holderPid: number; tookOver: string | null }[];
  } finally {
    for (const c of children) c.send('exit');
    await Promise.all(children.map((c) => c.exited()));
  }
}

test('5 processes racing for a free lock: exactly one wins, the others see it', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'race.lock');
  const results = await race(dir, path, 5);
  const winners = results.filter((r) => !r.busy);
  assert.equal(winners.length, 1, JSON.stringify(results));
  for (const r of results.filter((r) => r.busy)) assert.equal(r.holderPid, winners[0]!.pid);
  assert.equal(existsSync(path), false, 'released at exit');
});

test('5 processes racing to take over a stale lock: exactly one wins', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'race.lock');
  const script = await childScript(dir);
  const dead = new Child(script, path, 'now');
  assert.equal(JSON.parse(await dead.next()).busy, false);
  dead.proc.kill('SIGKILL');
  await dead.exited();

  const results = await race(dir, path, 5);
  const winners = results.filter((r) => !r.busy);
  assert.equal(winners.length, 1, JSON.stringify(results));
  // (the winner is not necessarily the one that removed the stale file: another racer may have
  // removed it and lost the exclusive create that followed)
  for (const r of results.filter((r) => r.busy)) assert.equal(r.holderPid, winners[0]!.pid);
  const left = (await readdir(dir)).filter((n) => n.startsWith('race.lock'));
  assert.deepEqual(left, [], 'no lock, temp or stale files left');
});
