/**
 * The outbox's batch files: their names, their format (version 1), and how one is written and
 * read back. Nothing here touches the disk; store.ts and replay.ts do.
 *
 * Name: `20250102T030405678Z-0000012345-00000001.lp` (UTC time in ms, pid, per-process counter):
 * names sort oldest-first.
 *
 * Format: one header line, then the body.
 *   #metrics-outbox v1 {"collector":"x","created":"<ISO>","reason":"...","lines":N,"bytes":B,"sha256":"<hex>","host":"h","pid":1}\n
 *   <line 1>\n<line 2>\n ... <line N>\n
 * `bytes` is the body's byte length and `sha256` its digest; the body is the lines joined by '\n'
 * plus a final '\n'. Lines are stored byte for byte and never altered, so a replay writes exactly
 * the points (with their explicit timestamps) that were collected: it overwrites, never adds.
 * Because line protocol treats '#' lines as comments, a batch file is itself a valid line-protocol
 * file (`influx write -f <file>` works for manual recovery).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { redact } from '../../platform/redact.js';

export const OUTBOX_MAGIC = '#metrics-outbox';
export const OUTBOX_VERSION = 1;
const HEADER_PREFIX = `${OUTBOX_MAGIC} v${OUTBOX_VERSION} `;
/** The name of a pending batch file. */
export const BATCH_NAME = /^(\d{8}T\d{9}Z)-\d{10}-\d{8}\.lp$/;
const MAX_REASON_CHARS = 2000;

export interface OutboxHeader {
  collector: string;
  /** ISO 8601 time the batch was stored. */
  created: string;
  /** Why the batch went to the outbox (the delivery error). */
  reason: string;
  /** Number of points in the body. */
  lines: number;
  /**
   * Number of '\n'-separated segments of the body, when it differs from `lines`: a string field
   * may hold a newline, which line protocol carries as it is. Absent: one segment per point.
   */
  segments?: number;
  /** Byte length of the body. */
  bytes: number;
  /** Hex sha256 of the body. */
  sha256: string;
  host?: string;
  pid?: number;
}

/** A batch file as the outbox lists it. */
export interface OutboxEntry {
  /** File name, e.g. 20250102T030405678Z-0000012345-00000001.lp */
  name: string;
  /** Absolute (or dir-relative, as given) path of the file. */
  path: string;
  /** File size in bytes (header included). */
  size: number;
  /** Points according to the header (0 when the header is unreadable). */
  points: number;
  /** Time the batch was stored (header, else the time in the file name). */
  created: Date;
  header?: OutboxHeader;
  /** Set when the header could not be read; replay will move the file to corrupt/. */
  problem?: string;
}

export interface Count {
  files: number;
  points: number;
}

/** Thrown by `parseBatch` for a truncated or garbled batch file. */
export class OutboxCorruptError extends Error {
  override readonly name = 'OutboxCorruptError';
}

