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
 * Fills EncodedLines one line at a time, in a buffer that grows as needed; buffers handed back
 * with `reuse()` (after a batch InfluxDB accepted whole) are filled again, so a long run does not
 * allocate a buffer per batch.
 */
export class EncodedLinesWriter {
  private buffer: Buffer;
  private offset = 0;
  private ends: Uint32Array;
  private count = 0;
  private readonly free: Buffer[] = [];

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafeSlow(64 * 1024);
    this.ends = new Uint32Array(Math.min(capacity, 1024));
  }

  get length(): number {
    return this.count;
  }

  add(line: string): void {
    const need = this.offset + line.length * 3 + 1; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (need > this.buffer.length) {
      const larger = Buffer.allocUnsafeSlow(Math.max(need, this.buffer.length * 2));
      this.buffer.copy(larger, 0, 0, this.offset);
      this.buffer = larger;
    }
    if (this.count > 0) this.buffer[this.offset++] = 10;
    this.offset += this.buffer.write(line, this.offset);
    if (this.count === this.ends.length) {
      const larger = new Uint32Array(Math.max(this.count * 2, 16));
      larger.set(this.ends);
      this.ends = larger;
    }
    this.ends[this.count++] = this.offset;
  }

  /** The lines added since the last take(), as EncodedLines; starts a new batch. */
  take(): EncodedLines {
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
