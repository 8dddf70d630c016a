/**
 * The system collector (src/collectors/system), in-process: its Metric class run with a recorded
 * /proc/meminfo (fixtures/meminfo, through SYSTEM_MEMINFO_PATH), the real statfs(2) of / and of a
 * temporary folder (SYSTEM_MOUNTS), and the real load and uptime. Checked: the measurements, their
 * tags, their field names, which fields are integers and which floats (in the points and in the
 * line protocol), the memory numbers exactly, and the errors: a mount, a meminfo that cannot be
 * read, a meminfo without the lines it needs, each failing the run with the path and what to do,
 * and nothing reported as zero.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { hostname, tmpdir, uptime } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RUN_INTERVAL, runMetric } from '../../../src/collectors/system/index.js';
import { SystemMetric, parseMeminfo } from '../../../src/collectors/system/system.js';
import { CollectorError, Integer, type FieldValue, type MetricOptions, type PointObject } from '../../../src/lib/sdk/index.js';
import { CaptureSink, captureLogger } from '../../helpers/metric.js';
import { repoRoot } from '../../helpers/servers.js';

const MEMINFO = join(repoRoot, 'test', 'collectors', 'system', 'fixtures', 'meminfo');
const KIB = 1024n;

const root = mkdtempSync(join(tmpdir(), 'system-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A file under this file's temp root holding `text`. */
function file(name: string, text: string): string {
  const path = join(root, name);
  writeFileSync(path, text);
  return path;
}

/** The Metric with a captured log, its environment only what is given (never the machine's). */
function metric(
  env: Record<string, string | undefined>,
  options: MetricOptions = {},
): { m: SystemMetric; sink: CaptureSink; lines: string[] } {
  const sink = new CaptureSink();
  const { log, lines } = captureLogger('system');
  return { m: new SystemMetric({ collector: 'system', sink, log, env, ...options }), sink, lines };
}

const isInteger = (v: FieldValue | null | undefined): v is Integer => v instanceof Integer;
const isFloat = (v: FieldValue | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** The field names and their kinds ('int' or 'float') of a point, sorted by name. */
function kinds(p: PointObject): Record<string, 'int' | 'float' | 'other'> {
  return Object.fromEntries(
    Object.entries(p.fields)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, isInteger(v) ? 'int' : isFloat(v) ? 'float' : 'other']),
  );
}

const bigOf = (v: FieldValue | null | undefined): bigint => {
  assert.ok(isInteger(v), `${String(v)} is an integer field`);
  return BigInt(v.value);
};

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

