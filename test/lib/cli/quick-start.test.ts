/**
 * The quick start (src/lib/cli/bundle.ts, scripts/bundle.mjs): a plain `run` or `list` starts from
 * the CommonJS bundles in dist/fast/ and prints exactly what the ES modules print; anything the
 * bundles were not made from (a rebuilt module, a changed collector, a dev-mode source) starts
 * from the ES modules instead. Which start a process took (the framework bundle's tookCommand())
 * and which collector bundles it loaded are printed at exit by a preloaded script.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanEnv } from '../../helpers/servers.js';
import { repoRoot } from '../../../src/lib/platform/paths.js';

const work = mkdtempSync(join(tmpdir(), 'quick-start-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const preload = join(work, 'modules.cjs');
writeFileSync(
  preload,
  `process.on('exit', () => {
  const loaded = Object.keys(require.cache);
  const framework = loaded.find((m) => m.endsWith('/dist/fast/framework.cjs'));
  const took = framework !== undefined && require.cache[framework].exports.tookCommand();
  require('node:fs').writeFileSync(process.env.QUICK_START_MODULES, JSON.stringify({ took, loaded }));
});
`,
);

interface Started {
  code: number | null;
  stdout: string;
  stderr: string;
  /** the bundles took the command */
  quick: boolean;
  /** the collector bundles it loaded */
  collectorBundles: string[];
}

let runs = 0;
function start(root: string, args: string[], env: Record<string, string | undefined> = {}, bin = 'metrics'): Started {
  const modulesFile = join(work, `modules-${++runs}.txt`);
  const r = spawnSync(process.execPath, ['-r', preload, join(root, 'bin', bin), ...args], {
    encoding: 'utf8',
    env: cleanEnv({ QUICK_START_MODULES: modulesFile, ...env }),
    timeout: 60_000,
  });
  const { took, loaded } = JSON.parse(readFileSync(modulesFile, 'utf8')) as { took: boolean; loaded: string[] };
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    quick: took,
    collectorBundles: loaded.filter((m) => m.startsWith(join(root, 'dist', 'fast', 'collectors'))).map((m) => m.split('/').pop()!),
  };
}

/** Numbers that change from one run to the next (load, memory, disk, uptime, durations, times) as #. */
const steady = (text: string) => text.replace(/\d+(\.\d+)?/g, '#');

/**
 * A copy of this checkout (src, bin, scripts and the built dist, links kept; node_modules linked)
 * with its own manifest and quick-start bundles, made from the copy's dist: this checkout's may be
 * rebuilt meanwhile by another test (discovery.test.ts runs tsc), which would leave its bundles
 * behind (rightly not used).
 */
