/**
 * Lock files: "only one process at a time does X" across independent processes.
 *
 * Used so that two runs of the same collector never overlap (the second one is told who holds the
 * lock) and so that only one process replays the outbox at a time.
 *
 * Protocol
 * - A lock is a file holding one JSON line: {pid, host, since, command, startTime, bootId, token}.
 * - It is created atomically and complete: the JSON is written to a unique temporary file in the same
 *   directory, then hard-linked to the lock path (`link()` fails with EEXIST when the lock exists, the
 *   same guarantee as `open(path, 'wx')`, but a reader never sees an empty or half-written lock).
 *   Filesystems without hard links fall back to `open(path, 'wx')`.
 * - An existing lock is stale when
 *   - its holder is on this host and its pid is gone (`kill(pid, 0)` → ESRCH), or the pid now
 *     belongs to another process (start time from /proc/<pid>/stat field 22 differs), or the lock
 *     was taken before the last reboot (boot id differs);
 *   - its holder is on another host (shared directory) and it is older than `staleMs`;
 *   - it is unreadable/empty garbage older than `garbageMs`.
 *   A live local holder is never considered stale, however old the lock: a slow run keeps its lock.
 * - Taking over a stale lock is race-free: only the process holding the guard file `<path>.guard`
 *   (same exclusive create) may delete a stale lock, and it first re-reads the lock to check it
 *   still holds exactly the content judged stale. Then the exclusive create is retried, so exactly
 *   one of several racing processes gets the lock.
 * - `release()` removes the file only if it still holds our token. Locks still held at a normal
 *   process exit are released synchronously by an 'exit' handler (best effort; a SIGKILLed process
 *   leaves its lock behind, which the next acquirer detects as stale).
 *
 * - Lock files are untrusted (anyone who can write the folder can put anything there): the lock,
 *   its guard and the file checked at release are opened with O_RDONLY|O_NOFOLLOW|O_NONBLOCK,
 *   checked with fstat to be regular files, and read up to MAX_LOCK_BYTES (platform/atomic.ts
 *   readRegularFile). Anything else at a lock path (a FIFO, socket, device, symbolic link,
 *   directory, or a file larger than a lock can be) is never followed, waited on or read whole:
 *   acquiring throws `LockFileError` naming the path and what is there, with "remove it". It is
 *   an error, not "busy": busy means exit 4, which the service unit counts as success, so a
 *   collector would silently never run again; an error fails the run (exit 1) and says what to do.
 *
 * Caveat: the pid check assumes all contenders share a pid namespace (no systemd `PrivatePIDs=`,
 * no containers with the same hostname sharing the lock directory).
 */
import { promises as fsp, readFileSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnsafeFileError, readRegularFile, readRegularFileSync } from '../platform/atomic.js';
import type { Logger } from '../platform/log.js';

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
  command?: string;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), against pid reuse. */
  startTime?: number;
  /** /proc/sys/kernel/random/boot_id when the lock was taken. */
  bootId?: string;
  /** Random token identifying this particular acquisition. */
  token?: string;
}

export interface Lock {
  readonly busy: false;
  readonly path: string;
  readonly holder: LockHolder;
  /** Set when a stale lock was taken over: why it was judged stale. */
  readonly tookOver?: string;
  /** Remove the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
  releaseSync(): void;
}

export interface LockBusy {
  readonly busy: true;
  readonly path: string;
  readonly holder: LockHolder;
  /** Human-readable: "lock <path> is held by pid 123 on host since ... (command)". */
  readonly message: string;
}

export type LockResult = Lock | LockBusy;

export interface AcquireLockOptions {
  /** Age after which a lock held by another host (which we cannot check) is stale. Default 2 h. */
  staleMs?: number;
  /** Age after which an unreadable/empty lock file is stale. Default 5 s. */
  garbageMs?: number;
  /** Recorded in the lock as `command`; default: the process's script and arguments (truncated). */
  command?: string;
  /** Told when a stale lock is taken over. */
  log?: Pick<Logger, 'warn'>;
}

