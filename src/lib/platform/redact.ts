/**
 * Secrets never appear in output. Every secret the configuration reads is registered here, and
 * every line the framework prints (logs, errors, summaries), every reason it stores in the outbox
 * and the `collector_run` error field pass through `redact()`.
 *
 * A secret is redacted in every form it can take when a server or a library echoes it back:
 * - the raw value, of any length (a 1-character password is masked too);
 * - URL-encoded (`encodeURIComponent`, with upper- or lower-case hex, and the form encoding of
 *   URLSearchParams) and JSON-string-escaped;
 * - base64 and base64url, padded or not, of the value alone and, from 6 bytes on, inside a larger
 *   base64 text at any byte offset (e.g. a whole `Authorization` header base64-encoded);
 * - for a user name and password (`registerCredentialPair`): base64 and base64url of
 *   `user:password`, the HTTP Basic authorization value, and those URL-encoded.
 *
 * The forms are computed once, at registration; `redact()` then costs one `includes` per form (a
 * single pass of one regular expression when something matches), and nothing at all while no
 * secret is registered (a dry-run reads none).
 */
import { writeSync } from 'node:fs';

const forms = new Set<string>();
/** the forms, longest first (so that a longer form is replaced whole, not its shorter parts) */
let sorted: string[] = [];
let pattern: RegExp | undefined;

const MASK = '***';
/** an unaligned base64 fragment shorter than this could match ordinary text by chance */
const MIN_FRAGMENT = 6;

function b64url(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The text forms of `value`: raw, URL-encoded, form-encoded, JSON-escaped. */
function textForms(value: string): string[] {
  const out = [value];
  try {
    const uri = encodeURIComponent(value);
    out.push(
      uri,
      uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    );
  } catch {
    /* a lone surrogate cannot be URL-encoded: then it cannot be sent URL-encoded either */
  }
  out.push(new URLSearchParams({ x: value }).toString().slice(2));
  out.push(JSON.stringify(value).slice(1, -1));
  return out;
}

/** base64 and base64url of `bytes`, padded and unpadded, and their URL-encoded forms. */
function base64Forms(bytes: Buffer): string[] {
  const b64 = bytes.toString('base64');
  const unpadded = b64.replace(/=+$/, '');
  const out = [b64, unpadded, b64url(b64)];
  for (const f of [b64, unpadded]) out.push(...textForms(f).slice(1));
  return out;
}

/**
 * The parts of base64 text that depend only on `bytes` when they sit at byte offset 0, 1 or 2
 * (mod 3) of a larger base64-encoded text, in base64 and base64url.
 */
function base64Fragments(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    // character i covers bits [6i, 6i+6): it is made of the secret alone when they are inside [8k, 8(k+n))
    const fragment = b64.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    if (fragment.length >= MIN_FRAGMENT) out.push(fragment, b64url(fragment));
  }
  return out;
}

function add(list: string[]): void {
  const before = forms.size;
  for (const f of list) if (f) forms.add(f);
  if (forms.size === before) return;
  sorted = [...forms].sort((a, b) => b.length - a.length);
  pattern = new RegExp(sorted.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
}

/** Registers a secret: it and every form derived from it are redacted from now on. */
export function registerSecret(value: string | undefined): void {
  if (!value) return;
  const bytes = Buffer.from(value, 'utf8');
  add([...textForms(value), ...base64Forms(bytes), ...base64Fragments(bytes)]);
}

/**
 * Registers a user name and password sent as HTTP Basic authorization: the password as a secret,
 * and base64/base64url of `user:password` (the user name alone is not a secret).
 */
export function registerCredentialPair(user: string | undefined, password: string | undefined): void {
  if (!password) return;
  registerSecret(password);
  add(base64Forms(Buffer.from(`${user ?? ''}:${password}`, 'utf8')));
}

/** Forgets every registered secret (for tests). */
export function forgetSecrets(): void {
  forms.clear();
  sorted = [];
  pattern = undefined;
}

/** `text` with every form of every registered secret replaced by `***`. */
export function redact(text: string): string {
  if (pattern === undefined) return text;
  if (!sorted.some((f) => text.includes(f))) return text;
  pattern.lastIndex = 0;
  return text.replace(pattern, MASK);
}

let installed = false;
/** process.stdout / process.stderr once something made them (after redactProcessOutput) */
const made: { stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream } = {};
/** their own write, before redactStream wrapped it: for text redacted already (writeTo) */
const unwrapped: { stdout?: (chunk: string | Uint8Array) => boolean; stderr?: (chunk: string | Uint8Array) => boolean } = {};

/**
 * Redacts everything the process writes to stdout and stderr, whoever writes it (a library, a
 * collector's console.log): a second line of defence behind the redaction of our own messages.
 * Costs nothing until a secret is registered (a dry-run reads none). The streams are wrapped when
 * something first asks for them, not before: making them loads Node's stream modules, which a
 * short run never needs (the framework writes with {@link writeStdout} / {@link writeStderr}).
 */
export function redactProcessOutput(): void {
  if (installed) return;
  installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const d = Object.getOwnPropertyDescriptor(process, name);
    if (!d?.get || !d.configurable) {
      made[name] = redactStream(name, process[name]);
      continue;
    }
    const get = d.get;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable,
      get: () => (made[name] ??= redactStream(name, get.call(process))),
    });
  }
}

function redactStream(name: 'stdout' | 'stderr', stream: NodeJS.WriteStream): NodeJS.WriteStream {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  unwrapped[name] = write;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (pattern !== undefined) {
      if (typeof chunk === 'string') chunk = redact(chunk);
      else if (chunk instanceof Uint8Array) chunk = redact(Buffer.from(chunk).toString('utf8'));
    }
    return write(chunk, ...rest);
  }) as typeof stream.write;
  return stream;
}

/** Writes `text` to standard output, redacted (see writeTo below). */
export function writeStdout(text: string): void {
  writeTo(1, 'stdout', text);
}

/** Writes `text` to standard error, redacted. */
export function writeStderr(text: string): void {
  writeTo(2, 'stderr', text);
}

/**
 * The framework's own output. In a process whose output redactProcessOutput() wraps (the command
 * line), and until something makes process.stdout/stderr, a write is one synchronous write(2) of
 * the redacted text, as the streams' own writes are on Linux for files, pipes and terminals; after
 * that, and when the write fails (a full non-blocking pipe: EAGAIN; a closed one: EPIPE), the
 * stream takes the rest, so that the order is kept and such errors surface as they always did.
 * Anywhere else (tests, a library user) it is simply the stream's write.
 */
function writeTo(fd: 1 | 2, name: 'stdout' | 'stderr', text: string): void {
  const clean = redact(text);
  if (!installed) {
    process[name].write(clean);
    return;
  }
  if (made[name]) {
    streamWrite(name, clean);
    return;
  }
  const bytes = Buffer.from(clean, 'utf8');
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch {
    // the rest as bytes (it may start inside a character), past the redaction: it is redacted
    streamWrite(name, bytes.subarray(done));
  }
}

/** The stream's own write (made, and wrapped, on first use): for output redacted already. */
function streamWrite(name: 'stdout' | 'stderr', chunk: string | Uint8Array): void {
  const stream = process[name];
  (unwrapped[name] ?? stream.write.bind(stream))(chunk);
}
