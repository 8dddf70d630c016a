/**
 * The github_runner collector's removal of runner folders (extract.ts, removeEntry) and the
 * parking of what it cannot remove, attacked: a concurrent runner process, running as another
 * (unprivileged) user, swaps subfolders for links to a root-only directory while the collector
 * (root) removes the folder; folders nested far past PATH_MAX; mount points inside a runner
 * folder; no /proc; and the collector, run as an unprivileged user, meeting entries it may not
 * remove (a real EACCES) or a storage where it cannot even park them.
 *
 * The attacker and the unprivileged collector are real processes started through
 * `setpriv --reuid=65534` (util-linux): missing setpriv, or not running as root, skips loudly
 * outside CI and fails under CI=true. Mounts and the /proc-less namespace need privileges a
 * container may lack: they skip loudly when the mount is refused.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_REMOVAL_DEPTH, parkEntry, removeEntry } from '../../../src/collectors/github_runner/extract.js';
import {
  cleanEnv,
  cliPath,
  collectCli,
  requireBinary,
  runCli,
  startHttpFixtureServer,
  type CliResult,
  type HttpFixtureServer,
} from '../../helpers/servers.js';

const NOBODY = 65534;

const root = mkdtempSync(join(tmpdir(), 'github-runner-removal-'));
chmodSync(root, 0o755); // the unprivileged attacker must reach the storage inside
after(() => {
  // coreutils rm (openat-based) copes with whatever a failed run left, deep trees included
  execFileSync('rm', ['-rf', '--one-file-system', root]);
});

let seq = 0;
function freshDir(name: string): string {
  const d = join(root, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  chmodSync(d, 0o755);
  return d;
}

/** Root and setpriv, or a loud skip (a failure under CI=true). */
function needRootAndSetpriv(t: { skip(msg?: string): void }): boolean {
  if (!requireBinary('setpriv', t)) return false;
  if (process.getuid?.() !== 0) {
    const msg = 'this test creates a root-only directory and an attacker running as another user: run it as root';
    if (process.env.CI === 'true') throw new Error(msg);
    process.stderr.write(`\n*** SKIPPED: ${msg} ***\n\n`);
    t.skip(msg);
    return false;
  }
  return true;
}

/** Names of the root-only directory's files: the runner folders hold files of the same names. */
const PRECIOUS = ['shadow', 'key.pem', 'config'];

/** The root-only directory an attacker would like deleted: mode 0700, a few files and a folder. */
function rootOnlyDirectory(base: string): { path: string; files: Record<string, string> } {
  const path = join(base, 'root-only');
  mkdirSync(path, { mode: 0o700 });
  chmodSync(path, 0o700);
  const files: Record<string, string> = {};
  for (const n of PRECIOUS) {
    files[n] = `precious ${n}\n`;
    writeFileSync(join(path, n), files[n]!, { mode: 0o600 });
  }
  mkdirSync(join(path, 'sub'), { mode: 0o700 });
  files['sub/inner'] = 'precious inner\n';
  writeFileSync(join(path, 'sub', 'inner'), files['sub/inner']!, { mode: 0o600 });
  return { path, files };
}

function assertIntact(dir: { path: string; files: Record<string, string> }, round: number): void {
  for (const [name, content] of Object.entries(dir.files)) {
    let got: string;
    try {
      got = readFileSync(join(dir.path, name), 'utf8');
    } catch (error) {
      assert.fail(
        `round ${round}: ${join(dir.path, name)} of the root-only directory is gone: the removal followed a link ` +
          `(${(error as Error).message})`,
      );
    }
    assert.equal(got, content, `round ${round}: ${name} changed`);
  }
  assert.equal(lstatSync(dir.path).mode & 0o777, 0o700, `round ${round}: the root-only directory's mode changed`);
}

/** Subfolders of each runner folder that the attacker swaps for links (deepest last). */
const SWAPPED = ['a', 'a/b', 'a/b/c', 'd', 'e', 'e/g'];

