/**
 * The `metrics` command line, run as a user runs it (`bin/metrics ...` in a subprocess with a
 * clean environment): list, run --dry-run (text and line protocol), usage and configuration
 * errors, --help everywhere. Discovery of collector folders: test/lib/run/discovery.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanEnv, repoRoot, runCli, type CliOptions, type CliResult } from '../../helpers/servers.js';

/** This file's own state directory (locks, outbox, last runs): never the machine's. */
const stateDir = mkdtempSync(join(tmpdir(), 'cli-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** `bin/metrics ...args` as a user runs it, with this file's state directory. */
const cli = (args: string[], opts: CliOptions = {}) => runCli(args, { ...opts, env: { STATE_DIRECTORY: stateDir, ...opts.env } });

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** One line of line protocol: measurement, tags, fields, timestamp (simple split: no escapes in system's output). */
const LP_LINE = /^([a-z_]+)((?:,[^ ,=]+=[^ ,]+)*) ((?:[^ ,=]+=[^ ,]+)(?:,[^ ,=]+=[^ ,]+)*) (\d{19})$/;

describe('metrics list', () => {
  test('shows system and sponsoring with their intervals', async () => {
    const r = await cli(['list']);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /NAME\s+SCHEDULE/, show(r));
    assert.ok(
      lines.some((l) => /^system\s+every 1min \(after the previous run ends\)\s+(-|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+ok$/.test(l)),
      show(r),
    );
    assert.ok(
      lines.some((l) => /^sponsoring\s+every 5min \(after the previous run ends\)\s+(-|\S+ \S+)\s+ok$/.test(l)),
      show(r),
    );
    // exit 0 unless some folder is broken, and then 1
    assert.equal(r.code, lines.some((l) => /BROKEN/.test(l)) ? 1 : 0, show(r));
  });

  test('--json lists the same collectors', async () => {
    const r = await cli(['list', '--json']);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; interval: string; error?: string }>;
    assert.deepEqual(
      rows.filter((x) => x.name === 'system' || x.name === 'sponsoring').map((x) => [x.name, x.interval, x.error]),
      [
        ['sponsoring', '5m', undefined],
        ['system', '1m', undefined],
      ],
    );
  });
});

describe('metrics run --dry-run', () => {
  test('run system --dry-run: exit 0, readable points and a summary', async () => {
    const r = await cli(['run', 'system', '--dry-run']);
    assert.equal(r.code, 0, show(r));
    for (const m of ['system_load', 'system_memory', 'system_disk', 'system_uptime']) {
      assert.match(r.stdout, new RegExp(`^${m}  host="${hostname()}"`, 'm'), show(r));
    }
    assert.match(r.stdout, /load1=\d/);
    assert.match(r.stdout, /total=\d+i/);
    assert.match(r.stderr, /summary \(dry-run: nothing was written\):/, show(r));
    assert.match(r.stderr, /system\s+ok\s+4 points \(system_load 1, system_memory 1, system_disk 1, system_uptime 1\)/, show(r));
  });

  test('run system -n --format lp: exact line protocol that parses', async () => {
    const before = Date.now();
    const r = await cli(['run', 'system', '-n', '--format', 'lp']);
    const after = Date.now();
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4, show(r));
    const host = hostname();
    const seen = new Map<string, { tags: string; fields: Map<string, string>; ts: string }>();
    for (const line of lines) {
      const m = LP_LINE.exec(line);
      assert.ok(m, `not line protocol: ${JSON.stringify(line)}`);
      const fields = new Map(m[3]!.split(',').map((kv) => kv.split('=') as [string, string]));
      seen.set(m[1]!, { tags: m[2]!, fields, ts: m[4]! });
    }
    assert.deepEqual([...seen.keys()].sort(), ['system_disk', 'system_load', 'system_memory', 'system_uptime']);
    assert.equal(seen.get('system_load')!.tags, `,host=${host}`);
    assert.equal(seen.get('system_disk')!.tags, `,host=${host},path=/`);
    // floats without i, integers with i
    for (const k of ['load1', 'load5', 'load15']) assert.match(seen.get('system_load')!.fields.get(k) ?? '', /^\d+(\.\d+)?(e[+-]?\d+)?$/);
    for (const k of ['total', 'available', 'used', 'swap_total', 'swap_used'])
      assert.match(seen.get('system_memory')!.fields.get(k) ?? '', /^\d+i$/, k);
    assert.match(seen.get('system_memory')!.fields.get('used_percent') ?? '', /^\d+(\.\d+)?$/);
    assert.match(seen.get('system_uptime')!.fields.get('uptime') ?? '', /^\d+i$/);
    // one collection time for the run, in nanoseconds, taken during the run
    const stamps = new Set([...seen.values()].map((s) => s.ts));
    assert.equal(stamps.size, 1);
    const ns = BigInt([...stamps][0]!);
    assert.ok(ns >= BigInt(before) * 1_000_000n && ns <= BigInt(after) * 1_000_000n, `${ns} not within the run`);
  });

  test('bin/system --dry-run --format lp is metrics run system', async (t) => {
    if (!existsSync(join(repoRoot, 'bin', 'system'))) {
      t.skip('bin/system does not exist');
      return;
    }
    const r = await runBin('system', ['--dry-run', '--format', 'lp']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim().split('\n').length, 4, show(r));
    assert.match(r.stdout, /^system_load,host=/m);
  });
});

describe('usage and configuration errors', () => {
  test('run nope: exit 2 with the list of known collectors', async () => {
    const r = await cli(['run', 'nope']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /unknown collector: nope/, show(r));
    assert.match(r.stderr, /known collectors: .*sponsoring/, show(r));
    assert.match(r.stderr, /known collectors: .*system/, show(r));
    assert.equal(r.stdout, '');
  });

  test('an unknown option or command: exit 2', async () => {
    const a = await cli(['run', 'system', '--no-such-flag']);
    assert.equal(a.code, 2, show(a));
    const b = await cli(['frobnicate']);
    assert.equal(b.code, 2, show(b));
    const c = await cli([]);
    assert.equal(c.code, 2, show(c));
  });

  test('run system without configuration: exit 2 naming INFLUXDB_HOSTNAME and INFLUX_URL', async () => {
    const r = await cli(['run', 'system']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /INFLUXDB_HOSTNAME/, show(r));
    assert.match(r.stderr, /INFLUX_URL/, show(r));
    assert.equal(r.stdout, '', 'nothing collected or printed');
  });

  test('invalid INFLUXDB_PORT: exit 2 naming it', async () => {
    const r = await cli(['run', 'system'], { env: { INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_DATABASE: 'db', INFLUXDB_PORT: 'eighty' } });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /INFLUXDB_PORT="eighty"/, show(r));
    const big = await cli(['run', 'system'], { env: { INFLUXDB_HOSTNAME: '127.0.0.1', INFLUXDB_DATABASE: 'db', INFLUXDB_PORT: '70000' } });
    assert.equal(big.code, 2, show(big));
    assert.match(big.stderr, /INFLUXDB_PORT/, show(big));
  });

  test('INFLUXDB_HOSTNAME without INFLUXDB_DATABASE: exit 2 naming it', async () => {
    const r = await cli(['run', 'system'], { env: { INFLUXDB_HOSTNAME: '127.0.0.1' } });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /INFLUXDB_DATABASE/, show(r));
  });

  test('check without configuration: exit 2 naming the variables', async () => {
    const r = await cli(['check']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /INFLUXDB_HOSTNAME/, show(r));
  });
});

