#!/usr/bin/env node
// Runs the tests: `npm test` (every dist/test/**/*.test.js, after a build), `npm test -- <name>..`
// (only those collectors' tests: dist/test/collectors/<name>/**/*.test.js), and `metrics test`.
//
//   node scripts/test.mjs [--build | --build-if-needed] [--collectors] [names..]
//
//   --build             run `npm run build` first (npm test)
//   --build-if-needed   build only when a .ts file under src/, test/ or bench/ is newer than its
//                       compiled .js, or has none (metrics test)
//   --collectors        with no names: every collector's tests (default: the whole suite)
//   --list              print the test files instead of running them
//   names               collectors (folders of src/collectors or test/collectors); an unknown one
//                       is an error listing the collectors (exit 2)
//
// Plain JavaScript, so that it runs before anything is compiled. The exit code is node --test's.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const names = args.filter((a) => !a.startsWith('--'));
const known = new Set(['--build', '--build-if-needed', '--collectors', '--list']);
for (const f of flags) {
  if (!known.has(f)) fail(`unknown option ${f} (known: ${[...known].join(', ')})`);
}

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

/** Every file under `dir` (relative to it) whose name matches `re`, sorted. */
function filesUnder(dir, re) {
  if (!existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && re.test(e.name)) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** The collectors: folders of src/collectors (not `_shared` or hidden) and of test/collectors. */
function collectors() {
  const found = new Set();
  for (const dir of ['src/collectors', 'test/collectors']) {
    const full = join(root, dir);
    if (!existsSync(full)) continue;
    for (const e of readdirSync(full, { withFileTypes: true })) {
      if (e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.')) found.add(e.name);
    }
  }
  return [...found].sort();
}

/** True when a TypeScript source has no compiled .js, or a newer one. */
function buildNeeded() {
  for (const dir of ['src', 'test', 'bench']) {
    for (const rel of filesUnder(join(root, dir), /\.ts$/)) {
      if (rel.endsWith('.d.ts')) continue;
      const src = join(root, dir, rel);
      const out = join(root, 'dist', dir, rel.replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(src).mtimeMs > statSync(out).mtimeMs) return true;
    }
  }
  return false;
}

// the test files, chosen before the build so that a wrong name fails at once
let files;
if (names.length === 0 && !flags.has('--collectors')) {
  files = undefined; // the whole suite: every compiled test file, as found after the build
} else {
  const all = collectors();
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) fail(`no collector named ${unknown.map((n) => `"${n}"`).join(', ')} (collectors: ${all.join(', ') || 'none'})`);
  const chosen = names.length ? names : all;
  files = [];
  for (const name of chosen) {
    const tests = filesUnder(join(root, 'test', 'collectors', name), /\.test\.ts$/);
    if (tests.length === 0 && names.length) fail(`collector "${name}" has no tests: add test/collectors/${name}/${name}.test.ts`);
    for (const t of tests) files.push(join('dist', 'test', 'collectors', name, t.replace(/\.ts$/, '.js')));
  }
  if (files.length === 0) fail('no collector has tests under test/collectors/');
}

if (flags.has('--build') || (flags.has('--build-if-needed') && buildNeeded())) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const b = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

files ??= filesUnder(join(root, 'dist', 'test'), /\.test\.js$/).map((f) => join('dist', 'test', f));
if (flags.has('--list')) {
  process.stdout.write(files.map((f) => `${f}\n`).join(''));
  process.exit(0);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
