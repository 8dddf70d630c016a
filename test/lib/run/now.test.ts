/**
 * A fixed collection time ("now"): RFC 3339 read exactly to the nanosecond (parseRfc3339, the
 * rule of METRICS_NOW and --now), `--now` and `METRICS_NOW` on `metrics run` and `bin/<name>`
 * stamping the points of a dry-run, an invalid value refused with exit 2 naming it, and a real
 * write refused unless `--allow-now` is given.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RFC3339_RULE, parseRfc3339 } from '../../../src/lib/platform/setting-rules.js';
import { loadSettings, readSettings } from '../../../src/lib/platform/settings.js';
import {
  cleanEnv,
  collectCli,
  repoRoot,
  runCli,
  startHttpFixtureServer,
  type CliResult,
  type HttpFixtureServer,
} from '../../helpers/servers.js';

const stateDir = mkdtempSync(join(tmpdir(), 'now-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

describe('parseRfc3339', () => {
  test('UTC, offsets and fractions, exact to the nanosecond', () => {
    assert.equal(parseRfc3339('2026-01-01T00:00:00Z'), '1767225600000000000');
    assert.equal(parseRfc3339('2026-01-01t00:00:00z'), '1767225600000000000');
    assert.equal(parseRfc3339('2026-01-01T01:00:00+01:00'), '1767225600000000000');
    assert.equal(parseRfc3339('2025-12-31T23:30:00-00:30'), '1767225600000000000');
    assert.equal(parseRfc3339('2026-01-01T00:00:00.5Z'), '1767225600500000000');
    assert.equal(parseRfc3339('2026-01-01T00:00:00.123456789Z'), '1767225600123456789');
    assert.equal(parseRfc3339('1970-01-01T00:00:00Z'), '0');
    assert.equal(parseRfc3339('2024-02-29T12:00:00Z'), '1709208000000000000');
  });
  test('anything else is undefined', () => {
    for (const s of [
      '',
      '2026-01-01',
      '2026-01-01T00:00:00', // no time zone
      '2026-01-01 00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T00:60:00Z',
      '2026-01-01T00:00:60Z',
      '2026-01-01T00:00:00.1234567891Z',
      '2026-01-01T00:00:00+24:00',
      '1969-12-31T23:59:59Z',
      '2263-01-01T00:00:00Z',
      '1767225600',
      'now',
    ]) {
      assert.equal(parseRfc3339(s), undefined, s);
    }
  });
  test('the rule names the setting and the allowed form', () => {
    const r = RFC3339_RULE.check('--now', 'yesterday');
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problem : '', /^--now "yesterday" is not a date and time: it must be an RFC 3339 date and time/);
  });
});

describe('METRICS_NOW in the settings', () => {
  test('read as nanoseconds; absent or empty: undefined', () => {
    assert.equal(loadSettings({ METRICS_NOW: '2026-01-01T00:00:00Z' }).run.now, '1767225600000000000');
    assert.equal(loadSettings({}).run.now, undefined);
    assert.equal(loadSettings({ METRICS_NOW: '' }).run.now, undefined);
  });
  test('invalid: a problem naming the variable', () => {
    const { problems } = readSettings({ METRICS_NOW: 'tomorrow' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^METRICS_NOW="tomorrow" is not a date and time/);
  });
});

describe('--now and METRICS_NOW on the command line', () => {
  let server: HttpFixtureServer;
  before(async () => {
    server = await startHttpFixtureServer({
      '/queue.json': { body: [{ date_queued: '12/25/25', sets: ['main'] }] },
    });
  });
  after(() => server?.close());
  const env = () => ({ STATE_DIRECTORY: stateDir, SPONSORING_URL: `${server.url}/queue.json` });
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: { ...env(), ...extra } });
  const NS = '1767225600000000000'; // 2026-01-01T00:00:00Z: 7 days after 12/25/25

  test('--now stamps the points and is the collector\'s "now"', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run', '--format', 'lp', '--now', '2026-01-01T00:00:00Z']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^sponsoring_queue_stats,report=sponsoring count=1i,oldest=7i,average_age=7i ${NS}$`, 'm'));
  });
  test('METRICS_NOW does the same (the fast path)', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run', '--format', 'lp'], { METRICS_NOW: '2026-01-01T00:00:00Z' });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`oldest=7i,average_age=7i ${NS}$`, 'm'));
  });
  test('--now wins over METRICS_NOW', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run', '--format', 'lp', '--now', '2026-01-01T00:00:00Z'], {
      METRICS_NOW: '2030-01-01T00:00:00Z',
    });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(` ${NS}$`, 'm'));
  });
  test('bin/<name> --now', async () => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'sponsoring'), '--dry-run', '--format', 'lp', '--now', '2026-01-01T00:00:00Z'],
      {
        env: cleanEnv(env()),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const r = await collectCli(child, 'bin/sponsoring', 30_000);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`oldest=7i,average_age=7i ${NS}$`, 'm'));
  });
  test('an invalid --now: exit 2 naming it', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run', '--now', '2026-01-01']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--now "2026-01-01" is not a date and time: it must be an RFC 3339 date and time/);
    assert.equal(r.stdout, '');
  });
  test('an invalid METRICS_NOW: exit 2 naming it', async () => {
    const r = await cli(['run', 'sponsoring', '--dry-run'], { METRICS_NOW: 'yesterday' });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /METRICS_NOW="yesterday" is not a date and time/);
  });
  test('a real write with --now or METRICS_NOW is refused (exit 2) before anything is collected', async () => {
    for (const [args, extra, named] of [
      [['run', 'sponsoring', '--now', '2026-01-01T00:00:00Z'], {}, '--now'],
      [['run', 'sponsoring'], { METRICS_NOW: '2026-01-01T00:00:00Z' }, 'METRICS_NOW'],
    ] as const) {
      const asked = server.requests.length;
      const r = await cli([...args], {
        INFLUX_URL: 'http://127.0.0.1:9',
        INFLUX_TOKEN: 't',
        INFLUX_ORG: 'o',
        INFLUX_BUCKET: 'b',
        ...extra,
      });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, new RegExp(`${named} fixes the collection time.*back-filling.*--dry-run.*--allow-now`), show(r));
      assert.equal(server.requests.length, asked, 'nothing was collected');
    }
  });
  test('--allow-now lets a real write through the check', async () => {
    // no InfluxDB configured: the run goes on to the configuration, which is what fails now
    const r = await cli(['run', 'sponsoring', '--now', '2026-01-01T00:00:00Z', '--allow-now']);
    assert.equal(r.code, 2, show(r));
    assert.doesNotMatch(r.stderr, /back-filling/);
    assert.match(r.stderr, /INFLUX/);
  });
});
