/**
 * Safe file writing: the one place where this tool creates files and private folders.
 *
 * - `writeFileAtomic(path, data, { mode })`: every file we write (systemd units, the generator
 *   script, the logrotate configuration, the state files, the outbox's batches, counters and reason
 *   files). A temp file is created in the same directory with O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW
 *   under an unpredictable name (pid and 64 random bits), written, given its mode exactly (fchmod,
 *   whatever the umask), fsynced, and renamed over the target; then the directory is fsynced. A
 *   reader sees the old file or the new one, never half of it. Nothing planted in the directory is
 *   followed: O_EXCL refuses any existing name (a link included, even a dangling one), and rename()
 *   replaces a link at the target instead of writing through it. On failure the temp file is
 *   removed and the error (with its errno `code`) is thrown.
 * - `symlinkAtomic(target, path)`: a symbolic link put in place the same way (the generator's
 *   enablement links).
 * - `openAppendNoFollow(path)`: the append-only metrics log is not an atomic write; it is opened
 *   with O_WRONLY|O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK and refused unless fstat says it is a
 *   regular file (a link, FIFO, socket, device or directory is reported, never written to, never
 *   waited on).
 * - `readRegularFile(path, maxBytes)` (and its sync twin): small files we read back (lock files,
 *   the outbox's drop counter, units before replacing them) are opened with
 *   O_RDONLY|O_NOFOLLOW|O_NONBLOCK, checked with fstat to be regular files, and read up to a bound:
 *   a link, FIFO, device, directory or oversized file is reported, never followed, waited on or
 *   read whole.
 * - `ensurePrivateDir(dir)`: a folder only this user may enter (the outbox, the state directory's
 *   locks/ and runs/): created with mode 0700, or checked (opened with O_NOFOLLOW|O_DIRECTORY: a
 *   link or a non-directory is refused) and restricted to 0700 when it is wider.
 *
 * Temp files are named `.tmp-<pid>-<16 hex>-<name>.tmp`: hidden, never matching a unit, batch or
 * configuration name, and recognisable (the outbox removes those of dead writers).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, promises as fsp, readSync, readlinkSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_APPEND, O_NONBLOCK, O_DIRECTORY } = constants;

/** Prefix of every temp file this module creates (followed by `<pid>-`). */
export const TEMP_PREFIX = '.tmp-';

export interface AtomicWriteOptions {
  /** permission bits of the file, set exactly whatever the umask (default 0o600) */
  mode?: number;
  /** fsync the directory after the rename (default true; false when the caller does it and wants its error) */
  syncDir?: boolean;
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** node:crypto's randomBytes, loaded at the first temp file: node:crypto is large, and reads (`list`) never need it. */
let randomBytes: typeof import('node:crypto').randomBytes | undefined;

/** An unpredictable temp file name for `path`, in its directory. */
export function tempPath(path: string): string {
  const name = basename(path).slice(0, 100);
  randomBytes ??= (createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')).randomBytes;
  return join(dirname(path), `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}-${name}.tmp`);
}

/** fsync a directory (so that a rename or unlink in it survives a power loss). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, O_RDONLY | O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Write `data` to `path` atomically, never following a link planted at the path or in the
 * directory (see the module comment). Throws the underlying error (ENOSPC, EACCES, ...).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const tmp = tempPath(path);
  let fh: fsp.FileHandle | undefined;
  let created = false;
  try {
    fh = await fsp.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    created = true;
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    if (created) await fsp.unlink(tmp).catch(() => {});
    throw e;
  }
  if (opts.syncDir ?? true) await fsyncDir(dirname(path)).catch(() => {});
}

/**
 * Put a symbolic link `path` → `target` in place atomically: created under a temp name (symlink()
 * never follows anything) and renamed over whatever is at `path` (a planted link is replaced).
 */
export async function symlinkAtomic(target: string, path: string): Promise<void> {
  const tmp = tempPath(path);
  await fsp.symlink(target, tmp);
  try {
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dirname(path)).catch(() => {});
}

/** "a FIFO (named pipe)", "a directory", "a symbolic link (to /dev/zero)", ... */
export function describeFileType(st: Stats, linkTarget?: string): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return `a symbolic link${linkTarget !== undefined ? ` (to ${linkTarget})` : ''}`;
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** What is at `path`, without following it (for messages); undefined when it cannot be told. */
export async function describePath(path: string): Promise<string | undefined> {
  try {
    const st = await fsp.lstat(path);
    const target = st.isSymbolicLink() ? await fsp.readlink(path).catch(() => undefined) : undefined;
    return describeFileType(st, target);
  } catch {
    return undefined;
  }
}

/** A file that is not what it must be (a link, FIFO, device, directory where a regular file belongs). */
export class UnsafeFileError extends Error {
  override readonly name = 'UnsafeFileError';
  constructor(
    message: string,
    readonly path: string,
    /** what is there, e.g. "a FIFO (named pipe)" */
    readonly what: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Open `path` for appending (created if absent with `mode` before umask) without following a link
 * and without blocking on a FIFO; anything but a regular file is refused with `UnsafeFileError`
 * naming the path and what is there. Other errors (EACCES, ENOENT of the directory) are thrown as
 * they are.
 */
export async function openAppendNoFollow(path: string, mode = 0o640): Promise<fsp.FileHandle> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, mode);
  } catch (e) {
    const code = errCode(e);
    // ELOOP: a link (O_NOFOLLOW); ENXIO: a FIFO without a reader, or a socket; EISDIR: a directory
    if (code === 'ELOOP' || code === 'ENXIO' || code === 'EISDIR' || code === 'EOPNOTSUPP') {
      const what = (await describePath(path)) ?? `not a regular file (${code})`;
      throw new UnsafeFileError(`${path} is ${what}, not a regular file: refusing to write to it`, path, what, { cause: e });
    }
    throw e;
  }
  let st: Stats;
  try {
    st = await fh.stat();
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
  if (!st.isFile()) {
    await fh.close().catch(() => {});
    const what = describeFileType(st);
    throw new UnsafeFileError(`${path} is ${what}, not a regular file: refusing to write to it`, path, what);
  }
  return fh;
}

export interface PrivateDirOptions {
  /** create it (mode 0700) when missing; default true. False: a missing folder is fine (returns undefined). */
  create?: boolean;
  /** what the folder is, for messages, e.g. "the outbox directory" */
  what?: string;
  /** how to point the program at another folder, appended to the refusal, e.g. "set METRICS_OUTBOX_DIR" */
  hint?: string;
}

/**
 * Make sure `dir` is a real directory that only this user may enter. Missing: created with mode
 * 0700 (whatever the umask). A link or anything but a directory: `UnsafeFileError`, never used.
 * Wider than 0700: restricted to 0700 (through a descriptor opened with O_NOFOLLOW, so a link
 * swapped in meanwhile is not followed) and a warning is returned for the caller to log; when it
 * cannot be restricted (owned by another user), an error saying so.
 */
export async function ensurePrivateDir(dir: string, opts: PrivateDirOptions = {}): Promise<string | undefined> {
  const what = opts.what ?? 'the directory';
  const hint = opts.hint ? `; ${opts.hint}` : '';
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') {
      if (opts.create === false) return undefined;
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      return ensurePrivateDir(dir, { ...opts, create: false });
    }
    if (code === 'ELOOP' || code === 'ENOTDIR') {
      const kind = (await describePath(dir)) ?? `not a directory (${code})`;
      throw new UnsafeFileError(
        `${what} ${dir} is ${kind}, not a directory: refusing to use it (files written there would land wherever it points)${hint}`,
        dir,
        kind,
        { cause: e },
      );
    }
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isDirectory()) {
      const kind = describeFileType(st);
      throw new UnsafeFileError(`${what} ${dir} is ${kind}, not a directory${hint}`, dir, kind);
    }
    const mode = st.mode & 0o7777;
    if ((mode & 0o077) === 0) return undefined;
    try {
      await fh.chmod(0o700);
    } catch (e) {
      const kind = `a directory with mode ${(mode & 0o777).toString(8).padStart(4, '0')} owned by uid ${st.uid}`;
      throw new UnsafeFileError(
        `${what} ${dir} is ${kind}, which lets other users in, and cannot be restricted to 0700 ` +
          `(${errCode(e) ?? (e as Error).message}): run chmod 700 ${dir} as its owner${hint}`,
        dir,
        kind,
        { cause: e },
      );
    }
    return `${what} ${dir} had mode ${(mode & 0o777).toString(8).padStart(4, '0')}, which lets other users in: set to 0700`;
  } finally {
    await fh.close().catch(() => {});
  }
}

