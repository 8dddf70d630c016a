/**
 * The foreground scheduler (`metrics daemon`), for hosts without systemd (containers, a laptop).
 * Same semantics as the systemd timers:
 * - a time span counts from the END of the previous run of that collector (OnUnitInactiveSec=);
 *   the first run is at start (or one span after the last recorded run, when that is later);
 * - a cron expression fires at cron-parser's next time (UTC); an occurrence that passes while the
 *   collector is still running is skipped, as systemd does for a unit that is still active;
 * - jitter: each due time gets a random delay in [0, jitterMs) (RandomizedDelaySec=);
 * - never two runs of one collector at once, at most `maxConcurrent` runs at once (a due run
 *   waits for a free slot);
 * - each run is a fresh child process (`node bin/metrics run <name>`), as under systemd;
 * - one log line per run: start, end, exit code and its meaning, duration, next run;
 * - SIGTERM/SIGINT: no new runs; running ones get `graceMs` to finish, then SIGTERM, then SIGKILL
 *   `killAfterMs` later; a second signal kills them at once. Resolves with exit code 0.
 * Broken collectors and invalid schedules are logged and skipped; the others run.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../platform/errors.js';
import { EXIT } from '../platform/exit.js';
import { createLogger, type Logger } from '../platform/log.js';
import { repoRoot } from '../platform/paths.js';
import { describeSchedule, nextCronRun, parseSchedule, type Schedule, type ScheduledCollector } from './schedule.js';

/** Time source and timer, injectable so that tests need no real waiting. */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
  /** resolve after `ms`, or as soon as `signal` aborts (never rejects) */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const MAX_TIMEOUT = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  // node:timers/promises; an abort ends the wait early (resolves: the loop looks at the signal itself)
  sleep: (ms, signal) => delay(Math.max(0, Math.min(ms, MAX_TIMEOUT)), undefined, signal ? { signal } : undefined).catch(() => undefined),
};

/** What `spawnRun` may return: a child process (or anything shaped like one)… */
export interface ChildLike {
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  kill(signal?: NodeJS.Signals | number): boolean;
  readonly exitCode?: number | null;
  readonly signalCode?: NodeJS.Signals | null;
}

/** …or a promise of the exit code (then `signal` aborts when the run must be stopped). */
export type SpawnRun = (name: string, signal: AbortSignal) => ChildLike | Promise<number>;

export interface RunRecord {
  name: string;
  /** ms since the epoch, from the clock */
  start: number;
  end: number;
  /** exit code; null when killed by a signal or when it could not start */
  code: number | null;
  signal: string | null;
  error?: string;
}

/** What the daemon logs with: a Logger (platform/log.ts), of which `debug` is optional. */
export type DaemonLog = Pick<Logger, 'info' | 'warn' | 'error'> & Partial<Pick<Logger, 'debug'>>;

export interface DaemonOptions {
  collectors: ScheduledCollector[];
  clock?: Clock;
  /** start one run; default: spawn `command` + name as a child process */
  spawnRun?: SpawnRun;
  /** argv of a run, the collector name is appended; default [node, <repo>/bin/metrics, 'run'] */
  command?: string[];
  /** at most this many runs at once (default 4) */
  maxConcurrent?: number;
  /** random delay in [0, jitterMs) added to every due time (default 0) */
  jitterMs?: number;
  /** on stop, how long running runs may take to finish before they are terminated (default 30 s) */
  graceMs?: number;
  /** after the grace period: SIGTERM, then SIGKILL this much later (default 5 s) */
  killAfterMs?: number;
  log?: DaemonLog;
  /** aborting it stops the daemon, like SIGTERM */
  signal?: AbortSignal;
  /** stop on SIGTERM and SIGINT (default true) */
  handleSignals?: boolean;
  /** random numbers in [0, 1) for the jitter (default Math.random) */
  random?: () => number;
  /** end of the last completed run of a collector (e.g. from readLastRun), to continue its time span */
  lastRunEnd?: (name: string) => Promise<Date | undefined> | Date | undefined;
  /** told about every finished run */
  onRun?: (record: RunRecord) => void;
}

export const DAEMON_DEFAULTS = { maxConcurrent: 4, jitterMs: 0, graceMs: 30_000, killAfterMs: 5_000 } as const;

/** What an exit code of `metrics run` means (see platform/exit.ts). */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `killed by ${signal}`;
  switch (code) {
    case EXIT.OK:
      return 'ok';
    case EXIT.FAILED:
      return 'failed';
    case EXIT.USAGE:
      return 'usage or configuration error';
    case EXIT.DEFERRED:
      return 'collected, points deferred to the outbox';
    case EXIT.BUSY:
      return 'skipped: another run holds the lock';
    case null:
      return 'did not start';
    default:
      return 'unexpected exit code';
  }
}

