/**
 * Nothing we write follows a planted link: one test per writer. Each plants symbolic links where
 * the writer writes (the target name itself, and the temp names the old code used, which were
 * predictable: `<file>.<pid>.tmp`), one pointing at a file outside that must stay unchanged, one
 * dangling whose target must not be created. `systemd generate --out DIR` gets its links planted
 * by an unprivileged user (setpriv) in a world-writable DIR.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { RunnerInstalled } from '../../../src/collectors/github_runner/events.js';
import type { DiscoveredCollector } from '../../../src/lib/run/discovery.js';
import { appendToMetricsLog } from '../../../src/lib/events/metrics-log.js';
import { installLogrotate } from '../../../src/lib/events/logrotate.js';
import { Outbox } from '../../../src/lib/delivery/outbox/store.js';
import { writeLastRun } from '../../../src/lib/platform/state.js';
import { runGenerator } from '../../../src/lib/systemd/generator.js';
import { installGenerator, installUnits } from '../../../src/lib/systemd/install.js';
import type { UnitOptions } from '../../../src/lib/systemd/options.js';
import { MARKER } from '../../../src/lib/systemd/units.js';
import { findBinary, repoRoot, runCli } from '../../helpers/servers.js';

const dirs: string[] = [];
function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `atomic-write-${prefix}-`));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PRECIOUS = 'precious: must never be overwritten\n';

/** A file outside the writer's directory, and the path a dangling link points at. */
function outside(): { file: string; dangling: string; dir: string; untouched(): void } {
  const dir = tmp('outside');
  const file = join(dir, 'precious.txt');
  writeFileSync(file, PRECIOUS, { mode: 0o600 });
  const dangling = join(dir, 'created-through-a-link');
  return {
    file,
    dangling,
    dir,
    untouched() {
      assert.equal(readFileSync(file, 'utf8'), PRECIOUS, `${file} was written through a planted link`);
      assert.equal(statSync(file).mode & 0o777, 0o600, `${file} had its mode changed through a planted link`);
      assert.equal(existsSync(dangling), false, `${dangling} was created through a dangling link`);
      assert.deepEqual(readdirSync(dir).sort(), ['precious.txt'], `nothing else may appear in ${dir}`);
    },
  };
}

/** A regular file (not a link) whose content starts with `start`. */
function assertRegular(path: string, start?: string): void {
  const st = lstatSync(path);
  assert.ok(st.isFile(), `${path} must be a regular file, is ${st.isSymbolicLink() ? 'a symbolic link' : 'something else'}`);
  if (start !== undefined) assert.ok(readFileSync(path, 'utf8').startsWith(start), `${path} starts with ${JSON.stringify(start)}`);
}

const collector = (name: string, runInterval = '5m'): DiscoveredCollector => ({ name, dir: `/nonexistent/${name}`, runInterval });
const UNIT_OPTIONS: UnitOptions = { node: process.execPath, repo: repoRoot, credentialsDir: '', environmentFile: '' };
const quiet = (): void => {};

test('systemd generate --out DIR: links planted by another user in a world-writable DIR are replaced, never followed', async (t) => {
  const setpriv = findBinary('setpriv');
  if (!setpriv) {
    if (process.env.CI) assert.fail('setpriv (util-linux) is required with CI=true');
    return t.skip('setpriv (util-linux) is not installed');
  }
  if (process.getuid?.() !== 0) return t.skip('needs root to act as another user');
  const o = outside();
  // mkdtemp in /tmp, opened up to everyone (no sticky bit: links there are followed by the kernel)
  const out = tmp('generate-out');
  chmodSync(out, 0o777);
  const attacker = (...args: string[]) => {
    const r = spawnSync(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `as nobody: ${args.join(' ')}: ${r.stderr}`);
  };
  attacker('ln', '-s', o.file, join(out, 'metrics@.service'));
  attacker('ln', '-s', o.dangling, join(out, 'metrics@system.timer'));
  assert.equal(lstatSync(join(out, 'metrics@.service')).uid, 65534, 'the link belongs to the other user');

  const r = await runCli(['systemd', 'generate', '--out', out, '--credentials-dir', '', '--environment-file', '']);
  assert.equal(r.code, 0, r.stderr);
  o.untouched();
  assertRegular(join(out, 'metrics@.service'), MARKER);
  assertRegular(join(out, 'metrics@system.timer'), MARKER);
  assert.equal(statSync(join(out, 'metrics@.service')).mode & 0o777, 0o644);
});

