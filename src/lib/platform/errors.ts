/**
 * platform/: what every other part of the framework stands on: error types and exit codes, the
 * logger, secret redaction, safe file writing (atomic.ts), the settings read from the environment,
 * the state directory, the installation's paths and the HTTP pieces every layer shares. It
 * imports nothing else from src/lib (only node built-ins).
 *
 * This module: the error types of the framework. Every message names what failed, where, and
 * what to do.
 */

/** Thrown by a collector (or its helpers) when its source fails: the run fails, exit 1. */
export class CollectorError extends Error {
  override name = 'CollectorError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A point that cannot be written (empty measurement, NaN, bad type…): the collector fails. */
export class PointError extends CollectorError {
  override name = 'PointError';
}

/** Bad command line: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Missing or invalid configuration (environment, secret files): exit 2. */
export class ConfigError extends UsageError {
  override name = 'ConfigError';
}

/**
 * InfluxDB did not take a batch. `retriable`: a retry in a moment may succeed (unreachable,
 * timeout, 429, 5xx). Otherwise `dataRejected` tells whether the data itself was refused (400,
 * 422: it will never be accepted) or the request (credentials, a missing database, a TLS
 * certificate, a too large request: the data is fine and waits in the outbox until that is fixed).
 */
export class WriteError extends Error {
  override name = 'WriteError';
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get dataRejected(): boolean {
    return !this.retriable && (this.statusCode === 400 || this.statusCode === 422);
  }
}

/** The message of any thrown value, without a stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EFBIG: 'file too large: the file-size limit (ulimit -f, LimitFSIZE=) was reached',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EIO: 'I/O error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
};

/** The errno code of a thrown value (`ENOENT`, …), if it has one. */
export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** A file-system error in words: `ENOSPC (no space left on device)`; else its message. */
export function describeFsError(e: unknown): string {
  const code = errnoCode(e);
  if (code) return `${code} (${ERRNO_TEXT[code] ?? (e as Error).message})`;
  return e instanceof Error ? e.message : String(e);
}
