/**
 * The ten Ubuntu collectors as the runner sees them: `metrics list` finds each with the original's
 * interval (the `_ubuntu` and `_launchpad` helper folders are no collectors), and
 * `metrics systemd generate` gives each its timer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../../helpers/servers.js';

const dir = mkdtempSync(join(tmpdir(), 'ubuntu-collectors-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { STATE_DIRECTORY: join(dir, 'state') };

/** The original's RUN_INTERVAL of each (5m where it sets none), and systemd's spelling of it. */
const INTERVALS: Record<string, [string, string]> = {
  autopkgtest: ['5m', '5min'],
  britney: ['5m', '5min'],
  cnf: ['5m', '5min'],
  contributors: ['1d', '1d'],
  images: ['5m', '5min'],
  rls_bugs: ['1h', '1h'],
  sponsoring: ['5m', '5min'],
  ubuntu_archive: ['1h', '1h'],
  upload_queues: ['5m', '5min'],
  versions: ['1h', '1h'],
};

test('metrics list: each Ubuntu collector with its interval, and no "_ubuntu" or "_launchpad" collector', async () => {
  const r = await runCli(['list', '--json'], { env });
  const rows = JSON.parse(r.stdout) as Array<{ name: string; interval: string; error?: string }>;
  for (const [name, [interval]] of Object.entries(INTERVALS)) {
    assert.deepEqual(
      rows.filter((x) => x.name === name).map((x) => [x.interval, x.error]),
      [[interval, undefined]],
      name,
    );
  }
  assert.ok(!rows.some((x) => x.name.startsWith('_')), r.stdout);
});

test('metrics systemd generate: a timer per Ubuntu collector, OnUnitInactiveSec= its interval', async () => {
  const out = join(dir, 'units');
  const r = await runCli(['systemd', 'generate', '--out', out], { env });
  assert.equal(r.code, 0, r.stderr);
  for (const [name, [, span]] of Object.entries(INTERVALS)) {
    const timer = readFileSync(join(out, `metrics@${name}.timer`), 'utf8');
    assert.match(timer, new RegExp(`^OnUnitInactiveSec=${span}$`, 'm'), name);
    assert.match(timer, new RegExp(`^Unit=metrics@${name}\\.service$`, 'm'), name);
  }
});
