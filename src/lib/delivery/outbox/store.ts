/**
 * The outbox: a durable on-disk queue of line-protocol batches that InfluxDB did not accept yet.
 * This module is the Outbox class (the folder, storing within the bound, listing, status, the
 * rejected/ and corrupt/ folders, the drop counter); the batch files' format is in format.ts and
 * replaying them in replay.ts.
 *
 * Directory layout (`dir`, mode 0700: created so, restricted to it when found wider; a link there
 * is refused, see `open()`):
 *   <dir>/20250102T030405678Z-0000012345-00000001.lp   pending batches; names sort oldest-first
 *                                                        (UTC time in ms, pid, per-process counter)
 *   <dir>/.tmp-<pid>-<rand>-<name>.tmp                  a batch being written (never listed; platform/atomic.ts)
 *   <dir>/rejected/<name> + <name>.reason.txt           batches the server refused for their data
 *   <dir>/corrupt/<name>  + <name>.reason.txt           truncated/garbled files set aside
 *   <dir>/dropped.json                                  counter of points dropped because the outbox was full
 *   <dir>/.replay.lock, <dir>/.store.lock               lock files (see lock.ts)
 *
 * Writes are atomic (platform/atomic.ts: temp file in the same directory opened with
 * O_EXCL|O_NOFOLLOW, fsync, rename, fsync of the directory), so nothing planted in the folder is
 * followed. A failed write (ENOSPC, EFBIG, EDQUOT, ...) removes the temp file and throws
 * `OutboxStoreError` saying the points were NOT saved; a file that is listed is always complete.
 *
 * Bound: pending batches (header included) are kept within `maxBytes`. Before a batch is stored,
 * the oldest pending files are deleted to make room, logged at error level and counted in
 * dropped.json; `store` returns them (`dropped`), flagged `thisRun` when this Outbox stored them,
 * so that a run counts its own dropped points as lost, not deferred (`spareThisRun` stores a
 * batch without deleting those: for the run's report points). A single batch larger than
 * `maxBytes` is still stored whole (after everything older was dropped), with a warning:
 * splitting it would drop part of the newest data to keep the bound exact, and the bound exists
 * to protect the disk from an unbounded backlog, not from one batch.
 * rejected/ and corrupt/ are not bounded or pruned automatically: they are kept for a human and
 * shown by `status()`.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { UnsafeFileError, ensurePrivateDir, fsyncDir, readRegularFile, writeFileAtomic } from '../../platform/atomic.js';
import { ConfigError, describeFsError, errnoCode } from '../../platform/errors.js';
import type { Logger } from '../../platform/log.js';
import { redact } from '../../platform/redact.js';
import { LockFileError, acquireLockWait, type LockResult } from '../lock.js';
import {
  BATCH_NAME,
  OutboxCorruptError,
  encodeBatch,
  nextBatchName,
  parseBatch,
  parseHeaderLine,
  timeFromName,
  type Count,
  type OutboxEntry,
  type OutboxHeader,
} from './format.js';
import { replayBatches, type ReplayOptions, type ReplayResult, type ReplaySend, type ReplaySource } from './replay.js';

const HEADER_READ_BYTES = 16 * 1024;

/** What the outbox logs with. */
export type OutboxLog = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface OutboxOptions {
  dir: string;
  /** Bound on the bytes of pending batch files (headers included). */
  maxBytes: number;
  log: OutboxLog;
  /** How long `store` waits for another process's store to finish before storing anyway. Default 10 s. */
  storeLockTimeoutMs?: number;
}

export interface DroppedCounter {
  points: number;
  files: number;
  bytes: number;
  /** The most recent drop. */
  last?: { at: string; points: number; files: number; collectors: string[] };
}

export interface OutboxStatus {
  dir: string;
  maxBytes: number;
  /** Pending batches. */
  files: number;
  points: number;
  bytes: number;
  /** Age of the oldest pending batch; absent when the outbox is empty. */
  oldestAgeSeconds?: number;
  /** Points dropped so far because the outbox was full (persistent, from dropped.json). */
  dropped: number;
  droppedFiles: number;
  rejected: Count & { bytes: number };
  /** Files in corrupt/. */
  corrupt: number;
  /** Pending files whose header is unreadable (they go to corrupt/ at the next replay). */
  damaged: number;
}

export interface StoreResult {
  /** Path of the stored batch file ('' when there was nothing to store). */
  file: string;
  points: number;
  bytes: number;
  /** Batches deleted to make room for this one (the bound), oldest first (absent: nothing was stored). */
  dropped?: DroppedBatch[];
}