/** A reason as stored in a batch header: bounded (redacted first by the caller: server text may echo a secret). */
function clipReason(reason: string): string {
  return reason.length > MAX_REASON_CHARS ? reason.slice(0, MAX_REASON_CHARS - 3) + '...' : reason;
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function isHeader(v: unknown): v is OutboxHeader {
  const h = v as OutboxHeader;
  return (
    !!h &&
    typeof h === 'object' &&
    typeof h.collector === 'string' &&
    typeof h.created === 'string' &&
    typeof h.reason === 'string' &&
    Number.isSafeInteger(h.lines) &&
    h.lines >= 0 &&
    (h.segments === undefined || (Number.isSafeInteger(h.segments) && h.segments >= h.lines)) &&
    Number.isSafeInteger(h.bytes) &&
    h.bytes >= 0 &&
    typeof h.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(h.sha256)
  );
}

/** Parses a header line (without its newline); throws `OutboxCorruptError` naming what is wrong. */
export function parseHeaderLine(text: string): OutboxHeader {
  if (!text.startsWith(HEADER_PREFIX)) {
    if (text.startsWith(OUTBOX_MAGIC + ' v')) {
      throw new OutboxCorruptError(
        `unsupported outbox format version (${text.slice(OUTBOX_MAGIC.length + 1).split(' ')[0]}; this program reads v${OUTBOX_VERSION})`,
      );
    }
    throw new OutboxCorruptError(`not an outbox batch: the first line does not start with "${HEADER_PREFIX.trim()}"`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text.slice(HEADER_PREFIX.length));
  } catch {
    throw new OutboxCorruptError('the header is not valid JSON (garbled)');
  }
  if (!isHeader(v)) throw new OutboxCorruptError('the header lacks required fields (garbled)');
  return v;
}

/**
 * Parse and fully validate a batch file's content: header, body length, sha256, line count.
 * Throws `OutboxCorruptError` naming what is wrong.
 */
export function parseBatch(buf: Buffer): { header: OutboxHeader; lines: string[] } {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) {
    throw new OutboxCorruptError(buf.length === 0 ? 'the file is empty' : 'no complete header line (truncated or not an outbox batch)');
  }
  const header = parseHeaderLine(buf.toString('utf8', 0, nl));
  const body = buf.subarray(nl + 1);
  if (body.length !== header.bytes) {
    throw new OutboxCorruptError(
      body.length < header.bytes
        ? `truncated: the body has ${body.length} bytes, the header says ${header.bytes}`
        : `the body has ${body.length} bytes, more than the ${header.bytes} the header says`,
    );
  }
  if (sha256(body) !== header.sha256) throw new OutboxCorruptError('checksum mismatch: the content is garbled');
  if (header.lines === 0) {
    if (body.length !== 0) throw new OutboxCorruptError('the header says 0 lines but the body is not empty');
    return { header, lines: [] };
  }
  const text = body.toString('utf8');
  if (!text.endsWith('\n')) throw new OutboxCorruptError('the body does not end with a newline');
  // segments, not always points (a string field may hold a newline): joined with '\n' they are
  // exactly the body that was collected, which is what a replay sends
  const lines = text.slice(0, -1).split('\n');
  const expected = header.segments ?? header.lines;
  if (lines.length !== expected) {
    throw new OutboxCorruptError(`the body has ${lines.length} lines, the header says ${expected}`);
  }
  return { header, lines };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The content of a batch file for these lines (at least one): header and body. Throws
 * `TypeError` (the batch is NOT saved) for a line that cannot be stored unaltered (not a string,
 * or a lone UTF-16 surrogate).
 */
export function encodeBatch(lines: string[], meta: { collector: string; reason: string }): Buffer {
  const points = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (typeof l !== 'string' || LONE_SURROGATE.test(l)) {
      throw new TypeError(
        `outbox: line ${i + 1} of ${points} from ${meta.collector} cannot be stored unaltered ` +
          `(${typeof l !== 'string' ? 'not a string' : 'it contains invalid UTF-16'}); ` +
          `the batch was NOT saved`,
      );
    }
  }
  const joined = lines.join('\n');
  const body = Buffer.from(joined + '\n', 'utf8');
  let segments = 1;
  for (let i = joined.indexOf('\n'); i !== -1; i = joined.indexOf('\n', i + 1)) segments++;
  const header: OutboxHeader = {
    collector: meta.collector,
    created: new Date().toISOString(),
    reason: clipReason(redact(meta.reason)),
    lines: points,
    ...(segments !== points ? { segments } : {}),
    bytes: body.length,
    sha256: sha256(body),
    host: hostname(),
    pid: process.pid,
  };
  return Buffer.concat([Buffer.from(HEADER_PREFIX + JSON.stringify(header) + '\n', 'utf8'), body]);
}

let lastNameMs = 0;
let nameCounter = 0;

/** A new batch file name, later than every name this process gave before. */
export function nextBatchName(): string {
  let ms = Date.now();
  if (ms < lastNameMs) ms = lastNameMs; // clock stepped back: keep this process's files in order
  lastNameMs = ms;
  nameCounter = (nameCounter + 1) % 1e8;
  const stamp = new Date(ms).toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${String(process.pid).padStart(10, '0')}-${String(nameCounter).padStart(8, '0')}.lp`;
}

/** The time in a batch file name, if it is one. */
export function timeFromName(name: string): Date | undefined {
  const m = BATCH_NAME.exec(name);
  if (!m) return undefined;
  const s = m[1]!;
  const date = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
  const iso = `${date}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