const DEFAULT_STALE_MS = 2 * 60 * 60 * 1000;
const DEFAULT_GARBAGE_MS = 5000;
/** A lock holds one JSON line of a few hundred bytes: anything larger is not a lock. */
export const MAX_LOCK_BYTES = 4096;

/**
 * Something that is not a lock file sits at a lock path (a FIFO, socket, device, symbolic link,
 * directory, or an oversized file): it is never followed, waited on or read whole.
 */
export class LockFileError extends Error {
  override readonly name = 'LockFileError';
  constructor(
    readonly path: string,
    /** what is there, e.g. "a FIFO (named pipe)" */
    readonly what: string,
    options?: { cause?: unknown },
  ) {
    super(
      `lock ${path} is ${what}, not a lock file written by metrics: it cannot be taken; ` +
        `remove it (${/directory/.test(what) ? 'rm -r' : 'rm'} ${path}) and run again`,
      options,
    );
  }
}

/** The raw content and mtime of a lock file, or undefined when there is none; LockFileError for anything but a small regular file. */
async function readLockFile(path: string): Promise<{ raw: string; mtimeMs: number } | undefined> {
  try {
    const file = await readRegularFile(path, MAX_LOCK_BYTES);
    return file && { raw: file.data.toString('utf8'), mtimeMs: file.stat.mtimeMs };
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new LockFileError(path, e.what, { cause: e });
    throw e;
  }
}

function readLockFileSync(path: string): string | undefined {
  try {
    return readRegularFileSync(path, MAX_LOCK_BYTES)?.data.toString('utf8');
  } catch (e) {
    if (e instanceof UnsafeFileError) throw new LockFileError(path, e.what, { cause: e });
    throw e;
  }
}

/** Path of the lock called `name` under a state directory: `<stateDir>/locks/<name>.lock`. */
export function lockPath(stateDir: string, name: string): string {
  if (!/^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*$/.test(name) || name.length > 200) {
    throw new Error(`lock name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '_', '-', '@', '+'`);
  }
  return join(stateDir, 'locks', `${name}.lock`);
}

/** "pid 123 on host since 2025-01-01T00:00:00.000Z (node bin/metrics run x)". */
export function describeHolder(h: LockHolder): string {
  const who = h.pid > 0 ? `pid ${h.pid} on ${h.host}` : `an unknown process (${h.host})`;
  return `${who} since ${h.since}${h.command ? ` (${h.command})` : ''}`;
}

/**
 * Try once to take the lock at `path` (its directory is created, mode 0700). Never waits: returns
 * a `Lock`, or `{busy: true, holder, message}` when a live process holds it.
 * Throws on I/O errors (for example the directory is not writable), and `LockFileError` when
 * something that is not a lock file sits at the path or at its guard (see the module comment).
 */
export async function acquireLock(path: string, opts: AcquireLockOptions = {}): Promise<LockResult> {
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let tookOver: string | undefined;
  let lastHolder: LockHolder | undefined;
  for (let attempt = 0; attempt < 200; attempt++) {
    const holder = makeHolder(opts.command);
    const raw = JSON.stringify(holder) + '\n';
    if (await tryCreate(path, raw)) {
      return makeLock(path, holder, raw, tookOver);
    }
    const j = await judge(path, opts);
    if (j.kind === 'missing') continue;
    lastHolder = j.holder;
    if (j.kind === 'live') return busy(path, j.holder);
    const r = await removeStale(path, j.raw, opts);
    if (r === 'removed') {
      tookOver = j.reason;
      opts.log?.warn(`lock ${path}: took over a stale lock (${j.reason})`);
    } else if (r === 'guard-busy') {
      await sleep(2 + Math.random() * 8);
    }
  }
  // Pathological churn; report whoever holds it now.
  const j = await judge(path, opts);
  return busy(path, j.kind === 'missing' ? (lastHolder ?? unknownHolder(new Date())) : j.holder);
}

