/**
 * Events configured for InfluxDB land as points in the real InfluxDB 1.6.7: a SELECT returns them
 * with the documented tags, fields (integers as integers) and time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEventSinks, issueEvent } from '../../../src/lib/events/sinks.js';
import { createLogger } from '../../../src/lib/platform/log.js';
import { loadSettings } from '../../../src/lib/platform/settings.js';
import { Reconciliation, RunnerInstalled, RunnerStop } from '../../../src/collectors/github_runner/events.js';
import { runCli, startInfluxd, type Influxd } from '../../helpers/servers.js';

const quiet = createLogger({ write: () => undefined });

describe('events in InfluxDB', () => {
  let influx: Influxd | undefined;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    influx = await startInfluxd();
    dir = await mkdtemp(join(tmpdir(), 'events-influx-'));
    if (!influx) return;
    await influx.createDatabase('events');
    env = {
      METRICS_EVENT_SINKS: 'influx',
      INFLUXDB_HOSTNAME: '127.0.0.1',
      INFLUXDB_PORT: String(influx.port),
      INFLUXDB_DATABASE: 'events',
      METRICS_OUTBOX_DIR: join(dir, 'outbox'),
    };
  });
  after(async () => {
    await influx?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('runner_stop: tags, float and integer fields, flattened status_info, time', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const e = new RunnerStop({
      timestamp: 1700000000.123456,
      flavor: 'small',
      workflow: 'CI build',
      repo: 'o/r',
      github_event: 'push',
      status: 'normal',
      status_info: { code: 3 },
      job_duration: 30.25,
      job_conclusion: 'success',
    });
    assert.deepEqual(await issueEvent(e, { settings: loadSettings(env), log: quiet }), { sinks: ['influx'] });
    const rows = await influx.rows('SELECT * FROM runner_stop', 'events', { epoch: 'ns' });
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.time, 1700000000123456000);
    assert.equal(row.flavor, 'small');
    assert.equal(row.workflow, 'CI build');
    assert.equal(row.repo, 'o/r');
    assert.equal(row.github_event, 'push');
    assert.equal(row.status, 'normal');
    assert.equal(row.job_conclusion, 'success');
    assert.equal(row.status_info_code, 3);
    assert.equal(row.job_duration, 30.25);

    const tagKeys = (await influx.rows('SHOW TAG KEYS FROM runner_stop', 'events')).map((r) => r.tagKey).sort();
    assert.deepEqual(tagKeys, ['flavor', 'github_event', 'job_conclusion', 'repo', 'status', 'workflow']);
    const fieldTypes = Object.fromEntries(
      (await influx.rows('SHOW FIELD KEYS FROM runner_stop', 'events')).map((r) => [r.fieldKey, r.fieldType]),
    );
    assert.deepEqual(fieldTypes, { job_duration: 'float', status_info_code: 'integer' });
  });

  test('reconciliation counts are integers; several events in one write', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const events = [1, 2, 3].map(
      (i) =>
        new Reconciliation({
          timestamp: 1700000100 + i,
          flavor: 'large',
          crashed_runners: 0,
          idle_runners: i,
          active_runners: 2,
          expected_runners: 5,
          duration: i / 2,
        }),
    );
    await createEventSinks({ settings: loadSettings(env), log: quiet }).issue(events);
    const rows = await influx.rows('SELECT idle_runners, "duration" FROM reconciliation WHERE flavor = \'large\'', 'events', {
      epoch: 's',
    });
    assert.deepEqual(
      rows.map((r) => [r.time, r.idle_runners, r.duration]),
      [
        [1700000101, 1, 0.5],
        [1700000102, 2, 1],
        [1700000103, 3, 1.5],
      ],
    );
    const fieldTypes = Object.fromEntries(
      (await influx.rows('SHOW FIELD KEYS FROM reconciliation', 'events')).map((r) => [r.fieldKey, r.fieldType]),
    );
    assert.equal(fieldTypes.crashed_runners, 'integer');
    assert.equal(fieldTypes.duration, 'float');
  });

  test('a collector-style caller (pointsHandled) skips the influx sink', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const e = new RunnerInstalled({ timestamp: 1700000200, flavor: 'skipped', duration: 1 });
    assert.deepEqual(await createEventSinks({ settings: loadSettings(env), log: quiet }).issue(e, { pointsHandled: true }), { sinks: [] });
    const rows = await influx.rows("SELECT * FROM runner_installed WHERE flavor = 'skipped'", 'events');
    assert.equal(rows.length, 0);
  });

  test('bin/metrics event with METRICS_EVENT_SINKS=log,influx: the same event in the log and in a SELECT', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const log = join(dir, 'metrics.log');
    const r = await runCli(['event', 'runner_installed', 'flavor=cli', 'duration=12.5'], {
      env: { ...env, METRICS_EVENT_SINKS: 'log,influx', METRICS_LOG_PATH: log },
    });
    assert.equal(r.code, 0, r.stderr);
    const line = JSON.parse(await readFile(log, 'utf8')) as { timestamp: number; flavor: string; duration: number };
    const rows = await influx.rows("SELECT * FROM runner_installed WHERE flavor = 'cli'", 'events', { epoch: 'u' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.duration, 12.5);
    assert.equal(rows[0]!.time, Math.round(line.timestamp * 1e6), 'the point time is the event timestamp');
  });

  test('InfluxDB unreachable: the event waits in the outbox (exit 3), nothing lost', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const outbox = join(dir, 'outbox-down');
    const r = await runCli(['event', 'runner_installed', 'flavor=x', 'duration=1'], {
      env: { ...env, INFLUXDB_PORT: '1', INFLUX_MAX_RETRIES: '0', METRICS_OUTBOX_DIR: outbox },
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /outbox/);
    const { readdir } = await import('node:fs/promises');
    const stored = await readdir(outbox, { recursive: true });
    assert.ok(stored.length > 0, 'the outbox holds the point');
  });
});