/**
 * A runner folder with nested subfolders and files, its folders owned by the unprivileged user, built under a
 * hidden name (the attacker leaves those alone), then renamed into place.
 */
function runnerFolder(storage: string, name: string): void {
  const top = join(storage, `.building-${name}`);
  const dirs = ['', 'a', 'a/b', 'a/b/c', 'd', 'e', 'e/g'];
  for (const d of dirs) mkdirSync(join(top, d));
  for (const d of dirs) {
    for (const f of PRECIOUS) writeFileSync(join(top, d, f), `runner's ${d}/${f}\n`);
  }
  for (const d of dirs) chownSync(join(top, d), NOBODY, NOBODY); // the runner may rename anything in them
  renameSync(top, join(storage, name));
}

/**
 * The attacker, run as the unprivileged user: for the newest runner folder of the storage, renames
 * subfolders away and puts a link to the root-only directory in their place, then puts them
 * back, over and over. It prints "ready" once started, and the number of swaps on SIGTERM.
 */
const ATTACKER = `
const fs = require('fs');
const [storage, target, ...subs] = process.argv.slice(1);
let swaps = 0;
process.on('SIGTERM', () => { process.stdout.write('swaps ' + swaps + '\\n', () => process.exit(0)); });
const swap = (p) => { try { fs.renameSync(p, p + '-away'); } catch { return; } try { fs.symlinkSync(target, p); swaps++; } catch {} };
const back = (p) => { try { fs.unlinkSync(p); } catch {} try { fs.renameSync(p + '-away', p); } catch {} };
process.stdout.write('ready\\n');
(async () => {
  for (;;) {
    // the newest runner folder (r<round>): what the collector is removing right now
    let newest = 0;
    try { for (const n of fs.readdirSync(storage)) { const m = /^r(\\d+)$/.exec(n); if (m && +m[1] > newest) newest = +m[1]; } } catch {}
    for (const n of newest ? ['r' + newest] : []) {
      const top = storage + '/' + n;
      for (const s of subs) swap(top + '/' + s);
      for (const s of [...subs].reverse()) back(top + '/' + s);
      for (const s of subs) swap(top + '/' + s);
      swap(top);
      back(top);
    }
    await new Promise((r) => setImmediate(r));
  }
})();
`;

function startAttacker(storage: string, target: string): Promise<{ child: ChildProcess; stop(): Promise<number> }> {
  const child = spawn(
    'setpriv',
    [
      '--reuid',
      String(NOBODY),
      '--regid',
      String(NOBODY),
      '--clear-groups',
      '--pdeathsig',
      'KILL',
      process.execPath,
      '-e',
      ATTACKER,
      storage,
      target,
      ...SWAPPED,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      if (!out.includes('ready\n')) return;
      child.stdout!.off('data', onData);
      resolve({
        child,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
          const m = /swaps (\d+)/.exec(out);
          if (!m) throw new Error(`the attacker did not report its swaps\n--- stdout ---\n${out}\n--- stderr ---\n${err}`);
          return Number(m[1]);
        },
      });
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    void exited.then(() => reject(new Error(`the attacker exited before it was ready\n--- stdout ---\n${out}\n--- stderr ---\n${err}`)));
  });
}

/** Folders nested this deep: 2 bytes per level, so paths reach ~6000 bytes (PATH_MAX is 4096). */
const DEEP = 3000;
const extractUrl = new URL('../../../src/collectors/github_runner/extract.js', import.meta.url).href;

/** `<path>/d/d/d…/bottom` (`depth` folders), built by a child that walks down with relative chdir()s. */
function deepTree(path: string, depth: number): void {
  const script = `
    const fs = require('fs');
    fs.mkdirSync(process.argv[1]);
    process.chdir(process.argv[1]);
    for (let i = 0; i < Number(process.argv[2]); i++) { fs.mkdirSync('d'); process.chdir('d'); }
    fs.writeFileSync('bottom', 'the bottom');`;
  execFileSync(process.execPath, ['-e', script, path, String(depth)]);
}