test('systemd install: a link planted at a temp name is never written through; a link at a unit name is refused', async () => {
  const o = outside();
  const unitDir = tmp('install');
  // the names the old code used for its temp files
  symlinkSync(o.file, join(unitDir, `metrics@.service.${process.pid}.tmp`));
  symlinkSync(o.dangling, join(unitDir, `metrics@a.timer.${process.pid}.tmp`));
  const r = await installUnits({ ...UNIT_OPTIONS, collectors: [collector('a')], unitDir, runSystemctl: quiet, out: quiet });
  assert.deepEqual(r.written.sort(), ['metrics@.service', 'metrics@a.timer']);
  o.untouched();
  assertRegular(join(unitDir, 'metrics@.service'), MARKER);
  assertRegular(join(unitDir, 'metrics@a.timer'), MARKER);

  const o2 = outside();
  const unitDir2 = tmp('install-final');
  symlinkSync(o2.file, join(unitDir2, 'metrics@.service'));
  await assert.rejects(
    installUnits({ ...UNIT_OPTIONS, collectors: [collector('a')], unitDir: unitDir2, runSystemctl: quiet, out: quiet }),
    (e: Error) => e.message.includes(join(unitDir2, 'metrics@.service')) && /symbolic link/.test(e.message) && /--force/.test(e.message),
  );
  o2.untouched();
});

test('systemd generator: units and enablement links never follow planted links', async () => {
  const o = outside();
  const normal = tmp('generator');
  symlinkSync(o.file, join(normal, `metrics@.service.${process.pid}.tmp`));
  symlinkSync(o.dangling, join(normal, `metrics@a.timer.${process.pid}.tmp`));
  symlinkSync(o.file, join(normal, 'metrics@b.timer'));
  mkdirSync(join(normal, 'timers.target.wants'));
  symlinkSync(o.file, join(normal, 'timers.target.wants', 'metrics@a.timer'));
  const logged: string[] = [];
  const code = await runGenerator([normal], {
    ...UNIT_OPTIONS,
    collectors: [collector('a'), collector('b')],
    log: { info: (m) => logged.push(`info: ${m}`), warn: (m) => logged.push(`warn: ${m}`), error: (m) => logged.push(`error: ${m}`) },
  });
  assert.equal(code, 0);
  o.untouched();
  for (const name of ['metrics@.service', 'metrics@a.timer', 'metrics@b.timer']) assertRegular(join(normal, name), MARKER);
  for (const name of ['metrics@a.timer', 'metrics@b.timer']) {
    const link = join(normal, 'timers.target.wants', name);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(link, 'utf8'), readFileSync(join(normal, name), 'utf8'), `${link} enables our timer`);
  }

  // timers.target.wants itself planted as a link to a folder elsewhere: nothing is created there
  const o2 = outside();
  const normal2 = tmp('generator-wants');
  symlinkSync(o2.dir, join(normal2, 'timers.target.wants'));
  const logged2: string[] = [];
  assert.equal(
    await runGenerator([normal2], {
      ...UNIT_OPTIONS,
      collectors: [collector('a')],
      log: { info: (m) => logged2.push(`info: ${m}`), warn: (m) => logged2.push(`warn: ${m}`), error: (m) => logged2.push(`error: ${m}`) },
    }),
    0,
  );
  o2.untouched();
  assertRegular(join(normal2, 'metrics@a.timer'), MARKER);
  assert.match(logged2.join('\n'), /timers\.target\.wants.*symbolic link/);
});

test('systemd install --generator: the generator script never follows a planted link', async () => {
  const o = outside();
  const generatorDir = tmp('generator-dir');
  const path = join(generatorDir, 'metrics-generator');
  symlinkSync(o.file, `${path}.${process.pid}.tmp`);
  await installGenerator({ ...UNIT_OPTIONS, generatorDir, runSystemctl: quiet, out: quiet });
  o.untouched();
  assertRegular(path, '#!/bin/sh');
  assert.equal(statSync(path).mode & 0o777, 0o755);

  const o2 = outside();
  const generatorDir2 = tmp('generator-dir-final');
  symlinkSync(o2.file, join(generatorDir2, 'metrics-generator'));
  await assert.rejects(
    installGenerator({ ...UNIT_OPTIONS, generatorDir: generatorDir2, runSystemctl: quiet, out: quiet }),
    (e: Error) => e.message.includes(join(generatorDir2, 'metrics-generator')) && /symbolic link/.test(e.message),
  );
  o2.untouched();
});

