import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseBatch, type OutboxEntry } from '../../../src/lib/delivery/outbox/format.js';
import type { SendOutcome } from '../../../src/lib/delivery/outbox/replay.js';
import { Outbox, OutboxStoreError } from '../../../src/lib/delivery/outbox/store.js';
import { loadSettings } from '../../../src/lib/platform/settings.js';
import { acquireLock } from '../../../src/lib/delivery/lock.js';

const OUTBOX_MODULE = new URL('../../../src/lib/delivery/outbox/store.js', import.meta.url).href;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function memLog() {
  const lines: { level: string; msg: string }[] = [];
  return {
    lines,
    of: (level: string) => lines.filter((l) => l.level === level).map((l) => l.msg),
    log: {
      info: (msg: string) => lines.push({ level: 'info', msg }),
      warn: (msg: string) => lines.push({ level: 'warn', msg }),
      error: (msg: string) => lines.push({ level: 'error', msg }),
    },
  };
}

function batch(tag: string, n: number, t0 = 1_700_000_000_000_000_000n): string[] {
  return Array.from({ length: n }, (_, i) => `m,batch=${tag} v=${i}i ${t0 + BigInt(i)}`);
}

async function batchFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.lp')).sort();
  } catch {
    return [];
  }
}

test('resolveDir: $STATE_DIRECTORY, then $METRICS_OUTBOX_DIR, then a default', () => {
  // the outbox's directory and bound are settings (platform/settings.ts)
  const resolveDir = (env: Record<string, string>) => loadSettings(env).state.outboxDir;
  const parseSize = (size: string) => loadSettings({ METRICS_OUTBOX_MAX_SIZE: size }).state.outboxMaxBytes;
  assert.equal(resolveDir({ STATE_DIRECTORY: '/var/lib/metrics' }), '/var/lib/metrics/outbox');
  assert.equal(resolveDir({ STATE_DIRECTORY: '/var/lib/a:/var/lib/b', METRICS_OUTBOX_DIR: '/x' }), '/var/lib/a/outbox');
  assert.equal(resolveDir({ METRICS_OUTBOX_DIR: '/srv/outbox' }), '/srv/outbox');
  const d = resolveDir({ HOME: '/home/u' });
  assert.ok(d === '/var/lib/metrics/outbox' || d === '/home/u/.local/state/metrics/outbox', d);
  assert.equal(parseSize('256M'), 256 * 1024 * 1024);
  assert.equal(parseSize('64KiB'), 65536);
  assert.equal(parseSize('1000'), 1000);
  assert.throws(() => parseSize('lots'), /not a size/);
  assert.throws(() => new Outbox({ dir: '/x', maxBytes: 0, log: memLog().log }), /positive/);
});

