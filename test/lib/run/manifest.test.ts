/**
 * The collectors' manifest (run/manifest.ts, written by the build) and what discovery imports: a
 * run of named collectors imports only them; `list` takes names and intervals from the manifest
 * for folders whose compiled index is the one described, imports the others (a changed index, a
 * folder the manifest does not name), and reports broken folders exactly as without a manifest.
 * A collector here leaves a marker file when it is imported, which is how the tests see imports.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, runCli, type CliResult } from '../../helpers/servers.js';

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

const rowOf = (out: string, n: string): string | undefined => out.split('\n').find((l) => l.split(/\s+/)[0] === n);

test('the build writes dist/src/collectors/manifest.json with every collector and its RUN_INTERVAL', () => {
  const m = JSON.parse(readFileSync(join(repoRoot, 'dist', 'src', 'collectors', 'manifest.json'), 'utf8'));
  assert.equal(m.format, 'metrics-manifest/1');
  assert.equal(m.collectors.system?.runInterval, '1m');
  assert.equal(m.collectors.sponsoring?.runInterval, '5m');
});

describe('discovery with a manifest (METRICS_COLLECTORS_DIR)', () => {
  // a sibling of dist/src/collectors, so that ../../lib/... imports resolve
  const dir = join(repoRoot, 'dist', 'src', `collectors-manifest-${randomBytes(4).toString('hex')}`);
  const marker = join(dir, 'imported.txt');
  const env = { METRICS_COLLECTORS_DIR: dir };
  const marked = (interval: string) =>
    `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(marker)}, 'marked\\n');\n` +
    `export const RUN_INTERVAL = '${interval}';\n` +
    "export async function runMetric() { return { collector: 'marked', ok: true, points: 0 }; }\n";

  before(() => {
    mkdirSync(dir, { recursive: true });
    cpSync(join(repoRoot, 'dist', 'src', 'collectors', 'system'), join(dir, 'mysystem'), { recursive: true });
    mkdirSync(join(dir, 'marked'));
    writeFileSync(join(dir, 'marked', 'index.js'), marked('7m'));
    const w = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'lib', 'run', 'write-manifest.js'), dir], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    assert.match(w.stdout, /manifest: 2 collector\(s\) described/);
    rmSync(marker, { force: true }); // the build imported it once
    // broken after the manifest was written: not described, so imported and reported
    mkdirSync(join(dir, 'broken_import'));
    writeFileSync(join(dir, 'broken_import', 'index.js'), "throw new Error('boom at import of broken_import');\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('run <name> imports that collector only', async () => {
    const r = await runCli(['run', 'mysystem', '--dry-run', '--format', 'lp'], { env });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /mysystem\s+ok\s+4 points/, show(r));
    assert.ok(!existsSync(marker), `run mysystem imported another collector\n${show(r)}`);
  });

  test('list reads a described collector from the manifest, and imports and reports a broken one', async () => {
    const r = await runCli(['list'], { env });
    assert.equal(r.code, 1, show(r));
    assert.match(rowOf(r.stdout, 'marked') ?? '', /every 7min .*\sok$/, show(r));
    assert.ok(!existsSync(marker), `list imported a collector the manifest describes\n${show(r)}`);
    assert.match(rowOf(r.stdout, 'broken_import') ?? '', /BROKEN: collector "broken_import" failed to load .*boom at import/, show(r));
    assert.match(rowOf(r.stdout, 'mysystem') ?? '', /every 1min .*\sok$/, show(r));
  });

  test('a changed index is imported again (the manifest is stale for it)', async () => {
    writeFileSync(join(dir, 'marked', 'index.js'), marked('19m'));
    const r = await runCli(['list', '--json'], { env });
    const rows = JSON.parse(r.stdout) as Array<{ name: string; interval: string }>;
    assert.equal(rows.find((x) => x.name === 'marked')?.interval, '19m', show(r));
    assert.ok(existsSync(marker), 'the changed collector was not imported');
  });

  test('an unknown name lists every collector without importing them', async () => {
    rmSync(marker, { force: true });
    const r = await runCli(['run', 'nope', '--dry-run'], { env });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /known collectors: broken_import, marked, mysystem/, show(r));
    assert.ok(!existsSync(marker), show(r));
  });
});
