/**
 * The github_runner collector: extracts the metrics files that self-hosted runners' hooks wrote
 * into a shared storage directory (one folder per runner), issues them as runner events
 * (RunnerInstalled, RunnerStart, RunnerStop: to the event sinks and, as points, to InfluxDB),
 * then removes the folders. Corrupt or hostile folders are archived to a quarantine directory and
 * removed, and nothing of them is issued. See README.md for the layout, the rules and the limits;
 * extract.ts for the safe reading.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { EventValidationError, type Event } from '../../lib/sdk/events.js';
import { CollectorError, durationRule, errorMessage, integerRule, Metric, PointError } from '../../lib/sdk/index.js';
import { RunnerInstalled, RunnerStart, RunnerStop } from './events.js';
import {
  CorruptDataError,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_QUARANTINE_BYTES,
  DEFAULT_MAX_RUNNERS,
  DEFAULT_MIN_AGE_SECONDS,
  canRemoveSafely,
  ensureQuarantineDir,
  FILES,
  parkEntry,
  QuarantineLimitError,
  quarantineEntry,
  readRunnerFolder,
  removeEntry,
  scanStorage,
  showName,
  type RunnerMetrics,
  type ScanResult,
} from './extract.js';
import { JobLookup, loadLookupConfig, type JobInfo } from './github_api.js';

export interface GithubRunnerConfig {
  storage: string;
  quarantine: string;
  flavor: string;
  include?: Set<string>;
  exclude: Set<string>;
  maxRunners: number;
  maxFileBytes: number;
  maxQuarantineBytes: number;
  /** RUNNER_METRICS_MIN_AGE, seconds; 0 = no grace period */
  minAge: number;
}

const EVENT_NAMES = ['runner_installed', 'runner_start', 'runner_stop'] as const;

interface Counts {
  extracted: number;
  quarantined: number;
  /** set aside as `.parked-*` (could be neither removed nor quarantined) */
  parked: number;
  incomplete: number;
  failed: number;
  /** runner folders not reached because the run was aborted (time limit) */
  notReached: number;
  events: Record<string, number>;
}

/**
 * A whole number from 1 to `max` (the SDK's integerRule; surrounding spaces are allowed here), or
 * `fallback` when unset; else a CollectorError naming the variable.
 */
function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const checked = integerRule({ min: 1, max }).check(name, raw.trim());
  if (!checked.ok) throw new CollectorError(`${name}=${JSON.stringify(raw)} must be a whole number from 1 to ${max} (default ${fallback})`);
  return checked.value;
}

/** Longest grace period RUNNER_METRICS_MIN_AGE accepts: a week. */
const MAX_MIN_AGE_SECONDS = 7 * 24 * 3600;

/** RUNNER_METRICS_MIN_AGE: seconds (the SDK's durationRule, at most 3 decimals), or its default when unset. */
function minAgeSeconds(env: Record<string, string | undefined>): number {
  const name = 'RUNNER_METRICS_MIN_AGE';
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return DEFAULT_MIN_AGE_SECONDS;
  const checked = durationRule({ max: MAX_MIN_AGE_SECONDS, fractionDigits: 3 }).check(name, raw.trim());
  if (!checked.ok) {
    throw new CollectorError(
      `${name}=${JSON.stringify(raw)} must be a number of seconds from 0 to ${MAX_MIN_AGE_SECONDS} (a week), such as 330 or 5.5 ` +
        `(default ${DEFAULT_MIN_AGE_SECONDS} = 5.5 minutes, the runner-creation timeout; 0 turns the grace period off)`,
    );
  }
  return checked.value;
}