function copyCheckout(): string {
  const root = mkdtempSync(join(work, 'checkout-'));
  for (const part of ['package.json', 'bin', 'src', 'scripts', 'dist']) {
    cpSync(join(repoRoot, part), join(root, part), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  rmSync(join(root, 'dist', '.dev-cache'), { recursive: true, force: true });
  for (const step of [join(root, 'dist', 'src', 'lib', 'run', 'write-manifest.js'), join(root, 'scripts', 'bundle.mjs')]) {
    const r = spawnSync(process.execPath, [step], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${step}: ${r.stderr}`);
  }
  return root;
}

describe('quick start', () => {
  const built = copyCheckout();

  test('every collector folder has a bundle: none falls back to ES modules unsaid', () => {
    const record = JSON.parse(readFileSync(join(built, 'dist', 'fast', 'bundles.json'), 'utf8')) as {
      format: string;
      collectors: Record<string, unknown>;
    };
    assert.equal(record.format, 'metrics-fast/1');
    const manifest = JSON.parse(readFileSync(join(built, 'dist', 'src', 'collectors', 'manifest.json'), 'utf8')) as {
      collectors: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(record.collectors).sort(), Object.keys(manifest.collectors).sort());
  });

  test('a plain run, bin/<collector> and list start from the bundles and print what the ES modules print', () => {
    const env = { METRICS_NOW: '2026-01-02T03:04:05Z' };
    for (const [args, bin, bundles] of [
      [['run', 'system', '--dry-run', '--format', 'lp'], 'metrics', ['system.cjs']],
      [['--dry-run'], 'system', ['system.cjs']],
      [['list', '--json'], 'metrics', []],
    ] as const) {
      const quick = start(built, [...args], env, bin);
      const modules = start(built, [...args], { ...env, METRICS_NO_FAST_PATH: '1' }, bin);
      assert.equal(quick.quick, true, `${bin} ${args.join(' ')}: started from the bundles\n${quick.stderr}`);
      assert.deepEqual(quick.collectorBundles, bundles);
      assert.equal(modules.quick, false, 'METRICS_NO_FAST_PATH: the ES modules');
      assert.equal(quick.code, modules.code, quick.stderr);
      assert.equal(steady(quick.stdout), steady(modules.stdout));
      assert.equal(steady(quick.stderr), steady(modules.stderr));
    }
  });

  test("a collector's error and the exit code are the same from the bundles (one framework: its CollectorError)", () => {
    const env = { SYSTEM_MEMINFO_PATH: join(work, 'no-such-meminfo') };
    const quick = start(built, ['run', 'system', '-n'], env);
    const modules = start(built, ['run', 'system', '-n'], { ...env, METRICS_NO_FAST_PATH: '1' });
    assert.equal(quick.quick, true);
    assert.equal(quick.code, 1, quick.stderr);
    assert.match(quick.stderr, /cannot read .*no-such-meminfo: ENOENT; this collector needs Linux's \/proc/);
    assert.equal(quick.code, modules.code);
    assert.equal(steady(quick.stderr), steady(modules.stderr));
  });

  test('commands the bundles do not take start from the ES modules: help, a run of all, another collectors directory', () => {
    const help = start(built, ['--help']);
    assert.equal(help.code, 0);
    assert.equal(help.quick, false);
    const other = start(built, ['run', 'system', '-n'], { METRICS_COLLECTORS_DIR: join(built, 'dist', 'src', 'collectors') });
    assert.equal(other.code, 0, other.stderr);
    assert.equal(other.quick, false);
  });

  describe('in a copy of the checkout', () => {
    const root = copyCheckout();

    test('a copy starts from its own bundles', () => {
      const r = start(root, ['run', 'system', '-n']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.quick, true);
      assert.deepEqual(r.collectorBundles, ['system.cjs']);
    });

    test('a compiled collector file changed since the bundle was made: that collector starts from ES modules', () => {
      const file = join(root, 'dist', 'src', 'collectors', 'system', 'system.js');
      appendFileSync(file, '// changed after the build\n');
      const r = start(root, ['run', 'system', '-n', '--format', 'lp'], { CI: 'true' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.quick, false, 'not the stale bundle');
      assert.match(r.stdout, /^system_load,host=/m);
      // list: system's index.js is still the one the manifest describes, so it is not imported
      const list = start(root, ['list']);
      assert.equal(list.code, 0, list.stderr);
      assert.equal(list.quick, true);
      assert.match(list.stdout, /^system\s/m);
      // an index.js the manifest does not describe would be imported: list too starts from ES modules
      appendFileSync(join(root, 'dist', 'src', 'collectors', 'system', 'index.js'), '// changed after the build\n');
      const imported = start(root, ['list']);
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal(imported.quick, false);
      assert.match(imported.stdout, /^system\s/m);
    });

    test('a framework module rebuilt since the bundle was made: everything starts from ES modules', () => {
      const file = join(root, 'dist', 'src', 'lib', 'run', 'summary.js');
      const later = new Date(Date.now() + 5000);
      utimesSync(file, later, later);
      const r = start(root, ['list']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.quick, false);
    });
  });

  describe('dev mode in a copy of the checkout', () => {
    const root = copyCheckout();

    test('a changed shared folder the collector does not import: its dry-run still starts from its bundle', () => {
      const shared = join(root, 'src', 'collectors', '_ubuntu', 'series.ts');
      const later = new Date(Date.now() + 5000);
      utimesSync(shared, later, later);
      const r = start(root, ['run', 'system', '--dry-run'], { CI: '' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.quick, true);
      assert.deepEqual(r.collectorBundles, ['system.cjs']);
    });

    test('a dry-run of a changed source runs the source (transpiled, as ES modules), not the bundle', () => {
      const source = join(root, 'src', 'collectors', 'system', 'system.ts');
      writeFileSync(source, readFileSync(source, 'utf8').replace("measurement: 'system_uptime'", "measurement: 'system_uptime_changed'"));
      const later = new Date(Date.now() + 5000);
      utimesSync(source, later, later);
      const r = start(root, ['run', 'system', '--dry-run', '--format', 'lp'], { CI: '' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.quick, false);
      assert.match(r.stdout, /^system_uptime_changed,host=/m);
    });
  });
});