/** A pending batch deleted to keep the outbox within its bound. */
export interface DroppedBatch {
  file: string;
  /** its points (0 when its header was unreadable and it was not stored by this Outbox) */
  points: number;
  /** the collector that stored it (absent: unreadable header) */
  collector?: string;
  /** stored by this Outbox, i.e. by this process in this run: its points are lost for that run */
  thisRun: boolean;
}

/** Thrown by `store` when the batch could not be saved. `message` says the points are NOT saved. */
export class OutboxStoreError extends Error {
  override readonly name = 'OutboxStoreError';
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly points: number,
    readonly dir: string,
    options?: { cause?: unknown },
    /** batches deleted to make room before the store failed */
    readonly dropped: DroppedBatch[] = [],
  ) {
    super(message, options);
  }
}

export class Outbox implements ReplaySource {
  readonly dir: string;
  readonly maxBytes: number;
  readonly log: OutboxLog;
  readonly replayLockPath: string;
  readonly storeLockPath: string;
  readonly rejectedDir: string;
  readonly corruptDir: string;
  readonly droppedPath: string;
  private readonly storeLockTimeoutMs: number;
  /** Batches this Outbox stored (this process, this run) and still pending: path → who and how many. */
  private readonly ownFiles = new Map<string, { collector: string; points: number }>();

  constructor(opts: OutboxOptions) {
    if (!opts.dir) throw new Error('outbox: no directory given');
    if (!(Number.isFinite(opts.maxBytes) && opts.maxBytes > 0)) {
      throw new Error(`outbox: the size bound must be a positive number of bytes, got ${String(opts.maxBytes)}`);
    }
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    this.log = opts.log;
    this.storeLockTimeoutMs = opts.storeLockTimeoutMs ?? 10_000;
    this.replayLockPath = join(this.dir, '.replay.lock');
    this.storeLockPath = join(this.dir, '.store.lock');
    this.rejectedDir = join(this.dir, 'rejected');
    this.corruptDir = join(this.dir, 'corrupt');
    this.droppedPath = join(this.dir, 'dropped.json');
  }

  // --- the folder ----------------------------------------------------------------------------

  /**
   * Check the outbox folder before using it: a symbolic link or anything but a directory is
   * refused (ConfigError: files would land wherever it points), a folder wider than 0700 is
   * restricted to 0700 with a warning (it holds the collected data). A missing folder is fine:
   * `store` creates it (0700). Other errors (EACCES, ...) are left for `store` to report with the
   * points it could not save.
   */
  async open(): Promise<void> {
    try {
      await this.ensureDir(false);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      this.log.warn(`outbox: cannot check ${this.dir}: ${describeFsError(e)}`);
    }
  }

  /**
   * Checks the folder (a link or anything but a directory: ConfigError; wider than 0700:
   * restricted, with a warning) and, with `create`, creates it (0700).
   */
  async ensureDir(create: boolean): Promise<void> {
    let warning: string | undefined;
    try {
      warning = await ensurePrivateDir(this.dir, {
        create,
        what: 'the outbox directory',
        hint: 'point METRICS_OUTBOX_DIR (or the state directory) at a real directory that only this user may enter',
      });
    } catch (e) {
      if (e instanceof UnsafeFileError) throw new ConfigError(`outbox: ${e.message}`, { cause: e });
      throw e;
    }
    if (warning) this.log.warn(`outbox: ${warning}`);
  }

  // --- store ---------------------------------------------------------------------------------

