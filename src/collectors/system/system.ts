// /proc and statfs(2) answer from the kernel's memory at once: synchronous calls, no thread pool
import { readFileSync, statfsSync, type StatsFs } from 'node:fs';
import { hostname, loadavg, uptime } from 'node:os';
import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';

/** Parses /proc/meminfo ("MemTotal:  16316412 kB") into bytes. */
export function parseMeminfo(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    if (m) out.set(m[1]!, BigInt(m[2]!) * (line.includes('kB') ? 1024n : 1n));
  }
  return out;
}

/**
 * Host metrics, offline, on any Linux: load averages, memory (/proc/meminfo), disk usage of the
 * root filesystem and of the mounts in SYSTEM_MOUNTS (comma-separated), uptime.
 */
export class SystemMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const host = this.env.SYSTEM_HOST_TAG || hostname();
    const points: PointObject[] = [];
    const [l1, l5, l15] = loadavg();
    points.push({ measurement: 'system_load', tags: { host }, fields: { load1: l1, load5: l5, load15: l15 } });

    const meminfoPath = this.env.SYSTEM_MEMINFO_PATH || '/proc/meminfo';
    let meminfo: string;
    try {
      meminfo = readFileSync(meminfoPath, 'utf8');
    } catch (error) {
      throw new CollectorError(`cannot read ${meminfoPath}: ${(error as NodeJS.ErrnoException).code}; this collector needs Linux's /proc`);
    }
    const mem = parseMeminfo(meminfo);
    const total = mem.get('MemTotal');
    const available = mem.get('MemAvailable') ?? mem.get('MemFree');
    if (total === undefined || available === undefined) {
      throw new CollectorError(`${meminfoPath} has no MemTotal/MemAvailable lines: cannot compute memory use`);
    }
    const swapTotal = mem.get('SwapTotal') ?? 0n;
    const swapFree = mem.get('SwapFree') ?? 0n;
    points.push({
      measurement: 'system_memory',
      tags: { host },
      fields: {
        total: int(total),
        available: int(available),
        used: int(total - available),
        used_percent: total > 0n ? Number(((total - available) * 1_000_000n) / total) / 10_000 : 0,
        swap_total: int(swapTotal),
        swap_used: int(swapTotal - swapFree),
      },
    });

    const mounts = [
      '/',
      ...(this.env.SYSTEM_MOUNTS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ];
    for (const path of [...new Set(mounts)]) {
      let s: StatsFs;
      try {
        s = statfsSync(path);
      } catch (error) {
        throw new CollectorError(`cannot stat the filesystem at ${path}: ${(error as NodeJS.ErrnoException).code}; fix SYSTEM_MOUNTS`);
      }
      const size = BigInt(s.blocks) * BigInt(s.bsize);
      const free = BigInt(s.bavail) * BigInt(s.bsize);
      const used = size - BigInt(s.bfree) * BigInt(s.bsize);
      points.push({
        measurement: 'system_disk',
        tags: { host, path },
        fields: {
          total: int(size),
          free: int(free),
          used: int(used),
          used_percent: used + free > 0n ? Number((used * 1_000_000n) / (used + free)) / 10_000 : 0,
          inodes_total: int(s.files),
          inodes_free: int(s.ffree),
        },
      });
    }
    points.push({ measurement: 'system_uptime', tags: { host }, fields: { uptime: int(Math.floor(uptime())) } });
    this.log.debug(`${points.length} points for host ${host}`);
    return points;
  }
}
