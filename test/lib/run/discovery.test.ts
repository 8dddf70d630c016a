/**
 * Discovery of collector folders, as a user meets it (`bin/metrics ...` in a subprocess): copied,
 * broken and incomplete folders in a METRICS_COLLECTORS_DIR; in the real tree, a copied folder
 * that is not built yet says "npm run build" and runs after a build, while a helper folder without
 * index.ts and a stale build whose source is gone are not listed; METRICS_DISABLE leaves a
 * collector out of "all" (shown "disabled") but it still runs when named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { disableAllBut } from '../../helpers/collectors.js';
import { repoRoot, runCli, startHttpFixtureServer, type CliOptions, type CliResult } from '../../helpers/servers.js';

/** This file's own state directory (locks, outbox, last runs): never the machine's. */
const stateDir = mkdtempSync(join(tmpdir(), 'discovery-test-state-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** `bin/metrics ...args` as a user runs it, with this file's state directory. */
const cli = (args: string[], opts: CliOptions = {}) => runCli(args, { ...opts, env: { STATE_DIRECTORY: stateDir, ...opts.env } });

const distCollectors = join(repoRoot, 'dist', 'src', 'collectors');

const root = mkdtempSync(join(tmpdir(), 'discovery-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
/** A fresh directory under this file's temp root. */
function fresh(name: string): string {
  const d = join(root, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

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
    assert.ok(
      lines.some((l) => /^mysystem\s+every 1min \(after the previous run ends\)\s+(-|\S+ \S+)\s+ok$/.test(l)),
      show(r),
    );
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

// ------------------------------------------------------------------------------------------------
// The real tree (src/collectors, dist/src/collectors) and METRICS_DISABLE

test('a copied collector folder: "not built" until a build, then it runs; helper folders and stale builds are not listed', async () => {
  const suffix = randomBytes(4).toString('hex');
  const name = `discovery_tmp_${suffix}`;
  const helper = `discovery_helper_${suffix}`;
  const srcDir = join(repoRoot, 'src', 'collectors', name);
  const helperDir = join(repoRoot, 'src', 'collectors', helper);
  const distDir = join(repoRoot, 'dist', 'src', 'collectors', name);
  const distHelper = join(repoRoot, 'dist', 'src', 'collectors', helper);
  const rowOf = (out: string, n: string): string | undefined => out.split('\n').find((l) => l.split(/\s+/)[0] === n);
  try {
    cpSync(join(repoRoot, 'src', 'collectors', 'system'), srcDir, { recursive: true });
    mkdirSync(helperDir);
    writeFileSync(join(helperDir, 'shared.ts'), 'export const HELPER = 1;\n');

    const l1 = await runCli(['list']);
    const row1 = rowOf(l1.stdout, name);
    assert.ok(row1, `copied folder not listed\n${show(l1)}`);
    assert.match(row1, /npm run build/, show(l1));
    assert.equal(rowOf(l1.stdout, helper), undefined, `a folder without index.ts is listed\n${show(l1)}`);

    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.ok(existsSync(join(distDir, 'index.js')), `tsc did not build ${name} (exit ${tsc.status}):\n${tsc.stdout}\n${tsc.stderr}`);

    const l2 = await runCli(['list']);
    const row2 = rowOf(l2.stdout, name);
    assert.ok(row2, show(l2));
    assert.match(row2, /\sok$/, show(l2));
    assert.equal(rowOf(l2.stdout, helper), undefined, show(l2));
    const run = await runCli(['run', name, '--dry-run']);
    assert.equal(run.code, 0, show(run));
    assert.match(run.stderr, new RegExp(`${name}\\s+ok`), show(run));

    // the source is removed: the stale build is not listed
    rmSync(srcDir, { recursive: true, force: true });
    assert.ok(existsSync(join(distDir, 'index.js')));
    const l3 = await runCli(['list']);
    assert.equal(rowOf(l3.stdout, name), undefined, `stale dist folder listed\n${show(l3)}`);
  } finally {
    for (const d of [srcDir, helperDir, distDir, distHelper]) rmSync(d, { recursive: true, force: true });
  }
});

test('METRICS_DISABLE leaves a collector out of "all" and the list, but it runs when named', async () => {
  const body = readFileSync(join(repoRoot, 'test', 'collectors', 'sponsoring', 'fixtures', 'recording', 'general.json'), 'utf8');
  const server = await startHttpFixtureServer({ '/queue.json': { status: 200, body, headers: { 'content-type': 'application/json' } } });
  try {
    const storage = fresh('storage');
    const env = {
      // the other shipped collectors (their sources are not served here) are off too
      METRICS_DISABLE: disableAllBut(['system', 'github_runner']),
      SPONSORING_URL: `${server.url}/queue.json`,
      RUNNER_METRICS_STORAGE: storage,
      RUNNER_FLAVOR: 'small',
    };
    const all = await runCli(['run', '--dry-run'], { env });
    assert.equal(all.code, 0, show(all));
    assert.match(all.stderr, /^\s+system\s+ok/m, show(all));
    assert.doesNotMatch(all.stderr, /^\s+sponsoring\s/m, show(all));
    assert.equal(server.requests.length, 0, `sponsoring fetched its source\n${show(all)}`);

    const list = await runCli(['list'], { env });
    const row = list.stdout.split('\n').find((l) => l.startsWith('sponsoring '));
    assert.ok(row, show(list));
    assert.match(row, /disabled/, show(list));
    const sysRow = list.stdout.split('\n').find((l) => l.startsWith('system '));
    assert.doesNotMatch(sysRow ?? '', /disabled/, show(list));

    const named = await runCli(['run', 'sponsoring', '--dry-run'], { env });
    assert.equal(named.code, 0, show(named));
    assert.match(named.stderr, /^\s+sponsoring\s+ok/m, show(named));
    assert.ok(server.requests.length > 0, show(named));
  } finally {
    await server.close();
  }
});