/** The content of a small regular file, read without following links or blocking. */
export interface SmallFile {
  data: Buffer;
  stat: Stats;
}

function unsafeRead(path: string, what: string, cause?: unknown): UnsafeFileError {
  return new UnsafeFileError(
    `${path} is ${what}, not a regular file: refusing to read it`,
    path,
    what,
    cause === undefined ? undefined : { cause },
  );
}

function tooLarge(path: string, size: number, maxBytes: number): UnsafeFileError {
  const what = `a file of ${size} bytes (more than the ${maxBytes} expected)`;
  return new UnsafeFileError(`${path} is ${what}: refusing to read it`, path, what);
}

function describePathSync(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    let target: string | undefined;
    if (st.isSymbolicLink()) {
      try {
        target = readlinkSync(path);
      } catch {
        target = undefined;
      }
    }
    return describeFileType(st, target);
  } catch {
    return undefined;
  }
}

const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** errors of open(O_NOFOLLOW|O_NONBLOCK) that mean "not a regular file" */
const NOT_REGULAR = new Set(['ELOOP', 'ENXIO', 'EOPNOTSUPP']);

/**
 * Read a small regular file: opened with O_RDONLY|O_NOFOLLOW|O_NONBLOCK (a link is not followed,
 * a FIFO never waited on), checked with fstat, and read only when it holds at most `maxBytes`.
 * Returns undefined when nothing is there (ENOENT); anything but a regular file, or a larger one,
 * is an `UnsafeFileError` naming the path and what is there. Other errors are thrown as they are.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<SmallFile | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, READ_FLAGS);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return undefined;
    if (code && NOT_REGULAR.has(code)) throw unsafeRead(path, (await describePath(path)) ?? `not a regular file (${code})`, e);
    throw e;
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw unsafeRead(path, describeFileType(stat));
    if (stat.size > maxBytes) throw tooLarge(path, stat.size, maxBytes);
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw tooLarge(path, n, maxBytes); // it grew meanwhile
    return { data: buf.subarray(0, n), stat };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** `readRegularFile` for the places that cannot wait (an 'exit' handler). */
export function readRegularFileSync(path: string, maxBytes: number): SmallFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return undefined;
    if (code && NOT_REGULAR.has(code)) throw unsafeRead(path, describePathSync(path) ?? `not a regular file (${code})`, e);
    throw e;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw unsafeRead(path, describeFileType(stat));
    if (stat.size > maxBytes) throw tooLarge(path, stat.size, maxBytes);
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    while (n < buf.length) {
      const bytesRead = readSync(fd, buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw tooLarge(path, n, maxBytes);
    return { data: buf.subarray(0, n), stat };
  } finally {
    closeSync(fd);
  }
}