test('store writes one complete file per batch; list and replay go oldest-first with lines unaltered', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'state', 'outbox');
  const m = memLog();
  const ob = new Outbox({ dir, maxBytes: 10 * 1024 * 1024, log: m.log });
  const tricky = [
    'weather,location=us\\ midwest,note=a\\,b temperature=82,desc="a \\"quoted\\" string, with = signs" 1465839830100400200',
    'cpu,host=überhost,emoji=😀 usage=0.5 1465839830100400201',
    '# not a comment for us: stored as is',
    '',
    'mem used=1i 1465839830100400202',
  ];
  const stored = [];
  stored.push(await ob.store(batch('a', 3), { collector: 'alpha', reason: 'connect ECONNREFUSED 127.0.0.1:8086' }));
  stored.push(await ob.store(tricky, { collector: 'beta', reason: 'HTTP 503' }));
  stored.push(await ob.store(batch('c', 2), { collector: 'gamma', reason: 'timeout\nafter 10 s' }));
  assert.deepEqual(await ob.store([], { collector: 'x', reason: 'y' }), { file: '', points: 0, bytes: 0 });

  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const names = await batchFiles(dir);
  assert.equal(names.length, 3);
  assert.deepEqual(
    stored.map((s) => s.file),
    names.map((n) => join(dir, n)),
    'names sort in store order',
  );
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.startsWith('.tmp')),
    [],
  );
  for (const s of stored) assert.equal((await stat(s.file)).size, s.bytes);
  assert.equal((await stat(stored[0]!.file)).mode & 0o777, 0o600);

  // The format: a '#metrics-outbox v1 {json}' header, then the lines, each ending in '\n'.
  const raw = await readFile(stored[1]!.file);
  const text = raw.toString('utf8');
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice('#metrics-outbox v1 '.length, nl));
  assert.ok(text.startsWith('#metrics-outbox v1 {'));
  assert.equal(text.slice(nl + 1), tricky.join('\n') + '\n');
  assert.equal(header.collector, 'beta');
  assert.equal(header.reason, 'HTTP 503');
  assert.equal(header.lines, tricky.length);
  assert.equal(header.bytes, Buffer.byteLength(tricky.join('\n') + '\n'));
  assert.equal(
    header.sha256,
    createHash('sha256')
      .update(raw.subarray(Buffer.byteLength(text.slice(0, nl + 1))))
      .digest('hex'),
  );
  assert.deepEqual(parseBatch(raw).lines, tricky);

  const list = await ob.list();
  assert.deepEqual(
    list.map((e) => e.header?.collector),
    ['alpha', 'beta', 'gamma'],
  );
  assert.deepEqual(
    list.map((e) => e.points),
    [3, 5, 2],
  );
  assert.equal(list[2]!.header?.reason, 'timeout\nafter 10 s');

  const st = await ob.status();
  assert.equal(st.files, 3);
  assert.equal(st.points, 10);
  assert.equal(
    st.bytes,
    stored.reduce((a, s) => a + s.bytes, 0),
  );
  assert.ok(st.oldestAgeSeconds !== undefined && st.oldestAgeSeconds >= 0 && st.oldestAgeSeconds < 60);
  assert.equal(st.dropped, 0);
  assert.deepEqual(st.rejected, { files: 0, points: 0, bytes: 0 });
  assert.equal(st.corrupt, 0);

  const got: { collector: string | undefined; lines: string[] }[] = [];
  const progress: number[] = [];
  const r = await ob.replay(
    async (lines, entry) => {
      got.push({ collector: entry.header?.collector, lines });
      return 'ok';
    },
    { onProgress: (done, total) => progress.push(done.points, total.points) },
  );
  assert.deepEqual(
    got.map((g) => g.collector),
    ['alpha', 'beta', 'gamma'],
  );
  assert.deepEqual(got[0]!.lines, batch('a', 3));
  assert.deepEqual(got[1]!.lines, tricky);
  assert.deepEqual(progress, [3, 10, 8, 10, 10, 10]);
  assert.deepEqual(r, {
    busy: false,
    sent: { files: 3, points: 10 },
    rejected: { files: 0, points: 0 },
    corrupt: 0,
    remaining: { files: 0, points: 0 },
  });
  assert.deepEqual(await batchFiles(dir), []);
  assert.equal((await ob.status()).oldestAgeSeconds, undefined);
  assert.equal(m.of('error').length, 0);
});

test('store refuses lines it could not store unaltered, and saves nothing', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e6, log: memLog().log });
  await assert.rejects(ob.store(['a v="\uD800" 1'], { collector: 'x', reason: 'r' }), /invalid UTF-16.*NOT saved/);
  assert.deepEqual(await batchFiles(dir), []);
});

test('a string field holding a newline is stored and replayed as exactly the same request body', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e6, log: memLog().log });
  const lines = ['a v=1 1', 'b s="one\ntwo\n" 2', 'c v=3 3'];
  const stored = await ob.store(lines, { collector: 'x', reason: 'r' });
  assert.equal(stored.points, 3);
  const st = await ob.status();
  assert.equal(st.points, 3);
  let body = '';
  const r = await ob.replay(async (l) => {
    body = l.join('\n');
    return 'ok';
  });
  assert.equal(body, lines.join('\n'));
  assert.deepEqual(r.sent, { files: 1, points: 3 });
  assert.equal(r.corrupt, 0);
});