describe('collect(): measurements, tags, fields and their types', () => {
  test('load, memory, one disk point per mount (/ first, duplicates once), uptime; every point tagged with SYSTEM_HOST_TAG', async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'box-1', SYSTEM_MOUNTS: ` ${root} ,/,${root},, ` });
    const points = await m.collect();
    assert.deepEqual(
      points.map((p) => [p.measurement, p.tags]),
      [
        ['system_load', { host: 'box-1' }],
        ['system_memory', { host: 'box-1' }],
        ['system_disk', { host: 'box-1', path: '/' }],
        ['system_disk', { host: 'box-1', path: root }],
        ['system_uptime', { host: 'box-1' }],
      ],
    );
    for (const p of points) assert.equal(p.time, undefined, `${p.measurement} has no time of its own: the run stamps the collection time`);
  });

  test('the host tag is the host name when SYSTEM_HOST_TAG is not set', async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO });
    const points = await m.collect();
    assert.ok(points.length > 0);
    for (const p of points) assert.equal(p.tags?.host, hostname(), p.measurement);
  });

  test('field names and kinds: loads and percentages are floats, bytes, inodes and seconds integers', async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'h' });
    const byName = new Map((await m.collect()).map((p) => [p.measurement, p]));
    assert.deepEqual([...byName.keys()], ['system_load', 'system_memory', 'system_disk', 'system_uptime']);
    assert.deepEqual(kinds(byName.get('system_load')!), { load1: 'float', load15: 'float', load5: 'float' });
    assert.deepEqual(kinds(byName.get('system_memory')!), {
      available: 'int',
      swap_total: 'int',
      swap_used: 'int',
      total: 'int',
      used: 'int',
      used_percent: 'float',
    });
    assert.deepEqual(kinds(byName.get('system_disk')!), {
      free: 'int',
      inodes_free: 'int',
      inodes_total: 'int',
      total: 'int',
      used: 'int',
      used_percent: 'float',
    });
    assert.deepEqual(kinds(byName.get('system_uptime')!), { uptime: 'int' });
  });

  test('memory: exact bytes from the recorded meminfo (kB × 1024), used = total − available, used_percent to 4 decimals', async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'h' });
    const mem = (await m.collect()).find((p) => p.measurement === 'system_memory')!;
    // computed by hand from fixtures/meminfo
    assert.equal(bigOf(mem.fields.total), 16708005888n); // 16316412 kB
    assert.equal(bigOf(mem.fields.available), 6265503744n); // 6118656 kB
    assert.equal(bigOf(mem.fields.used), 10442502144n); // 10197756 kB
    assert.equal(mem.fields.used_percent, 62.4999); // 62.49999080…, truncated
    assert.equal(bigOf(mem.fields.swap_total), 2147479552n); // 2097148 kB
    assert.equal(bigOf(mem.fields.swap_used), 536870912n); // (2097148 − 1572860) kB
  });

  test('the real /proc/meminfo (SYSTEM_MEMINFO_PATH unset): total > 0, available and used within it', async () => {
    const { m } = metric({ SYSTEM_HOST_TAG: 'h' });
    const mem = (await m.collect()).find((p) => p.measurement === 'system_memory')!;
    const total = bigOf(mem.fields.total);
    const available = bigOf(mem.fields.available);
    assert.ok(total > 0n, `total ${total}`);
    assert.ok(available >= 0n && available <= total, `available ${available} of ${total}`);
    assert.equal(bigOf(mem.fields.used), total - available);
  });

  test('memory without MemAvailable (old kernels) uses MemFree; without swap lines, swap is 0', async () => {
    const path = file('meminfo-old', 'MemTotal:        1000 kB\nMemFree:          250 kB\n');
    const { m } = metric({ SYSTEM_MEMINFO_PATH: path, SYSTEM_HOST_TAG: 'h' });
    const mem = (await m.collect()).find((p) => p.measurement === 'system_memory')!;
    assert.equal(bigOf(mem.fields.available), 250n * KIB);
    assert.equal(bigOf(mem.fields.used), 750n * KIB);
    assert.equal(mem.fields.used_percent, 75);
    assert.equal(bigOf(mem.fields.swap_total), 0n);
    assert.equal(bigOf(mem.fields.swap_used), 0n);
  });

  test('disk: the sizes statfs(2) gives for the path, free as unprivileged users see it, used_percent as df computes it', async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'h', SYSTEM_MOUNTS: root });
    const disk = (await m.collect()).find((p) => p.measurement === 'system_disk' && p.tags?.path === root)!;
    const s = await statfs(root);
    // the size and the inode count do not change while the test runs; the free counts may
    assert.equal(bigOf(disk.fields.total), BigInt(s.blocks) * BigInt(s.bsize));
    assert.equal(bigOf(disk.fields.inodes_total), BigInt(s.files));
    const total = bigOf(disk.fields.total);
    const free = bigOf(disk.fields.free);
    const used = bigOf(disk.fields.used);
    assert.ok(free >= 0n && used >= 0n && free + used <= total, `free ${free} + used ${used} within total ${total}`);
    assert.ok(bigOf(disk.fields.inodes_free) <= bigOf(disk.fields.inodes_total));
    const pct = disk.fields.used_percent;
    assert.ok(isFloat(pct) && pct >= 0 && pct <= 100, `used_percent ${String(pct)}`);
    if (used + free > 0n) assert.equal(pct, Number((used * 1_000_000n) / (used + free)) / 10_000);
  });

  test("load and uptime: the host's own, load ≥ 0, uptime in whole seconds", async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'h' });
    const before = Math.floor(uptime());
    const points = await m.collect();
    const after = Math.floor(uptime());
    const load = points.find((p) => p.measurement === 'system_load')!;
    for (const k of ['load1', 'load5', 'load15']) {
      const v = load.fields[k];
      assert.ok(isFloat(v) && v >= 0, `${k} = ${String(v)}`);
    }
    const up = bigOf(points.find((p) => p.measurement === 'system_uptime')!.fields.uptime);
    assert.ok(up >= BigInt(before) && up <= BigInt(after), `uptime ${up} within [${before}, ${after}]`);
  });
});

