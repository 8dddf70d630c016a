/**
 * The outbox folder and the state directory's locks/ and runs/ are private (0700) also when they
 * already exist: a wider folder is restricted (with a warning), a symbolic link or a non-directory
 * is refused with a message naming it, and nothing is written through it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import { freePort, runCli, type CliResult } from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'private-folders-'));
after(() => rmSync(root, { recursive: true, force: true }));
let serial = 0;
function fresh(name: string, mode = 0o700): string {
  const dir = join(root, `${name}-${++serial}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, mode);
  return dir;
}

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

const modeOf = (p: string): string => (statSync(p).mode & 0o777).toString(8).padStart(4, '0');

describe('private folders', () => {
  let collectors: BulkCollectors;
  let closedPort: number;
  before(async () => {
    collectors = await makeBulkCollectors();
    closedPort = await freePort(); // InfluxDB is down: the points go to the outbox
  });
  after(() => collectors?.cleanup());

  const env = (state: string, extra: Record<string, string> = {}): Record<string, string> => ({
    METRICS_STATE_DIR: state,
    METRICS_COLLECTORS_DIR: collectors.dir,
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(closedPort),
    INFLUXDB_DATABASE: 'private',
    INFLUX_MAX_RETRIES: '0',
    INFLUX_TIMEOUT: '2',
    ...extra,
  });

  test('a pre-existing 0755 outbox, locks/ and runs/ are 0700 after a run, with a warning naming each', async () => {
    const state = fresh('state');
    const outbox = fresh('outbox', 0o755);
    for (const sub of ['locks', 'runs']) {
      mkdirSync(join(state, sub));
      chmodSync(join(state, sub), 0o755);
    }
    const r = await runCli(['run', 'quick'], { env: env(state, { METRICS_OUTBOX_DIR: outbox }) });
    assert.equal(r.code, 3, `InfluxDB is down: deferred\n${show(r)}`);
    assert.equal(modeOf(outbox), '0700');
    assert.equal(modeOf(join(state, 'locks')), '0700');
    assert.equal(modeOf(join(state, 'runs')), '0700');
    for (const p of [outbox, join(state, 'locks'), join(state, 'runs')]) {
      assert.match(r.stderr, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} had mode 0755.*set to 0700`), show(r));
    }
    assert.ok(
      readdirSync(outbox).some((n) => n.endsWith('.lp')),
      'the points were stored',
    );

    const again = await runCli(['run', 'quick'], { env: env(state, { METRICS_OUTBOX_DIR: outbox }) });
    assert.doesNotMatch(again.stderr, /had mode/, 'warned once: the next run finds 0700');
  });

  test('a symbolic link as the outbox is refused (exit 2, nothing collected), and nothing lands where it points', async () => {
    const state = fresh('state');
    const elsewhere = fresh('elsewhere');
    const link = join(fresh('holder'), 'outbox');
    symlinkSync(elsewhere, link);
    for (const args of [
      ['run', 'quick'],
      ['outbox', 'status'],
      ['outbox', 'flush'],
    ]) {
      const r = await runCli(args, { env: env(state, { METRICS_OUTBOX_DIR: link }) });
      assert.equal(r.code, 2, `${args.join(' ')}\n${show(r)}`);
      assert.ok(r.stderr.includes(link), show(r));
      assert.match(r.stderr, /symbolic link/, show(r));
      assert.match(r.stderr, /METRICS_OUTBOX_DIR/, show(r));
    }
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing was written through the link');
  });

  test('a file as the outbox is refused the same way', async () => {
    const state = fresh('state');
    const file = join(fresh('holder'), 'outbox');
    writeFileSync(file, '');
    const r = await runCli(['run', 'quick'], { env: env(state, { METRICS_OUTBOX_DIR: file }) });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /regular file, not a directory/, show(r));
  });

  test('a symbolic link as locks/ fails the collector naming it, and nothing lands where it points', async () => {
    const state = fresh('state');
    const elsewhere = fresh('elsewhere');
    symlinkSync(elsewhere, join(state, 'locks'));
    const r = await runCli(['run', 'quick'], { env: env(state) });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(join(state, 'locks')), show(r));
    assert.match(r.stderr, /symbolic link.*remove it/, show(r));
    assert.deepEqual(readdirSync(elsewhere), []);
  });
});
