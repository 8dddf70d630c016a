/**
 * The event loop and time: a turn of the loop, and a monotonic clock.
 */

/**
 * Resolves after the event loop has turned once (what is due, I/O and timers, ran meanwhile):
 * node:timers/promises' setImmediate without loading that module on every start.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A monotonic clock in milliseconds, for how long something took. `performance.now()` would do,
 * but the first use of the `performance` global loads Node's perf_hooks modules, which a short run
 * does not otherwise need (`npm run bench`, start-up rows).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