describe('run(): the line protocol', () => {
  test('integers with the i suffix, floats without; one collection time for every point; a debug line with the count', async () => {
    const { m, sink, lines } = metric(
      { SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'box-1' },
      { collectionTime: '1700000000000000000' },
    );
    const report = await m.run();
    assert.equal(report.ok, true, report.error);
    assert.equal(report.points, 4);
    assert.deepEqual(sink.measurements, ['system_load', 'system_memory', 'system_disk', 'system_uptime']);
    const memory = sink.lines.find((l) => l.startsWith('system_memory,'));
    assert.equal(
      memory,
      'system_memory,host=box-1 total=16708005888i,available=6265503744i,used=10442502144i,used_percent=62.4999,' +
        'swap_total=2147479552i,swap_used=536870912i 1700000000000000000',
    );
    assert.match(
      sink.lines.find((l) => l.startsWith('system_load,'))!,
      /^system_load,host=box-1 load1=[\d.e-]+,load5=[\d.e-]+,load15=[\d.e-]+ 1700000000000000000$/,
    );
    assert.match(
      sink.lines.find((l) => l.startsWith('system_disk,'))!,
      new RegExp(
        /^system_disk,host=box-1,path=\/ /.source +
          /total=\d+i,free=\d+i,used=\d+i,used_percent=[\d.]+,inodes_total=\d+i,inodes_free=\d+i /.source +
          /1700000000000000000$/.source,
      ),
    );
    assert.match(sink.lines.find((l) => l.startsWith('system_uptime,'))!, /^system_uptime,host=box-1 uptime=\d+i 1700000000000000000$/);
    assert.ok(lines.includes('debug [system] 4 points for host box-1'), lines.join('\n'));
  });

  test('index.ts: RUN_INTERVAL 1m, and runMetric() runs the Metric with the options it is given', async () => {
    assert.equal(RUN_INTERVAL, '1m');
    const sink = new CaptureSink();
    const { log } = captureLogger('system');
    const report = await runMetric({ collector: 'system', sink, log, env: { SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_HOST_TAG: 'via-index' } });
    assert.equal(report.ok, true, report.error);
    assert.equal(report.collector, 'system');
    assert.equal(sink.lines.length, 4);
    assert.ok(
      sink.lines.every((l) => l.includes(',host=via-index')),
      sink.lines.join('\n'),
    );
  });
});

describe('errors: the run fails naming the path and the fix; nothing is reported as zero', () => {
  const missing = join(root, 'no-such-mount');

  test('a SYSTEM_MOUNTS path that does not exist: a CollectorError naming it and SYSTEM_MOUNTS', async () => {
    const { m } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_MOUNTS: `/,${missing}` });
    await assert.rejects(m.collect(), (e: unknown) => {
      assert.ok(e instanceof CollectorError, String(e));
      assert.equal(e.message, `cannot stat the filesystem at ${missing}: ENOENT; fix SYSTEM_MOUNTS`);
      return true;
    });
  });

  test('run() with that mount: not ok, the error names the collector and the path, logged, and no point at all', async () => {
    const { m, sink, lines } = metric({ SYSTEM_MEMINFO_PATH: MEMINFO, SYSTEM_MOUNTS: missing });
    const report = await m.run();
    assert.equal(report.ok, false);
    assert.equal(report.error, `collector "system": cannot stat the filesystem at ${missing}: ENOENT; fix SYSTEM_MOUNTS`);
    assert.equal(report.points, 0);
    assert.deepEqual(sink.lines, [], 'no partial report (no load or memory point without the disks)');
    assert.ok(lines.includes(`error [system] ${report.error}`), lines.join('\n'));
  });

  test('SYSTEM_MEMINFO_PATH that cannot be read: names the file and says the collector needs /proc', async () => {
    const { m, sink } = metric({ SYSTEM_MEMINFO_PATH: join(root, 'no-meminfo') });
    const report = await m.run();
    assert.equal(report.ok, false);
    assert.equal(report.error, `collector "system": cannot read ${join(root, 'no-meminfo')}: ENOENT; this collector needs Linux's /proc`);
    assert.deepEqual(sink.lines, []);
  });

  test('a meminfo without MemTotal, or without MemAvailable and MemFree: names the file and the lines', async () => {
    for (const [name, text] of [
      ['meminfo-no-total', 'MemFree:          250 kB\nMemAvailable:     300 kB\n'],
      ['meminfo-no-free', 'MemTotal:        1000 kB\nBuffers:            1 kB\n'],
      ['meminfo-empty', ''],
    ] as const) {
      const path = file(name, text);
      const { m, sink } = metric({ SYSTEM_MEMINFO_PATH: path });
      const report = await m.run();
      assert.equal(report.ok, false, name);
      assert.equal(report.error, `collector "system": ${path} has no MemTotal/MemAvailable lines: cannot compute memory use`, name);
      assert.deepEqual(sink.lines, [], name);
    }
  });
});
