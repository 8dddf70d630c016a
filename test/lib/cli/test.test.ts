/**
 * `metrics test [names..]` and `npm test [-- names..]` (src/lib/cli/commands/test.ts and
 * scripts/test.mjs): which test files run (the whole suite without names, exactly the compiled
 * test files; only the named collectors' otherwise), a real run of one collector's tests, and the
 * error for an unknown name, which lists the collectors. No build is started here (a build
 * replaces dist/ under the running tests): the runs use no --build flag.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { cleanEnv, repoRoot, runCli } from '../../helpers/servers.js';

const script = join(repoRoot, 'scripts', 'test.mjs');
const testScript = (args: string[]) => {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: repoRoot, encoding: 'utf8', env: cleanEnv(), timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Every compiled test file, as `find dist/test -name '*.test.js'` lists them. */
function compiledTests(dir = join(repoRoot, 'dist', 'test')): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? compiledTests(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : []))
    .map((p) => relative(repoRoot, p));
}

test('no names: the whole suite, every compiled test file', () => {
  const r = testScript(['--list']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), compiledTests().sort());
  assert.ok(r.stdout.includes('dist/test/lib/architecture.test.js'));
});

test('names: only those collectors’ test files; --collectors without names: every collector’s', () => {
  const one = testScript(['--list', 'github_runner']);
  assert.equal(one.code, 0, one.stderr);
  const expected = readdirSync(join(repoRoot, 'test', 'collectors', 'github_runner'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `dist/test/collectors/github_runner/${f.replace(/\.ts$/, '.js')}`)
    .sort();
  assert.ok(expected.includes('dist/test/collectors/github_runner/removal.test.js'), expected.join(', '));
  assert.deepEqual(one.stdout.trim().split('\n'), expected);
  const all = testScript(['--list', '--collectors']);
  assert.equal(all.code, 0, all.stderr);
  const files = all.stdout.trim().split('\n');
  assert.ok(files.length >= 3, all.stdout);
  assert.ok(
    files.every((f) => f.startsWith('dist/test/collectors/')),
    all.stdout,
  );
  assert.ok(files.includes('dist/test/collectors/system/system.test.js'), all.stdout);
});

test('a real run of one collector’s tests: node --test’s output and exit code', () => {
  const r = testScript(['system']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /# fail 0/);
  assert.doesNotMatch(r.stdout, /sponsoring/);
});

test('an unknown name: exit 2, naming it and listing the collectors (the script and metrics test)', async () => {
  const r = testScript(['--list', 'nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: no collector named "nope" \(collectors: .*github_runner, .*system.*\)$/m);
  const cli = await runCli(['test', 'nope', 'system']);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /no collector named "nope" \(collectors: /);
  const help = await runCli(['test', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /npm test -- <names>/);
});
