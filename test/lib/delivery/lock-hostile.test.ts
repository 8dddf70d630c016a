/**
 * Locks never hang: something that is not a lock file at a lock path (a FIFO, a link to
 * /dev/zero, a 1 GB sparse file, a directory) is reported with its path, what it is and
 * "remove it", and never waited on or read whole.
 *
 * End to end: `metrics run` (the collector lock `<state>/locks/collector-<name>.lock`: the
 * collector fails, exit 1) and `metrics outbox flush` (the replay lock `<outbox>/.replay.lock`:
 * exit 1), each in a child process; the old code blocked forever in open() on the FIFO and read
 * up to ~512 MB of the others. Then the same cases for acquireLock itself, its guard file and
 * release.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { LockFileError, acquireLock, type Lock } from '../../../src/lib/delivery/lock.js';
import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import { findBinary, freePort, runCli, type CliResult } from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'lock-hostile-'));
after(() => rmSync(root, { recursive: true, force: true }));

let serial = 0;
function fresh(name: string): string {
  const dir = join(root, `${name}-${++serial}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

interface Hostile {
  kind: string;
  /** what the message must say it is */
  says: RegExp;
  plant(path: string): void;
}

const mkfifo = findBinary('mkfifo');

const HOSTILE: Hostile[] = [
  {
    kind: 'a FIFO',
    says: /FIFO/,
    plant: (p) => assert.equal(spawnSync(mkfifo!, [p]).status, 0, `mkfifo ${p}`),
  },
  { kind: 'a link to /dev/zero', says: /symbolic link \(to \/dev\/zero\)/, plant: (p) => symlinkSync('/dev/zero', p) },
  {
    kind: 'a 1 GB sparse file',
    says: /1073741824 bytes/,
    plant: (p) => {
      writeFileSync(p, '');
      truncateSync(p, 1024 ** 3);
    },
  },
  { kind: 'a directory', says: /directory/, plant: (p) => mkdirSync(p) },
];

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

describe('a hostile file at a lock path, end to end', () => {
  let collectors: BulkCollectors;
  let closedPort: number;
  before(async () => {
    assert.ok(mkfifo, 'mkfifo (coreutils) is needed');
    collectors = await makeBulkCollectors();
    closedPort = await freePort(); // nothing listens there: InfluxDB is down
  });
  after(() => collectors?.cleanup());

  const env = (state: string): Record<string, string> => ({
    METRICS_STATE_DIR: state,
    METRICS_COLLECTORS_DIR: collectors.dir,
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(closedPort),
    INFLUXDB_DATABASE: 'locks',
    INFLUX_MAX_RETRIES: '0',
    INFLUX_TIMEOUT: '2',
  });

  for (const h of HOSTILE) {
    test(`metrics run: ${h.kind} at the collector lock fails the collector (exit 1) naming the path and "remove it"`, async () => {
      const state = fresh('run');
      mkdirSync(join(state, 'locks'), { mode: 0o700 });
      const lock = join(state, 'locks', 'collector-quick.lock');
      h.plant(lock);
      // the timeout only guards the test run: the old code never returned on a FIFO
      const r = await runCli(['run', 'quick'], { env: env(state), timeoutMs: 30_000 });
      assert.equal(r.code, 1, show(r));
      assert.ok(r.stderr.includes(lock), `names ${lock}\n${show(r)}`);
      assert.match(r.stderr, h.says, show(r));
      assert.match(r.stderr, /remove it/, show(r));
      assert.match(r.stderr, /quick\s+FAILED/, show(r));
      assert.ok(existsSync(lock), 'what is there is left alone');
    });

    test(`metrics outbox flush: ${h.kind} at the replay lock fails (exit 1) naming the path and "remove it"`, async () => {
      const state = fresh('flush');
      const outbox = join(state, 'outbox');
      mkdirSync(outbox, { mode: 0o700 });
      const lock = join(outbox, '.replay.lock');
      h.plant(lock);
      const r = await runCli(['outbox', 'flush'], { env: env(state), timeoutMs: 30_000 });
      assert.equal(r.code, 1, show(r));
      assert.ok(r.stderr.includes(lock), `names ${lock}\n${show(r)}`);
      assert.match(r.stderr, h.says, show(r));
      assert.match(r.stderr, /remove it/, show(r));
    });
  }

  test('metrics run: a FIFO at the replay lock skips the replay with the message and still collects', async () => {
    const state = fresh('run-replay');
    const outbox = join(state, 'outbox');
    mkdirSync(outbox, { mode: 0o700 });
    const lock = join(outbox, '.replay.lock');
    HOSTILE[0]!.plant(lock);
    const r = await runCli(['run', 'quick'], { env: env(state), timeoutMs: 30_000 });
    assert.equal(r.code, 3, `InfluxDB is down: the points wait in the outbox\n${show(r)}`);
    assert.ok(r.stderr.includes(lock), show(r));
    assert.match(r.stderr, /FIFO.*remove it/, show(r));
    assert.match(r.stderr, /quick\s+DEFERRED\s+3 points/, show(r));
  });
});

describe('acquireLock with a hostile file', () => {
  before(() => assert.ok(mkfifo, 'mkfifo (coreutils) is needed'));

  for (const h of HOSTILE) {
    test(`${h.kind} at the lock path: LockFileError naming it`, async () => {
      const lock = join(fresh('unit'), 'x.lock');
      h.plant(lock);
      await assert.rejects(
        acquireLock(lock),
        (e: Error) => e instanceof LockFileError && e.path === lock && h.says.test(e.message) && /remove it/.test(e.message),
      );
    });

    test(`${h.kind} at the guard of a stale lock: LockFileError naming the guard`, async () => {
      const lock = join(fresh('guard'), 'x.lock');
      writeFileSync(lock, 'garbage, not a lock');
      utimesSync(lock, new Date(0), new Date(0)); // stale garbage: a takeover needs the guard
      h.plant(`${lock}.guard`);
      await assert.rejects(
        acquireLock(lock),
        (e: Error) => e instanceof LockFileError && e.path === `${lock}.guard` && h.says.test(e.message),
      );
      assert.equal(readFileSync(lock, 'utf8'), 'garbage, not a lock', 'the lock was not removed without the guard');
    });

    test(`${h.kind} put in place of a held lock: release leaves it alone and returns`, async () => {
      const dir = fresh('release');
      const [a, b] = [join(dir, 'a.lock'), join(dir, 'b.lock')];
      const la = (await acquireLock(a)) as Lock;
      const lb = (await acquireLock(b)) as Lock;
      assert.equal(la.busy || lb.busy, false);
      for (const p of [a, b]) {
        rmSync(p);
        h.plant(p);
      }
      await la.release();
      lb.releaseSync();
      for (const p of [a, b]) assert.ok(lstatSync(p), `${p} is left alone: it is not ours`);
    });
  }
});