function nameList(raw: string | undefined, separator: RegExp): string[] {
  if (raw === undefined) return [];
  return raw
    .split(separator)
    .map((s) => s.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

/** The collector's configuration from the environment; a missing or bad variable throws CollectorError naming it. */
export async function loadConfig(env: Record<string, string | undefined>): Promise<GithubRunnerConfig> {
  const rawStorage = env.RUNNER_METRICS_STORAGE;
  if (!rawStorage || rawStorage.trim() === '') {
    throw new CollectorError(
      'RUNNER_METRICS_STORAGE is not set: set it to the shared storage directory that holds one metrics folder per runner (e.g. ' +
        '/var/lib/runner-metrics/storage)',
    );
  }
  const storage = resolve(rawStorage.trim());
  if (storage === '/')
    throw new CollectorError('RUNNER_METRICS_STORAGE=/ cannot be the storage: point it at the directory holding the runner folders');
  let st: Stats;
  try {
    st = await stat(storage);
  } catch (error) {
    throw new CollectorError(
      `RUNNER_METRICS_STORAGE=${storage}: ` +
        `${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : errorMessage(error)}; create it or fix the variable`,
    );
  }
  if (!st.isDirectory()) throw new CollectorError(`RUNNER_METRICS_STORAGE=${storage} is not a directory`);

  const quarantine = resolve(env.RUNNER_METRICS_QUARANTINE?.trim() || `${storage}-quarantine`);
  const rel = relative(storage, quarantine);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new CollectorError(
      `RUNNER_METRICS_QUARANTINE=${quarantine} is inside the storage ${storage}: it would be taken for a runner folder; put it ` +
        `beside the storage (default ${storage}-quarantine)`,
    );
  }

  const flavor = env.RUNNER_FLAVOR?.trim() ?? '';
  if (flavor === '')
    throw new CollectorError('RUNNER_FLAVOR is not set: set it to the flavor of the runners (the application or label set), e.g. small');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a flavor with a control character is refused
  if (/[\u0000-\u001f\u007f]/.test(flavor) || flavor.endsWith('\\') || flavor.length > 128) {
    throw new CollectorError(
      `RUNNER_FLAVOR=${JSON.stringify(flavor)} must be at most 128 characters, without control characters or a trailing backslash`,
    );
  }

  const exclude = new Set(nameList(env.RUNNER_METRICS_EXCLUDE, /,/));
  const excludeFile = env.RUNNER_METRICS_EXCLUDE_FILE?.trim();
  if (excludeFile) {
    let text: string;
    try {
      const s = await stat(excludeFile);
      if (!s.isFile()) throw new Error('not a regular file');
      if (s.size > 4 * 1024 * 1024) throw new Error(`${s.size} bytes: over 4 MiB, not a list of runner names`);
      text = await readFile(excludeFile, 'utf8');
    } catch (error) {
      // without the list of live runners, extracting would remove the folders of running jobs
      throw new CollectorError(
        `RUNNER_METRICS_EXCLUDE_FILE=${excludeFile}: cannot read the list of live runners: ${errorMessage(error)}; nothing was extracted`,
      );
    }
    for (const n of nameList(text, /\r?\n/)) exclude.add(n);
  }
  const includeRaw = env.RUNNER_METRICS_INCLUDE;
  const include = includeRaw !== undefined && includeRaw.trim() !== '' ? new Set(nameList(includeRaw, /,/)) : undefined;

  return {
    storage,
    quarantine,
    flavor,
    include,
    exclude,
    maxRunners: positiveInt(env, 'RUNNER_METRICS_MAX_RUNNERS', DEFAULT_MAX_RUNNERS),
    maxFileBytes: positiveInt(env, 'RUNNER_METRICS_MAX_FILE_BYTES', DEFAULT_MAX_FILE_BYTES, 1024 * 1024),
    maxQuarantineBytes: positiveInt(env, 'RUNNER_METRICS_MAX_QUARANTINE_BYTES', DEFAULT_MAX_QUARANTINE_BYTES),
    minAge: minAgeSeconds(env),
  };
}

/** `b - a`, or 0 with a warning when negative (clock skew, a cancelled job). */
function difference(a: number, b: number, what: string, warn: (m: string) => void): number {
  const d = b - a;
  if (d >= 0) return d;
  warn(`${what} is ${(-d).toFixed(3)} s negative (clock skew or a cancelled job): set to 0`);
  return 0;
}

/**
 * The events of one runner folder (nothing when the installed timestamp is missing); `job`: what
 * the GitHub API told about the runner's job (queue_duration, job_conclusion), when it did.
 */
export function runnerEvents(m: RunnerMetrics, flavor: string, warn: (m: string) => void, job: JobInfo = {}): Event[] {
  const events: Event[] = [];
  const installed = m.installed;
  if (installed === undefined) return events;
  if (m.installationStart !== undefined) {
    const duration = difference(m.installationStart, installed, 'the installation duration (installed − installation start)', warn);
    events.push(new RunnerInstalled({ timestamp: installed, flavor, duration }));
  }
  const pre = m.preJob;
  if (!pre) {
    if (m.postJob) warn(`${FILES.postJob} without ${FILES.preJob}: no runner_stop is issued`);
    return events;
  }
  const tags = { flavor, workflow: pre.workflow, repo: pre.repository, github_event: pre.event };
  const idle = difference(installed, pre.timestamp, 'the idle time (pre-job − installed)', warn);
  events.push(
    new RunnerStart({
      timestamp: pre.timestamp,
      ...tags,
      idle,
      ...(job.queueDuration !== undefined ? { queue_duration: job.queueDuration } : {}),
    }),
  );
  const post = m.postJob;
  if (post) {
    const jobDuration = difference(pre.timestamp, post.timestamp, 'the job duration (post-job − pre-job)', warn);
    events.push(
      new RunnerStop({
        timestamp: post.timestamp,
        ...tags,
        status: post.status,
        ...(post.status_info ? { status_info: { code: post.status_info.code } } : {}),
        job_duration: jobDuration,
        ...(job.conclusion !== undefined ? { job_conclusion: job.conclusion } : {}),
      }),
    );
  }
  return events;
}

export class GithubRunnerMetric extends Metric {
  private quarantineReady = false;
  /** the GitHub API lookup of each runner's job (queue_duration, job_conclusion); never throws */
  private jobs!: JobLookup;

  async collect(): Promise<never[]> {
    const cfg = await loadConfig(this.env);
    this.jobs = new JobLookup(loadLookupConfig(this.env), (url, opts) => this.fetchResponse(url, opts), this.log);
    const dry = this.dryRun ? 'dry-run: ' : '';
    if (!this.dryRun && !canRemoveSafely()) {
      // checked before anything is issued: events of folders that cannot be removed would be issued again by every run
      throw new CollectorError(
        `/proc/self/fd is not available: runner folders cannot be removed without the risk of following a link a runner swapped in, ` +
          `so nothing was extracted from ${cfg.storage}; mount /proc (the collector needs Linux with /proc)`,
      );
    }
    let scan: ScanResult;
    try {
      scan = await scanStorage(cfg.storage, {
        include: cfg.include,
        exclude: cfg.exclude,
        maxRunners: cfg.maxRunners,
        minAgeMs: cfg.minAge * 1000,
        now: Date.now(),
      });
    } catch (error) {
      throw new CollectorError(`cannot list the storage ${cfg.storage} (RUNNER_METRICS_STORAGE): ${errorMessage(error)}`);
    }
    this.log.debug(
      `storage ${cfg.storage}: ${scan.selected.length} runner folders to handle; quarantine ${cfg.quarantine}; flavor ${cfg.flavor}; ` +
        `${cfg.include ? 'no grace period (include list)' : `grace period ${cfg.minAge} s (RUNNER_METRICS_MIN_AGE)`}` +
        `; ${cfg.include ? `include ${[...cfg.include].join(',') || '(none)'}; ` : ''}${cfg.exclude.size} live runners excluded by name`,
    );
    if (scan.invalidCount) {
      this.log.warn(
        `${scan.invalidCount} entries of ${cfg.storage} have names that are not runner names (letters, digits, "_", ".", "-"): left ` +
          `untouched: ${scan.invalid.map(showName).join(', ')}${scan.invalidCount > scan.invalid.length ? ', …' : ''}`,
      );
    }
    if (scan.hidden) this.log.debug(`${scan.hidden} hidden entries (names starting with ".") of ${cfg.storage} left untouched`);
    if (scan.parked) {
      this.log.warn(
        `${scan.parked} folder${scan.parked > 1 ? 's' : ''} set aside by earlier runs wait${scan.parked > 1 ? '' : 's'} in ` +
          `${cfg.storage} (.parked-*): inspect and remove them by hand`,
      );
    }
    if (scan.young) {
      this.log.info(
        `${scan.young} runner folder${scan.young > 1 ? 's' : ''} modified less than ${cfg.minAge} s ago (RUNNER_METRICS_MIN_AGE), ` +
          `maybe of runners still being created: left for a later run`,
      );
    }
    if (scan.overBound) {
      this.log.warn(`${scan.overBound} more runner folders than RUNNER_METRICS_MAX_RUNNERS=${cfg.maxRunners}: left for the next run`);
    }

    const counts: Counts = {
      extracted: 0,
      quarantined: 0,
      parked: 0,
      incomplete: 0,
      failed: 0,
      notReached: 0,
      events: Object.fromEntries(EVENT_NAMES.map((n) => [n, 0])),
    };
    const failures: string[] = [];
    const fail = (msg: string): void => {
      this.log.error(msg);
      counts.failed++;
      failures.push(msg);
    };

    for (let i = 0; i < scan.selected.length; i++) {
      const runner = scan.selected[i]!;
      if (this.signal.aborted) {
        counts.notReached = scan.selected.length - i;
        this.log.warn(`time limit: ${counts.notReached} runner folders left for the next run`);
        break;
      }
      const stop = await this.handle(runner, cfg, counts, fail);
      if (stop) {
        counts.notReached = scan.selected.length - i - 1;
        if (counts.notReached) this.log.error(`the event sinks fail: ${counts.notReached} runner folders left for the next run`);
        break;
      }
    }

    if (this.jobs.used) {
      const j = this.jobs.counts;
      this.log.info(
        `GitHub jobs: ${j.found} found, ${j.notFound} not found, ${j.without} runners without a lookup or whose lookup failed ` +
          `(${j.requests} requests)`,
      );
    }
    const skipped = [
      `${scan.excluded} excluded`,
      `${scan.overBound + counts.notReached} left for the next run (RUNNER_METRICS_MAX_RUNNERS=${cfg.maxRunners})`,
      `${scan.invalidCount} with an invalid name`,
      `${scan.young} younger than RUNNER_METRICS_MIN_AGE=${cfg.minAge}s`,
    ];
    this.log.info(
      `${dry}runners: ${counts.extracted} extracted, ${counts.quarantined} quarantined, ` +
        `${counts.incomplete} incomplete (no installed timestamp), ${counts.failed} failed, ${counts.parked} parked; ` +
        `skipped: ${skipped.join(', ')}; events: ${EVENT_NAMES.map((n) => `${counts.events[n]} ${n}`).join(', ')}`,
    );
    if (failures.length) {
      throw new CollectorError(
        `${failures.length} runner folder${failures.length > 1 ? 's' : ''} could not be handled: ` +
          `${failures[0]}${failures.length > 1 ? ` (and ${failures.length - 1} more, see the log)` : ''}`,
      );
    }
    return [];
  }

  /** One runner folder; returns true when the run must stop (the event sinks fail). */
  private async handle(runner: string, cfg: GithubRunnerConfig, counts: Counts, fail: (m: string) => void): Promise<boolean> {
    const where = join(cfg.storage, runner);
    let metrics: RunnerMetrics;
    try {
      metrics = await readRunnerFolder(cfg.storage, runner, { maxFileBytes: cfg.maxFileBytes });
    } catch (error) {
      if (error instanceof CorruptDataError) {
        await this.quarantine(runner, error.message, cfg, counts, fail);
      } else {
        fail(`runner ${runner}: ${errorMessage(error)}; its folder is left for the next run`);
      }
      return false;
    }
    if (metrics.unknownCount) {
      this.log.warn(
        `runner ${runner}: ${metrics.unknownCount} unexpected entr${metrics.unknownCount > 1 ? 'ies' : 'y'} in ${where} ignored ` +
          `(not read; removed with the folder): ` +
          `${metrics.unknown.map(showName).join(', ')}${metrics.unknownCount > metrics.unknown.length ? ', …' : ''}`,
      );
    }
    if (metrics.installed === undefined) {
      this.log.error(
        `runner ${runner}: no ${FILES.installed} in ${where}: nothing is issued for this runner (it never finished installing?)`,
      );
      counts.incomplete++;
      await this.remove(runner, cfg, counts, fail, 'incomplete');
      return false;
    }

    // build and check every event first: a runner's events are issued all or none
    // the job's fields from the GitHub API, when it answers (never throws: without them the events go as they are)
    const pre = metrics.preJob;
    const job = pre ? await this.jobs.job(runner, pre.repository, pre.workflow_run_id) : undefined;
    let events: Event[];
    try {
      events = runnerEvents(metrics, cfg.flavor, (m) => this.log.warn(`runner ${runner}: ${m}`), job);
      this.validatePoints(events);
    } catch (error) {
      if (error instanceof EventValidationError || error instanceof PointError) {
        await this.quarantine(runner, errorMessage(error), cfg, counts, fail);
        return false;
      }
      throw error;
    }
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      try {
        await this.issue(e);
      } catch (error) {
        fail(
          `runner ${runner}: cannot issue event ${e.event}: ${errorMessage(error)}; its folder is left for the next run` +
            (i > 0 ? ` (its first ${i} events were issued and will be issued again: duplicates)` : ''),
        );
        return true;
      }
      counts.events[e.event] = (counts.events[e.event] ?? 0) + 1;
    }
    // the events' points are delivered (or stored in the outbox) before their source is removed
    try {
      await this.flush();
    } catch (error) {
      fail(
        `runner ${runner}: its events could not be delivered: ${errorMessage(error)}; its folder is left for the next run (its ` +
          `events will be issued again)`,
      );
      return true;
    }
    counts.extracted++;
    this.log.debug(`runner ${runner}: ${events.map((e) => e.event).join(', ') || 'no events'}`);
    await this.remove(runner, cfg, counts, fail, 'extracted');
    return false;
  }

  private async remove(
    runner: string,
    cfg: GithubRunnerConfig,
    counts: Counts,
    fail: (m: string) => void,
    what: 'extracted' | 'incomplete',
  ): Promise<void> {
    const where = join(cfg.storage, runner);
    if (this.dryRun) {
      this.log.info(`dry-run: would remove ${where} (${what})`);
      return;
    }
    try {
      await removeEntry(cfg.storage, runner, { signal: this.signal });
    } catch (error) {
      await this.park(
        runner,
        `${where} could not be removed (${errorMessage(error)})`,
        what === 'extracted' ? 'its events were issued; parked, they are never issued again' : undefined,
        cfg,
        counts,
        fail,
      );
    }
  }

  /**
   * Sets a folder that can be neither removed nor quarantined aside as `<storage>/.parked-<runner>-<time>`
   * (hidden: no later run scans it), so that it neither fails every later run nor has its events issued again.
   */
  private async park(
    runner: string,
    reason: string,
    note: string | undefined,
    cfg: GithubRunnerConfig,
    counts: Counts,
    fail: (m: string) => void,
  ): Promise<void> {
    let parked: string;
    try {
      parked = await parkEntry(cfg.storage, runner);
    } catch (error) {
      fail(
        `runner ${runner}: ${reason}; it could not be set aside either (${errorMessage(error)}): inspect and remove it by hand` +
          (note ? ' (until then every run issues its events again: duplicates)' : ''),
      );
      return;
    }
    counts.parked++;
    this.log.warn(
      `runner ${runner}: ${reason}; set aside as ${parked}${note ? ` (${note})` : ''}: later runs leave it alone; inspect it and ` +
        `remove it by hand`,
    );
  }

  private async quarantine(
    runner: string,
    reason: string,
    cfg: GithubRunnerConfig,
    counts: Counts,
    fail: (m: string) => void,
  ): Promise<void> {
    const where = join(cfg.storage, runner);
    this.log.warn(`runner ${runner}: corrupt data: ${reason}; nothing of it is issued, ${where} goes to the quarantine`);
    if (this.dryRun) {
      this.log.info(`dry-run: would archive ${where} to ${join(cfg.quarantine, `${runner}.tar.gz`)} and remove it`);
      counts.quarantined++;
      return;
    }
    let archive: string;
    try {
      if (!this.quarantineReady) {
        const warning = await ensureQuarantineDir(cfg.quarantine);
        if (warning) this.log.warn(warning);
        this.quarantineReady = true;
      }
      const r = await quarantineEntry(cfg.storage, runner, cfg.quarantine, {
        maxBytes: cfg.maxQuarantineBytes,
        warn: (m) => this.log.warn(`runner ${runner}: ${m}`),
      });
      archive = r.archive;
      this.log.info(`runner ${runner}: archived to ${archive} (${r.entries} entries, ${r.bytes} bytes)`);
    } catch (error) {
      if (error instanceof QuarantineLimitError) {
        // no later run could archive it either: set it aside rather than fail every run
        await this.park(runner, `cannot quarantine ${where}: ${errorMessage(error)}`, undefined, cfg, counts, fail);
      } else {
        fail(`runner ${runner}: cannot quarantine ${where}: ${errorMessage(error)}; it is left in place for the next run`);
      }
      return;
    }
    counts.quarantined++;
    try {
      await removeEntry(cfg.storage, runner, { signal: this.signal });
    } catch (error) {
      await this.park(
        runner,
        `archived to ${archive}, but ${where} could not be removed (${errorMessage(error)})`,
        undefined,
        cfg,
        counts,
        fail,
      );
    }
  }
}
