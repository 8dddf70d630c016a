/**
 * Counts tell the truth: points a run stored in the outbox and the outbox then dropped in the same
 * run (its bound, METRICS_OUTBOX_MAX_SIZE) are LOST, not deferred: in the summary, the exit code
 * (1) and the `collector_run` points, attributed to the collector that stored them, also when a
 * later collector's store dropped them. Drops of earlier runs' batches stay what they were: logged
 * and counted in dropped.json, not this run's loss.
 *
 * InfluxDB is down (a closed port on loopback: nothing listens there), so every batch goes to the
 * outbox. `bulk` emits 1000 points in batches of 100 (about 4.3 KB each), `quick` 100 points in one
 * batch; the bound of 10 KiB holds two such batches.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parseBatch } from '../../../src/lib/delivery/outbox/format.js';
import { makeBulkCollectors, type BulkCollectors } from '../../helpers/bulk-collector.js';
import { freePort, runCli, type CliResult } from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'outbox-counts-'));
after(() => rmSync(root, { recursive: true, force: true }));

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Every line stored in the outbox's pending batches. */
function storedLines(outbox: string): string[] {
  if (!existsSync(outbox)) return [];
  return readdirSync(outbox)
    .filter((n) => n.endsWith('.lp') && !n.startsWith('.'))
    .sort()
    .flatMap((n) => parseBatch(readFileSync(join(outbox, n))).lines);
}

interface RunPoint {
  points: number;
  written: number;
  deferred: number;
  rejected: number;
  lost: number;
  success: boolean;
}

/** The collector_run points stored in the outbox, by collector. */
function runPoints(lines: string[]): Map<string, RunPoint[]> {
  const out = new Map<string, RunPoint[]>();
  for (const l of lines.filter((x) => x.startsWith('collector_run,'))) {
    const collector = /collector=([^, ]+)/.exec(l)![1]!;
    const int = (f: string) => Number(new RegExp(`[ ,]${f}=(\\d+)i`).exec(l)?.[1] ?? NaN);
    const p: RunPoint = {
      points: int('points'),
      written: int('written'),
      deferred: int('deferred'),
      rejected: int('rejected'),
      lost: int('lost'),
      success: / success=true|,success=true/.test(l),
    };
    out.set(collector, [...(out.get(collector) ?? []), p]);
  }
  return out;
}

describe('outbox counts', () => {
  let collectors: BulkCollectors;
  let closedPort: number;
  before(async () => {
    collectors = await makeBulkCollectors();
    closedPort = await freePort();
  });
  after(() => collectors?.cleanup());

  let serial = 0;
  const setup = () => {
    const state = join(root, `s${++serial}`);
    return {
      outbox: join(state, 'outbox'),
      env: (extra: Record<string, string> = {}): Record<string, string> => ({
        METRICS_STATE_DIR: state,
        METRICS_COLLECTORS_DIR: collectors.dir,
        INFLUXDB_HOSTNAME: '127.0.0.1',
        INFLUXDB_PORT: String(closedPort),
        INFLUXDB_DATABASE: 'counts',
        INFLUX_MAX_RETRIES: '0',
        INFLUX_TIMEOUT: '2',
        INFLUX_BATCH_SIZE: '100',
        BULK_POINTS: '1000',
        QUICK_POINTS: '100',
        ...extra,
      }),
    };
  };

  test(
    'points this run stored and the bound dropped in the same run are LOST (exit 1), in the summary and the collector_run points, ' +
      'for the collector that stored them',
    async () => {
      const { outbox, env } = setup();
      const r = await runCli(['run', 'bulk', 'quick'], { env: env({ METRICS_OUTBOX_MAX_SIZE: '10K' }) });
      assert.equal(r.code, 1, `points were lost: exit 1, never 3\n${show(r)}`);
      assert.match(r.stderr, /bulk\s+FAILED\s+1000 points .*\d+ LOST/, show(r));
      // quick's own store dropped one of bulk's batches: it counts for bulk, not for quick
      assert.match(r.stderr, /DROPPED .*stored earlier in this run: LOST.* to make room for 100 new points from quick/, show(r));
      assert.match(r.stderr, /quick\s+DEFERRED\s+100 points/, show(r));

      const lines = storedLines(outbox);
      const self = runPoints(lines);
      assert.equal(self.get('bulk')?.length, 1, `one collector_run point per collector run\n${lines.join('\n')}`);
      assert.equal(self.get('quick')?.length, 1, lines.join('\n'));
      const bulk = self.get('bulk')![0]!;
      const quick = self.get('quick')![0]!;
      const keptBulk = lines.filter((l) => l.startsWith('bulk,')).length;
      const keptQuick = lines.filter((l) => l.startsWith('quick,')).length;

      assert.equal(bulk.points, 1000);
      assert.equal(bulk.deferred, keptBulk, `deferred is exactly what waits in the outbox (${keptBulk})`);
      assert.equal(bulk.deferred + bulk.lost, bulk.points, `deferred + lost add up to the points collected: ${JSON.stringify(bulk)}`);
      assert.ok(bulk.lost > 0 && bulk.written === 0 && bulk.rejected === 0, JSON.stringify(bulk));
      assert.equal(bulk.success, false);
      assert.deepEqual(quick, { points: 100, written: 0, deferred: 100, rejected: 0, lost: 0, success: true });
      assert.equal(keptQuick, 100);

      const summary = /bulk\s+FAILED\s+1000 points \(bulk 1000\): 0 written, (\d+) to the outbox, (\d+) LOST/.exec(r.stderr);
      assert.ok(summary, show(r));
      assert.deepEqual([Number(summary[1]), Number(summary[2])], [bulk.deferred, bulk.lost], 'the summary says the same');

      const status = await runCli(['outbox', 'status', '--json'], { env: env() });
      assert.equal(JSON.parse(status.stdout).dropped, bulk.lost, 'every drop is counted in dropped.json too');
    },
  );

  test(
    "drops of batches stored by an earlier run are not this run's loss: logged and counted in dropped.json, the run is deferred " +
      '(exit 3)',
    async () => {
      const { outbox, env } = setup();
      const first = await runCli(['run', 'bulk'], { env: env({ BULK_POINTS: '300' }) });
      assert.equal(first.code, 3, show(first));
      const earlier = storedLines(outbox).filter((l) => l.startsWith('bulk,')).length;
      assert.equal(earlier, 300);

      const r = await runCli(['run', 'quick'], { env: env({ METRICS_OUTBOX_MAX_SIZE: '6K' }) });
      assert.equal(r.code, 3, show(r));
      assert.match(r.stderr, /DROPPED the \d+ oldest points .*collectors: bulk/, show(r));
      assert.doesNotMatch(r.stderr, /LOST/, show(r));
      const self = runPoints(storedLines(outbox)).get('quick') ?? [];
      assert.deepEqual(self, [{ points: 100, written: 0, deferred: 100, rejected: 0, lost: 0, success: true }]);
      const status = await runCli(['outbox', 'status', '--json'], { env: env() });
      const dropped = JSON.parse(status.stdout).dropped as number;
      assert.ok(dropped > 0, `dropped.json counts the earlier run's points (${dropped})`);
    },
  );
});
