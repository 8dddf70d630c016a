/**
 * A monotonic clock in milliseconds, for how long something took. `performance.now()` would do,
 * but the first use of the `performance` global loads Node's perf_hooks modules, which a short run
 * does not otherwise need (`npm run bench`, start-up rows).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
