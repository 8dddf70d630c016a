/**
 * Retry with exponential backoff, honouring a server's Retry-After: the one loop behind the
 * InfluxDB writer (delivery/writer.ts) and the Promtail push (events/promtail.ts). What a failure
 * means (retry, or give up at once) and what is logged stay with the caller: `classify` and
 * `onRetry`. Sleeps are node:timers/promises' (loaded at the first sleep: most runs never wait).
 */

/** Waits `ms`; rejects with the signal's reason when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** node:timers/promises' setTimeout, rejecting with the abort reason (not an AbortError wrapping it). */
export const sleep: Sleep = async (ms, signal) => {
  const { setTimeout: delay } = await import('node:timers/promises');
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    throw signal?.aborted ? (signal.reason as unknown) : error;
  }
};

export interface Backoff {
  /** the wait before the first retry, ms; doubled for every further retry */
  baseDelayMs: number;
  /** the longest wait, ms */
  maxDelayMs: number;
}

/**
 * The wait before retry `retry` (1: the first): `baseDelayMs · 2^(retry−1)` with ±20 % jitter,
 * at most `maxDelayMs`, in whole ms.
 */
export function backoffDelay(backoff: Backoff, retry: number, random: () => number = Math.random): number {
  const exact = backoff.baseDelayMs * 2 ** (retry - 1);
  return Math.round(Math.min(backoff.maxDelayMs, exact * (0.8 + random() * 0.4)));
}

/**
 * A Retry-After header in ms: delta-seconds (`120`, `1.5`) or an HTTP date (the time left until
 * then, at least 0); undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export interface RetryOptions extends Backoff {
  /** attempts in all, the first one included */
  attempts: number;
  /** aborts the waits; an aborted signal also ends the retries (the failure goes to `giveUp`) */
  signal?: AbortSignal;
  /** for tests: replaces the real sleep */
  sleep?: Sleep;
  /**
   * Told every failure, before anything else. Throw to give up at once (a failure no retry can
   * fix). Otherwise return the wait the server asked for (its Retry-After, ms), if any.
   */
  classify(error: unknown, attempt: number): { retryAfterMs?: number } | undefined;
  /** The last attempt failed (or `signal` aborted): the error to throw. */
  giveUp(error: unknown, attempts: number): unknown;
  /**
   * The server asked for a longer wait than `max(maxDelayMs, baseDelayMs)`: the error to throw,
   * or undefined to wait that maximum instead.
   */
  retryAfterTooLong?(error: unknown, retryAfterMs: number, attempt: number): unknown;
  /** Told before each wait (the caller logs it): `attempt` failed, the next one is in `delayMs`. */
  onRetry?(error: unknown, info: { attempt: number; delayMs: number }): void;
}

/**
 * Runs `operation` until it succeeds, a failure is classified as final, or the attempts are
 * used up. The wait before retry n is {@link backoffDelay}, or the server's Retry-After when it
 * gave one (up to `max(maxDelayMs, baseDelayMs)`: see `retryAfterTooLong`).
 */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const longest = Math.max(options.maxDelayMs, options.baseDelayMs);
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const wish = options.classify(error, attempt) ?? {};
      if (attempt >= options.attempts || options.signal?.aborted) throw options.giveUp(error, attempt);
      let delayMs = backoffDelay(options, attempt);
      if (wish.retryAfterMs !== undefined) {
        if (wish.retryAfterMs > longest) {
          const final = options.retryAfterTooLong?.(error, wish.retryAfterMs, attempt);
          if (final !== undefined) throw final;
          delayMs = longest;
        } else {
          delayMs = wish.retryAfterMs;
        }
      }
      options.onRetry?.(error, { attempt, delayMs });
      await (options.sleep ?? sleep)(delayMs, options.signal);
    }
  }
}
