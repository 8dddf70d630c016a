/**
 * Secrets never appear in output. Every secret the configuration reads is registered here, and
 * every line the framework prints (logs, errors, summaries) passes through `redact()`.
 */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  // very short values would blank out ordinary text; they are still never printed by us
  if (value && value.length >= 3) secrets.add(value);
  if (value && value.includes(':')) for (const part of value.split(':')) if (part.length >= 3) secrets.add(part);
}

export function redact(text: string): string {
  if (secrets.size === 0) return text;
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join('***');
    const b64 = Buffer.from(s).toString('base64');
    if (out.includes(b64)) out = out.split(b64).join('***');
  }
  return out;
}

let installed = false;

/**
 * Redacts everything the process writes to stdout and stderr, whoever writes it (a library, a
 * collector's console.log): a second line of defence behind the redaction of our own messages.
 * Costs nothing until a secret is registered (a dry-run reads none).
 */
export function redactProcessOutput(): void {
  if (installed) return;
  installed = true;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (secrets.size > 0) {
        if (typeof chunk === 'string') chunk = redact(chunk);
        else if (chunk instanceof Uint8Array) chunk = redact(Buffer.from(chunk).toString('utf8'));
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}
