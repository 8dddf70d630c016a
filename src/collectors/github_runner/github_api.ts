/**
 * The job a runner ran, from the GitHub REST API: `queue_duration` (seconds from the job's
 * `created_at` to its `started_at`) for runner_start and `job_conclusion` (`conclusion`) for
 * runner_stop. One lookup lists the jobs of the runner's workflow run
 * (`GET {api}/repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=latest&per_page=100`, paged
 * through the `Link` header) and takes the job whose `runner_name` is the runner's name; the
 * pages read are kept for the run, so the runners of one workflow run (a matrix) cost one list.
 *
 * The API never loses nor delays an event: nothing here throws. A missing or refused token, a
 * 401/403/404, a job not found, a timeout, a rate limit or an answer that is not GitHub's leaves
 * the two fields out and is logged once per cause (not per runner); a failure that would repeat
 * for every runner (the token refused, a rate limit, the API unreachable or slow, garbage)
 * stops the lookups for the rest of the run rather than sleep or wait again. The work is bounded:
 * at most `maxLookups` lookups (each at most MAX_PAGES pages of at most PAGE_MAX_BYTES) per run,
 * each request within `timeoutMs` and the collector's time limit.
 */
import { z } from 'zod';
import {
  booleanRule,
  durationRule,
  errorMessage,
  integerRule,
  readSecret,
  readSetting,
  type FetchedResponse,
  type FetchOptions,
  type Logger,
} from '../../lib/sdk/index.js';

export const VARIABLES = {
  lookup: 'RUNNER_METRICS_GITHUB_LOOKUP',
  apiUrl: 'RUNNER_METRICS_GITHUB_API_URL',
  token: 'RUNNER_METRICS_GITHUB_TOKEN',
  timeout: 'RUNNER_METRICS_GITHUB_TIMEOUT',
  maxLookups: 'RUNNER_METRICS_GITHUB_MAX_LOOKUPS',
} as const;

export const DEFAULT_API_URL = 'https://api.github.com';
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_MAX_LOOKUPS = 50;
/** Pages of one workflow run's job list read at most: 1000 jobs (a matrix has at most 256). */
export const MAX_PAGES = 10;
/** Bytes of one page at most (100 jobs with their steps are a few hundred KiB). */
export const PAGE_MAX_BYTES = 8 * 1024 * 1024;

/** `Metric.fetchResponse`, bound to the collector (its time limit, --record/--replay). */
export type FetchResponse = (url: string, opts: FetchOptions) => Promise<FetchedResponse>;

export interface LookupConfig {
  /** without a trailing slash */
  apiUrl: string;
  token: string;
  timeoutMs: number;
  maxLookups: number;
}

/** Why there are no lookups in this run, logged once at the first runner that needs one. */
export interface LookupOff {
  level: 'debug' | 'info' | 'error';
  message: string;
}

/** The two fields, each when known. */
export interface JobInfo {
  queueDuration?: number;
  conclusion?: string;
}

const FIELDS = 'queue_duration and job_conclusion are left out';

/** `RUNNER_METRICS_GITHUB_API_URL`: https (http only to this host), no credentials, query or fragment. */
function apiUrl(raw: string | undefined): string {
  const name = VARIABLES.apiUrl;
  if (raw === undefined || raw.trim() === '') return DEFAULT_API_URL;
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error(
      `${name}=${JSON.stringify(raw)} is not a URL: set it to ${DEFAULT_API_URL} or https://HOST/api/v3 (GitHub Enterprise Server)`,
    );
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw new Error(`${name}=${JSON.stringify(raw)} must be an https:// URL (the token is sent to it; http:// only to this host)`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new Error(`${name} must be a plain base URL, without user, password, query or fragment (the token comes from its own file)`);
  }
  return u.href.replace(/\/+$/, '');
}

/**
 * The lookup's settings. Never throws: a bad setting turns the lookups off for the run (logged as
 * an error once), so that a configuration mistake in this optional part cannot hold the events.
 */
