/**
 * Where the SDK's HTTP helpers (sdk/fetch.ts) send a collector's requests. Default: the global
 * `fetch`. A run may hand another one through its options (`MetricOptions.fetcher`): the
 * recorder of `--record` (platform/recording.ts) passes the requests on and saves the answers,
 * the replayer of `--replay` and of the test harness answers them from a recording, offline.
 */

/** Sends one request; the helpers read, bound and check the answer. */
export interface Fetcher {
  fetch(url: string, init: RequestInit): Promise<Response>;
}
