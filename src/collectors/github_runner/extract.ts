/**
 * Safe extraction of the runners' metrics files from the shared storage, and the quarantine.
 *
 * Every byte under the storage directory was written by untrusted code (a CI job), so:
 * - entries are examined with lstat() and never followed: a runner folder or a metrics file that
 *   is a symbolic link is corrupt data, and its target is never opened;
 * - only regular files are opened (a FIFO, socket or device is corrupt data and never opened), and
 *   they are opened with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, then fstat()ed: what was opened must
 *   be the regular file that lstat() saw (same device and inode), else it is corrupt data;
 * - files inside a runner folder are opened relative to the folder's own open descriptor
 *   (`/proc/self/fd/<fd>/<name>`, Linux's openat()), so swapping the folder for a link after it
 *   was checked cannot redirect the reads;
 * - at most `limit + 1` bytes are ever read from a metrics file, whatever its size says: a file
 *   that grows between the size check and the read is corrupt data, not a memory problem;
 * - folder names are checked (a sane charset, no hidden names, hence no `.`/`..`), and the number
 *   of folders handled in one run is bounded;
 * - the quarantine archive is built from what lstat()/readlink() and the safe reads return (links
 *   are archived as links, FIFOs and devices as their type without content), written under a
 *   temporary name, made durable, and linked to `<runner>.tar.gz` (or `<runner>.<n>.tar.gz`):
 *   an existing archive is never overwritten.
 *
 * Removal (removeEntry) never deletes anything outside `<storage>/<runner>`, whatever a runner
 * process does meanwhile. A by-path recursive removal (Node's fs.rm, or any rm that re-resolves
 * `runner/a/b/file` from the top) checks that `a` is a folder, then uses the path again: a runner
 * that swaps `a` for a link to `/root` in between makes it delete `/root/file`, as root (the
 * attack test shows it within a few dozen removals). So every step is relative to an open folder
 * descriptor and no step follows the final component of a name:
 * - `/proc/self/fd/<fd>/<name>` is Linux's openat()/unlinkat() for Node, which has neither: the
 *   kernel starts from the folder the descriptor holds (wherever it has been moved), never from a
 *   name above it; and unlink(), rmdir(), rename() and lstat() never follow the final component;
 * - the storage is opened once; the runner entry is handled relative to it (a link there is
 *   unlinked, never followed); a folder is opened with O_DIRECTORY | O_NOFOLLOW, and fstat() must
 *   show the device and inode that lstat() saw; its names are read in bounded batches, each
 *   non-folder is unlink()ed (a folder answers EISDIR and is descended into), then the emptied
 *   folder is rmdir()ed relative to its parent's descriptor;
 * - an entry that changes meanwhile (EISDIR, ENOTDIR, ELOOP, ENOTEMPTY, another inode) is
 *   examined again, at most MAX_REMOVAL_ROUNDS times, then the removal gives up naming the path;
 * - a folder on another device than the runner folder, or on another mount (a bind mount of the
 *   same file system: `mnt_id` in /proc/self/fdinfo), is never descended into: one file system;
 * - at most MAX_REMOVAL_DEPTH folders are open at once: a folder deeper than that is renamed up
 *   into the runner folder (relative to both descriptors) and removed from there, so neither the
 *   descriptor count nor any path length grows with the depth (no ENAMETOOLONG past PATH_MAX);
 * - without /proc/self/fd, removal refuses to run rather than fall back to paths.
 *
 * What can be neither removed nor quarantined (an entry that cannot be unlinked, a corrupt
 * folder too big, too deep or with too many entries to archive) is parked: renamed, relative to
 * the storage's descriptor, to a hidden `.parked-<runner>-<UTC time>` that no later run scans, so
 * it neither fails every later run nor has its events issued again.
 *
 * Why not spawn coreutils `rm -rf --one-file-system`? GNU rm walks with openat() (fts) and guards
 * against this race too, but then the guarantee would be a property of whichever `rm` is on the
 * PATH (busybox rm, or a future rewrite, may not give it), we could not check dev/ino against what
 * we decided on, nor bound the rounds, nor say which entry failed and why; and it costs a child
 * process per runner folder. The steps above keep the guarantee in this file, where the attack
 * test exercises it.
 *
 * Nothing here issues events or logs: the collector (github_runner.ts) decides what to do with
 * the results.
 */
import { constants, existsSync, readFileSync, type Stats } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, opendir, readlink, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// The storage layout

/** The files a runner's hooks write into its folder. */
export const FILES = {
  installationStart: 'runner-installation-start.timestamp',
  installed: 'runner-installed.timestamp',
  preJob: 'pre-job-metrics.json',
  postJob: 'post-job-metrics.json',
} as const;

const KNOWN_FILES: ReadonlySet<string> = new Set(Object.values(FILES));

/** Each metrics file is at most this many bytes (a denial-of-service guard). */
export const DEFAULT_MAX_FILE_BYTES = 1024;
/** Runner folders handled in one run; the rest wait for the next run. */
export const DEFAULT_MAX_RUNNERS = 100;
/**
 * Seconds an unlisted folder must be left unmodified before it counts as an orphan: the runner
 * manager's runner-creation timeout (5.5 minutes), so that the folder of a runner still being
 * created, not yet in the live list, is never taken for the folder of a runner gone.
 */
