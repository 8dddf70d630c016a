/**
 * Anonymous read access to the Launchpad REST API (https://api.launchpad.net/devel), shared by the
 * collectors that read Launchpad (upload_queues, contributors, cnf, ubuntu_archive): the part of
 * launchpadlib they used, without its login dance and cache.
 *
 * - an entry or a named operation (`ws.op`) is one GET of JSON;
 * - a collection is read page by page through `next_collection_link`;
 * - a count reads `total_size` (or follows `total_size_link`) from a one-entry page, never every page;
 * - each request has the framework's time and size limits and the run's abort signal (through the
 *   collector's `fetchJson`), and a small bounded retry for what a retry can fix (a timeout, an
 *   unreachable host, HTTP 429 or 5xx);
 * - every failure is a CollectorError naming the resource and the status: never an empty list.
 *
 * Variables (the collector's `this.env`): LAUNCHPAD_API_URL (default https://api.launchpad.net/devel),
 * LAUNCHPAD_TIMEOUT (seconds per request, default 30), LAUNCHPAD_RETRIES (retries after a failed
 * request, default 2).
 */
import {
  CollectorError,
  durationRule,
  errorMessage,
  integerRule,
  type FetchOptions,
  type Logger,
  readSetting,
  retry,
} from '../../lib/sdk/index.js';

export const DEFAULT_API_URL = 'https://api.launchpad.net/devel';
/** the largest page a collection request asks for (Launchpad's own maximum is 300) */
export const PAGE_SIZE = 300;
/** a collection longer than this many pages is refused: a loop in `next_collection_link`, or a source gone wrong */
export const MAX_PAGES = 1000;

/** What the client needs of the collector using it: a Metric has all of these. */
export interface LaunchpadHost {
  readonly env: Record<string, string | undefined>;
  readonly log: Logger;
  readonly signal: AbortSignal;
  fetchJson<T = unknown>(url: string, opts?: FetchOptions): Promise<T>;
}

/** Parameters of a request: `undefined` values are left out; an entry's link is passed as its URL. */
export type Params = Record<string, string | number | boolean | undefined>;

/** Any Launchpad entry: its `self_link` and whatever else it has. */
export interface Entry {
  self_link?: string;
  [key: string]: unknown;
}

/** One page of a collection, as Launchpad serves it. */
interface Page<T> {
  start?: number;
  total_size?: number;
  total_size_link?: string;
  entries: T[];
  next_collection_link?: string;
}

/** A distribution series: what the collectors read of `/ubuntu/series`. */
export interface Series extends Entry {
  name: string;
  active: boolean;
  self_link: string;
}

export interface UbuntuSeries {
  /** the series Launchpad marks active (supported and in development), in Launchpad's order */
  active: Series[];
  /** the name of the development series (`current_series_link` of the distribution) */
  current: string;
  /** the link of the development series */
  currentLink: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function launchpadError(url: string, error: unknown): CollectorError {
  return error instanceof CollectorError ? error : new CollectorError(`Launchpad ${url}: ${errorMessage(error)}`, { cause: error });
}

/** A failure a retry can fix: a timeout, an unreachable host, HTTP 429 or 5xx (the fetch helpers' messages). */
function retriable(error: unknown): boolean {
  const msg = errorMessage(error);
  return /HTTP (429|5\d\d)\b|timed out|unreachable|failed while reading the body/.test(msg) && !/was aborted/.test(msg);
}

export class Launchpad {
  /** the API root, without a trailing slash */
  readonly root: string;
  private readonly timeoutMs: number;
  private readonly retries: number;

  constructor(private readonly host: LaunchpadHost) {
    const root = host.env.LAUNCHPAD_API_URL || DEFAULT_API_URL;
    if (!/^https?:\/\/[^/]/.test(root)) {
      throw new CollectorError(`LAUNCHPAD_API_URL=${JSON.stringify(root)} is not an http(s) URL: it must be like ${DEFAULT_API_URL}`);
    }
    this.root = root.replace(/\/+$/, '');
    this.timeoutMs = readSetting(host.env, 'LAUNCHPAD_TIMEOUT', durationRule({ min: 1, max: 600 }), 30) * 1000;
    this.retries = readSetting(host.env, 'LAUNCHPAD_RETRIES', integerRule({ min: 0, max: 10 }), 2);
  }

