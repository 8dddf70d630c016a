/**
 * Dev mode (run/from-source.ts), as a user meets it, in a copy of the checkout (src, bin and the
 * built dist/src; node_modules linked): a collector created after the build runs in a dry-run with
 * no build step, an edit shows in the next dry-run, a syntax error names file and line, a stale
 * framework is named, and the production paths (CI=true, systemd's INVOCATION_ID, a real write)
 * never transpile: they run the compiled code, or say "run npm run build".
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanEnv, collectCli, repoRoot, startHttpFixtureServer, type CliResult } from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'from-source-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** `node <copy>/bin/<script> ...args` in the copy, with a clean environment that is not CI nor systemd. */
function cli(script: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [join(root, 'bin', script), ...args], {
    cwd: root,
    env: cleanEnv({ CI: undefined, INVOCATION_ID: undefined, SYSTEMD_SCOPE: undefined, ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return collectCli(child, `${script} ${args.join(' ')}`, 60_000);
}

const cache = (name: string) => join(root, 'dist', '.dev-cache', `${name}.js`);

/** A new collector named `name`: a copy of system's source and bin script, never built. */
function newCollector(name: string): string {
  cpSync(join(root, 'src', 'collectors', 'system'), join(root, 'src', 'collectors', name), { recursive: true });
  cpSync(join(root, 'bin', 'system'), join(root, 'bin', name));
  return join(root, 'src', 'collectors', name, 'system.ts');
}

/** Changes the measurement name system_load to `to` in a collector's source (a saved edit). */
function renameLoad(file: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(/'system_load'|'[a-z_]+_load'/, `'${to}'`);
  assert.notEqual(next, text, `no load measurement in ${file}`);
  writeFileSync(file, next);
}

before(() => {
  for (const part of ['package.json', 'bin', 'src']) cpSync(join(repoRoot, part), join(root, part), { recursive: true });
  mkdirSync(join(root, 'dist'));
  cpSync(join(repoRoot, 'dist', 'src'), join(root, 'dist', 'src'), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
});

describe('a dry-run runs the current source', () => {
  test('a collector created after the build runs with no build step', async () => {
    newCollector('fresh');
    assert.ok(!existsSync(join(root, 'dist', 'src', 'collectors', 'fresh')));
    const r = await cli('fresh', ['--dry-run', '--format', 'lp']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^system_load,host=/m, show(r));
    assert.match(r.stderr, /fresh\s+ok\s+4 points/, show(r));
    assert.ok(existsSync(cache('fresh')), 'no bundle in dist/.dev-cache');
    // `metrics run <name> --dry-run` is the same
    const m = await cli('metrics', ['run', 'fresh', '--dry-run', '--format', 'lp']);
    assert.equal(m.code, 0, show(m));
  });

  test('an edit shows in the next dry-run; an unchanged source reuses the bundle', async () => {
    const file = join(root, 'src', 'collectors', 'fresh', 'system.ts');
    renameLoad(file, 'fresh_load');
    const r = await cli('fresh', ['--dry-run', '--format', 'lp']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^fresh_load,host=/m, show(r));
    assert.doesNotMatch(r.stdout, /^system_load,/m, show(r));
    const made = statSync(cache('fresh')).mtimeMs;
    const again = await cli('fresh', ['--dry-run', '--format', 'lp']);
    assert.equal(again.code, 0, show(again));
    assert.match(again.stdout, /^fresh_load,host=/m, show(again));
    assert.equal(statSync(cache('fresh')).mtimeMs, made, 'the bundle of an unchanged source was made again');
  });

  test('a built collector whose source is edited runs the edit; a shared _ folder is bundled with it', async () => {
    const helper = join(root, 'src', 'collectors', '_shared');
    mkdirSync(helper, { recursive: true });
    writeFileSync(join(helper, 'names.ts'), "export const LOAD: string = 'shared_load';\n");
    const file = join(root, 'src', 'collectors', 'system', 'system.ts');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, `import { LOAD } from '../_shared/names.js';\n${text.replace("measurement: 'system_load'", 'measurement: LOAD')}`);
    const r = await cli('system', ['--dry-run', '--format', 'lp']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^shared_load,host=/m, show(r));
  });

  test('a syntax error fails the dry-run naming the file, line and column', async () => {
    const file = join(root, 'src', 'collectors', 'fresh', 'system.ts');
    const good = readFileSync(file, 'utf8');
    try {
      appendFileSync(file, '\nexport const broken = (;\n');
      const line = good.split('\n').length + 1;
      const r = await cli('fresh', ['--dry-run']);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /collector "fresh": its source does not compile/, show(r));
      assert.match(r.stderr, new RegExp(`src/collectors/fresh/system\\.ts:${line}:\\d+: `), show(r));
      assert.match(r.stderr, /npm run build/, show(r));
    } finally {
      writeFileSync(file, good);
    }
  });

  test('a framework source newer than its build is named, with "npm run build"', async () => {
    const lib = join(root, 'src', 'lib', 'sdk', 'metric.ts');
    const saved = statSync(lib);
    try {
      const later = new Date(Date.now() + 5000);
      utimesSync(lib, later, later);
      renameLoad(join(root, 'src', 'collectors', 'fresh', 'system.ts'), 'fresh2_load');
      const r = await cli('fresh', ['--dry-run', '--format', 'lp']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /src\/lib\/sdk\/metric\.ts is newer than its build.*npm run build/, show(r));
    } finally {
      utimesSync(lib, saved.atime, saved.mtime);
    }
  });
});

describe('production paths never transpile', () => {
  test('CI=true and systemd (INVOCATION_ID): a never-built collector is "not built yet", nothing is bundled', async () => {
    newCollector('unbuilt');
    for (const env of [{ CI: 'true' }, { INVOCATION_ID: '0123456789abcdef' }]) {
      const r = await cli('unbuilt', ['--dry-run'], env);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /collector "unbuilt" is not built yet .*run npm run build/, show(r));
      assert.ok(!existsSync(cache('unbuilt')), `bundled under ${JSON.stringify(env)}`);
    }
  });

  test('CI=true: an edited built collector runs its compiled code', async () => {
    // system's source was edited above (shared_load); its build says system_load
    const r = await cli('system', ['--dry-run', '--format', 'lp'], { CI: 'true' });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^system_load,host=/m, show(r));
  });

  test('a real write runs the compiled code of an edited collector', async () => {
    const server = await startHttpFixtureServer({ 'POST /api/v2/write': { status: 204, body: '' } });
    try {
      const stateDir = join(root, 'state');
      const r = await cli('metrics', ['run', 'system'], {
        INFLUX_URL: server.url,
        INFLUX_TOKEN: 'test-token',
        INFLUX_ORG: 'o',
        INFLUX_BUCKET: 'b',
        INFLUX_API_VERSION: '2',
        METRICS_STATE_DIR: stateDir,
      });
      assert.equal(r.code, 0, show(r));
      const body = server.requests.map((q) => q.text).join('\n');
      assert.match(body, /^system_load,host=/m, `${show(r)}\n--- written ---\n${body}`);
      assert.doesNotMatch(body, /shared_load/, body);
    } finally {
      await server.close();
    }
  });
});