export const DEFAULT_MIN_AGE_SECONDS = 330;
/** Bytes of file content one quarantine archive may hold (before compression). */
export const DEFAULT_MAX_QUARANTINE_BYTES = 16 * 1024 * 1024;
/** Entries (files, links, folders…) one quarantine archive may hold. */
export const MAX_ARCHIVE_ENTRIES = 1000;
/** Folder depth inside a runner folder that a quarantine archive follows. */
export const MAX_ARCHIVE_DEPTH = 16;
/** Timestamps after 2100-01-01 are out of range (InfluxDB cannot store times after 2262 anyway). */
export const MAX_TIMESTAMP = 4_102_444_800;

/** A runner folder's name: letters, digits, `_`, `.`, `-`; starts with a letter or digit; ≤ 128. */
export const RUNNER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isValidRunnerName(name: string): boolean {
  return RUNNER_NAME.test(name);
}

// ---------------------------------------------------------------------------------------------
// Schemas of the metrics files (unknown keys are ignored, as the reference's pydantic models do)

// biome-ignore lint/suspicious/noControlCharactersInRegex: the metrics files' texts are refused when they hold a control character
const controlChars = /[\u0000-\u001f\u007f]/;
const text = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !controlChars.test(s), 'must not contain control characters (newline, tab…)')
    .refine((s) => !s.endsWith('\\'), 'must not end with a backslash');

const timestamp = z.number().nonnegative().max(MAX_TIMESTAMP, `must be a UNIX time in seconds before 2100 (<= ${MAX_TIMESTAMP})`);

export const PreJobMetrics = z.object({
  timestamp,
  workflow: text(256),
  workflow_run_id: text(64),
  repository: z
    .string()
    .max(256, 'must be at most 256 characters')
    .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be "owner/name"'),
  event: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a GitHub event name such as push or pull_request'),
});
export type PreJobMetrics = z.output<typeof PreJobMetrics>;

export const POST_JOB_STATUSES = ['normal', 'abnormal', 'repo-policy-check-failure'] as const;

export const PostJobMetrics = z.object({
  timestamp,
  status: z.enum(POST_JOB_STATUSES),
  status_info: z
    .object({ code: z.int().min(-2_147_483_648).max(2_147_483_647) })
    .nullish()
    .transform((v) => v ?? undefined),
});
export type PostJobMetrics = z.output<typeof PostJobMetrics>;

/** What one runner folder holds, validated. */
export interface RunnerMetrics {
  runner: string;
  /** UNIX seconds; absent when the file is absent */
  installationStart?: number;
  installed?: number;
  preJob?: PreJobMetrics;
  postJob?: PostJobMetrics;
  /** names of entries that are not metrics files (ignored; removed with the folder), at most 10 */
  unknown: string[];
  /** how many such entries there are */
  unknownCount: number;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** The data of a runner folder is corrupt or hostile: quarantine it, issue nothing of it. */
export class CorruptDataError extends Error {
  override name = 'CorruptDataError';
  constructor(
    message: string,
    /** bytes read from the file when the problem was found (for oversized files) */
    readonly bytesRead?: number,
  ) {
    super(message);
  }
}

/** Something on this side failed (permissions, I/O): leave the folder for the next run. */
export class ExtractionError extends Error {
  override name = 'ExtractionError';
}

/** The folder could not be quarantined (changed meanwhile, I/O): it stays in place for the next run. */
export class QuarantineError extends Error {
  override name = 'QuarantineError';
}

/** The folder is over the archive's bounds (bytes, entries, depth): no later run can quarantine it either. */
export class QuarantineLimitError extends QuarantineError {
  override name = 'QuarantineLimitError';
}

const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException)?.code;
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** "a symbolic link", "a FIFO"… for messages. */
export function describeType(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown file type';
}

/** A name as it may appear in a log line (quoted when it has anything unusual). */
export function showName(name: string): string {
  return /^[A-Za-z0-9_.+=@-]+$/.test(name) ? name : JSON.stringify(name);
}

// ---------------------------------------------------------------------------------------------
// Opening folders without following links

const O_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const O_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

let procFdWorks: boolean | undefined;
/** Linux's /proc/self/fd, our openat(): present on any Linux with /proc mounted. */
function procFd(): boolean {
  procFdWorks ??= existsSync('/proc/self/fd');
  return procFdWorks;
}

/** An open folder: `path(name)` names an entry in it, relative to the open descriptor when possible. */
interface Folder {
  readonly handle: FileHandle;
  path(name: string): string;
  pathOf(name: Buffer): Buffer;
  close(): Promise<void>;
}