  /**
   * The URL of `resource` (a path under the API root such as `/ubuntu/series` or `~motu`, or an
   * absolute link from an entry) with `params` added to its query.
   */
  url(resource: string, params: Params = {}): string {
    const base = /^https?:\/\//.test(resource) ? resource : `${this.root}/${resource.replace(/^\/+/, '')}`;
    const u = new URL(base);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** GET one JSON document: an entry, a page, or the result of a named operation. */
  async get<T = unknown>(resource: string, params: Params = {}): Promise<T> {
    const url = this.url(resource, params);
    const opts: FetchOptions = {
      timeoutMs: this.timeoutMs,
      hint: 'Launchpad may be down (https://status.launchpad.net); LAUNCHPAD_API_URL, LAUNCHPAD_TIMEOUT, LAUNCHPAD_RETRIES tune the access',
    };
    return retry(() => this.host.fetchJson<T>(url, opts), {
      attempts: this.retries + 1,
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      signal: this.host.signal,
      classify: (error) => {
        if (!retriable(error) || this.host.signal.aborted) throw launchpadError(url, error);
        return undefined;
      },
      giveUp: (error) => launchpadError(url, error),
      onRetry: (error, { attempt, delayMs }) =>
        this.host.log.warn(
          `Launchpad: ${errorMessage(error)}; retry ${attempt} of ${this.retries} in ${Math.max(1, Math.round(delayMs / 1000))} s`,
        ),
    });
  }

  /** An entry, checked to be a JSON object. */
  async entry<T extends Entry = Entry>(resource: string, params: Params = {}): Promise<T> {
    const value = await this.get<unknown>(resource, params);
    if (!isRecord(value))
      throw new CollectorError(`Launchpad ${this.url(resource, params)}: expected an entry (a JSON object), got ${kind(value)}`);
    return value as T;
  }

  /** A named operation (`ws.op`) on `resource`, e.g. `getPackageUploads` on a series. */
  operation<T = unknown>(resource: string, op: string, params: Params = {}): Promise<T> {
    return this.get<T>(resource, { 'ws.op': op, ...params });
  }

  /**
   * Every entry of a collection (or of a named operation that returns one: pass `ws.op` in
   * `params`), page after page through `next_collection_link`.
   */
  async *pages<T = Entry>(resource: string, params: Params = {}): AsyncGenerator<T[]> {
    let url: string | undefined = this.url(resource, { 'ws.size': PAGE_SIZE, ...params });
    const seen = new Set<string>();
    for (let n = 0; url !== undefined; n++) {
      if (n >= MAX_PAGES || seen.has(url)) {
        throw new CollectorError(`Launchpad ${this.url(resource, params)}: the collection goes on past ${n} pages (or loops at ${url})`);
      }
      seen.add(url);
      const page: Page<T> = checkPage<T>(await this.get<unknown>(url), url);
      yield page.entries;
      url = page.next_collection_link;
    }
  }

  /** Every entry of a collection, in one array. */
  async all<T = Entry>(resource: string, params: Params = {}): Promise<T[]> {
    const out: T[] = [];
    for await (const entries of this.pages<T>(resource, params)) out.push(...entries);
    return out;
  }

  /**
   * The number of entries of a collection (or a named operation's result): its `total_size`, read
   * from a one-entry page, or fetched from `total_size_link` when Launchpad defers it.
   */
  async count(resource: string, params: Params = {}): Promise<number> {
    const url = this.url(resource, { ...params, 'ws.size': 1 });
    const page = checkPage<unknown>(await this.get<unknown>(url), url);
    if (page.total_size !== undefined) return page.total_size;
    if (page.total_size_link !== undefined) {
      const size = await this.get<unknown>(page.total_size_link);
      if (!Number.isSafeInteger(size) || (size as number) < 0) {
        throw new CollectorError(`Launchpad ${page.total_size_link}: expected a collection size (a whole number), got ${kind(size)}`);
      }
      return size as number;
    }
    if (page.next_collection_link === undefined) return page.entries.length;
    throw new CollectorError(`Launchpad ${url}: the collection has neither total_size nor total_size_link`);
  }

  /** The Ubuntu series Launchpad marks active, and the development series (`current_series_link`). */
  async ubuntuSeries(distribution = 'ubuntu'): Promise<UbuntuSeries> {
    const distro = await this.entry<Entry & { current_series_link?: unknown; series_collection_link?: unknown }>(distribution);
    const currentLink = distro.current_series_link;
    if (typeof currentLink !== 'string') {
      throw new CollectorError(`Launchpad ${this.url(distribution)}: the distribution has no current_series_link`);
    }
    const seriesLink = typeof distro.series_collection_link === 'string' ? distro.series_collection_link : `${distribution}/series`;
    const all = await this.all<unknown>(seriesLink);
    const series = all.map((s, i) => {
      if (!isRecord(s) || typeof s.name !== 'string' || typeof s.active !== 'boolean' || typeof s.self_link !== 'string') {
        throw new CollectorError(
          `Launchpad ${this.url(seriesLink)}: series #${i} lacks a name, self_link or active flag: ${JSON.stringify(s).slice(0, 120)}`,
        );
      }
      return s as Series;
    });
    const current = series.find((s) => sameLink(s.self_link, currentLink));
    const currentName = current?.name ?? currentLink.replace(/\/+$/, '').split('/').pop()!;
    return { active: series.filter((s) => s.active), current: currentName, currentLink };
  }
}

/** Two links to the same resource: Launchpad writes them absolute, perhaps with another API version. */
export function sameLink(a: string, b: string): boolean {
  const path = (s: string): string =>
    s
      .replace(/^https?:\/\/[^/]+/, '')
      .replace(/^\/(devel|beta|1\.0)\//, '/')
      .replace(/\/+$/, '');
  return path(a) === path(b);
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.slice(0, 60))}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function checkPage<T>(value: unknown, url: string): Page<T> {
  if (!isRecord(value) || !Array.isArray(value.entries)) {
    throw new CollectorError(`Launchpad ${url}: expected a collection (an object with "entries"), got ${kind(value)}`);
  }
  const { total_size, total_size_link, next_collection_link } = value;
  if (total_size !== undefined && (!Number.isSafeInteger(total_size) || (total_size as number) < 0)) {
    throw new CollectorError(`Launchpad ${url}: total_size ${JSON.stringify(total_size)} is not a whole number`);
  }
  if (total_size_link !== undefined && typeof total_size_link !== 'string') {
    throw new CollectorError(`Launchpad ${url}: total_size_link is not a link`);
  }
  if (next_collection_link !== undefined && typeof next_collection_link !== 'string') {
    throw new CollectorError(`Launchpad ${url}: next_collection_link is not a link`);
  }
  return value as unknown as Page<T>;
}
