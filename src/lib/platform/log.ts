import { redact, writeStderr } from './redact.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * A logger: `level [scope] message` lines on stderr, redacted of secrets; `debug` lines only when
 * `verbose`. A collector's `this.log` is scoped to its name. The one logger of the framework:
 * a module that logs takes a Logger, or a Pick of it (`Pick<Logger, 'warn'>`).
 */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** a logger whose lines are prefixed with a collector name */
  child(scope: string): Logger;
  readonly verbose: boolean;
}

export interface LoggerOptions {
  verbose?: boolean;
  scope?: string;
  /** where lines go (with their level); default stderr, so that stdout carries only data (dry-run points, tables) */
  write?: (line: string, level: Level) => void;
}

/**
 * Log lines go to stderr as `level [scope] message`. Under systemd, journald stores them with
 * the unit's name; `--verbose` shows debug lines. Every line is redacted of secrets.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const verbose = options.verbose ?? false;
  const write = options.write ?? ((line: string) => writeStderr(line + '\n'));
  const scope = options.scope;
  const emit = (level: Level, message: string) => {
    if (level === 'debug' && !verbose) return;
    const prefix = scope ? `${level} [${scope}] ` : `${level} `;
    for (const line of redact(message).split('\n')) write(prefix + line, level);
  };
  return {
    verbose,
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (child) => createLogger({ verbose, write, scope: scope ? `${scope}/${child}` : child }),
  };
}