test('truncated, garbled and foreign files go to corrupt/ with a message naming them; the rest replays', async (t) => {
  const dir = await tempDir(t);
  const m = memLog();
  const ob = new Outbox({ dir, maxBytes: 1e7, log: m.log });
  const files: string[] = [];
  for (const tag of ['ok1', 'trunc', 'ok2', 'garbled', 'header', 'empty', 'ok3']) {
    files.push((await ob.store(batch(tag, 10), { collector: tag, reason: 'down' })).file);
  }
  const [, trunc, , garbled, header, empty] = files as [string, string, string, string, string, string, string];
  await truncate(trunc, (await stat(trunc)).size - 7);
  const g = await readFile(garbled);
  g[g.length - 5] = 'X'.charCodeAt(0) === g[g.length - 5] ? 0x59 : 0x58; // flip one byte of the body
  await writeFile(garbled, g);
  await writeFile(header, 'garbage that is not an outbox file\nm v=1 1\n');
  await writeFile(empty, '');

  const listed = await ob.list();
  assert.equal(listed.find((e) => e.path === header)!.problem !== undefined, true);
  assert.equal((await ob.status()).damaged, 2);

  const sent: string[] = [];
  const r = await ob.replay(async (lines, entry) => {
    sent.push(entry.header!.collector);
    assert.equal(lines.length, 10);
    return 'ok';
  });
  assert.deepEqual(sent, ['ok1', 'ok2', 'ok3']);
  assert.equal(r.corrupt, 4);
  assert.deepEqual(r.sent, { files: 3, points: 30 });
  assert.deepEqual(r.remaining, { files: 0, points: 0 });
  assert.deepEqual(await batchFiles(dir), []);

  const corruptDir = join(dir, 'corrupt');
  const inCorrupt = (await readdir(corruptDir)).sort();
  for (const f of [trunc, garbled, header, empty]) {
    const name = f.slice(dir.length + 1);
    assert.ok(inCorrupt.includes(name), name);
    assert.ok(inCorrupt.includes(`${name}.reason.txt`), name);
  }
  const errors = m.of('error');
  assert.equal(errors.length, 4);
  assert.match(errors.find((e) => e.includes(trunc))!, /truncated: the body has \d+ bytes, the header says \d+/);
  assert.match(errors.find((e) => e.includes(garbled))!, /checksum mismatch/);
  assert.match(errors.find((e) => e.includes(header))!, /not an outbox batch/);
  assert.match(errors.find((e) => e.includes(empty))!, /empty/);
  assert.match(await readFile(join(corruptDir, trunc.slice(dir.length + 1) + '.reason.txt'), 'utf8'), /truncated.*\n.*\ncollector: trunc/s);
  assert.equal((await ob.status()).corrupt, 4);
});

test('a batch rejected for its data moves to rejected/ with the server message; the rest replays', async (t) => {
  const dir = await tempDir(t);
  const m = memLog();
  const ob = new Outbox({ dir, maxBytes: 1e7, log: m.log });
  for (const tag of ['a', 'bad', 'b', 'bad2', 'c']) await ob.store(batch(tag, 4), { collector: tag, reason: 'down' });
  const r = await ob.replay(
    async (_lines, entry): Promise<SendOutcome> => {
      if (entry.header!.collector === 'bad') return { status: 'rejected', message: 'HTTP 400: partial write: field type conflict' };
      if (entry.header!.collector === 'bad2') return 'rejected';
      return { status: 'ok' };
    },
    { rejectedMessage: 'HTTP 422 unprocessable' },
  );
  assert.deepEqual(r.sent, { files: 3, points: 12 });
  assert.deepEqual(r.rejected, { files: 2, points: 8 });
  const rej = await ob.listRejected();
  assert.deepEqual(
    rej.map((e) => e.header!.collector),
    ['bad', 'bad2'],
  );
  assert.match(
    await readFile(rej[0]!.path + '.reason.txt', 'utf8'),
    /^rejected by the server: HTTP 400: partial write: field type conflict\n/,
  );
  assert.match(await readFile(rej[1]!.path + '.reason.txt', 'utf8'), /HTTP 422 unprocessable/);
  assert.deepEqual(parseBatch(await readFile(rej[0]!.path)).lines, batch('bad', 4), 'rejected data kept intact');
  assert.equal(m.of('warn').filter((w) => w.includes('rejected')).length, 2);
  const st = await ob.status();
  assert.deepEqual([st.files, st.rejected.files, st.rejected.points], [0, 2, 8]);
  // not retried by the next replay
  const again = await ob.replay(async () => assert.fail('nothing left to send'));
  assert.deepEqual(again.sent, { files: 0, points: 0 });
});

test('retry-later stops the replay and keeps the rest; a throwing send stops it too', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e7, log: memLog().log });
  for (const tag of ['a', 'b', 'c', 'd']) await ob.store(batch(tag, 5), { collector: tag, reason: 'down' });
  let calls = 0;
  const r = await ob.replay(async () => (++calls === 2 ? { status: 'retry-later', message: 'HTTP 503 Service Unavailable' } : 'ok'));
  assert.equal(calls, 2);
  assert.deepEqual(r.sent, { files: 1, points: 5 });
  assert.deepEqual(r.remaining, { files: 3, points: 15 });
  assert.equal(r.stopped, 'HTTP 503 Service Unavailable');
  assert.equal((await batchFiles(dir)).length, 3);

  const r2 = await ob.replay(async () => {
    throw new Error('socket hang up');
  });
  assert.match(r2.stopped ?? '', /socket hang up/);
  assert.deepEqual(r2.remaining, { files: 3, points: 15 });

  const order: string[] = [];
  const r3 = await ob.replay(async (_l, e) => {
    order.push(e.header!.collector);
    return 'ok';
  });
  assert.deepEqual(order, ['b', 'c', 'd']);
  assert.deepEqual(r3.remaining, { files: 0, points: 0 });
});