/**
 * Like `acquireLock`, but polls until the lock is free or `timeoutMs` (default 10 s) has passed;
 * then returns the busy result. For short critical sections, not for "is a run already going?".
 */
export async function acquireLockWait(
  path: string,
  opts: AcquireLockOptions & { timeoutMs?: number; pollMs?: number } = {},
): Promise<LockResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const poll = opts.pollMs ?? 20;
  for (;;) {
    const r = await acquireLock(path, opts);
    if (!r.busy || Date.now() >= deadline) return r;
    await sleep(poll + Math.floor(Math.random() * poll));
  }
}

// ---------------------------------------------------------------------------------------------

function busy(path: string, holder: LockHolder): LockBusy {
  return { busy: true, path, holder, message: `lock ${path} is held by ${describeHolder(holder)}` };
}

function unknownHolder(since: Date): LockHolder {
  return { pid: 0, host: 'unknown', since: since.toISOString(), command: 'unreadable lock file' };
}

function defaultCommand(): string {
  const [script, ...args] = process.argv.slice(1);
  const parts = [script ? basename(script) : basename(process.execPath), ...args];
  const s = parts.join(' ');
  return s.length > 200 ? s.slice(0, 197) + '...' : s;
}

function makeHolder(command?: string): LockHolder {
  const h: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: command ?? defaultCommand(),
    token: randomBytes(12).toString('hex'),
  };
  const st = procStartTime(process.pid);
  if (st !== undefined) h.startTime = st;
  const b = bootId();
  if (b !== undefined) h.bootId = b;
  return h;
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when not available (non-Linux, gone). */
export function procStartTime(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[22 - 3]);
    return Number.isSafeInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

let cachedBootId: string | null | undefined;
function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId ?? undefined;
}

/** True when a process with this pid exists (EPERM: exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Creates the lock file only if none is there. Not platform/atomic.ts's writeFileAtomic on
 * purpose: its rename() replaces what is at the path, and taking a lock must never replace
 * another process's lock. The content goes to a temp file (O_CREAT|O_EXCL: never through a
 * link) and is put in place with link(), which fails with EEXIST instead of overwriting; a
 * reader never sees a half-written lock.
 */
async function tryCreate(path: string, raw: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, raw, { mode: 0o600, flag: 'wx' });
  try {
    await fsp.link(tmp, path);
    return true;
  } catch (e) {
    const code = errCode(e);
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EMLINK') {
      return createExclusive(path, raw);
    }
    throw e;
  } finally {
    await fsp.unlink(tmp).catch(() => {});
  }
}

/** Fallback for filesystems without hard links: plain exclusive create (briefly empty). */
async function createExclusive(path: string, raw: string): Promise<boolean> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'wx', 0o600);
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(raw);
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.unlink(path).catch(() => {});
    throw e;
  }
  await fh.close();
  return true;
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder> | null;
    if (
      v &&
      typeof v === 'object' &&
      Number.isSafeInteger(v.pid) &&
      (v.pid as number) > 0 &&
      typeof v.host === 'string' &&
      typeof v.since === 'string'
    ) {
      return v as LockHolder;
    }
  } catch {
    // fall through
  }
  return undefined;
}

type Judgement =
  | { kind: 'missing' }
  | { kind: 'live'; holder: LockHolder }
  | { kind: 'stale'; holder: LockHolder; raw: string; reason: string };