function defaultCommand(): string[] {
  return [process.execPath, join(repoRoot, 'bin', 'metrics'), 'run'];
}

interface Handle {
  done: Promise<{ code: number | null; signal: string | null; error?: string }>;
  kill(signal: NodeJS.Signals): void;
}

function toHandle(result: ChildLike | Promise<number>, abort: AbortController): Handle {
  if (typeof (result as Promise<number>).then === 'function') {
    return {
      done: (result as Promise<number>).then(
        (code) => ({ code, signal: null }),
        (error: unknown) => ({ code: null, signal: null, error: errorMessage(error) }),
      ),
      kill: () => abort.abort(),
    };
  }
  const child = result as ChildLike;
  const done = new Promise<{ code: number | null; signal: string | null; error?: string }>((resolveDone) => {
    if (child.exitCode !== undefined && child.exitCode !== null) return resolveDone({ code: child.exitCode, signal: null });
    if (child.signalCode) return resolveDone({ code: null, signal: child.signalCode });
    child.once('exit', (code, signal) => resolveDone({ code, signal }));
    child.once('error', (error) => resolveDone({ code: null, signal: null, error: error.message }));
  });
  return {
    done,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    },
  };
}

interface Entry {
  name: string;
  schedule: Schedule;
  /** when the next run may start (ms since the epoch; jitter included) */
  due: number;
  /** cron: the un-jittered scheduled time of the next run */
  base: number;
  running: boolean;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : 'never');
