/**
 * How every command reports an error that ends it: one `error:` line on stderr (redacted), and the
 * exit code: 2 for a usage or configuration error (with a pointer to --help for usage), 1 for
 * anything else (with the stack when METRICS_DEBUG is set).
 */
import { ConfigError, UsageError, errorMessage } from '../platform/errors.js';
import { EXIT } from '../platform/exit.js';
import { writeStderr } from '../platform/redact.js';

/** Prints an error the way every command does, and sets the exit code; `debug` (METRICS_DEBUG): with the stack. */
export function reportError(error: unknown, debug = false): void {
  if (error instanceof UsageError) {
    writeStderr(`error: ${error.message}\n`);
    if (!(error instanceof ConfigError)) writeStderr('Run with --help for usage.\n');
    process.exitCode = EXIT.USAGE;
    return;
  }
  writeStderr(`error: ${errorMessage(error)}\n`);
  if (debug && error instanceof Error && error.stack) writeStderr(`${error.stack}\n`);
  process.exitCode = EXIT.FAILED;
}