export function loadLookupConfig(env: Readonly<Record<string, string | undefined>>): { config?: LookupConfig; off?: LookupOff } {
  try {
    if (!readSetting(env, VARIABLES.lookup, booleanRule(), true)) {
      return { off: { level: 'debug', message: `GitHub job lookups are off (${VARIABLES.lookup}=false): ${FIELDS}` } };
    }
    const token = readSecret(env, VARIABLES.token, { environment: false });
    const url = apiUrl(env[VARIABLES.apiUrl]);
    const timeout = readSetting(env, VARIABLES.timeout, durationRule({ min: 0, minExclusive: true, max: 600 }), DEFAULT_TIMEOUT_SECONDS);
    const maxLookups = readSetting(env, VARIABLES.maxLookups, integerRule({ min: 1, max: 100_000 }), DEFAULT_MAX_LOOKUPS);
    if (token === undefined) {
      return {
        off: {
          level: 'info',
          message:
            `no GitHub token (${VARIABLES.token}_FILE, or a systemd credential ${VARIABLES.token}): ${FIELDS}; give the collector a ` +
            `token with read access to Actions, or set ${VARIABLES.lookup}=false`,
        },
      };
    }
    return { config: { apiUrl: url, token, timeoutMs: Math.max(1, Math.round(timeout * 1000)), maxLookups } };
  } catch (error) {
    return { off: { level: 'error', message: `GitHub job lookups are off for this run: ${errorMessage(error)}; ${FIELDS}` } };
  }
}

// ---------------------------------------------------------------------------------------------
// GitHub's answer: "List jobs for a workflow run" (only what we use; unknown keys ignored)

const isoTime = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/);
const Job = z.object({
  runner_name: z.string().max(1024).nullish(),
  created_at: isoTime.nullish(),
  started_at: isoTime.nullish(),
  conclusion: z.string().max(1024).nullish(),
});
type Job = z.output<typeof Job>;
const JobsPage = z.object({ total_count: z.number().int().nonnegative(), jobs: z.array(Job).max(1000) });

/** GitHub's conclusions: success, failure, neutral, cancelled, skipped, timed_out, action_required… */
const CONCLUSION = /^[a-z][a-z_]{0,31}$/;

/** The `rel="next"` URL of a `Link` header, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** What one workflow run's pages told so far. */
interface RunJobs {
  jobs: Map<string, Job>;
  /** the next page to read; undefined when every page was read (or the list failed) */
  next?: string;
  pages: number;
  /** the list could not be read to its end (404, a foreign Link): the run's other runners are not looked up again */
  failed?: boolean;
}

export interface LookupCounts {
  /** runners whose job was found */
  found: number;
  /** runners whose job was not in the list */
  notFound: number;
  /** runners not looked up (off, stopped, over the bound) or whose lookup failed */
  without: number;
  requests: number;
}

export class JobLookup {
  readonly counts: LookupCounts = { found: 0, notFound: 0, without: 0, requests: 0 };
  private readonly runs = new Map<string, RunJobs>();
  private lookups = 0;
  /** why lookups stopped for the rest of the run */
  private stopped = false;
  private readonly logged = new Set<string>();
  private readonly config?: LookupConfig;
  private readonly off?: LookupOff;

  constructor(
    setup: { config?: LookupConfig; off?: LookupOff },
    private readonly fetch: FetchResponse,
    private readonly log: Logger,
  ) {
    this.config = setup.config;
    this.off = setup.off;
  }

  /** Logs `message` once per `cause`. */
  private note(cause: string, level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    if (this.logged.has(cause)) return;
    this.logged.add(cause);
    this.log[level](message);
  }

  /** Stops the lookups for the rest of the run, logging why once. */
  private stop(cause: string, level: 'info' | 'warn' | 'error', message: string): undefined {
    this.stopped = true;
    this.note(cause, level, `${message}; ${FIELDS} for the rest of this run (the events are issued without them)`);
    return undefined;
  }

  /** Whether lookups were on and wanted in this run (for the summary line). */
  get used(): boolean {
    return this.config !== undefined && this.counts.found + this.counts.notFound + this.counts.without > 0;
  }

