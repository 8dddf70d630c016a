/**
 * Replaying the outbox: the pending batches are sent oldest-first, one file at a time (only one
 * file's lines are in memory), under the replay lock (another process replaying → `busy`).
 * Each batch is read, checked, handed to `send`, and acted on by its answer:
 * - delivered ('ok'): the file is deleted;
 * - refused for its data ('rejected'): it moves to rejected/ with the server's message;
 * - not now ('retry-later', or `send` throws): the replay stops, the file stays;
 * - truncated or garbled: it moves to corrupt/ (logged with the reason) and the replay goes on.
 * Temp files of writers that died are removed first.
 *
 * The Outbox class (store.ts) calls this for `Outbox.replay()`, handing itself as the
 * `ReplaySource`; this module does not import store.ts (which imports it).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { TEMP_PREFIX, fsyncDir } from '../../platform/atomic.js';
import { describeFsError, errnoCode } from '../../platform/errors.js';
import type { Logger } from '../../platform/log.js';
import { acquireLock, pidAlive, type LockHolder } from '../lock.js';
import { parseBatch, type Count, type OutboxEntry, type OutboxHeader } from './format.js';

export type SendOutcome =
  | 'ok'
  | 'rejected'
  | 'retry-later'
  | { status: 'ok' }
  | { status: 'rejected'; message: string }
  | { status: 'retry-later'; message?: string };

/**
 * Delivers one batch. Return 'ok' (delivered: the file is deleted), `{status: 'rejected', message}`
 * (the server refused the data, e.g. 400: the file moves to rejected/ with the message), or
 * 'retry-later' (unreachable, timeout, 429, 5xx: replay stops, the file stays). A thrown error is
 * treated like 'retry-later' and reported in `stopped`.
 */
export type ReplaySend = (lines: string[], entry: OutboxEntry) => Promise<SendOutcome>;

export interface ReplayOptions {
  onProgress?(done: Count, total: Count): void;
  /** Message recorded when `send` returns the bare string 'rejected'. */
  rejectedMessage?: string;
}

export interface ReplayResult {
  /** True when another process was replaying: nothing was done. */
  busy: boolean;
  /** With busy: who holds the replay lock. */
  holder?: LockHolder;
  sent: Count;
  rejected: Count;
  /** Files moved to corrupt/. */
  corrupt: number;
  /** Pending files (of those present when the replay started) still in the outbox. */
  remaining: Count;
  /** Why the replay stopped early (retry-later message or send error); absent when it finished. */
  stopped?: string;
}

/** What replaying needs of the outbox (the Outbox class of store.ts). */
export interface ReplaySource {
  readonly dir: string;
  readonly replayLockPath: string;
  readonly rejectedDir: string;
  readonly corruptDir: string;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Checks the folder (a link or a non-directory is refused). */
  ensureDir(create: boolean): Promise<void>;
  /** Pending batches, oldest-first (headers only are read). */
  list(): Promise<OutboxEntry[]>;
  /** Moves a batch to `toDir` with its reason beside it; undefined when it could not be moved. */
  setAside(entry: OutboxEntry, toDir: string, reason: string): Promise<string | undefined>;
  /** The batch is gone (sent): it no longer counts as stored by this process. */
  forget(path: string): void;
}

const zero = (): Count => ({ files: 0, points: 0 });

type Outcome = { status: 'ok' } | { status: 'rejected'; message: string } | { status: 'retry-later'; message?: string };

/** `Outbox.replay()`: see the module comment. */
export async function replayBatches(box: ReplaySource, send: ReplaySend, opts: ReplayOptions = {}): Promise<ReplayResult> {
  await box.ensureDir(false);
  const lock = await acquireLock(box.replayLockPath, { command: 'outbox replay', log: box.log });
  if (lock.busy) {
    const pending = await box.list();
    box.log.info(`outbox: not replaying ${box.dir}: another process is replaying it (${lock.message})`);
    return {
      busy: true,
      holder: lock.holder,
      sent: zero(),
      rejected: zero(),
      corrupt: 0,
      remaining: { files: pending.length, points: pending.reduce((a, e) => a + e.points, 0) },
    };
  }
  const replay = new Replay(box, send, opts);
  let entries: OutboxEntry[] = [];
  let index = 0;
  try {
    await removeDeadTemps(box);
    entries = await box.list();
    const total: Count = { files: entries.length, points: entries.reduce((a, e) => a + e.points, 0) };
    for (; index < entries.length; index++) {
      if ((await replay.batch(entries[index]!, total, entries.length - index)) === 'stop') break;
    }
  } finally {
    await lock.release();
  }
  return replay.result(entries.slice(index));
}

/** The counts of one replay, and the steps for one batch. */
class Replay {
  private readonly sent = zero();
  private readonly rejected = zero();
  private readonly done = zero();
  /** skipped but still in the outbox */
  private readonly stay = zero();
  private corrupt = 0;
  private stopped: string | undefined;

  constructor(
    private readonly box: ReplaySource,
    private readonly send: ReplaySend,
    private readonly opts: ReplayOptions,
  ) {}