/**
 * Removals under attack: at least MIN_ROUNDS, then more until ROUNDS or a budget of a few seconds
 * (the budget only bounds the test's runtime; nothing is asserted about time). The old by-path
 * fs.rm() lost root-only files within its first 30 rounds in 10 tries out of 10.
 */
const MIN_ROUNDS = 100;
const ROUNDS = 300;
const BUDGET_MS = 4000;

describe('removal of runner folders', () => {
  test(
    `removal never follows a link swapped in by a concurrent attacker (${MIN_ROUNDS}-${ROUNDS} removals, ` + `attacker as another user)`,
    async (t) => {
      if (!needRootAndSetpriv(t)) return;
      const base = freshDir('race');
      const secret = rootOnlyDirectory(base);
      const storage = join(base, 'storage');
      mkdirSync(storage);
      chownSync(storage, NOBODY, NOBODY);
      const attacker = await startAttacker(storage, secret.path);
      let removed = 0;
      let refused = 0;
      const reasons = new Set<string>();
      try {
        const deadline = performance.now() + BUDGET_MS;
        for (let round = 1; round <= ROUNDS && (round <= MIN_ROUNDS || performance.now() < deadline); round++) {
          const name = `r${round}`;
          runnerFolder(storage, name);
          try {
            await removeEntry(storage, name);
            removed++;
          } catch (error) {
            // giving up under a relentless attacker is allowed (it says so); following a link is not
            refused++;
            reasons.add((error as Error).message.replace(/^.*? kept changing/, '… kept changing'));
          }
          assertIntact(secret, round);
        }
      } finally {
        const swaps = await attacker.stop();
        t.diagnostic(`the attacker swapped ${swaps} folders for links`);
        assert.ok(swaps > 0, 'the attacker never swapped a folder for a link: the test proved nothing');
      }
      assertIntact(secret, removed + refused + 1);
      // with the attacker gone, whatever it left in the storage is removed too
      for (const n of readdirSync(storage)) await removeEntry(storage, n);
      assert.deepEqual(readdirSync(storage), []);
      assertIntact(secret, removed + refused + 2);
      t.diagnostic(`${removed} removed, ${refused} given up under attack`);
      for (const reason of reasons) assert.match(reason, /kept changing while being removed/);
    },
  );

  test('a runner entry that is a link is removed as a link: its target is untouched', async () => {
    const base = freshDir('top-link');
    const storage = join(base, 'storage');
    mkdirSync(storage);
    const target = join(base, 'target');
    mkdirSync(join(target, 'sub'), { recursive: true });
    writeFileSync(join(target, 'precious'), 'keep me');
    writeFileSync(join(target, 'sub', 'precious'), 'keep me too');
    symlinkSync(target, join(storage, 'r'));
    symlinkSync(join(target, 'precious'), join(storage, 'file-link'));
    await removeEntry(storage, 'r');
    await removeEntry(storage, 'file-link');
    assert.deepEqual(readdirSync(storage), []);
    assert.equal(readFileSync(join(target, 'precious'), 'utf8'), 'keep me');
    assert.equal(readFileSync(join(target, 'sub', 'precious'), 'utf8'), 'keep me too');
  });

  test('links inside a runner folder are removed as links, whatever they point at', async () => {
    const base = freshDir('inner-links');
    const storage = join(base, 'storage');
    const target = join(base, 'target');
    mkdirSync(join(target, 'sub'), { recursive: true });
    writeFileSync(join(target, 'precious'), 'keep me');
    mkdirSync(join(storage, 'r', 'a'), { recursive: true });
    symlinkSync(target, join(storage, 'r', 'dir-link'));
    symlinkSync(join(target, 'precious'), join(storage, 'r', 'a', 'file-link'));
    symlinkSync('../../..', join(storage, 'r', 'a', 'up'));
    execFileSync('mkfifo', [join(storage, 'r', 'a', 'fifo')]);
    await removeEntry(storage, 'r');
    assert.deepEqual(readdirSync(storage), []);
    assert.deepEqual(readdirSync(target).sort(), ['precious', 'sub']);
    assert.equal(readFileSync(join(target, 'precious'), 'utf8'), 'keep me');
  });

  for (const kind of ['tmpfs', 'bind'] as const) {
    const what = kind === 'tmpfs' ? 'a mount point (another file system)' : 'a bind mount of a folder of the same file system';
    test(`${what} inside a runner folder is not descended into: the removal fails naming it`, async (t) => {
      if (process.getuid?.() !== 0) return t.skip('mounting needs root');
      const base = freshDir(`mount-${kind}`);
      const storage = join(base, 'storage');
      const mnt = join(storage, 'r', 'a', 'mnt');
      mkdirSync(mnt, { recursive: true });
      writeFileSync(join(storage, 'r', 'a', 'file'), 'x');
      const elsewhere = join(base, 'elsewhere');
      mkdirSync(elsewhere);
      const args = kind === 'tmpfs' ? ['-t', 'tmpfs', '-o', 'size=1m', 'runner-removal-test', mnt] : ['--bind', elsewhere, mnt];
      try {
        execFileSync('mount', args, { stdio: 'pipe' });
      } catch (error) {
        const msg = `cannot mount here (${(error as Error).message.split('\n')[0]}): the ${kind} mount case is not tested`;
        process.stderr.write(`\n*** SKIPPED: ${msg} ***\n\n`);
        return t.skip(msg);
      }
      try {
        writeFileSync(join(mnt, 'precious'), 'keep me');
        const expected =
          kind === 'tmpfs'
            ? new RegExp(
                /r\/a\/mnt is on another file system than its runner folder \(a mount point\?\): removal does /.source +
                  /not descend into it; unmount it, then remove .*\/storage\/r by hand/.source,
              )
            : new RegExp(
                /r\/a\/mnt is a mount point inside its runner folder \(a bind mount\?\): removal does not /.source +
                  /descend into it; unmount it, then remove .*\/storage\/r by hand/.source,
              );
        await assert.rejects(removeEntry(storage, 'r'), (error: Error) => {
          assert.equal(error.name, 'RemovalError');
          assert.match(error.message, expected);
          return true;
        });
        assert.equal(readFileSync(join(mnt, 'precious'), 'utf8'), 'keep me');
      } finally {
        execFileSync('umount', [mnt]);
      }
      if (kind === 'bind') assert.equal(readFileSync(join(elsewhere, 'precious'), 'utf8'), 'keep me');
      await removeEntry(storage, 'r');
      assert.deepEqual(readdirSync(storage), []);
    });
  }

  test('parking renames the entry to .parked-<runner>-<UTC time> (-2, -3… when taken); a link is parked as a link', async () => {
    const base = freshDir('park-unit');
    const storage = join(base, 'storage');
    const target = join(base, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'precious'), 'keep me');
    const when = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
    mkdirSync(join(storage, 'r'), { recursive: true });
    writeFileSync(join(storage, 'r', 'f'), 'first');
    assert.equal(await parkEntry(storage, 'r', when), join(storage, '.parked-r-20250102T030405Z'));
    mkdirSync(join(storage, 'r'));
    writeFileSync(join(storage, 'r', 'f'), 'second');
    assert.equal(await parkEntry(storage, 'r', when), join(storage, '.parked-r-20250102T030405Z-2'));
    symlinkSync(target, join(storage, 'l'));
    assert.equal(await parkEntry(storage, 'l', when), join(storage, '.parked-l-20250102T030405Z'));
    assert.deepEqual(readdirSync(storage).sort(), [
      '.parked-l-20250102T030405Z',
      '.parked-r-20250102T030405Z',
      '.parked-r-20250102T030405Z-2',
    ]);
    assert.equal(readFileSync(join(storage, '.parked-r-20250102T030405Z', 'f'), 'utf8'), 'first');
    assert.equal(readFileSync(join(storage, '.parked-r-20250102T030405Z-2', 'f'), 'utf8'), 'second');
    assert.ok(lstatSync(join(storage, '.parked-l-20250102T030405Z')).isSymbolicLink());
    assert.deepEqual(readdirSync(target), ['precious']);
  });

  test(
    `a runner folder nested ${DEEP} deep (its path far over PATH_MAX) ` + `is removed with at most ~${MAX_REMOVAL_DEPTH} open descriptors`,
    async () => {
      const base = freshDir('deep-unit');
      const storage = join(base, 'storage');
      mkdirSync(storage);
      deepTree(join(storage, 'r'), DEEP);
      // under a descriptor limit of 128, a removal holding one descriptor per level would fail (EMFILE)
      const script =
        `import(${JSON.stringify(extractUrl)}).then((m) => m.removeEntry(process.argv[1], 'r')).then(() => ` +
        `console.log('removed'), (e) => { console.error(e.message); process.exit(1); });`;
      const out = execFileSync('sh', ['-c', 'ulimit -n 128 && exec "$0" -e "$1" "$2"', process.execPath, script, storage], {
        encoding: 'utf8',
      });
      assert.equal(out.trim(), 'removed');
      assert.deepEqual(readdirSync(storage), []);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// The collector, run as a user runs it

let influxStandIn: HttpFixtureServer;
before(async () => {
  influxStandIn = await startHttpFixtureServer({ 'POST /write': { status: 204 } });
});
after(async () => {
  await influxStandIn?.close();
});

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** A runner folder (its own mtime) last modified 10 minutes ago: older than RUNNER_METRICS_MIN_AGE's 330 s. */
function aged(path: string): void {
  const then = new Date(Date.now() - 10 * 60 * 1000);
  lutimesSync(path, then, then);
}

/** A storage (and state, metrics log) for CLI runs. */
function cliStorage(name: string): { base: string; storage: string; env: Record<string, string> } {
  const base = freshDir(name);
  const storage = join(base, 'storage');
  mkdirSync(storage);
  mkdirSync(join(base, 'state'));
  return {
    base,
    storage,
    env: {
      STATE_DIRECTORY: join(base, 'state'),
      METRICS_LOG_PATH: join(base, 'metrics.log'),
      RUNNER_METRICS_STORAGE: storage,
      RUNNER_FLAVOR: 'small',
      INFLUXDB_HOSTNAME: '127.0.0.1',
      INFLUXDB_PORT: String(influxStandIn.port),
      INFLUXDB_DATABASE: 'runners',
    },
  };
}

const collector = (args: string[], env: Record<string, string>) => runCli(['run', 'github_runner', ...args], { timeoutMs: 60_000, env });

describe('the collector and folders it cannot simply rm', () => {
  test(`a runner folder with folders nested ${DEEP} deep is extracted and removed; the next run succeeds`, async () => {
    const { storage, env } = cliStorage('deep-cli');
    deepTree(join(storage, 'deep'), DEEP);
    writeFileSync(join(storage, 'deep', 'runner-installed.timestamp'), '1700000000\n');
    aged(join(storage, 'deep'));
    const first = await collector([], env);
    assert.equal(first.code, 0, show(first));
    assert.match(first.stderr, /runners: 1 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 0 failed/, show(first));
    assert.deepEqual(readdirSync(storage), []);
    const second = await collector([], env);
    assert.equal(second.code, 0, show(second));
    assert.match(second.stderr, /runners: 0 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 0 failed/, show(second));
  });

  test('without /proc/self/fd the collector refuses to run: nothing is issued, nothing removed (exit 1)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('a mount namespace without /proc needs root');
    const { base, storage, env } = cliStorage('no-proc');
    mkdirSync(join(storage, 'r'));
    writeFileSync(join(storage, 'r', 'runner-installed.timestamp'), '1700000000\n');
    aged(join(storage, 'r'));
    // a private mount namespace whose /proc is an empty tmpfs: no /proc/self/fd
    const child = spawn(
      'unshare',
      ['--mount', 'sh', '-c', 'mount -t tmpfs none /proc && exec "$0" "$@"', process.execPath, cliPath, 'run', 'github_runner'],
      {
        env: cleanEnv(env),
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const r = await collectCli(child, 'metrics run github_runner without /proc', 60_000);
    if (/^(unshare|mount): /m.test(r.stderr)) {
      const msg = `cannot make a mount namespace without /proc here (${r.stderr.trim().split('\n')[0]}): not tested`;
      process.stderr.write(`\n*** SKIPPED: ${msg} ***\n\n`);
      return t.skip(msg);
    }
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stderr,
      new RegExp(
        /\/proc\/self\/fd is not available: runner folders cannot be removed without the risk of /.source +
          /following a link .* nothing was extracted from .*storage; mount \/proc/.source,
      ),
      show(r),
    );
    assert.deepEqual(readdirSync(storage), ['r']);
    assert.deepEqual(readdirSync(base).sort(), ['state', 'storage']); // no metrics log: nothing issued
  });

  /** `metrics run github_runner` as the unprivileged user. */
  const asNobody = (env: Record<string, string>): Promise<CliResult> =>
    collectCli(
      spawn(
        'setpriv',
        [
          '--reuid',
          String(NOBODY),
          '--regid',
          String(NOBODY),
          '--clear-groups',
          '--pdeathsig',
          'KILL',
          process.execPath,
          cliPath,
          'run',
          'github_runner',
        ],
        {
          env: cleanEnv(env),
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      ),
      'metrics run github_runner as nobody',
      60_000,
    );

  /**
   * A runner folder of the unprivileged user holding a folder of root's (mode 0755) with a file in
   * it: the collector, run as that user, gets EACCES from unlink(), as for any entry it may not remove.
   */
  function unremovable(storage: string, name: string, files: Record<string, string>): void {
    const r = join(storage, name);
    mkdirSync(r);
    for (const [f, content] of Object.entries(files)) {
      writeFileSync(join(r, f), content);
      chownSync(join(r, f), NOBODY, NOBODY);
    }
    mkdirSync(join(r, 'roots'));
    writeFileSync(join(r, 'roots', 'file'), 'root-owned');
    chownSync(r, NOBODY, NOBODY);
    aged(r);
  }

  test(
    'folders the collector cannot remove (extracted, incomplete, archived) are parked once: ' + 'events issued once, the next run exits 0',
    async (t) => {
      if (!needRootAndSetpriv(t)) return;
      const { base, storage, env } = cliStorage('unremovable');
      unremovable(storage, 'r', {
        'runner-installed.timestamp': '1700000000\n',
        'pre-job-metrics.json': JSON.stringify({
          timestamp: 1700000010,
          workflow: 'CI',
          workflow_run_id: '1',
          repository: 'o/r',
          event: 'push',
        }),
      });
      unremovable(storage, 'inc', {
        'pre-job-metrics.json': JSON.stringify({
          timestamp: 1700000010,
          workflow: 'CI',
          workflow_run_id: '1',
          repository: 'o/r',
          event: 'push',
        }),
      });
      unremovable(storage, 'bad', { 'runner-installed.timestamp': 'garbage' });
      for (const p of [base, storage, join(base, 'state')]) chownSync(p, NOBODY, NOBODY);
      const log = env.METRICS_LOG_PATH!;
      const quarantine = `${storage}-quarantine`;

      const first = await asNobody(env);
      assert.equal(first.code, 0, show(first));
      const parkedLine = (name: string): string => {
        const line = first.stderr
          .split('\n')
          .find((l) => l.startsWith(`warn [github_runner] runner ${name}: `) && l.includes('set aside as'));
        assert.ok(line, `no parking warning for ${name}\n${show(first)}`);
        return line;
      };
      const parkedAs = (name: string) => `set aside as .*\\/storage\\/\\.parked-${name}-\\d{8}T\\d{6}Z`;
      const cannot = (name: string) =>
        `.*\\/storage\\/${name} could not be removed \\(cannot remove .*\\/storage\\/${name}\\/roots\\/file: EACCES: permission denied ` +
        `\\(unlink\\)\\)`;
      const tail = ': later runs leave it alone; inspect it and remove it by hand$';
      assert.match(
        parkedLine('r'),
        new RegExp(`runner r: ${cannot('r')}; ${parkedAs('r')} \\(its events were issued; parked, they are never issued again\\)${tail}`),
      );
      assert.match(parkedLine('inc'), new RegExp(`runner inc: ${cannot('inc')}; ${parkedAs('inc')}${tail}`));
      assert.match(
        parkedLine('bad'),
        new RegExp(`runner bad: archived to .*\\/bad\\.tar\\.gz, but ${cannot('bad')}; ${parkedAs('bad')}${tail}`),
      );
      assert.match(
        first.stderr,
        /runners: 1 extracted, 1 quarantined, 1 incomplete \(no installed timestamp\), 0 failed, 3 parked; /,
        show(first),
      );
      const parked = readdirSync(storage).sort();
      assert.deepEqual(
        parked.map((n) => n.replace(/-\d{8}T\d{6}Z$/, '')),
        ['.parked-bad', '.parked-inc', '.parked-r'],
      );
      for (const n of parked) assert.equal(readFileSync(join(storage, n, 'roots', 'file'), 'utf8'), 'root-owned');
      assert.deepEqual(readdirSync(quarantine), ['bad.tar.gz']);
      const events = readFileSync(log, 'utf8');
      assert.equal(events.split('\n').filter((l) => l.includes('"event":"runner_start"')).length, 1, events);

      const second = await asNobody(env);
      assert.equal(second.code, 0, show(second));
      assert.match(
        second.stderr,
        /runners: 0 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 0 failed, 0 parked; /,
        show(second),
      );
      assert.match(
        second.stderr,
        /warn \[github_runner\] 3 folders set aside by earlier runs wait in .*\/storage \(\.parked-\*\): inspect and remove them by hand/,
        show(second),
      );
      assert.equal(readFileSync(log, 'utf8'), events, 'the second run issued the events again');
      assert.deepEqual(readdirSync(quarantine), ['bad.tar.gz'], 'the second run archived again');
      assert.deepEqual(readdirSync(storage).sort(), parked);
    },
  );

  test('a folder that can be neither removed nor parked stays in place and the run fails (exit 1), naming it', async (t) => {
    if (!needRootAndSetpriv(t)) return;
    // the storage is root's: the unprivileged collector may empty its own runner folder but
    // neither rmdir() it nor rename() it
    const { base, storage, env } = cliStorage('unparkable');
    const r = join(storage, 'r');
    mkdirSync(r);
    writeFileSync(join(r, 'runner-installed.timestamp'), '1700000000\n');
    for (const p of [r, join(r, 'runner-installed.timestamp'), base, join(base, 'state')]) chownSync(p, NOBODY, NOBODY);
    aged(r);
    const res = await asNobody(env);
    assert.equal(res.code, 1, show(res));
    assert.match(
      res.stderr,
      new RegExp(
        /error \[github_runner\] runner r: .*\/storage\/r could not be removed \(cannot remove the /.source +
          /folder .*\/storage\/r: EACCES: permission denied \(rmdir\)\); it could not be set aside either /.source +
          /\(cannot set .*\/storage\/r aside as .*\/storage\/\.parked-r-\d{8}T\d{6}Z: EACCES: permission /.source +
          /denied \(rename\)\): inspect and remove it by hand \(until then every run issues its events /.source +
          /again: duplicates\)/.source,
      ),
      show(res),
    );
    assert.match(
      res.stderr,
      /runners: 1 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 1 failed, 0 parked; /,
      show(res),
    );
    assert.deepEqual(readdirSync(storage), ['r']);
  });
});