  /**
   * Save one batch durably. Resolves once the file is fsynced and renamed into place.
   * Throws `OutboxStoreError` (points NOT saved) on any write error; throws `TypeError` (also not
   * saved) for a line that cannot be stored unaltered (contains '\n' or a lone UTF-16 surrogate).
   * An empty batch stores nothing and returns `{file: '', points: 0, bytes: 0}`.
   */
  async store(lines: string[], meta: { collector: string; reason: string; spareThisRun?: boolean }): Promise<StoreResult> {
    const points = lines.length;
    if (points === 0) return { file: '', points: 0, bytes: 0 };
    const data = encodeBatch(lines, meta);
    const dropped: DroppedBatch[] = [];
    const fail = (e: unknown, what = ''): OutboxStoreError =>
      new OutboxStoreError(
        `outbox: could not save ${points} points from ${meta.collector} to ${this.dir}${what}: ${describeFsError(e)}; ` +
          `the points were NOT saved and are lost unless the source can be collected again`,
        errnoCode(e),
        points,
        this.dir,
        { cause: e },
        dropped,
      );

    try {
      await this.ensureDir(true);
    } catch (e) {
      throw fail(e, ' (creating or checking the directory)');
    }

    let lock: LockResult | undefined;
    try {
      lock = await acquireLockWait(this.storeLockPath, { timeoutMs: this.storeLockTimeoutMs, command: 'outbox store' });
    } catch (e) {
      // something that is not a lock sits at the store lock's path: the data matters more than the bound
      if (!(e instanceof LockFileError)) throw fail(e, ' (taking the store lock)');
      this.log.error(`outbox: ${e.message}; storing without it (the size bound may be exceeded briefly)`);
    }
    try {
      if (lock?.busy) {
        this.log.warn(`outbox: ${lock.message}; storing without it (the size bound may be exceeded briefly)`);
      }
      try {
        await this.makeRoom(data.length, points, meta.collector, dropped, meta.spareThisRun);
      } catch (e) {
        this.log.error(`outbox: could not enforce the size bound of ${this.dir}: ${describeFsError(e)}; storing the batch anyway`);
      }

      const name = nextBatchName();
      const final = join(this.dir, name);
      try {
        await writeFileAtomic(final, data, { mode: 0o600, syncDir: false });
      } catch (e) {
        throw fail(e);
      }
      this.ownFiles.set(final, { collector: meta.collector, points });
      try {
        await fsyncDir(this.dir);
      } catch (e) {
        this.log.warn(`outbox: stored ${final} but could not fsync ${this.dir}: ${describeFsError(e)}; a power loss could still lose it`);
      }
      return { file: final, points, bytes: data.length, dropped };
    } finally {
      if (lock && !lock.busy) await lock.release();
    }
  }

