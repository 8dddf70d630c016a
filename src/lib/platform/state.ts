/**
 * The framework's own state directory: systemd's `$STATE_DIRECTORY` (set by `StateDirectory=`),
 * else `$METRICS_STATE_DIR`, else `/var/lib/metrics` for root and `~/.local/state/metrics` for
 * anyone else. It holds the outbox, the locks and the time of each collector's last run.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir, readRegularFile, writeFileAtomic } from './atomic.js';

export function stateDir(env: Record<string, string | undefined> = process.env): string {
  const sd = env.STATE_DIRECTORY?.split(':').find((s) => s.length > 0);
  if (sd) return sd;
  if (env.METRICS_STATE_DIR) return env.METRICS_STATE_DIR;
  const system = '/var/lib/metrics';
  if (process.getuid?.() === 0) return system;
  try {
    accessSync(system, fsConstants.W_OK);
    return system;
  } catch {
    // not writable for us
  }
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'metrics');
}

export interface LastRun {
  start: string;
  end: string;
  success: boolean;
}

export async function readLastRun(collector: string, env = process.env): Promise<LastRun | undefined> {
  try {
    // never follows a link, never waits on a FIFO, never reads more than a run record holds
    const file = await readRegularFile(join(stateDir(env), 'runs', `${collector}.json`), 4096);
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
export async function ensureStateFolder(name: 'locks' | 'runs', env: Record<string, string | undefined> = process.env): Promise<{ dir: string; warning?: string }> {
  const dir = join(stateDir(env), name);
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
export async function writeLastRun(collector: string, run: LastRun, env = process.env, warn?: (msg: string) => void): Promise<void> {
  const { dir, warning } = await ensureStateFolder('runs', env);
  if (warning) warn?.(warning);
  await writeFileAtomic(join(dir, `${collector}.json`), JSON.stringify(run) + '\n', { mode: 0o600 });
}