  /** The job `runner` ran in workflow run `runId` of `repository` (owner/name); undefined when unknown. Never throws. */
  async job(runner: string, repository: string, runId: string): Promise<JobInfo | undefined> {
    let info: JobInfo | undefined;
    try {
      info = await this.find(runner, repository, runId);
    } catch (error) {
      // a bug here must not cost an event
      this.stop('unexpected', 'error', `GitHub job lookup failed unexpectedly: ${errorMessage(error)}`);
    }
    if (info) this.counts.found++;
    return info;
  }

  private async find(runner: string, repository: string, runId: string): Promise<JobInfo | undefined> {
    const cfg = this.config;
    if (!cfg) {
      this.counts.without++;
      if (this.off) this.note('off', this.off.level, this.off.message);
      return undefined;
    }
    if (this.stopped) {
      this.counts.without++;
      return undefined;
    }
    const [owner, repo] = repository.split('/');
    if (!/^\d{1,20}$/.test(runId) || !owner || !repo || ['.', '..'].includes(owner) || ['.', '..'].includes(repo)) {
      this.counts.without++;
      this.note(
        'bad-run',
        'warn',
        `runner ${runner}: workflow_run_id ${JSON.stringify(runId)} of ${repository} does not name a workflow run (a number; ` +
          `a repository owner/name): not looked up, ${FIELDS} (logged once for all such runners)`,
      );
      return undefined;
    }
    const key = `${repository}#${runId}`;
    let run = this.runs.get(key);
    if (!run) {
      const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions/runs/${runId}/jobs`;
      const first = `${cfg.apiUrl}${path}?filter=latest&per_page=100`;
      run = { jobs: new Map(), next: first, pages: 0 };
      this.runs.set(key, run);
    }
    if (!run.jobs.has(runner) && run.next && run.pages < MAX_PAGES && !run.failed) {
      if (this.lookups >= cfg.maxLookups) {
        this.counts.without++;
        this.note(
          'max-lookups',
          'info',
          `${VARIABLES.maxLookups}=${cfg.maxLookups} GitHub job lookups done: the remaining runners' events are issued without ` +
            'queue_duration and job_conclusion',
        );
        return undefined;
      }
      this.lookups++;
      while (run.next && run.pages < MAX_PAGES && !run.jobs.has(runner) && !this.stopped) {
        const ok = await this.readPage(cfg, run, run.next);
        if (!ok) {
          this.counts.without++;
          return undefined;
        }
      }
    }
    const job = run.jobs.get(runner);
    if (!job) {
      if (run.failed || (this.stopped && run.next)) {
        // the list could not be read to its end
        this.counts.without++;
        return undefined;
      }
      this.counts.notFound++;
      this.note(
        'not-found',
        'warn',
        `runner ${runner}: no job of workflow run ${runId} of ${repository} ran on it (runner_name, filter=latest` +
          `${run.next ? `, first ${MAX_PAGES} pages` : ''}): ${FIELDS} (logged once for all such runners)`,
      );
      return undefined;
    }
    return this.fields(runner, job);
  }

  /** Reads one page into `run`; false when the lookup failed (logged). */
  private async readPage(cfg: LookupConfig, run: RunJobs, url: string): Promise<boolean> {
    let res: FetchedResponse;
    this.counts.requests++;
    try {
      res = await this.fetch(url, {
        timeoutMs: cfg.timeoutMs,
        maxBytes: PAGE_MAX_BYTES,
        accept: [401, 403, 404, 429],
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${cfg.token}`,
          'x-github-api-version': '2022-11-28',
          'user-agent': 'metrics-github_runner',
        },
        hint: `check ${VARIABLES.apiUrl} and ${VARIABLES.timeout}`,
      });
    } catch (error) {
      this.stop('request', 'warn', `GitHub job lookup: ${errorMessage(error)}`);
      return false;
    }
    const shown = `GET ${url.replace(/\?.*$/, '')}`;
    const remaining = res.headers.get('x-ratelimit-remaining');
    const limited = remaining === '0' || res.headers.has('retry-after') || res.status === 429;
    if (!res.ok && limited && (res.status === 403 || res.status === 429)) {
      this.stop('rate-limit', 'warn', `${shown}: rate limited by GitHub (HTTP ${res.status}${this.until(res.headers)})`);
      return false;
    }
    if (res.status === 401) {
      this.stop(
        'status-401',
        'error',
        `${shown}: GitHub refused the token (HTTP 401): renew the token in ${VARIABLES.token}_FILE or the credential ${VARIABLES.token}`,
      );
      return false;
    }
    if (res.status === 403) {
      this.stop(
        'status-403',
        'error',
        `${shown}: GitHub forbids it (HTTP 403): the token needs read access to Actions of the runners' repositories`,
      );
      return false;
    }
    if (res.status === 404) {
      run.failed = true;
      run.next = undefined;
      this.note(
        'status-404',
        'warn',
        `${shown}: not found (HTTP 404): the repository or workflow run does not exist, or the token cannot see it (it needs read ` +
          `access to Actions of the repository); ${FIELDS} for the runners of such runs`,
      );
      return false;
    }
    let page: z.output<typeof JobsPage>;
    try {
      page = JobsPage.parse(JSON.parse(res.text));
    } catch (error) {
      const problem = error instanceof z.ZodError ? (error.issues[0]?.message ?? 'invalid') : errorMessage(error);
      this.stop('garbage', 'warn', `${shown} answered with something that is not GitHub's list of jobs (${problem.slice(0, 200)})`);
      return false;
    }
    run.pages++;
    for (const job of page.jobs) {
      if (job.runner_name && !run.jobs.has(job.runner_name)) run.jobs.set(job.runner_name, job);
    }
    const next = nextLink(res.headers.get('link'));
    if (next !== undefined && !sameOrigin(next, cfg.apiUrl)) {
      run.next = undefined;
      run.failed = true; // its other pages are unknown: a runner not on this page is not "not found"
      this.stop('link', 'warn', `${shown}: its Link header points outside ${cfg.apiUrl} (not followed: the token would go there)`);
      return true; // the page read is good
    }
    run.next = next;
    if (remaining === '0') {
      this.stop('rate-limit', 'warn', `${shown}: the GitHub rate limit is used up (X-RateLimit-Remaining: 0${this.until(res.headers)})`);
    }
    return true;
  }

  /** ", until <time>" from Retry-After or X-RateLimit-Reset. */
  private until(headers: Headers): string {
    const retry = headers.get('retry-after');
    if (retry && /^\d{1,9}$/.test(retry)) return `; retry after ${retry} s`;
    const reset = headers.get('x-ratelimit-reset');
    if (reset && /^\d{1,12}$/.test(reset)) return `; the limit resets at ${new Date(Number(reset) * 1000).toISOString()}`;
    return '';
  }

  private fields(runner: string, job: Job): JobInfo {
    const info: JobInfo = {};
    if (job.created_at && job.started_at) {
      const d = (Date.parse(job.started_at) - Date.parse(job.created_at)) / 1000;
      if (Number.isFinite(d) && d >= 0) info.queueDuration = d;
      else {
        this.note('times', 'warn', `runner ${runner}: its job started before it was created (started_at < created_at): no queue_duration`);
      }
    }
    if (typeof job.conclusion === 'string') {
      if (CONCLUSION.test(job.conclusion)) info.conclusion = job.conclusion;
      else
        this.note(
          'conclusion',
          'warn',
          `runner ${runner}: its job's conclusion ${JSON.stringify(job.conclusion.slice(0, 40))} is not one of GitHub's: left out`,
        );
    }
    return info;
  }
}

function sameOrigin(url: string, base: string): boolean {
  try {
    const u = new URL(url);
    const b = new URL(base);
    return u.origin === b.origin && `${u.pathname}/`.startsWith(`${b.pathname.replace(/\/+$/, '')}/`);
  } catch {
    return false;
  }
}