const seconds = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 1)} s`;

/**
 * Run the collectors on their schedules until stopped (SIGTERM/SIGINT or `opts.signal`).
 * Resolves with EXIT.OK after a stop, or EXIT.USAGE at once when no collector can be scheduled.
 */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const clock = opts.clock ?? realClock;
  const log: DaemonLog = opts.log ?? createLogger({ scope: 'daemon' });
  const maxConcurrent = Math.max(1, Math.floor(opts.maxConcurrent ?? DAEMON_DEFAULTS.maxConcurrent));
  const jitterMs = Math.max(0, opts.jitterMs ?? DAEMON_DEFAULTS.jitterMs);
  const graceMs = Math.max(0, opts.graceMs ?? DAEMON_DEFAULTS.graceMs);
  const killAfterMs = Math.max(0, opts.killAfterMs ?? DAEMON_DEFAULTS.killAfterMs);
  const random = opts.random ?? Math.random;
  const jitter = () => (jitterMs > 0 ? Math.floor(random() * jitterMs) : 0);
  const command = opts.command ?? defaultCommand();
  const spawnRun: SpawnRun =
    opts.spawnRun ?? ((name) => spawn(command[0]!, [...command.slice(1), name], { stdio: ['ignore', 'inherit', 'inherit'] }));

  // --- the schedule of every collector that can run
  const entries: Entry[] = [];
  const start = clock.now();
  for (const c of opts.collectors) {
    if (c.error) {
      log.error(`${c.name}: skipped, the collector is broken: ${c.error}`);
      continue;
    }
    let schedule: Schedule;
    try {
      schedule = parseSchedule(c.runInterval, c.name);
    } catch (error) {
      log.error(`${c.name}: skipped: ${errorMessage(error)}`);
      continue;
    }
    let due: number;
    let base = Number.NaN;
    if (schedule.kind === 'timespan') {
      let last: Date | undefined;
      try {
        last = await opts.lastRunEnd?.(c.name);
      } catch {
        last = undefined;
      }
      due = last && !Number.isNaN(last.getTime()) ? Math.max(start, last.getTime() + schedule.ms) : start;
      due += jitter();
    } else {
      base = nextCronRun(schedule, new Date(start))?.getTime() ?? Number.POSITIVE_INFINITY;
      due = base + jitter();
    }
    entries.push({ name: c.name, schedule, due, base, running: false });
  }
  if (!entries.length) {
    log.error('no collector can be scheduled: nothing to do');
    return EXIT.USAGE;
  }
  log.info(
    `scheduling ${entries.length} collector(s), at most ${maxConcurrent} at once` +
      `${jitterMs ? `, jitter up to ${seconds(jitterMs)}` : ''}: ` +
      entries.map((e) => `${e.name} ${describeSchedule(e.schedule)}, first run ${iso(e.due)}`).join('; '),
  );

  // --- stopping
  let stopping = false;
  let forced = false;
  let wake = new AbortController();
  const stopWaits = new AbortController();
  const running = new Map<string, Handle>();
  const requestStop = (why: string) => {
    if (stopping) {
      if (!forced && running.size) {
        forced = true;
        log.warn(`${why} again: killing ${[...running.keys()].join(', ')} now`);
        for (const h of running.values()) h.kill('SIGKILL');
      }
      stopWaits.abort();
      return;
    }
    stopping = true;
    log.info(`${why}: taking no new runs`);
    wake.abort();
  };
  const onSigterm = () => requestStop('SIGTERM received');
  const onSigint = () => requestStop('SIGINT received');
  const onAbort = () => requestStop('stop requested');
  if (opts.handleSignals ?? true) {
    process.on('SIGTERM', onSigterm);
    process.on('SIGINT', onSigint);
  }
  if (opts.signal) {
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
  }

  const startRun = (e: Entry) => {
    e.running = true;
    const startedAt = clock.now();
    log.debug?.(`${e.name}: starting (due ${iso(e.due)})`);
    const abort = new AbortController();
    let handle: Handle;
    try {
      handle = toHandle(spawnRun(e.name, abort.signal), abort);
    } catch (error) {
      handle = { done: Promise.resolve({ code: null, signal: null, error: errorMessage(error) }), kill: () => {} };
    }
    running.set(e.name, handle);
    void handle.done.then((r) => {
      const end = clock.now();
      e.running = false;
      running.delete(e.name);
      if (e.schedule.kind === 'timespan') {
        e.due = end + e.schedule.ms + jitter();
      } else {
        e.base = nextCronRun(e.schedule, new Date(Math.max(end, e.base)))?.getTime() ?? Number.POSITIVE_INFINITY;
        e.due = e.base + jitter();
      }
      const record: RunRecord = {
        name: e.name,
        start: startedAt,
        end,
        code: r.code,
        signal: r.signal,
        ...(r.error ? { error: r.error } : {}),
      };
      const line =
        `${e.name}: run started ${iso(startedAt)}, ended ${iso(end)}, ${seconds(end - startedAt)}, ` +
        `exit ${r.code ?? '-'} (${describeExit(r.code, r.signal)}${r.error ? `: ${r.error}` : ''})` +
        (stopping ? '' : `; next run ${iso(e.due)}`);
      const ok = r.code === EXIT.OK || r.code === EXIT.BUSY || r.code === EXIT.DEFERRED;
      if (ok) log.info(line);
      else log.warn(line);
      try {
        opts.onRun?.(record);
      } catch {
        /* an observer's problem is not ours */
      }
      wake.abort();
    });
  };

  // --- the loop
  while (!stopping) {
    wake = new AbortController();
    const now = clock.now();
    const due = entries.filter((e) => !e.running && e.due <= now).sort((a, b) => a.due - b.due);
    for (const e of due) {
      if (running.size >= maxConcurrent) break;
      startRun(e);
    }
    let next = Number.POSITIVE_INFINITY;
    for (const e of entries) if (!e.running && e.due > now) next = Math.min(next, e.due);
    // a due run waiting for a slot is woken by the end of a run
    const wait = Number.isFinite(next) ? next - now : MAX_TIMEOUT;
    if (stopping) break;
    await clock.sleep(Math.max(0, Math.min(wait, MAX_TIMEOUT)), wake.signal);
  }

  // --- shutdown: wait for the running ones, up to the grace period
  if (running.size) {
    const names = [...running.keys()];
    log.info(`waiting up to ${seconds(graceMs)} for ${names.length} running run(s) to finish: ${names.join(', ')}`);
    const allDone = Promise.all([...running.values()].map((h) => h.done)).then(() => true);
    /** true when every run ended within `ms`; the timer is cancelled either way (it must not keep the process alive) */
    const within = async (ms: number, also?: AbortSignal): Promise<boolean> => {
      const timer = new AbortController();
      const cancel = () => timer.abort();
      also?.addEventListener('abort', cancel, { once: true });
      try {
        return await Promise.race([allDone, clock.sleep(ms, timer.signal).then(() => false)]);
      } finally {
        timer.abort();
        also?.removeEventListener('abort', cancel);
      }
    };
    if (!(await within(graceMs, stopWaits.signal)) && running.size) {
      log.warn(`grace period over: terminating ${[...running.keys()].join(', ')}`);
      for (const h of running.values()) h.kill('SIGTERM');
      if (!(await within(killAfterMs)) && running.size) {
        log.warn(`killing ${[...running.keys()].join(', ')}`);
        for (const h of running.values()) h.kill('SIGKILL');
        await within(killAfterMs);
      }
    }
  }
  process.off('SIGTERM', onSigterm);
  process.off('SIGINT', onSigint);
  opts.signal?.removeEventListener('abort', onAbort);
  log.info('stopped');
  return EXIT.OK;
}