// ------------------------------------------------------------------------------------------------
// --help

/** Runs another file of bin/ (bin/system, bin/sponsoring) the way runCli runs bin/metrics. */
function runBin(name: string, args: string[]): Promise<CliResult> {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', name), ...args], {
      cwd: repoRoot,
      env: cleanEnv({ STATE_DIRECTORY: stateDir }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('--help', () => {
  test('metrics --help lists the commands and the exit codes', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const c of ['list', 'run', 'check']) assert.match(r.stdout, new RegExp(`metrics ${c}`), show(r));
    assert.match(r.stdout, /Exit codes/);
  });
  test('metrics run --help', async () => {
    const r = await cli(['run', '--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /--dry-run/);
    assert.match(r.stdout, /--verbose/);
    assert.match(r.stdout, /--format/);
  });
  test('metrics list --help', async () => {
    const r = await cli(['list', '--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /metrics list/);
  });
  test('metrics check --help', async () => {
    const r = await cli(['check', '--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /metrics check/);
  });
  for (const name of ['system', 'sponsoring']) {
    test(`bin/${name} --help`, async (t) => {
      if (!existsSync(join(repoRoot, 'bin', name))) {
        t.skip(`bin/${name} does not exist`);
        return;
      }
      const r = await runBin(name, ['--help']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /--dry-run/, show(r));
      assert.match(r.stdout, /--verbose/, show(r));
      assert.match(r.stdout, new RegExp(name), show(r));
    });
  }
});