/** Opens a folder with O_NOFOLLOW | O_DIRECTORY: a link or a non-folder throws CorruptDataError. */
async function openFolder(path: string | Buffer, shown: string): Promise<Folder> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_DIR);
  } catch (error) {
    if (code(error) === 'ELOOP' || code(error) === 'ENOTDIR')
      throw new CorruptDataError(`${shown} is not a folder (it changed while being read)`);
    if (code(error) === 'ENOENT') throw new CorruptDataError(`${shown} vanished while being read`);
    throw new ExtractionError(`cannot open the folder ${shown}: ${message(error)}`);
  }
  const base = procFd() ? `/proc/self/fd/${handle.fd}` : typeof path === 'string' ? path : path.toString();
  const baseBuf = procFd() ? Buffer.from(base) : typeof path === 'string' ? Buffer.from(path) : path;
  return {
    handle,
    path: (name) => `${base}/${name}`,
    pathOf: (name) => Buffer.concat([baseBuf, Buffer.from('/'), name]),
    close: () => handle.close().catch(() => undefined),
  };
}

async function lstatOrUndefined(path: string | Buffer): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading one metrics file

export interface ReadHooks {
  /** called after the checks and before the read (tests: grow the file in between) */
  beforeRead?: (name: string) => void | Promise<void>;
}

/**
 * Reads a small file: undefined when absent; CorruptDataError when it is not a regular file (it
 * is then never opened), is a hard link, or holds more than `limit` bytes (at most `limit + 1`
 * bytes are read, whatever happens to the file meanwhile).
 */
export async function readBoundedFile(path: string, shown: string, limit: number, hooks: ReadHooks = {}): Promise<Buffer | undefined> {
  let st: Stats | undefined;
  try {
    st = await lstatOrUndefined(path);
  } catch (error) {
    throw new ExtractionError(`cannot examine ${shown}: ${message(error)}`);
  }
  if (!st) return undefined;
  if (!st.isFile()) throw new CorruptDataError(`${shown} is ${describeType(st)}, not a regular file`);
  if (st.nlink > 1) throw new CorruptDataError(`${shown} is a hard link (${st.nlink} names), not a file of its own`);
  if (st.size > limit) throw new CorruptDataError(`${shown} is ${st.size} bytes, over the limit of ${limit} bytes`);
  let fh: FileHandle;
  try {
    fh = await open(path, O_FILE);
  } catch (error) {
    if (code(error) === 'ELOOP') throw new CorruptDataError(`${shown} became a symbolic link while being read`);
    if (code(error) === 'ENOENT') throw new CorruptDataError(`${shown} vanished while being read`);
    if (code(error) === 'ENXIO') throw new CorruptDataError(`${shown} became a socket or device while being read`);
    throw new ExtractionError(`cannot open ${shown}: ${message(error)}`);
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) {
      throw new CorruptDataError(`${shown} was replaced while being read (now ${describeType(fst)})`);
    }
    await hooks.beforeRead?.(shown);
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > limit) throw new CorruptDataError(`${shown} grew over the limit of ${limit} bytes while being read`, n);
    return buf.subarray(0, n);
  } catch (error) {
    if (error instanceof CorruptDataError) throw error;
    throw new ExtractionError(`cannot read ${shown}: ${message(error)}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(data: Buffer, shown: string): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new CorruptDataError(`${shown} is not UTF-8 text`);
  }
}

/** A timestamp file: decimal UNIX seconds (`1700000000`, `1700000000.123456789`), blanks around. */
export function parseTimestampText(raw: string, shown: string): number {
  const t = raw.trim();
  if (!/^[0-9]{1,12}(\.[0-9]{1,12})?$/.test(t)) {
    throw new CorruptDataError(`${shown} must hold a UNIX time in seconds such as 1700000000.5, got ${JSON.stringify(t.slice(0, 40))}`);
  }
  const n = Number(t);
  if (!(n <= MAX_TIMESTAMP)) throw new CorruptDataError(`${shown}: ${t} is out of range (a UNIX time in seconds before 2100)`);
  return n;
}

function zodProblems(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? `field "${i.path.join('.')}"` : 'the value'}: ${i.message}`)
    .join('; ');
}

