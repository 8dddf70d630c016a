/**
 * The system collector (src/collectors/system), through the SDK's harness (`collectPoints`: one
 * in-process dry-run at a fixed "now", its points parsed with their line-protocol types):
 * - on this host as it is (real load, /proc/meminfo, statfs of /, uptime): the measurements, tag
 *   keys, field names and types are exactly those its README documents, and the values are
 *   plausible (within their ranges, consistent with each other, the time the run's "now");
 * - with a recorded /proc/meminfo (fixtures/meminfo, through SYSTEM_MEMINFO_PATH) and the real
 *   statfs(2) of / and of a temporary folder (SYSTEM_MOUNTS): the memory numbers exactly, the disk
 *   numbers as statfs gives them, the line protocol;
 * - the errors: a mount, a meminfo that cannot be read, a meminfo without the lines it needs, each
 *   failing the run with the path and what to do, and nothing reported as zero.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { hostname, tmpdir, uptime } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RUN_INTERVAL } from '../../../src/collectors/system/index.js';
import { parseMeminfo } from '../../../src/collectors/system/system.js';
import { parseMeasurementTables } from '../../../src/lib/grafana/measurements.js';
import { parseSchedule } from '../../../src/lib/schedule/schedule.js';
import { collectPoints, type ParsedField, type ParsedPoint } from '../../../src/lib/sdk/testing.js';
import { repoRoot } from '../../helpers/servers.js';

const MEMINFO = join(repoRoot, 'test', 'collectors', 'system', 'fixtures', 'meminfo');
const KIB = 1024n;
const NOW = '2026-01-01T12:00:00Z';
const NOW_NS = '1767268800000000000';

const root = mkdtempSync(join(tmpdir(), 'system-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A file under this file's temp root holding `text`. */
function file(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

/** One run of the collector at NOW, its environment only what is given (never the machine's). */
const system = (env: Record<string, string | undefined>) => collectPoints('system', { env, now: NOW });

/** The points of a run that must succeed. */
async function points(env: Record<string, string | undefined>): Promise<ParsedPoint[]> {
  const r = await system(env);
  assert.deepEqual(r.errors, [], r.logs.join('\n'));
  return r.points;
}

/** The field names and their line-protocol types of a point, sorted by name. */
const kinds = (p: ParsedPoint): Record<string, string> =>
  Object.fromEntries(
    Object.entries(p.fields)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, v.type]),
  );

const bigOf = (f: ParsedField | undefined): bigint => {
  assert.equal(f?.type, 'integer', `${JSON.stringify(f)} is an integer field`);
  return BigInt(f!.value as number | bigint);
};

const floatOf = (f: ParsedField | undefined): number => {
  assert.equal(f?.type, 'float', `${JSON.stringify(f)} is a float field`);
  return f!.value as number;
};

const byMeasurement = (ps: ParsedPoint[], m: string): ParsedPoint => {
  const p = ps.find((x) => x.measurement === m);
  assert.ok(p, `a ${m} point among ${ps.map((x) => x.measurement).join(', ')}`);
  return p;
};