test('only one process replays: a held replay lock makes replay return busy at once', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e7, log: memLog().log });
  await ob.store(batch('a', 7), { collector: 'a', reason: 'down' });
  const lock = await acquireLock(ob.replayLockPath, { command: 'metrics outbox replay' });
  assert.equal(lock.busy, false);
  const r = await ob.replay(async () => assert.fail('must not send while another process replays'));
  assert.equal(r.busy, true);
  assert.equal(r.holder?.pid, process.pid);
  assert.equal(r.holder?.command, 'metrics outbox replay');
  assert.deepEqual(r.remaining, { files: 1, points: 7 });
  if (!lock.busy) await lock.release();
  const r2 = await ob.replay(async () => 'ok');
  assert.equal(r2.busy, false);
  assert.deepEqual(r2.sent, { files: 1, points: 7 });
});

test('the bound drops the oldest files, logs it loudly and keeps a persistent count', async (t) => {
  const dir = await tempDir(t);
  const m = memLog();
  const probe = new Outbox({ dir: join(dir, 'probe'), maxBytes: 1e9, log: m.log });
  const size = (await probe.store(batch('p', 50), { collector: 'p', reason: 'r' })).bytes;
  const ob = new Outbox({ dir, maxBytes: size * 3 + 10, log: m.log });
  for (const tag of ['a', 'b', 'c']) await ob.store(batch(tag, 50), { collector: tag, reason: 'down' });
  assert.equal(m.of('error').length, 0);
  await ob.store(batch('d', 50), { collector: 'd', reason: 'down' });
  await ob.store(batch('e', 50), { collector: 'e', reason: 'down' });
  const errors = m.of('error');
  assert.equal(errors.length, 2);
  assert.match(
    errors[0]!,
    /is full .*DROPPED the 50 oldest points in 1 files .*collectors: a.* to make room for 50 new points from d; 50 points dropped in total/,
  );
  assert.match(errors[1]!, /collectors: b.*100 points dropped in total/);
  assert.deepEqual(
    (await ob.list()).map((e) => e.header!.collector),
    ['c', 'd', 'e'],
  );

  const again = new Outbox({ dir, maxBytes: size * 3 + 10, log: m.log });
  const st = await again.status();
  assert.equal(st.dropped, 100);
  assert.equal(st.droppedFiles, 2);
  assert.ok(st.bytes <= st.maxBytes);
  const counter = JSON.parse(await readFile(join(dir, 'dropped.json'), 'utf8'));
  assert.equal(counter.points, 100);
  assert.deepEqual(counter.last.collectors, ['b']);

  // A single batch bigger than the whole bound: everything older goes, the batch is kept whole.
  const big = await again.store(batch('big', 400), { collector: 'big', reason: 'down' });
  assert.ok(big.bytes > again.maxBytes);
  assert.deepEqual(
    (await again.list()).map((e) => e.header!.collector),
    ['big'],
  );
  assert.match(m.of('warn').at(-1)!, /larger than the outbox bound.*stored whole/);
  assert.equal((await again.status()).dropped, 250);
});

test('concurrent stores from one process get distinct, ordered files', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e8, log: memLog().log });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => ob.store(batch(`c${i}`, 10), { collector: `c${i}`, reason: 'r' })),
  );
  assert.equal(new Set(results.map((r) => r.file)).size, 20);
  const r = await ob.replay(async () => 'ok');
  assert.deepEqual(r.sent, { files: 20, points: 200 });
});

test('temp files of dead writers are never listed and are cleaned up by replay', async (t) => {
  const dir = await tempDir(t);
  const m = memLog();
  const ob = new Outbox({ dir, maxBytes: 1e8, log: m.log });
  await ob.store(batch('a', 1), { collector: 'a', reason: 'r' });
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const tmp = join(dir, `.tmp-${dead.stdout.trim()}-abcd-20200101T000000000Z-0000000001-00000001.lp`);
  await writeFile(tmp, '#metrics-outbox v1 {"collector":"half');
  assert.equal((await ob.list()).length, 1);
  await ob.replay(async () => 'ok');
  assert.deepEqual(await readdir(dir).then((n) => n.filter((x) => x.startsWith('.tmp'))), []);
  assert.match(m.of('info').join('\n'), /removed .*incomplete write/);
});