/** A JSON metrics file, validated by `schema`: invalid JSON, a non-object or a bad field is corrupt. */
export function parseJsonMetrics<S extends z.ZodType>(raw: string, shown: string, schema: S): z.output<S> {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    throw new CorruptDataError(`${shown} is not valid JSON (${message(error)})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    const what = data === null ? 'null' : Array.isArray(data) ? 'an array' : `a ${typeof data}`;
    throw new CorruptDataError(`${shown} must hold a JSON object, got ${what}`);
  }
  const result = schema.safeParse(data);
  if (!result.success) throw new CorruptDataError(`${shown}: ${zodProblems(result.error)}`);
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// One runner folder

export interface ReadFolderOptions extends ReadHooks {
  maxFileBytes: number;
}

/**
 * Reads and validates a runner folder. Throws CorruptDataError (quarantine it) or ExtractionError
 * (a failure on this side: leave it). Never follows a link, never opens a non-regular file.
 */
export async function readRunnerFolder(storage: string, runner: string, opts: ReadFolderOptions): Promise<RunnerMetrics> {
  const where = join(storage, runner);
  let st: Stats | undefined;
  try {
    st = await lstatOrUndefined(where);
  } catch (error) {
    throw new ExtractionError(`cannot examine ${where}: ${message(error)}`);
  }
  if (!st) throw new ExtractionError(`${where} vanished before it was read`);
  if (!st.isDirectory()) throw new CorruptDataError(`${where} is ${describeType(st)}, not a runner folder`);
  const folder = await openFolder(where, where);
  try {
    const fst = await folder.handle.stat();
    if (fst.ino !== st.ino || fst.dev !== st.dev) throw new CorruptDataError(`${where} was replaced while being read`);
    const read = async (name: string): Promise<string | undefined> => {
      const data = await readBoundedFile(folder.path(name), `${where}/${name}`, opts.maxFileBytes, opts);
      return data === undefined ? undefined : decode(data, `${where}/${name}`);
    };
    const out: RunnerMetrics = { runner, unknown: [], unknownCount: 0 };
    const startText = await read(FILES.installationStart);
    if (startText !== undefined) out.installationStart = parseTimestampText(startText, `${where}/${FILES.installationStart}`);
    const installedText = await read(FILES.installed);
    if (installedText !== undefined) out.installed = parseTimestampText(installedText, `${where}/${FILES.installed}`);
    const pre = await read(FILES.preJob);
    if (pre !== undefined) out.preJob = parseJsonMetrics(pre, `${where}/${FILES.preJob}`, PreJobMetrics);
    const post = await read(FILES.postJob);
    if (post !== undefined) out.postJob = parseJsonMetrics(post, `${where}/${FILES.postJob}`, PostJobMetrics);

    // other entries: ignored (not read), reported, removed with the folder
    try {
      const dir = await opendir(folder.path('.'));
      for await (const entry of dir) {
        if (KNOWN_FILES.has(entry.name)) continue;
        out.unknownCount++;
        if (out.unknown.length < 100) out.unknown.push(entry.name);
        if (out.unknownCount >= 100_000) break; // enough to say "many"; leaving the loop closes the listing
      }
    } catch (error) {
      throw new ExtractionError(`cannot list ${where}: ${message(error)}`);
    }
    out.unknown = out.unknown.sort().slice(0, 10);
    return out;
  } finally {
    await folder.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Scanning the storage

export interface ScanOptions {
  /** when set, only these runners are handled */
  include?: ReadonlySet<string>;
  /** never handled: runners still alive */
  exclude: ReadonlySet<string>;
  maxRunners: number;
  /**
   * without an include list, a folder modified less than this many milliseconds ago (lstat
   * mtime, the future included) is left for a later run; 0 = no grace period
   */
  minAgeMs: number;
  /** now, in milliseconds since the epoch */
  now: number;
}

export interface ScanResult {
  /** names to handle this run, sorted */
  selected: string[];
  /** excluded by name (alive), or not in the include list */
  excluded: number;
  /** modified less than minAgeMs ago: left for a later run */
  young: number;
  /** valid folders left for the next run (over maxRunners) */
  overBound: number;
  /** entries with a name that is not a runner name (never touched); the first 10 are listed */
  invalid: string[];
  invalidCount: number;
  /** hidden entries (name starting with a dot): never touched */
  hidden: number;
  /** of which parked by earlier runs (`.parked-*`), waiting for an operator */
  parked: number;
}

/** True when the entry (lstat: a link is not followed) was modified less than `ms` before `now`, or in the future. */
async function modifiedWithin(path: string, ms: number, now: number): Promise<boolean> {
  let st: Stats | undefined;
  try {
    st = await lstatOrUndefined(path);
  } catch {
    return false; // handled (and its error reported) like any other folder
  }
  return st !== undefined && now - st.mtimeMs < ms;
}

/** Lists the storage without reading anything under it (the entries' lstat() only, for their age). */
export async function scanStorage(storage: string, opts: ScanOptions): Promise<ScanResult> {
  const out: ScanResult = { selected: [], excluded: 0, young: 0, overBound: 0, invalid: [], invalidCount: 0, hidden: 0, parked: 0 };
  const dir = await opendir(storage);
  for await (const entry of dir) {
    const name = entry.name;
    if (name.startsWith('.')) {
      out.hidden++;
      if (name.startsWith(PARKED_PREFIX)) out.parked++;
    } else if (!isValidRunnerName(name)) {
      out.invalidCount++;
      if (out.invalid.length < 10) out.invalid.push(name);
    } else if (opts.exclude.has(name) || (opts.include !== undefined && !opts.include.has(name))) {
      out.excluded++;
    } else if (opts.include === undefined && opts.minAgeMs > 0 && (await modifiedWithin(join(storage, name), opts.minAgeMs, opts.now))) {
      // an unlisted folder this young may belong to a runner still being created: not an orphan yet
      out.young++;
    } else if (out.selected.length < opts.maxRunners) {
      out.selected.push(name);
    } else {
      out.overBound++;
    }
  }
  out.selected.sort();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Removal

/** Folder depth below the runner folder that removal walks with open descriptors (its descriptor bound). */
export const MAX_REMOVAL_DEPTH = 64;
/** Times one entry may change under the removal (a folder became a link, got new entries…) before it gives up. */
export const MAX_REMOVAL_ROUNDS = 5;
/** Names read from a folder at once: the listing is closed before they are removed. */
const REMOVAL_LIST_CHUNK = 256;

/** A runner folder could not be removed (permissions, a mount point, an entry changing faster than it is removed). */
export class RemovalError extends Error {
  override name = 'RemovalError';
}

export interface RemoveOptions {
  /** stops the removal (a RemovalError) when aborted: the collector's time limit */
  signal?: AbortSignal;
}

/** True when /proc/self/fd works: removal and parking refuse to run without it. */
export function canRemoveSafely(): boolean {
  return procFd();
}

/** A system error without the `/proc/self/fd/<n>/…` path Node appends (the message names the real path). */
function sysMessage(error: unknown): string {
  return message(error).replace(/, (\w+) '\/proc\/self\/fd\/[^']*'( -> '[^']*')?$/, ' ($1)');
}

function requireProcFd(what: string): void {
  if (!procFd()) {
    throw new RemovalError(
      `refusing to ${what}: /proc/self/fd is not available, and without it a removal could follow a link swapped in by a runner; ` +
        `mount /proc (the collector needs Linux with /proc)`,
    );
  }
}

/** Shown paths stay readable for folders nested thousands deep: the head and the tail. */
function subShown(shown: string, name: Buffer | string): string {
  const s = `${shown}/${typeof name === 'string' ? name : name.toString('utf8')}`;
  return s.length <= 480 ? s : `${s.slice(0, 200)}/…/${s.slice(-240)}`;
}

/** An open folder addressed only through its descriptor. */
function folderAt(handle: FileHandle): Folder {
  const base = `/proc/self/fd/${handle.fd}`;
  const baseBuf = Buffer.from(base);
  return {
    handle,
    path: (name) => `${base}/${name}`,
    pathOf: (name) => Buffer.concat([baseBuf, Buffer.from('/'), name]),
    close: () => handle.close().catch(() => undefined),
  };
}

interface RemovalState {
  signal?: AbortSignal;
  /** the runner folder: its device, its open descriptor (deep folders are moved up into it), its shown path */
  dev?: number;
  /** the runner folder's mount (`mnt_id` of /proc/self/fdinfo), when the kernel tells it */
  mount?: string;
  top?: Folder;
  topShown: string;
}

function checkAbort(state: RemovalState, shown: string): void {
  if (state.signal?.aborted)
    throw new RemovalError(`${shown}: the removal was stopped by the time limit (METRICS_TIMEOUT) before it finished`);
}

/**
 * Removes the entry `name` of the open folder `parent`: a non-folder is unlinked, a folder is
 * emptied through its own descriptor and then rmdir()ed. Every system call names the entry
 * relative to an open descriptor (`/proc/self/fd/<fd>/<name>`), and none follows the final
 * component, so a link swapped in at any moment is removed as a link, never followed.
 */
async function removeAt(parent: Folder, name: Buffer, shown: string, depth: number, state: RemovalState): Promise<void> {
  const path = parent.pathOf(name);
  for (let round = 1; ; round++) {
    checkAbort(state, shown);
    if (round > MAX_REMOVAL_ROUNDS) {
      throw new RemovalError(
        `${shown} kept changing while being removed (${MAX_REMOVAL_ROUNDS} attempts): is a runner process still writing to it?`,
      );
    }
    // a file, a link (removed, never followed), a FIFO, a socket, a device: unlinked at once
    let unlinkError: unknown;
    try {
      await unlink(path);
      return;
    } catch (error) {
      if (code(error) === 'ENOENT') return;
      // a folder answers EISDIR, unless a permission check (EACCES, EPERM) answered first
      if (code(error) !== 'EISDIR') unlinkError = error;
    }
    let st: Stats;
    try {
      st = await lstat(path);
    } catch (error) {
      if (code(error) === 'ENOENT') return;
      throw new RemovalError(`cannot examine ${shown} to remove it: ${sysMessage(error)}`);
    }
    if (!st.isDirectory()) {
      if (unlinkError !== undefined) throw new RemovalError(`cannot remove ${shown}: ${sysMessage(unlinkError)}`);
      continue; // no longer a folder: look again
    }
    // a folder
    if (depth === 0) {
      state.dev = st.dev;
    } else if (st.dev !== state.dev) {
      throw new RemovalError(
        `${shown} is on another file system than its runner folder (a mount point?): removal does not descend into it; unmount it, ` +
          `then remove ${state.topShown} by hand`,
      );
    }
    if (depth > MAX_REMOVAL_DEPTH) {
      // keep the open descriptors bounded: move the folder up into the runner folder (rename
      // never follows the final component) and remove it from there, at a small depth again
      if (await moveUp(parent, name, shown, state)) return;
      continue;
    }
    let folder: Folder;
    try {
      folder = folderAt(await open(path, O_DIR));
    } catch (error) {
      if (code(error) === 'ENOENT') return;
      if (code(error) === 'ELOOP' || code(error) === 'ENOTDIR') continue; // swapped for a link or a file: look again
      throw new RemovalError(`cannot open ${shown} to remove it: ${sysMessage(error)}`);
    }
    try {
      const fst = await folder.handle.stat();
      if (fst.dev !== st.dev || fst.ino !== st.ino) continue; // not the folder lstat() saw: look again
      // a bind mount of a folder of the same file system has the same device: compare the mounts
      const mount = mountId(folder);
      if (depth === 0) state.mount = mount;
      else if (mount !== state.mount) {
        throw new RemovalError(
          `${shown} is a mount point inside its runner folder (a bind mount?): removal does not descend into it; unmount it, then ` +
            `remove ${state.topShown} by hand`,
        );
      }
      if (depth === 0) state.top = folder;
      await emptyFolder(folder, shown, depth, state);
    } finally {
      if (depth === 0) state.top = undefined;
      await folder.close();
    }
    try {
      await rmdir(path);
      return;
    } catch (error) {
      if (code(error) === 'ENOENT') return;
      // new entries (ENOTEMPTY/EEXIST), or the name is no longer a folder (ENOTDIR): look again
      if (code(error) === 'ENOTEMPTY' || code(error) === 'EEXIST' || code(error) === 'ENOTDIR') continue;
      throw new RemovalError(`cannot remove the folder ${shown}: ${sysMessage(error)}`);
    }
  }
}

/** The mount an open folder is on (`mnt_id:` of /proc/self/fdinfo/<fd>, Linux 3.15+); undefined when not told. */
function mountId(folder: Folder): string | undefined {
  try {
    // procfs, in memory: read synchronously (four thread-pool round trips per folder otherwise)
    const info = readFileSync(`/proc/self/fdinfo/${folder.handle.fd}`, 'utf8');
    return /^mnt_id:\s*(\d+)$/m.exec(info)?.[1];
  } catch {
    return undefined;
  }
}

/** Removes every entry of an open folder, a bounded batch of names at a time, until it is empty. */
async function emptyFolder(folder: Folder, shown: string, depth: number, state: RemovalState): Promise<void> {
  for (;;) {
    checkAbort(state, shown);
    const names: Buffer[] = [];
    try {
      const dir = await opendir(folder.path('.'), { encoding: 'buffer' } as unknown as Parameters<typeof opendir>[1]);
      try {
        for (let entry = await dir.read(); entry !== null; entry = await dir.read()) {
          names.push(entry.name as unknown as Buffer);
          if (names.length >= REMOVAL_LIST_CHUNK) break;
        }
      } finally {
        await dir.close().catch(() => undefined);
      }
    } catch (error) {
      throw new RemovalError(`cannot list ${shown} to remove it: ${sysMessage(error)}`);
    }
    if (names.length === 0) return;
    for (const name of names) await removeAt(folder, name, subShown(shown, name), depth + 1, state);
  }
}

/** Moves a deep entry up into the runner folder under a fresh hidden name; false when the name was taken. */
async function moveUp(parent: Folder, name: Buffer, shown: string, state: RemovalState): Promise<boolean> {
  const top = state.top!;
  const newName = `.removing-${randomBytes(8).toString('hex')}`;
  try {
    // a fresh random name: rename() would replace an entry of that name, and none can be expected
    if (await lstatOrUndefined(top.path(newName))) return false;
    await rename(parent.pathOf(name), top.path(newName));
    return true;
  } catch (error) {
    if (code(error) === 'ENOENT') return true; // gone meanwhile
    throw new RemovalError(
      `cannot move ${shown} up to ${state.topShown}/${newName} to remove it (it is nested over ${MAX_REMOVAL_DEPTH} deep): ` +
        `${sysMessage(error)}`,
    );
  }
}

/** Opens the storage directory (its path is the operator's: a link there is followed). */
async function openStorage(storage: string): Promise<Folder> {
  try {
    return folderAt(await open(storage, constants.O_RDONLY | constants.O_DIRECTORY));
  } catch (error) {
    throw new RemovalError(`cannot open the storage ${storage}: ${sysMessage(error)}`);
  }
}

/**
 * Removes the entry `<storage>/<runner>`, whatever it is, and never anything outside it: a
 * folder with everything in it, a link as a link (never its target). See the module comment.
 */
export async function removeEntry(storage: string, runner: string, opts: RemoveOptions = {}): Promise<void> {
  const shown = join(storage, runner);
  if (!isValidRunnerName(runner)) throw new RemovalError(`refusing to remove ${JSON.stringify(runner)}: not a runner name`);
  requireProcFd(`remove ${shown}`);
  const store = await openStorage(storage);
  try {
    await removeAt(store, Buffer.from(runner), shown, 0, { signal: opts.signal, topShown: shown });
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Parking: setting aside what can be neither removed nor quarantined

/** The prefix of parked entries: hidden, so never scanned as runner folders. */
export const PARKED_PREFIX = '.parked-';

/** `20250101T120000Z` */
function utcStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Renames `<storage>/<runner>` (whatever it is) to `<storage>/.parked-<runner>-<UTC time>`,
 * relative to the storage's open descriptor (rename never follows the final component), so that
 * later runs never see it again. Returns the new path.
 */
export async function parkEntry(storage: string, runner: string, now: Date = new Date()): Promise<string> {
  const shown = join(storage, runner);
  if (!isValidRunnerName(runner)) throw new RemovalError(`refusing to park ${JSON.stringify(runner)}: not a runner name`);
  requireProcFd(`park ${shown}`);
  const store = await openStorage(storage);
  try {
    const stamp = utcStamp(now);
    for (let n = 1; n <= 100; n++) {
      const name = `${PARKED_PREFIX}${runner}-${stamp}${n > 1 ? `-${n}` : ''}`;
      try {
        if (await lstatOrUndefined(store.path(name))) continue;
        await rename(store.path(runner), store.path(name));
        return join(storage, name);
      } catch (error) {
        throw new RemovalError(`cannot set ${shown} aside as ${join(storage, name)}: ${sysMessage(error)}`);
      }
    }
    throw new RemovalError(`cannot set ${shown} aside: 100 parked entries named ${PARKED_PREFIX}${runner}-${stamp}… exist already`);
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Quarantine

export interface QuarantineOptions {
  maxBytes: number;
  /** told about entries that a tar archive cannot hold (sockets) */
  warn?: (message: string) => void;
}

export interface QuarantineResult {
  archive: string;
  /** archived entries (the folder itself included) */
  entries: number;
  bytes: number;
}

/** Creates the quarantine directory (mode 0700) or checks the existing one; returns a warning, if any. */
export async function ensureQuarantineDir(dir: string): Promise<string | undefined> {
  const st = await lstatOrUndefined(dir).catch((error) => {
    throw new QuarantineError(`cannot examine the quarantine directory ${dir}: ${message(error)}`);
  });
  if (!st) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700); // whatever the umask
    } catch (error) {
      throw new QuarantineError(`cannot create the quarantine directory ${dir} (RUNNER_METRICS_QUARANTINE): ${message(error)}`);
    }
    return undefined;
  }
  if (st.isSymbolicLink())
    throw new QuarantineError(`the quarantine directory ${dir} is a symbolic link: set RUNNER_METRICS_QUARANTINE to the real directory`);
  if (!st.isDirectory()) throw new QuarantineError(`the quarantine directory ${dir} is ${describeType(st)}, not a directory`);
  if ((st.mode & 0o077) !== 0) {
    try {
      await chmod(dir, 0o700);
    } catch (error) {
      throw new QuarantineError(
        `the quarantine directory ${dir} has mode ${(st.mode & 0o777).toString(8)} and cannot be made 0700: ${message(error)}`,
      );
    }
    return `the quarantine directory ${dir} had mode ${(st.mode & 0o777).toString(8)}: set to 0700`;
  }
  return undefined;
}

interface ArchiveItem {
  path: string;
  type: 'File' | 'Directory' | 'SymbolicLink' | 'FIFO' | 'CharacterDevice' | 'BlockDevice';
  st: Stats;
  linkpath?: string;
  data?: Buffer;
}

interface WalkState {
  items: ArchiveItem[];
  bytes: number;
  maxBytes: number;
  warn: (message: string) => void;
}

function addItem(state: WalkState, item: ArchiveItem, shown: string): void {
  if (state.items.length >= MAX_ARCHIVE_ENTRIES) {
    throw new QuarantineLimitError(`${shown}: more than ${MAX_ARCHIVE_ENTRIES} entries: too many to quarantine`);
  }
  state.items.push(item);
}

/** Reads a regular file for the archive: opened without following links, checked, bounded. */
async function readForArchive(path: Buffer, st: Stats, shown: string, state: WalkState): Promise<Buffer> {
  if (state.bytes + st.size > state.maxBytes) {
    throw new QuarantineLimitError(
      `${shown}: more than ${state.maxBytes} bytes (RUNNER_METRICS_MAX_QUARANTINE_BYTES) to archive: too big to quarantine`,
    );
  }
  let fh: FileHandle;
  try {
    fh = await open(path, O_FILE);
  } catch (error) {
    throw new QuarantineError(`cannot open ${shown} to archive it: ${message(error)}`);
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) throw new QuarantineError(`${shown} changed while being archived`);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    state.bytes += n;
    return buf.subarray(0, n);
  } catch (error) {
    if (error instanceof QuarantineError) throw error;
    throw new QuarantineError(`cannot read ${shown} to archive it: ${message(error)}`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Adds one entry (and, for a folder, what it holds) to the archive list. */
async function walkEntry(path: Buffer, archivePath: string, shown: string, depth: number, state: WalkState): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (error) {
    throw new QuarantineError(`cannot examine ${shown} to archive it: ${message(error)}`);
  }
  if (st.isDirectory()) {
    if (depth > MAX_ARCHIVE_DEPTH)
      throw new QuarantineLimitError(`${shown}: folders nested deeper than ${MAX_ARCHIVE_DEPTH}: too deep to quarantine`);
    addItem(state, { path: archivePath + '/', type: 'Directory', st }, shown);
    let folder: Folder;
    try {
      folder = await openFolder(path, shown);
    } catch (error) {
      throw new QuarantineError(`cannot open ${shown} to archive it: ${message(error)}`);
    }
    try {
      const fst = await folder.handle.stat();
      if (fst.ino !== st.ino || fst.dev !== st.dev) throw new QuarantineError(`${shown} changed while being archived`);
      const names: Buffer[] = [];
      const dir = await opendir(folder.path('.'), { encoding: 'buffer' } as unknown as Parameters<typeof opendir>[1]);
      for await (const entry of dir) {
        names.push(entry.name as unknown as Buffer);
        if (state.items.length + names.length > MAX_ARCHIVE_ENTRIES) {
          throw new QuarantineLimitError(`${shown}: more than ${MAX_ARCHIVE_ENTRIES} entries: too many to quarantine`);
        }
      }
      names.sort(Buffer.compare);
      for (const name of names) {
        const nameText = name.toString('utf8');
        await walkEntry(folder.pathOf(name), `${archivePath}/${nameText}`, `${shown}/${nameText}`, depth + 1, state);
      }
    } catch (error) {
      if (error instanceof QuarantineError) throw error;
      throw new QuarantineError(`cannot list ${shown} to archive it: ${message(error)}`);
    } finally {
      await folder.close();
    }
  } else if (st.isFile()) {
    addItem(state, { path: archivePath, type: 'File', st, data: await readForArchive(path, st, shown, state) }, shown);
  } else if (st.isSymbolicLink()) {
    let target: string;
    try {
      target = (await readlink(path)).toString();
    } catch (error) {
      throw new QuarantineError(`cannot read the link ${shown} to archive it: ${message(error)}`);
    }
    addItem(state, { path: archivePath, type: 'SymbolicLink', st, linkpath: target }, shown);
  } else if (st.isFIFO()) {
    addItem(state, { path: archivePath, type: 'FIFO', st }, shown);
  } else if (st.isCharacterDevice()) {
    addItem(state, { path: archivePath, type: 'CharacterDevice', st }, shown);
  } else if (st.isBlockDevice()) {
    addItem(state, { path: archivePath, type: 'BlockDevice', st }, shown);
  } else {
    state.warn(`${shown} is ${describeType(st)}, which a tar archive cannot hold: it is removed without a copy`);
  }
}

/** The gzipped tar of the items, built with node-tar from the entries (never from the paths). */
async function packItems(items: ArchiveItem[]): Promise<Buffer> {
  const { Pack, ReadEntry, Header } = await import('tar');
  const pack = new Pack({ gzip: true, portable: false });
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: Buffer) => chunks.push(c));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const item of items) {
    const size = item.type === 'File' ? item.data!.length : 0;
    const header = new Header({
      path: item.path,
      type: item.type,
      mode: item.st.mode & 0o7777,
      uid: item.st.uid,
      gid: item.st.gid,
      size,
      mtime: item.st.mtime,
      linkpath: item.linkpath,
    });
    const entry = new ReadEntry(header);
    pack.add(entry);
    if (size > 0) entry.end(item.data!);
    else entry.end();
  }
  pack.end();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Writes `data` as a new file of the quarantine: temp name, fsync, then link to a free name.
 * Not the framework's writeFileAtomic (platform/atomic.ts, used for every other file we write)
 * on purpose: that one renames over its target, and an archive must never replace another
 * (`<runner>.tar.gz`, `<runner>.1.tar.gz`, …): link() fails with EEXIST instead. The temp file is
 * opened O_EXCL|O_NOFOLLOW like atomic.ts's, so nothing planted in the quarantine is followed.
 */
async function storeArchive(dir: string, runner: string, data: Buffer): Promise<string> {
  const tmp = join(dir, `.${runner}.tar.gz.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw new QuarantineError(`cannot write the archive of ${runner} in ${dir}: ${message(error)}`);
  }
  try {
    for (let n = 0; n < 10_000; n++) {
      const name = join(dir, n === 0 ? `${runner}.tar.gz` : `${runner}.${n}.tar.gz`);
      try {
        await link(tmp, name);
      } catch (error) {
        if (code(error) === 'EEXIST') continue;
        if (code(error) !== 'EPERM' && code(error) !== 'ENOTSUP' && code(error) !== 'EOPNOTSUPP') throw error;
        // a filesystem without hard links: copy, still never over an existing file
        try {
          await copyFile(tmp, name, constants.COPYFILE_EXCL);
        } catch (e) {
          if (code(e) === 'EEXIST') continue;
          throw e;
        }
      }
      await syncDir(dir);
      return name;
    }
    throw new Error(`10000 archives of ${runner} exist already`);
  } catch (error) {
    throw new QuarantineError(`cannot store the archive of ${runner} in ${dir}: ${message(error)}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, O_DIR);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort: some filesystems refuse fsync on a directory */
  }
}

/**
 * Archives `<storage>/<runner>` (a folder, or whatever the entry is) to
 * `<quarantine>/<runner>.tar.gz` (never over an existing archive). Does not remove anything.
 */
export async function quarantineEntry(
  storage: string,
  runner: string,
  quarantineDir: string,
  opts: QuarantineOptions,
): Promise<QuarantineResult> {
  if (!isValidRunnerName(runner)) throw new QuarantineError(`refusing to quarantine ${JSON.stringify(runner)}: not a runner name`);
  const state: WalkState = { items: [], bytes: 0, maxBytes: opts.maxBytes, warn: opts.warn ?? (() => undefined) };
  const source = join(storage, runner);
  await walkEntry(Buffer.from(source), runner, source, 0, state);
  const data = await packItems(state.items);
  const archive = await storeArchive(quarantineDir, runner, data);
  return { archive, entries: state.items.length, bytes: state.bytes };
}
