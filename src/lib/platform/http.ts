/**
 * HTTP pieces every layer shares: a URL as it may be printed (no credentials, no secret-looking
 * query values), and a response body read only up to a bound. Collectors' source fetching
 * (sdk/fetch.ts), Promtail pushes and the configuration's messages use them; the InfluxDB transport
 * reads its answers with node:http itself (delivery/transport.ts).
 */

/** The URL as it may be printed: no user:password, no query values that look secret. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (/token|secret|password|passwd|key|auth|sig/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    // not a URL: still never show what looks like user:password@
    return url.replace(/^([^@/]*\/\/)?[^@]*@/, '$1***@');
  }
}

/** Bytes read of a non-2xx answer's body (for the message): never more, whatever the server sends. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Reads at most `maxBytes` of a response body (after decompression, which fetch does as the
 * bytes arrive) and cancels the rest: nothing beyond the bound is read or buffered, and the
 * connection is closed. `truncated`: the body was longer.
 */
export async function readBounded(response: Response, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: '', truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - total));
      await reader.cancel().catch(() => {});
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    total += value.byteLength;
    chunks.push(value);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}
