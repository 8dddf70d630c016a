/**
 * Process exit codes of every `metrics` command. They are part of the user-facing contract
 * (systemd units, shell scripts and alerts depend on them): change them only with the README.
 */
export const EXIT = {
  /** every collector succeeded and its points were accepted (or printed, in a dry-run) */
  OK: 0,
  /** at least one collector failed (source error, invalid point, time limit, data rejected) */
  FAILED: 1,
  /** usage or configuration error: nothing was collected */
  USAGE: 2,
  /** collected fine, but InfluxDB could not take the points: they wait in the outbox */
  DEFERRED: 3,
  /** skipped: another run of the same collector still holds its lock */
  BUSY: 4,
} as const;
