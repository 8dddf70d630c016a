/**
 * logrotate for the metrics log (the JSON-lines file the `log` event sink appends to).
 *
 * Strategy: plain rename, `nocreate`, no `copytruncate`.
 *
 * Every event is written by a fresh open(O_APPEND|O_CREAT) + one write() + close() (see
 * metrics-log.ts). logrotate renames the log (`m.log` → `m.log.1`); a writer that opened the
 * file before the rename writes its line into the renamed file (same inode), any later writer
 * opens the path again and creates a new file. So every line lands in exactly one file, whole.
 *
 * - `copytruncate` is not used: it copies and then truncates, and a line appended between the
 *   copy and the truncate is lost.
 * - `nocreate` rather than `create`: with `create`, logrotate creates the new file with O_EXCL
 *   after the rename; if a writer created it first (an event between the two steps), logrotate
 *   renames the writer's file to `<log>-YYYYMMDDHH.backup`, where its lines sit outside the
 *   rotation and outside what Promtail tails. With `nocreate` the writer's own O_CREAT makes the
 *   new file (mode 0640), and there is no such window.
 * - rotate count 0 (default), as the reference: the renamed file is removed at once, so
 *   rotated logs are never shipped to Loki twice (Promtail has read the lines as they were
 *   written). A line written in the same instant as a rotation is then only in the removed
 *   inode, readable by a Promtail that still has it open; when the file itself is the record,
 *   keep one rotated file (`--rotate 1`) and make sure Promtail's path does not match `*.1`.
 * - `missingok` (no event yet is fine) and `notifempty`.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { writeFileAtomic } from '../platform/atomic.js';

export class LogrotateSetupError extends Error {
  override name = 'LogrotateSetupError';
  constructor(
    message: string,
    /** the command that failed, when a command failed */
    readonly command?: string,
    /** its exit status (null: killed by a signal) */
    readonly exitStatus?: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type Frequency = 'daily' | 'weekly' | 'monthly' | 'yearly';
export const FREQUENCIES: readonly Frequency[] = ['daily', 'weekly', 'monthly', 'yearly'];

export interface LogrotateConfigOptions {
  /** the metrics log (absolute path) */
  logPath: string;
  /** rotated files to keep (default 0: removed at once) */
  rotate?: number;
  /** how often (default daily; logrotate.timer runs daily) */
  frequency?: Frequency;
  /** also rotate when larger than this, e.g. `100M` (logrotate's `maxsize`) */
  maxSize?: string;
}

export interface InstallLogrotateOptions extends LogrotateConfigOptions {
  /** default /etc/logrotate.d */
  configDir?: string;
  /** the configuration file's name (default `metrics-events`) */
  name?: string;
  /** the systemctl binary (default `systemctl` from PATH) */
  systemctl?: string;
  /** run `systemctl enable --now logrotate.timer` (default true) */
  enableTimer?: boolean;
}

export const DEFAULT_CONFIG_DIR = '/etc/logrotate.d';
export const DEFAULT_CONFIG_NAME = 'metrics-events';

