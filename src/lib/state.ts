/**
 * The framework's own state directory: systemd's `$STATE_DIRECTORY` (set by `StateDirectory=`),
 * else `$METRICS_STATE_DIR`, else `/var/lib/metrics` for root and `~/.local/state/metrics` for
 * anyone else. It holds the outbox, the locks and the time of each collector's last run.
 */
import { accessSync, constants as fsConstants, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
    const data = JSON.parse(readFileSync(join(stateDir(env), 'runs', `${collector}.json`), 'utf8')) as Partial<LastRun>;
    if (typeof data.start === 'string' && typeof data.end === 'string' && typeof data.success === 'boolean') {
      return { start: data.start, end: data.end, success: data.success };
    }
  } catch {
    /* never ran here, or unreadable: unknown */
  }
  return undefined;
}

export function writeLastRun(collector: string, run: LastRun, env = process.env): void {
  const dir = join(stateDir(env), 'runs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${collector}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(run) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
