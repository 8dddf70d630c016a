/**
 * The framework's own state: the time of each collector's last run (`<state>/runs/`) and the
 * private folders of the state directory (`runs/`, `locks/`). Which directory that is, is a
 * setting (settings.ts, `state.dir`): `$STATE_DIRECTORY`, `$METRICS_STATE_DIR`, `/var/lib/metrics`,
 * or the user's; every function here takes it.
 */
import { join } from 'node:path';
import { ensurePrivateDir, readRegularFile, writeFileAtomic } from './atomic.js';

export interface LastRun {
  start: string;
  end: string;
  success: boolean;
}

/** The last run of `collector` recorded in the state directory `stateDir`, if any (and readable). */
export async function readLastRun(collector: string, stateDir: string): Promise<LastRun | undefined> {
  try {
    // never follows a link, never waits on a FIFO, never reads more than a run record holds
    const file = await readRegularFile(join(stateDir, 'runs', `${collector}.json`), 4096);
    if (!file) return undefined;
    const data = JSON.parse(file.data.toString('utf8')) as Partial<LastRun>;
    if (typeof data.start === 'string' && typeof data.end === 'string' && typeof data.success === 'boolean') {
      return { start: data.start, end: data.end, success: data.success };
    }
  } catch {
    /* never ran here, or unreadable: unknown */
  }
  return undefined;
}

/**
 * A folder of ours in the state directory (`locks/`, `runs/`): created with mode 0700; a link or
 * anything but a directory is refused (UnsafeFileError naming it), a folder wider than 0700 is
 * restricted to 0700 and `warning` says so (log it).
 */
export async function ensureStateFolder(name: 'locks' | 'runs', stateDir: string): Promise<{ dir: string; warning?: string }> {
  const dir = join(stateDir, name);
  const warning = await ensurePrivateDir(dir, {
    what: `the state folder`,
    hint: `remove it (metrics creates it again, mode 0700), or point METRICS_STATE_DIR at another state directory`,
  });
  return warning ? { dir, warning } : { dir };
}

/**
 * Records a collector's last run in `<state>/runs/<collector>.json` (platform/atomic.ts: a planted link is
 * replaced, never followed). `warn` is told when runs/ had to be restricted to 0700.
 */
export async function writeLastRun(collector: string, run: LastRun, stateDir: string, warn?: (msg: string) => void): Promise<void> {
  const { dir, warning } = await ensureStateFolder('runs', stateDir);
  if (warning) warn?.(warning);
  await writeFileAtomic(join(dir, `${collector}.json`), JSON.stringify(run) + '\n', { mode: 0o600 });
}