test('logrotate install: the configuration never follows a planted link', async () => {
  const o = outside();
  const configDir = tmp('logrotate');
  symlinkSync(o.file, join(configDir, `.metrics-events.tmp-${process.pid}`));
  symlinkSync(o.dangling, join(configDir, 'metrics-events'));
  const { configPath } = await installLogrotate({ logPath: '/var/log/metrics-events.log', configDir, enableTimer: false });
  o.untouched();
  assertRegular(configPath, '# Written by `metrics logrotate install`');
  assert.equal(statSync(configPath).mode & 0o777, 0o644);
});

test('state: the last-run file never follows a planted link', async () => {
  const o = outside();
  const state = tmp('state');
  mkdirSync(join(state, 'runs'), { mode: 0o700 });
  symlinkSync(o.file, join(state, 'runs', `a.json.${process.pid}.tmp`));
  symlinkSync(o.dangling, join(state, 'runs', 'b.json'));
  const run = { start: new Date(0).toISOString(), end: new Date(1000).toISOString(), success: true };
  await writeLastRun('a', run, state);
  await writeLastRun('b', run, state);
  o.untouched();
  assertRegular(join(state, 'runs', 'a.json'), '{');
  assertRegular(join(state, 'runs', 'b.json'), '{');
});

test('outbox: the drop counter and rejected/ never follow planted links', async () => {
  const log = { info: quiet, warn: quiet, error: quiet };
  const lines = (tag: string) => Array.from({ length: 20 }, (_, i) => `m,t=${tag} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);

  // dropped.json planted as a link: the counter replaces the link
  const o = outside();
  const dir = tmp('outbox');
  chmodSync(dir, 0o700);
  const probe = await new Outbox({ dir: join(tmp('probe'), 'o'), maxBytes: 1e9, log }).store(lines('p'), { collector: 'p', reason: 'r' });
  const ob = new Outbox({ dir, maxBytes: probe.bytes + 10, log });
  symlinkSync(o.file, join(dir, 'dropped.json'));
  await ob.store(lines('a'), { collector: 'a', reason: 'down' });
  await ob.store(lines('b'), { collector: 'b', reason: 'down' }); // drops a's batch
  o.untouched();
  assertRegular(join(dir, 'dropped.json'), '{');
  assert.equal(JSON.parse(readFileSync(join(dir, 'dropped.json'), 'utf8')).points, 20);

  // rejected/ planted as a link to a folder elsewhere: nothing is moved or written there
  const o2 = outside();
  const dir2 = tmp('outbox-rejected');
  chmodSync(dir2, 0o700);
  symlinkSync(o2.dir, join(dir2, 'rejected'));
  const errors: string[] = [];
  const ob2 = new Outbox({ dir: dir2, maxBytes: 1e9, log: { ...log, error: (m: string) => errors.push(m) } });
  const kept = await ob2.reject(lines('r'), { collector: 'r', reason: 'HTTP 400: field type conflict' });
  assert.equal(kept, undefined, 'not moved into the linked folder');
  o2.untouched();
  assert.equal((await ob2.list()).length, 1, 'the batch stays in the outbox');
  assert.match(errors.join('\n'), /rejected.*symbolic link/);
});

test('metrics log: a link at METRICS_LOG_PATH is refused, never appended through (nor a dangling one created)', async () => {
  const o = outside();
  const dir = tmp('log');
  const event = new RunnerInstalled({ flavor: 's', duration: 1 });
  for (const [name, target] of [
    ['to-file.log', o.file],
    ['dangling.log', o.dangling],
  ] as const) {
    const path = join(dir, name);
    symlinkSync(target, path);
    await assert.rejects(
      appendToMetricsLog([event], path),
      (e: Error) => e.message.includes(path) && /symbolic link/.test(e.message) && /METRICS_LOG_PATH/.test(e.message),
    );
  }
  o.untouched();
});

test('metrics log: a FIFO at METRICS_LOG_PATH is refused at once, never waited on', async (t) => {
  const mkfifo = findBinary('mkfifo');
  if (!mkfifo) return t.skip('mkfifo (coreutils) is not installed');
  const dir = tmp('log-fifo');
  const fifo = join(dir, 'events.log');
  assert.equal(spawnSync(mkfifo, [fifo]).status, 0);
  // in a child process: the old code blocks in open() forever, which no in-process test survives
  const r = await runCli(['event', 'runner_installed', 'flavor=s', 'duration=1'], { env: { METRICS_LOG_PATH: fifo }, timeoutMs: 20_000 });
  assert.notEqual(r.code, 0, r.stderr);
  assert.ok(r.stderr.includes(fifo), r.stderr);
  assert.match(r.stderr, /FIFO/);
});