  /** One pending batch: read, check, send, act on the answer. `left`: files from this one on. */
  async batch(entry: OutboxEntry, total: Count, left: number): Promise<'next' | 'stop'> {
    const buf = await this.read(entry);
    if (buf === undefined) return 'next';
    let parsed: { header: OutboxHeader; lines: string[] };
    try {
      parsed = parseBatch(buf);
    } catch (e) {
      await this.setAsideCorrupt(entry, e, total);
      return 'next';
    }
    const full: OutboxEntry = { ...entry, header: parsed.header, points: parsed.header.lines };
    delete full.problem;
    const outcome = await this.deliver(parsed.lines, full);
    if (outcome === undefined) return 'stop';
    if (outcome.status === 'ok') {
      await this.delivered(full);
    } else if (outcome.status === 'rejected') {
      if (!(await this.setAsideRejected(full, outcome.message))) return 'next';
    } else if (outcome.status === 'retry-later') {
      this.stopped = outcome.message ?? 'the database asked to retry later';
      this.box.log.warn(`outbox: stopping the replay at ${entry.name}: ${this.stopped}; ${left} files stay in the outbox`);
      return 'stop';
    } else {
      throw new Error(`outbox: send returned an unknown outcome ${JSON.stringify(outcome)}`);
    }
    this.count(this.done, full.points);
    this.opts.onProgress?.({ ...this.done }, total);
    return 'next';
  }

  result(rest: OutboxEntry[]): ReplayResult {
    const result: ReplayResult = {
      busy: false,
      sent: this.sent,
      rejected: this.rejected,
      corrupt: this.corrupt,
      remaining: { files: rest.length + this.stay.files, points: rest.reduce((a, e) => a + e.points, 0) + this.stay.points },
    };
    if (this.stopped !== undefined) result.stopped = this.stopped;
    return result;
  }

  private count(c: Count, points: number): void {
    c.files++;
    c.points += points;
  }

  /** The file's bytes; undefined when it is gone (dropped meanwhile: done) or unreadable (stays). */
  private async read(entry: OutboxEntry): Promise<Buffer | undefined> {
    try {
      return await fsp.readFile(entry.path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') {
        this.count(this.done, entry.points); // dropped by a concurrent store to make room
        return undefined;
      }
      this.box.log.error(`outbox: cannot read ${entry.path}: ${describeFsError(e)}; skipping it, it stays in the outbox`);
      this.count(this.stay, entry.points);
      return undefined;
    }
  }

  private async setAsideCorrupt(entry: OutboxEntry, error: unknown, total: Count): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const dest = await this.box.setAside(entry, this.box.corruptDir, `corrupt outbox batch: ${reason}`);
    if (dest === undefined) {
      this.count(this.stay, entry.points);
      return;
    }
    this.corrupt++;
    this.count(this.done, entry.points);
    this.box.log.error(
      `outbox: ${entry.path} is corrupt (${reason}); moved it to ${dest} ` +
        `(${entry.header ? `${entry.header.lines} points from ${entry.header.collector}` : 'points unknown'} not replayed); ` +
        `replaying the rest`,
    );
    this.opts.onProgress?.({ ...this.done }, total);
  }

  /** `send`'s answer, normalized; undefined when it threw (the replay stops, the batch stays). */
  private async deliver(lines: string[], entry: OutboxEntry): Promise<Outcome | undefined> {
    try {
      const r = await this.send(lines, entry);
      if (typeof r !== 'string') return r;
      return r === 'rejected'
        ? { status: 'rejected', message: this.opts.rejectedMessage ?? 'rejected by the server (no message)' }
        : { status: r };
    } catch (e) {
      this.stopped = `sending ${entry.name} failed: ${e instanceof Error ? e.message : String(e)}`;
      this.box.log.error(`outbox: ${this.stopped}; stopping the replay, the batch stays in the outbox`);
      return undefined;
    }
  }

  private async delivered(entry: OutboxEntry): Promise<void> {
    try {
      await fsp.unlink(entry.path);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') {
        this.box.log.error(
          `outbox: sent ${entry.path} but could not delete it: ${describeFsError(e)}; it will be sent again (harmless: same timestamps)`,
        );
      }
    }
    await fsyncDir(this.box.dir).catch(() => {});
    this.box.forget(entry.path);
    this.count(this.sent, entry.points);
  }

  /** False when it could not be moved: it stays in the outbox. */
  private async setAsideRejected(entry: OutboxEntry, message: string): Promise<boolean> {
    const dest = await this.box.setAside(entry, this.box.rejectedDir, `rejected by the server: ${message}`);
    this.box.log.warn(
      `outbox: the server rejected ${entry.points} points from ${entry.header?.collector} (${entry.name}): ${message}; ` +
        (dest ? `moved to ${dest}, not retried` : 'it stays in the outbox'),
    );
    if (dest === undefined) {
      this.count(this.stay, entry.points);
      return false;
    }
    this.count(this.rejected, entry.points);
    return true;
  }
}

/** Remove temp files left by killed writers (pid gone, or older than an hour). */
async function removeDeadTemps(box: ReplaySource): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(box.dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(TEMP_PREFIX) ? /^(\d+)-/.exec(n.slice(TEMP_PREFIX.length)) : null;
    if (!m) continue;
    const path = join(box.dir, n);
    try {
      const st = await fsp.stat(path);
      if (!pidAlive(Number(m[1])) || Date.now() - st.mtimeMs > 3600_000) {
        await fsp.unlink(path);
        box.log.info(`outbox: removed ${path}, an incomplete write by a process that is gone (never counted as saved)`);
      }
    } catch {
      // gone already
    }
  }
}