/** Throws a TypeError with a user-facing message for options logrotate would misread. */
function check(opts: LogrotateConfigOptions): Required<Pick<LogrotateConfigOptions, 'rotate' | 'frequency'>> {
  const { logPath } = opts;
  if (typeof logPath !== 'string' || !isAbsolute(logPath)) {
    throw new TypeError(`the metrics log path must be absolute, got ${JSON.stringify(logPath)}`);
  }
  // logrotate reads a quoted path up to the next quote, and expands globs
  if (/["\\\n\r\t*?[\]{}]/.test(logPath)) {
    throw new TypeError(`the metrics log path ${JSON.stringify(logPath)} contains characters logrotate would read as quotes or globs`);
  }
  const rotate = opts.rotate ?? 0;
  if (!Number.isSafeInteger(rotate) || rotate < 0) throw new TypeError(`rotate must be a whole number >= 0, got ${rotate}`);
  const frequency = opts.frequency ?? 'daily';
  if (!FREQUENCIES.includes(frequency))
    throw new TypeError(`frequency must be one of ${FREQUENCIES.join(', ')}, got ${JSON.stringify(frequency)}`);
  if (opts.maxSize !== undefined && !/^\d+[kMG]?$/.test(opts.maxSize)) {
    throw new TypeError(
      `maxsize must be a number of bytes with an optional k, M or G suffix (e.g. 100M), got ${JSON.stringify(opts.maxSize)}`,
    );
  }
  return { rotate, frequency };
}

/** The logrotate configuration for the metrics log (see the module comment for the choices). */
export function logrotateConfig(opts: LogrotateConfigOptions): string {
  const { rotate, frequency } = check(opts);
  return [
    '# Written by `metrics logrotate install`: rotation of the metrics events log (JSON lines).',
    '# Every event is one open(O_APPEND)+write+close, so renaming the file loses no line; nocreate:',
    '# the next event creates the new file (logrotate creating it could race with a writer).',
    '# Never use copytruncate here: a line written between the copy and the truncate is lost.',
    `"${opts.logPath}" {`,
    `    ${frequency}`,
    ...(opts.maxSize ? [`    maxsize ${opts.maxSize}`] : []),
    `    rotate ${rotate}`,
    '    missingok',
    '    notifempty',
    '    nocreate',
    '    nocopytruncate',
    '    nocompress',
    '}',
    '',
  ].join('\n');
}

function run(cmd: string, args: string[]): Promise<void> {
  const shown = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const e = error as NodeJS.ErrnoException & { code?: number | string; signal?: string | null; killed?: boolean };
      if (e.code === 'ENOENT') {
        return reject(
          new LogrotateSetupError(`cannot run \`${shown}\`: ${cmd} not found (pass --systemctl PATH)`, shown, undefined, { cause: error }),
        );
      }
      if (typeof e.code === 'string') {
        return reject(new LogrotateSetupError(`cannot run \`${shown}\`: ${e.message}`, shown, undefined, { cause: error }));
      }
      const status = typeof e.code === 'number' ? e.code : null;
      const output = (String(stderr).trim() || String(stdout).trim()).slice(0, 2000);
      const how = status !== null ? `exit status ${status}` : `signal ${e.signal ?? 'unknown'}`;
      reject(new LogrotateSetupError(`\`${shown}\` failed (${how})${output ? `: ${output}` : ''}`, shown, status, { cause: error }));
    });
  });
}

/**
 * Writes the logrotate configuration for the metrics log into `configDir` (mode 0644: logrotate
 * ignores configuration files others may write) and enables `logrotate.timer` with
 * `systemctl enable --now logrotate.timer`. Failures throw `LogrotateSetupError` with the
 * failing command's message and exit status.
 */
export async function installLogrotate(opts: InstallLogrotateOptions): Promise<{ configPath: string; config: string }> {
  let config: string;
  try {
    config = logrotateConfig(opts);
  } catch (error) {
    throw new LogrotateSetupError((error as Error).message, undefined, undefined, { cause: error });
  }
  const configDir = opts.configDir ?? DEFAULT_CONFIG_DIR;
  const name = opts.name ?? DEFAULT_CONFIG_NAME;
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) {
    throw new LogrotateSetupError(
      `the configuration name ${JSON.stringify(name)} must be a plain file name (letters, digits, ".", "_", "-")`,
    );
  }
  const configPath = join(configDir, name);
  try {
    if (!(await stat(configDir)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new LogrotateSetupError(
      `the logrotate configuration directory ${configDir} is missing (${(error as Error).message}): is logrotate installed?`,
      undefined,
      undefined,
      {
        cause: error,
      },
    );
  }
  try {
    // platform/atomic.ts: an unpredictable temp name, O_EXCL|O_NOFOLLOW, rename: a planted link is replaced, never followed
    await writeFileAtomic(configPath, config, { mode: 0o644 });
  } catch (error) {
    throw new LogrotateSetupError(
      `cannot write the logrotate configuration ${configPath}: ${(error as Error).message}`,
      undefined,
      undefined,
      { cause: error },
    );
  }
  if (opts.enableTimer ?? true) {
    try {
      await run(opts.systemctl ?? 'systemctl', ['enable', '--now', 'logrotate.timer']);
    } catch (error) {
      const e = error as LogrotateSetupError;
      throw new LogrotateSetupError(
        `${e.message} (the configuration ${configPath} was written; logrotate.timer is not enabled)`,
        e.command,
        e.exitStatus,
        {
          cause: e.cause,
        },
      );
    }
  }
  return { configPath, config };
}