  /**
   * Delete the oldest pending files until `incoming` more bytes fit; log and count the loss (in
   * dropped.json). Every deleted batch is pushed to `out` as it goes (also when a later step fails),
   * flagged `thisRun` when this Outbox stored it. `spareThisRun`: never delete those; when that is
   * not enough, the bound is exceeded until the next store.
   */
  private async makeRoom(
    incoming: number,
    incomingPoints: number,
    collector: string,
    out: DroppedBatch[],
    spareThisRun = false,
  ): Promise<void> {
    const files = await this.scan(this.dir);
    let total = files.reduce((s, f) => s + f.size, 0);
    if (total + incoming <= this.maxBytes) return;
    if (incoming > this.maxBytes) {
      this.log.warn(
        `outbox: a batch of ${incomingPoints} points (${incoming} bytes) from ${collector} is larger than the outbox bound ` +
          `of ${this.maxBytes} bytes; it is stored whole, after dropping everything older`,
      );
    }
    const dropped = {
      files: 0,
      points: 0,
      bytes: 0,
      unknown: 0,
      collectors: new Set<string>(),
      oldest: undefined as string | undefined,
      thisRun: 0,
    };
    try {
      for (const f of files) {
        if (total + incoming <= this.maxBytes) break;
        const own = this.ownFiles.get(f.path);
        if (own && spareThisRun) continue;
        const { header } = await this.readHeader(f.path);
        try {
          await fsp.unlink(f.path);
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') {
            total -= f.size; // replayed or dropped by someone else meanwhile
            this.ownFiles.delete(f.path);
            continue;
          }
          throw e;
        }
        this.ownFiles.delete(f.path);
        total -= f.size;
        dropped.files++;
        dropped.bytes += f.size;
        const points = own?.points ?? header?.lines ?? 0;
        const from = own?.collector ?? header?.collector;
        out.push({ file: f.path, points, ...(from !== undefined ? { collector: from } : {}), thisRun: own !== undefined });
        if (own) dropped.thisRun += points;
        if (header || own) {
          dropped.points += points;
          dropped.collectors.add(from!);
          dropped.oldest ??= header?.created;
        } else {
          dropped.unknown++;
        }
      }
    } finally {
      if (dropped.files > 0) await this.countDropped(dropped, incomingPoints, collector);
    }
    if (spareThisRun && total + incoming > this.maxBytes) {
      this.log.info(
        `outbox: ${this.dir} holds ${total + incoming} bytes, over its bound of ${this.maxBytes}, until the next store: ` +
          `${incomingPoints} points from ${collector} (this run's report) are stored without dropping what this run stored`,
      );
    }
  }

  private async countDropped(
    dropped: {
      files: number;
      points: number;
      bytes: number;
      unknown: number;
      collectors: Set<string>;
      oldest: string | undefined;
      thisRun: number;
    },
    incomingPoints: number,
    collector: string,
  ): Promise<void> {
    await fsyncDir(this.dir).catch(() => {});
    const counter = await this.readDropped();
    counter.points += dropped.points;
    counter.files += dropped.files;
    counter.bytes += dropped.bytes;
    counter.last = { at: new Date().toISOString(), points: dropped.points, files: dropped.files, collectors: [...dropped.collectors] };
    let counted = true;
    try {
      await writeFileAtomic(this.droppedPath, JSON.stringify(counter, null, 2) + '\n');
    } catch {
      counted = false;
    }
    this.log.error(
      `outbox: ${this.dir} is full (bound ${this.maxBytes} bytes): DROPPED the ${dropped.points} oldest points ` +
        `in ${dropped.files} files (${dropped.bytes} bytes` +
        (dropped.unknown ? `, ${dropped.unknown} files with unreadable headers` : '') +
        `; collectors: ${[...dropped.collectors].join(', ') || 'unknown'}` +
        (dropped.oldest ? `; oldest stored ${dropped.oldest}` : '') +
        (dropped.thisRun ? `; ${dropped.thisRun} of them stored earlier in this run: LOST, counted in its summary` : '') +
        `) to make room for ${incomingPoints} new points from ${collector}; ` +
        (counted
          ? `${counter.points} points dropped in total (${this.droppedPath})`
          : `the drop counter ${this.droppedPath} could not be updated`) +
        `. Raise the bound or fix delivery to InfluxDB.`,
    );
  }

  // --- reading -------------------------------------------------------------------------------

  /** Batch files in `dir` (names and sizes), oldest-first. Missing dir → []. */
  private async scan(dir: string): Promise<{ name: string; path: string; size: number }[]> {
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
    names = names.filter((n) => BATCH_NAME.test(n)).sort();
    const out: { name: string; path: string; size: number }[] = [];
    for (const name of names) {
      const path = join(dir, name);
      try {
        const st = await fsp.stat(path);
        if (st.isFile()) out.push({ name, path, size: st.size });
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
    return out;
  }

  /** Read and parse only the header line of a batch file. */
  private async readHeader(path: string): Promise<{ header?: OutboxHeader; problem?: string }> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, 'r');
    } catch (e) {
      return { problem: describeFsError(e) };
    }
    try {
      const buf = Buffer.alloc(HEADER_READ_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (nl < 0) return { problem: bytesRead === 0 ? 'the file is empty' : 'no complete header line (truncated or not an outbox batch)' };
      return { header: parseHeaderLine(buf.toString('utf8', 0, nl)) };
    } catch (e) {
      return { problem: e instanceof OutboxCorruptError ? e.message : describeFsError(e) };
    } finally {
      await fh.close().catch(() => {});
    }
  }

  private async entries(dir: string): Promise<OutboxEntry[]> {
    const files = await this.scan(dir);
    const out: OutboxEntry[] = [];
    for (const f of files) {
      const { header, problem } = await this.readHeader(f.path);
      let created = header ? new Date(header.created) : undefined;
      if (!created || Number.isNaN(created.getTime())) created = timeFromName(f.name) ?? new Date(0);
      const e: OutboxEntry = { ...f, points: header?.lines ?? 0, created };
      if (header) e.header = header;
      if (problem) e.problem = problem;
      out.push(e);
    }
    return out;
  }

  /** Pending batches, oldest-first (headers only are read). */
  async list(): Promise<OutboxEntry[]> {
    return this.entries(this.dir);
  }

  /** Batches in rejected/, oldest-first. */
  async listRejected(): Promise<OutboxEntry[]> {
    return this.entries(this.rejectedDir);
  }

  /** Read and validate one batch file completely (for `outbox show` and replay). */
  async read(path: string): Promise<{ header: OutboxHeader; lines: string[] }> {
    return parseBatch(await fsp.readFile(path));
  }

  private async readDropped(): Promise<DroppedCounter> {
    try {
      // never follows a link, never waits on a FIFO, never reads more than a counter can hold
      const file = await readRegularFile(this.droppedPath, 64 * 1024);
      if (!file) return { points: 0, files: 0, bytes: 0 };
      const v = JSON.parse(file.data.toString('utf8')) as Partial<DroppedCounter>;
      const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
      const c: DroppedCounter = { points: num(v.points), files: num(v.files), bytes: num(v.bytes) };
      if (v.last) c.last = v.last;
      return c;
    } catch {
      return { points: 0, files: 0, bytes: 0 };
    }
  }

  /** The persistent counter of points dropped because the outbox was full. */
  async dropped(): Promise<DroppedCounter> {
    return this.readDropped();
  }

  async status(): Promise<OutboxStatus> {
    await this.ensureDir(false);
    const pending = await this.list();
    const rejected = await this.listRejected();
    let corrupt = 0;
    try {
      corrupt = (await fsp.readdir(this.corruptDir)).filter((n) => !n.endsWith('.reason.txt') && !n.startsWith('.')).length;
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
    const dropped = await this.readDropped();
    const s: OutboxStatus = {
      dir: this.dir,
      maxBytes: this.maxBytes,
      files: pending.length,
      points: pending.reduce((a, e) => a + e.points, 0),
      bytes: pending.reduce((a, e) => a + e.size, 0),
      dropped: dropped.points,
      droppedFiles: dropped.files,
      rejected: {
        files: rejected.length,
        points: rejected.reduce((a, e) => a + e.points, 0),
        bytes: rejected.reduce((a, e) => a + e.size, 0),
      },
      corrupt,
      damaged: pending.filter((e) => e.problem).length,
    };
    if (pending.length > 0) {
      const oldest = Math.min(...pending.map((e) => e.created.getTime()));
      s.oldestAgeSeconds = Math.max(0, Math.round((Date.now() - oldest) / 1000));
    }
    return s;
  }

  // --- replay --------------------------------------------------------------------------------

  /**
   * Send the pending batches oldest-first, one file at a time (only one file's lines are in memory).
   * Holds the replay lock throughout; if another process holds it, returns at once with `busy: true`.
   * Corrupt files go to corrupt/ (logged with the file and the reason) and the replay goes on;
   * rejected batches go to rejected/ with the server's message; 'retry-later' stops the replay.
   * (The steps are in replay.ts.)
   */
  replay(send: ReplaySend, opts: ReplayOptions = {}): Promise<ReplayResult> {
    return replayBatches(this, send, opts);
  }

  /** A batch this Outbox stored is gone (sent by a replay): it is no longer this run's to count. */
  forget(path: string): void {
    this.ownFiles.delete(path);
  }

  /**
   * Keep a fresh batch that the server refused for its data (a 4xx other than 429) for a human:
   * it is stored like any batch and moved straight to rejected/ with the server's message.
   */
  async reject(lines: string[], meta: { collector: string; reason: string }): Promise<string | undefined> {
    const stored = await this.store(lines, meta);
    if (!stored.file) return undefined;
    this.ownFiles.delete(stored.file); // counted as rejected, not as deferred
    const entry = (await this.list()).find((e) => e.path === stored.file);
    if (!entry) return undefined; // a concurrent replay took it: it was sent again and rejected again
    return this.setAside(entry, this.rejectedDir, meta.reason);
  }

  /**
   * Move a batch to `toDir` and write `<name>.reason.txt` beside it. Returns the new path, or
   * undefined when it could not be moved (then it stays in the outbox, logged, and is retried).
   */
  async setAside(entry: OutboxEntry, toDir: string, reason: string): Promise<string | undefined> {
    const dest = join(toDir, entry.name);
    try {
      const warning = await ensurePrivateDir(toDir, { what: 'the outbox folder' });
      if (warning) this.log.warn(`outbox: ${warning}`);
      await fsp.rename(entry.path, dest);
    } catch (e) {
      this.log.error(`outbox: could not move ${entry.path} to ${toDir}: ${describeFsError(e)}; it stays in the outbox`);
      return undefined;
    }
    await fsyncDir(toDir).catch(() => {});
    await fsyncDir(this.dir).catch(() => {});
    const h = entry.header;
    const text =
      `${reason}\n` +
      `file: ${entry.name}\n` +
      `moved: ${new Date().toISOString()}\n` +
      (h ? `collector: ${h.collector}\npoints: ${h.lines}\nstored: ${h.created}\nstored because: ${h.reason}\n` : '');
    try {
      await writeFileAtomic(`${dest}.reason.txt`, redact(text));
    } catch (e) {
      this.log.error(
        `outbox: moved ${entry.path} to ${dest} but could not write its reason file: ${describeFsError(e)}; the reason was: ${reason}`,
      );
    }
    return dest;
  }
}