describe('this host, as it is: the schema of the README, plausible values', () => {
  test('measurements, tag keys, field names and types: exactly those the README documents', async () => {
    const readme = parseMeasurementTables(readFileSync(join(repoRoot, 'src', 'collectors', 'system', 'README.md'), 'utf8'));
    assert.deepEqual(
      readme.map((m) => m.measurement),
      ['system_load', 'system_memory', 'system_disk', 'system_uptime'],
    );
    const ps = await points({});
    assert.deepEqual(
      ps.map((p) => p.measurement),
      ['system_load', 'system_memory', 'system_disk', 'system_uptime'],
      'one point each, one disk point for / (no SYSTEM_MOUNTS)',
    );
    for (const p of ps) {
      const spec = readme.find((m) => m.measurement === p.measurement)!;
      assert.deepEqual(Object.keys(p.tags).sort(), [...spec.tags].sort(), `${p.measurement}: tag keys`);
      assert.deepEqual(
        kinds(p),
        Object.fromEntries(spec.fields.map((f) => [f.name, f.type]).sort(([a], [b]) => a!.localeCompare(b!))),
        `${p.measurement}: fields and their types`,
      );
      assert.equal(p.tags.host, hostname(), `${p.measurement}: host tag`);
      assert.equal(p.time, NOW_NS, `${p.measurement}: the run's collection time`);
    }
    assert.equal(byMeasurement(ps, 'system_disk').tags.path, '/');
  });

  test('values: within their ranges and consistent with each other', async () => {
    const before = Math.floor(uptime());
    const ps = await points({});
    const after = Math.floor(uptime());
    const load = byMeasurement(ps, 'system_load');
    for (const k of ['load1', 'load5', 'load15']) {
      const v = floatOf(load.fields[k]);
      assert.ok(v >= 0 && v < 100_000, `${k} = ${v}`);
    }
    const mem = byMeasurement(ps, 'system_memory').fields;
    const total = bigOf(mem.total);
    const available = bigOf(mem.available);
    assert.ok(total >= 64n * 1024n * KIB && total < 1n << 50n, `memory total ${total} bytes`);
    assert.ok(available >= 0n && available <= total, `available ${available} of ${total}`);
    assert.equal(bigOf(mem.used), total - available);
    const memPct = floatOf(mem.used_percent);
    assert.ok(memPct >= 0 && memPct <= 100, `used_percent ${memPct}`);
    assert.ok(Math.abs(memPct - Number(((total - available) * 10_000n) / total) / 100) < 0.01, `used_percent ${memPct}`);
    assert.ok(bigOf(mem.swap_used) >= 0n && bigOf(mem.swap_used) <= bigOf(mem.swap_total));
    const disk = byMeasurement(ps, 'system_disk').fields;
    const size = bigOf(disk.total);
    assert.ok(size > 0n, `disk total ${size}`);
    assert.ok(bigOf(disk.free) >= 0n && bigOf(disk.used) >= 0n && bigOf(disk.free) + bigOf(disk.used) <= size);
    const diskPct = floatOf(disk.used_percent);
    assert.ok(diskPct >= 0 && diskPct <= 100, `disk used_percent ${diskPct}`);
    assert.ok(bigOf(disk.inodes_free) <= bigOf(disk.inodes_total));
    const up = bigOf(byMeasurement(ps, 'system_uptime').fields.uptime);
    assert.ok(up >= BigInt(before) && up <= BigInt(after), `uptime ${up} within [${before}, ${after}]`);
  });

  test('RUN_INTERVAL: every minute, a valid schedule', () => {
    assert.equal(RUN_INTERVAL, '1m');
    assert.equal(parseSchedule(RUN_INTERVAL, 'system').kind, 'timespan');
  });
});

describe('parseMeminfo', () => {
  test('kB lines in bytes, lines without a unit as they are, names with parentheses', () => {
    const m = parseMeminfo('MemTotal:       16316412 kB\nHugePages_Total:       7\nActive(anon):    3145728 kB\nnot a line\n\n');
    assert.deepEqual(
      [...m],
      [
        ['MemTotal', 16316412n * KIB],
        ['HugePages_Total', 7n],
        ['Active(anon)', 3145728n * KIB],
      ],
    );
  });

  test('the recorded /proc/meminfo: every one of its 40 lines, the values the collector uses among them', () => {
    const m = parseMeminfo(readFileSync(MEMINFO, 'utf8'));
    assert.equal(m.size, 40);
    assert.equal(m.get('MemTotal'), 16316412n * KIB);
    assert.equal(m.get('MemFree'), 1234568n * KIB);
    assert.equal(m.get('MemAvailable'), 6118656n * KIB);
    assert.equal(m.get('SwapTotal'), 2097148n * KIB);
    assert.equal(m.get('SwapFree'), 1572860n * KIB);
    assert.equal(m.get('VmallocTotal'), 34359738367n * KIB, 'beyond 2^53 bytes: bigint, no rounding');
    assert.equal(m.get('HugePages_Total'), 0n);
  });
});

