/**
 * Discovery of collector folders, as a user meets it (`bin/metrics ...` in a subprocess): copied,
 * broken and incomplete folders in a METRICS_COLLECTORS_DIR.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, runCli, type CliOptions, type CliResult } from '../../helpers/servers.js';

/** This file's own state directory (locks, outbox, last runs): never the machine's. */
const stateDir = mkdtempSync(join(tmpdir(), 'discovery-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** `bin/metrics ...args` as a user runs it, with this file's state directory. */
const cli = (args: string[], opts: CliOptions = {}) => runCli(args, { ...opts, env: { STATE_DIRECTORY: stateDir, ...opts.env } });

const distCollectors = join(repoRoot, 'dist', 'src', 'collectors');

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

// ------------------------------------------------------------------------------------------------
// Discovery of copied, broken and incomplete collector folders

describe('discovery (METRICS_COLLECTORS_DIR)', () => {
  // a sibling of dist/src/collectors, so that ../../lib/... imports still resolve
  const dir = join(repoRoot, 'dist', 'src', `collectors-test-${randomBytes(4).toString('hex')}`);
  const env = { METRICS_COLLECTORS_DIR: dir };

  before(() => {
    mkdirSync(dir, { recursive: true });
    cpSync(join(distCollectors, 'system'), join(dir, 'mysystem'), { recursive: true });
    mkdirSync(join(dir, 'broken_import'));
    writeFileSync(join(dir, 'broken_import', 'index.js'), "throw new Error('boom at import of broken_import');\n");
    mkdirSync(join(dir, 'no_runmetric'));
    writeFileSync(join(dir, 'no_runmetric', 'index.js'), "export const RUN_INTERVAL = '10m';\nexport function somethingElse() {}\n");
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('list shows the copy with its interval, and the broken folders with errors naming them', async () => {
    const r = await cli(['list'], { env });
    assert.equal(r.code, 1, show(r));
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.some((l) => /^mysystem\s+every 1min \(after the previous run ends\)\s+(-|\S+ \S+)\s+ok$/.test(l)), show(r));
    const broken = lines.find((l) => l.startsWith('broken_import'));
    assert.ok(broken, show(r));
    assert.match(broken, /BROKEN: collector "broken_import" failed to load/);
    assert.match(broken, /boom at import of broken_import/);
    const norun = lines.find((l) => l.startsWith('no_runmetric'));
    assert.ok(norun, show(r));
    assert.match(norun, /BROKEN: collector "no_runmetric" does not export a runMetric\(\) function/);
    // only the folders of this directory
    assert.ok(!lines.some((l) => /^system\s/.test(l)), show(r));
  });

  test('run <copy> --dry-run works', async () => {
    const r = await cli(['run', 'mysystem', '--dry-run', '--format', 'lp'], { env });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim().split('\n').length, 4, show(r));
    assert.match(r.stdout, /^system_load,host=/m);
    assert.match(r.stderr, /mysystem\s+ok\s+4 points/, show(r));
  });

  test('run (all) runs the good ones and exits 1 because of the broken ones', async () => {
    const r = await cli(['run', '--dry-run', '--format', 'lp'], { env });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stdout.trim().split('\n').length, 4, show(r));
    assert.match(r.stderr, /mysystem\s+ok\s+4 points/, show(r));
    assert.match(r.stderr, /broken_import\s+FAILED/, show(r));
    assert.match(r.stderr, /no_runmetric\s+FAILED/, show(r));
    assert.match(r.stderr, /boom at import of broken_import/, show(r));
  });

  test('run of a broken one alone: exit 1 with its error', async () => {
    const r = await cli(['run', 'broken_import', '--dry-run'], { env });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /collector "broken_import" failed to load/, show(r));
  });

  test('run nope lists the known names of this directory', async () => {
    const r = await cli(['run', 'nope', '--dry-run'], { env });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /known collectors: broken_import, mysystem, no_runmetric/, show(r));
  });
});