test('a large outbox (100 000 points in 40 files) replays file by file', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e9, log: memLog().log });
  for (let f = 0; f < 40; f++) await ob.store(batch(`f${f}`, 2500, BigInt(f) * 10_000n), { collector: 'bulk', reason: 'down' });
  const st = await ob.status();
  assert.deepEqual([st.files, st.points], [40, 100_000]);
  let maxInFlight = 0;
  let points = 0;
  const r = await ob.replay(async (lines) => {
    maxInFlight = Math.max(maxInFlight, lines.length);
    points += lines.length;
    return 'ok';
  });
  assert.equal(points, 100_000);
  assert.equal(maxInFlight, 2500, 'one file at a time');
  assert.deepEqual(r.remaining, { files: 0, points: 0 });
});

/** Runs a child node process that stores `points` lines and prints the result or the error. */
function storeInChild(
  prefix: string,
  dir: string,
  points: number,
): Promise<{ ok?: unknown; error?: string; code?: string; name?: string }> {
  const script = `
    const { Outbox } = await import(${JSON.stringify(OUTBOX_MODULE)});
    const ob = new Outbox({ dir: ${JSON.stringify(dir)}, maxBytes: 1e9, log: { info() {}, warn() {}, error() {} } });
    await ob.store(['small v=1i 1'], { collector: 'small', reason: 'down' });
    const lines = Array.from(
      { length: ${points} },
      (_, i) => 'bulk,host=h' + i + ' value=' + i + 'i ' + (1700000000000000000n + BigInt(i)),
    );
    try {
      console.log(JSON.stringify({ ok: await ob.store(lines, { collector: 'bulk', reason: 'HTTP 503' }) }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.message, code: e.code, name: e.name }));
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${prefix} exec "$0" --input-type=module -e "$1"`, process.execPath, script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`child exited ${code ?? signal} with output ${JSON.stringify(out)}`));
      }
    });
  });
}

async function assertNothingPartial(ob: Outbox, dir: string) {
  const names = await readdir(dir);
  assert.deepEqual(
    names.filter((n) => n.startsWith('.tmp')),
    [],
    'temp file removed',
  );
  const entries: OutboxEntry[] = await ob.list();
  assert.deepEqual(
    entries.map((e) => e.header?.collector),
    ['small'],
    'only the earlier, complete batch is there',
  );
  for (const e of entries) await ob.read(e.path); // complete and valid
  const r = await ob.replay(async () => 'ok');
  assert.equal(r.corrupt, 0);
  assert.deepEqual(r.sent, { files: 1, points: 1 });
}

test('file-size limit (EFBIG under ulimit -f): clear error, points NOT saved, no partial file', async (t) => {
  const dir = await tempDir(t);
  const ob = new Outbox({ dir, maxBytes: 1e9, log: memLog().log });
  // 64 KiB limit; SIGXFSZ ignored so that write() fails with EFBIG instead of killing the process.
  const res = await storeInChild(`trap '' XFSZ; ulimit -f 64;`, dir, 5000);
  assert.equal(res.ok, undefined, 'the big batch must not be reported as saved');
  assert.equal(res.name, 'OutboxStoreError');
  assert.equal(res.code, 'EFBIG');
  assert.match(
    res.error!,
    new RegExp(
      `^outbox: could not save 5000 points from bulk to ${dir}: EFBIG \\(file too large.*\\); the points were NOT saved and are lost ` +
        `unless the source can be collected again$`,
    ),
  );
  await assertNothingPartial(ob, dir);
});

test('no space left (ENOSPC on a tiny tmpfs): clear error, points NOT saved, no partial file', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'outbox-test-'));
  const dir = join(root, 'mnt');
  await mkdir(dir);
  let isMounted = false;
  t.after(async () => {
    if (isMounted) spawnSync('umount', [dir]);
    await rm(root, { recursive: true, force: true });
  });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${(mounted.stderr || mounted.error?.message || '').trim()})`);
    return;
  }
  isMounted = true;
  const ob = new Outbox({ dir, maxBytes: 1e9, log: memLog().log });
  const res = await storeInChild('', dir, 5000);
  assert.equal(res.ok, undefined);
  assert.equal(res.code, 'ENOSPC');
  assert.match(res.error!, /could not save 5000 points from bulk to .*: ENOSPC \(no space left on device\); the points were NOT saved/);
  await assertNothingPartial(ob, dir);
  // in-process too: the OutboxStoreError class carries code, points and dir
  const err = await ob.store(batch('x', 5000), { collector: 'x', reason: 'r' }).catch((e: unknown) => e);
  assert.ok(err instanceof OutboxStoreError);
  assert.equal(err.code, 'ENOSPC');
  assert.equal(err.points, 5000);
  assert.equal(err.dir, dir);
});