describe('with a recorded /proc/meminfo and chosen mounts', () => {
  test('load, memory, one disk point per mount (/ first, duplicates once), uptime; every point tagged with SYSTEM_HOST_TAG', async () => {
    const ps = await points({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'box-1', SYSTEM_MOUNTS: ` ${root} ,/,${root},, ` });
    assert.deepEqual(
      ps.map((p) => [p.measurement, p.tags]),
      [
        ['system_load', { host: 'box-1' }],
        ['system_memory', { host: 'box-1' }],
        ['system_disk', { host: 'box-1', path: '/' }],
        ['system_disk', { host: 'box-1', path: root }],
        ['system_uptime', { host: 'box-1' }],
      ],
    );
  });

  test('memory: exact bytes from the recorded meminfo (kB × 1024), used = total − available, used_percent to 4 decimals', async () => {
    const mem = byMeasurement(await points({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'h' }), 'system_memory');
    // computed by hand from fixtures/meminfo
    assert.deepEqual(mem.fields, {
      total: { type: 'integer', value: 16708005888 }, // 16316412 kB
      available: { type: 'integer', value: 6265503744 }, // 6118656 kB
      used: { type: 'integer', value: 10442502144 }, // 10197756 kB
      used_percent: { type: 'float', value: 62.4999 }, // 62.49999080…, truncated
      swap_total: { type: 'integer', value: 2147479552 }, // 2097148 kB
      swap_used: { type: 'integer', value: 536870912 }, // (2097148 − 1572860) kB
    });
  });

  test('memory without MemAvailable (old kernels) uses MemFree; without swap lines, swap is 0', async () => {
    const path = file('meminfo-old', 'MemTotal:        1000 kB\nMemFree:          250 kB\n');
    const mem = byMeasurement(await points({ SYSTEM_MEMINFO_PATH: path, SYSTEM_HOST_TAG: 'h' }), 'system_memory');
    assert.equal(bigOf(mem.fields.available), 250n * KIB);
    assert.equal(bigOf(mem.fields.used), 750n * KIB);
    assert.equal(floatOf(mem.fields.used_percent), 75);
    assert.equal(bigOf(mem.fields.swap_total), 0n);
    assert.equal(bigOf(mem.fields.swap_used), 0n);
  });

  test('disk: the sizes statfs(2) gives for the path, free as unprivileged users see it, used_percent as df computes it', async () => {
    const ps = await points({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'h', SYSTEM_MOUNTS: root });
    const disk = ps.find((p) => p.measurement === 'system_disk' && p.tags.path === root)!;
    const s = await statfs(root);
    // the size and the inode count do not change while the test runs; the free counts may
    assert.equal(bigOf(disk.fields.total), BigInt(s.blocks) * BigInt(s.bsize));
    assert.equal(bigOf(disk.fields.inodes_total), BigInt(s.files));
    const used = bigOf(disk.fields.used);
    const free = bigOf(disk.fields.free);
    const pct = floatOf(disk.fields.used_percent);
    if (used + free > 0n) assert.equal(pct, Number((used * 1_000_000n) / (used + free)) / 10_000);
  });

  test('the line protocol: integers with the i suffix, floats without; the collection time on every point; a debug line', async () => {
    const r = await system({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'box-1' });
    assert.deepEqual(r.errors, []);
    assert.equal(r.lines.length, 4);
    assert.equal(
      r.lines.find((l) => l.startsWith('system_memory,')),
      'system_memory,host=box-1 total=16708005888i,available=6265503744i,used=10442502144i,used_percent=62.4999,' +
        `swap_total=2147479552i,swap_used=536870912i ${NOW_NS}`,
    );
    assert.match(
      r.lines.find((l) => l.startsWith('system_load,'))!,
      /^system_load,host=box-1 load1=[\d.e-]+,load5=[\d.e-]+,load15=[\d.e-]+ \d{19}$/,
    );
    assert.match(
      r.lines.find((l) => l.startsWith('system_disk,'))!,
      /^system_disk,host=box-1,path=\/ total=\d+i,free=\d+i,used=\d+i,used_percent=[\d.]+,inodes_total=\d+i,inodes_free=\d+i \d{19}$/,
    );
    assert.match(r.lines.find((l) => l.startsWith('system_uptime,'))!, /^system_uptime,host=box-1 uptime=\d+i \d{19}$/);
    assert.ok(r.logs.includes('debug [system] 4 points for host box-1'), r.logs.join('\n'));
  });
});

describe('errors: the run fails naming the path and the fix; nothing is reported as zero', () => {
  const missing = join(root, 'no-such-mount');

  test('a SYSTEM_MOUNTS path that does not exist: fails naming it and SYSTEM_MOUNTS, logged, and no point at all', async () => {
    const r = await system({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_MOUNTS: `/,${missing}` });
    assert.deepEqual(r.errors, [`collector "system": cannot stat the filesystem at ${missing}: ENOENT; fix SYSTEM_MOUNTS`]);
    assert.equal(r.report.ok, false);
    assert.deepEqual(r.points, [], 'no partial report (no load or memory point without the disks)');
    assert.ok(r.logs.includes(`error [system] ${r.errors[0]}`), r.logs.join('\n'));
  });

  test('SYSTEM_MEMINFO_PATH that cannot be read: names the file and says the collector needs /proc', async () => {
    const r = await system({ SYSTEM_MEMINFO_PATH: join(root, 'no-meminfo') });
    assert.deepEqual(r.errors, [`collector "system": cannot read ${join(root, 'no-meminfo')}: ENOENT; this collector needs Linux's /proc`]);
    assert.deepEqual(r.points, []);
  });

  test('a meminfo without MemTotal, or without MemAvailable and MemFree: names the file and the lines', async () => {
    for (const [name, text] of [
      ['meminfo-no-total', 'MemFree:          250 kB\nMemAvailable:     300 kB\n'],
      ['meminfo-no-free', 'MemTotal:        1000 kB\nBuffers:            1 kB\n'],
      ['meminfo-empty', ''],
    ] as const) {
      const path = file(name, text);
      const r = await system({ SYSTEM_MEMINFO_PATH: path });
      assert.deepEqual(r.errors, [`collector "system": ${path} has no MemTotal/MemAvailable lines: cannot compute memory use`], name);
      assert.deepEqual(r.points, [], name);
    }
  });
});
