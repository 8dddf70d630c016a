/**
 * TEMPORARY: the shape of the SDK's `Metric.fetchResponse` (status, headers, bounded text;
 * `accept` lists the non-2xx statuses that are answers), until it lands on main; then
 * github_runner.ts uses `this.fetchResponse` and this file is deleted.
 */
import { CollectorError, errorMessage, type FetchOptions } from '../../lib/sdk/index.js';
import type { ApiResponse, FetchResponse } from './github_api.js';

export function fetchResponseAdapter(runSignal: AbortSignal): FetchResponse {
  return async (url: string, opts: FetchOptions & { accept?: readonly number[] } = {}): Promise<ApiResponse> => {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([runSignal, timeout]);
    const shown = `GET ${url.replace(/\?.*$/, '')}`;
    const failed = (error: unknown): never => {
      if (timeout.aborted) throw new CollectorError(`${shown} timed out after ${timeoutMs / 1000} s (the source did not answer)`);
      if (runSignal.aborted) throw new CollectorError(`${shown} was aborted: the collector's time limit`);
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new CollectorError(`${shown} failed: ${cause ?? errorMessage(error)} (the source is unreachable)`);
    };
    let response: Response;
    try {
      response = await fetch(url, { headers: opts.headers, signal, redirect: 'follow' });
    } catch (error) {
      return failed(error);
    }
    if (!response.ok && !opts.accept?.includes(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      throw new CollectorError(`${shown} failed: HTTP ${response.status} ${response.statusText}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      const reader = response.body?.getReader();
      for (;;) {
        const r = await reader?.read();
        if (!r || r.done) break;
        total += r.value.length;
        if (total > maxBytes) {
          await reader?.cancel().catch(() => undefined);
          throw new CollectorError(`${shown} answered with more than the limit of ${maxBytes} bytes`);
        }
        chunks.push(r.value);
      }
    } catch (error) {
      if (error instanceof CollectorError) throw error;
      return failed(error);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    return { status: response.status, ok: response.ok, headers: response.headers, url: response.url, text };
  };
}
