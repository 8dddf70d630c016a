/**
 * How every command reports an error that ends it: one `error:` line on stderr (redacted), and the
 * exit code: 2 for a usage or configuration error (with a pointer to --help for usage), 1 for
 * anything else (with the stack when METRICS_DEBUG is set).
 */
import { ConfigError, UsageError, errorMessage } from '../platform/errors.js';
import { EXIT } from '../platform/exit.js';
import { redact } from '../platform/redact.js';

/** Prints an error the way every command does, and sets the exit code; `debug` (METRICS_DEBUG): with the stack. */
export function reportError(error: unknown, debug = false): void {
  if (error instanceof UsageError) {
    process.stderr.write(redact(`error: ${error.message}`) + '\n');
    if (!(error instanceof ConfigError)) process.stderr.write('Run with --help for usage.\n');
    process.exitCode = EXIT.USAGE;
    return;
  }
  process.stderr.write(redact(`error: ${errorMessage(error)}`) + '\n');
  if (debug && error instanceof Error && error.stack) process.stderr.write(redact(error.stack) + '\n');
  process.exitCode = EXIT.FAILED;
}
