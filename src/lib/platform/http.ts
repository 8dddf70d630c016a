/**
 * HTTP pieces every layer shares: a URL as it may be printed (no credentials, no secret-looking
 * query values), the bound of an error answer, the one time-out error of a request, and a
 * response body read only up to a bound. Collectors' source fetching (sdk/fetch.ts), Promtail
 * pushes (events/promtail.ts), the InfluxDB transport (delivery/transport.ts, on node:http) and
 * the configuration's messages use them.
 */

/** Query parameters whose values are secrets: masked wherever a URL is printed or saved. */
export const SECRET_QUERY_NAME = /token|secret|password|passwd|key|auth|sig|cookie|session|credential/i;

/** The URL as it may be printed: no user:password, no query values that look secret. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_QUERY_NAME.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    // not a URL: still never show what looks like user:password@
    return url.replace(/^([^@/]*\/\/)?[^@]*@/, '$1***@');
  }
}

/** Bytes read of a non-2xx answer's body (for the message), and of a 2xx answer we do not parse: never more, whatever the server sends. */
export const ERROR_BODY_LIMIT = 64 * 1024;

/** No answer within the request's time limit (retriable). Named as the InfluxDB client names its own. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimedOutError';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs / 1000} s`);
  }
}

/**
 * Reads at most `maxBytes` of a body and stops: nothing beyond the bound is read or buffered.
 * The body is a fetch `Response` (its bytes after decompression, which fetch does as they
 * arrive) or any async iterable of bytes (a node:http answer, or its decoder's output). Leaving
 * early cancels the rest: the stream is cancelled or destroyed, and with it the connection.
 * `truncated`: the body was longer. An error of the stream is thrown.
 */
export async function readBounded(
  body: Response | AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  // not `instanceof Response`: the global Response loads fetch's implementation (undici), tens of
  // ms, for a node:http answer that never needs it
  const source: AsyncIterable<Uint8Array> | null =
    Symbol.asyncIterator in body ? body : ((body as Response).body as AsyncIterable<Uint8Array> | null);
  if (!source) return { text: '', truncated: false };
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const value of source) {
    if (total + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - total));
      // leaving the loop cancels the stream (fetch) or destroys it (node:http): the rest is never read
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    total += value.byteLength;
    chunks.push(value);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}
