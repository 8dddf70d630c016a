/**
 * A batch of line-protocol lines kept as the request body they make (UTF-8, joined by newlines)
 * and the byte offset where each line ends, instead of as strings: a batch waits while the
 * previous one is sent, long enough for its strings to reach V8's old generation, where they stay
 * until a full garbage collection (tens of MiB of a long run's peak memory). Written line by line
 * as points are serialized, so each line string dies young. `lines()` gives the strings back,
 * exactly (a string field may hold a newline: lines are cut at the recorded ends, never at
 * newlines), for what needs them: the outbox, a split after HTTP 413, a rejected batch.
 */
export class EncodedLines {
  /**
   * false once a request with this body failed or was answered with an error: the server may not
   * have read it all, and the socket may still be sending it, so its buffer is not reused
   */
  reusable = true;

  constructor(
    /** the request body: the lines joined by newlines, UTF-8 */
    readonly body: Buffer,
    /** where each line ends in `body` (exclusive) */
    private readonly ends: Uint32Array,
    /** the buffer `body` is a view of, handed back to its writer (EncodedLinesWriter) when done */
    readonly buffer: Buffer,
  ) {}

  get length(): number {
    return this.ends.length;
  }

  lines(): string[] {
    const out: string[] = new Array(this.ends.length);
    let start = 0;
    for (let i = 0; i < this.ends.length; i++) {
      out[i] = this.body.toString('utf8', start, this.ends[i]);
      start = this.ends[i]! + 1;
    }
    return out;
  }
}

/** The lines of a batch, whichever form it has. */
export function linesOf(batch: readonly string[] | EncodedLines): string[] {
  return batch instanceof EncodedLines ? batch.lines() : (batch as string[]);
}

/**
 * Lines are encoded in groups of this many: one `join` and one `Buffer.write` per group instead of
 * one `write` per line, which cost about as much as a tenth of serializing the line (the call,
 * and a flat copy of the line, made of many small strings, made only to be written).
 */
const LINES_PER_WRITE = 64;

/**
 * Fills EncodedLines one line at a time, in a buffer that grows as needed; buffers handed back
 * with `reuse()` (after a batch InfluxDB accepted whole) are filled again, so a long run does not
 * allocate a buffer per batch.
 */
export class EncodedLinesWriter {
  private buffer: Buffer;
  private offset = 0;
  private ends: Uint32Array;
  /** lines encoded into `buffer` */
  private count = 0;
  /** lines added but not encoded yet (at most LINES_PER_WRITE) */
  private pending: string[] = [];
  private readonly free: Buffer[] = [];

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafeSlow(64 * 1024);
    this.ends = new Uint32Array(Math.min(capacity, 1024));
  }

  get length(): number {
    return this.count + this.pending.length;
  }

  add(line: string): void {
    this.pending.push(line);
    if (this.pending.length === LINES_PER_WRITE) this.encode();
  }

  /** Writes the pending lines into the buffer and records where each ends. */
  private encode(): void {
    const lines = this.pending;
    if (lines.length === 0) return;
    this.pending = [];
    const text = lines.join('\n');
    const need = this.offset + 1 + text.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (need > this.buffer.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(need, this.buffer.length * 2));
      this.buffer.copy(larger, 0, 0, this.offset);
      this.buffer = larger;
    }
    if (this.count > 0) this.buffer[this.offset++] = 10;
    const written = this.buffer.write(text, this.offset);
    if (this.count + lines.length > this.ends.length) {
      const larger = new Uint32Array(Math.max((this.count + lines.length) * 2, 16));
      larger.set(this.ends);
      this.ends = larger;
    }
    // as many bytes as UTF-16 units only when every character is ASCII (any other takes more
    // bytes than units): then each line's length is its byte length
    const ascii = written === text.length;
    let end = this.offset;
    for (const line of lines) {
      end += ascii ? line.length : Buffer.byteLength(line, 'utf8');
      this.ends[this.count++] = end;
      end++; // the newline
    }
    this.offset += written;
  }

  /** The lines added since the last take(), as EncodedLines; starts a new batch. */
  take(): EncodedLines {
    this.encode();
    const batch = new EncodedLines(this.buffer.subarray(0, this.offset), this.ends.slice(0, this.count), this.buffer);
    this.buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(this.buffer.length);
    this.offset = 0;
    this.count = 0;
    return batch;
  }

  /** A batch is done: its buffer is filled again if nothing can still read it (see `reusable`). */
  reuse(batch: EncodedLines): void {
    if (batch.reusable && this.free.length < 4) this.free.push(batch.buffer);
  }
}