async function judge(path: string, opts: AcquireLockOptions): Promise<Judgement> {
  const file = await readLockFile(path);
  if (!file) return { kind: 'missing' };
  const { raw, mtimeMs } = file;
  const holder = parseHolder(raw);
  if (!holder) {
    const h = unknownHolder(new Date(mtimeMs));
    const garbageMs = opts.garbageMs ?? DEFAULT_GARBAGE_MS;
    if (Date.now() - mtimeMs > garbageMs) {
      return { kind: 'stale', holder: h, raw, reason: `the lock file is unreadable and older than ${garbageMs} ms` };
    }
    return { kind: 'live', holder: h };
  }
  if (holder.host === hostname()) {
    const myBoot = bootId();
    if (holder.bootId && myBoot && holder.bootId !== myBoot) {
      return { kind: 'stale', holder, raw, reason: `pid ${holder.pid} took it before the last reboot` };
    }
    if (!pidAlive(holder.pid)) {
      return { kind: 'stale', holder, raw, reason: `pid ${holder.pid} that took it is no longer running` };
    }
    if (holder.startTime !== undefined) {
      const now = procStartTime(holder.pid);
      if (now !== undefined && now !== holder.startTime) {
        return { kind: 'stale', holder, raw, reason: `pid ${holder.pid} now belongs to another process` };
      }
    }
    return { kind: 'live', holder };
  }
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const sinceMs = Date.parse(holder.since);
  if (!Number.isFinite(sinceMs) || Date.now() - sinceMs > staleMs) {
    return { kind: 'stale', holder, raw, reason: `held by ${holder.host} for more than ${staleMs} ms` };
  }
  return { kind: 'live', holder };
}

/**
 * Remove the stale lock whose content was `raw`, never someone else's fresh lock.
 *
 * Only the holder of the guard file `<path>.guard` (taken with the same exclusive create) may
 * remove a stale lock. Under the guard the lock is re-read: if it still holds the content judged
 * stale, nobody can have replaced it (a lock is only created where none exists, and only guard
 * holders remove stale ones), so unlinking it is safe.
 */
async function removeStale(path: string, raw: string, opts: AcquireLockOptions): Promise<'removed' | 'changed' | 'guard-busy'> {
  const guard = `${path}.guard`;
  const graw = JSON.stringify(makeHolder('lock takeover')) + '\n';
  if (!(await tryCreate(guard, graw))) {
    // Guard sections last microseconds; a guard outliving its process (killed inside the section)
    // is removed like any stale lock.
    const gj = await judge(guard, { garbageMs: opts.garbageMs, staleMs: 30_000 });
    if (gj.kind === 'live') return 'guard-busy';
    if (gj.kind === 'stale') await removeByRename(guard, gj.raw);
    return 'changed';
  }
  try {
    const cur = await readLockFile(path);
    if (cur === undefined) return 'changed';
    if (cur.raw !== raw) return 'changed';
    try {
      await fsp.unlink(path);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return 'changed';
      throw e;
    }
    return 'removed';
  } finally {
    try {
      if ((await readLockFile(guard))?.raw === graw) await fsp.unlink(guard);
    } catch {
      // gone, or replaced by something that is not ours
    }
  }
}

/**
 * Remove a stale guard file: rename it aside, and if what was moved is not what was judged stale
 * (another process replaced it meanwhile), put it back with link(), which never overwrites.
 * (Only reached when a process died inside a guard section, so the residual race is negligible.)
 */
async function removeByRename(path: string, raw: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await fsp.rename(path, aside);
  } catch {
    return;
  }
  let got: string | undefined;
  try {
    got = (await readLockFile(aside))?.raw;
  } catch {
    got = undefined;
  }
  if (got !== raw) await fsp.link(aside, path).catch(() => {});
  await fsp.unlink(aside).catch(() => {});
}

// --- held locks and release ----------------------------------------------------------------

const held = new Set<{ releaseSync(): void }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of [...held]) l.releaseSync();
  });
}

function makeLock(path: string, holder: LockHolder, raw: string, tookOver?: string): Lock {
  let released = false;
  const lock: Lock = {
    busy: false,
    path,
    holder,
    tookOver,
    async release() {
      if (released) return;
      released = true;
      held.delete(lock);
      try {
        if ((await readLockFile(path))?.raw === raw) await fsp.unlink(path);
      } catch {
        // already gone, or not ours any more
      }
    },
    releaseSync() {
      if (released) return;
      released = true;
      held.delete(lock);
      try {
        if (readLockFileSync(path) === raw) unlinkSync(path);
      } catch {
        // already gone, or not ours any more
      }
    },
  };
  held.add(lock);
  installExitHook();
  return lock;
}
