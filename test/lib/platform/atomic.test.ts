/**
 * The safe-file helpers of src/lib/platform/atomic.ts themselves: atomic writes that never follow a link,
 * appends that refuse anything but a regular file, bounded reads, private folders.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  constants,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import {
  UnsafeFileError,
  ensurePrivateDir,
  openAppendNoFollow,
  readRegularFile,
  readRegularFileSync,
  symlinkAtomic,
  tempPath,
  writeFileAtomic,
} from '../../../src/lib/platform/atomic.js';
import { findBinary } from '../../helpers/servers.js';

const dirs: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function mkfifo(path: string): boolean {
  const bin = findBinary('mkfifo');
  return !!bin && spawnSync(bin, [path]).status === 0;
}

test(
  'writeFileAtomic replaces a link at the target (its target unchanged), never creates a dangling target, ' + 'sets the mode exactly',
  async () => {
    const dir = tmp();
    const outside = join(tmp(), 'outside');
    writeFileSync(outside, 'keep');
    symlinkSync(outside, join(dir, 'a'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'b'));
    const umask = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'a'), 'A', { mode: 0o644 });
      await writeFileAtomic(join(dir, 'b'), Buffer.from('B'));
    } finally {
      process.umask(umask);
    }
    assert.equal(readFileSync(outside, 'utf8'), 'keep');
    assert.equal(existsSync(join(dir, 'nowhere')), false);
    assert.ok(lstatSync(join(dir, 'a')).isFile());
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'A');
    assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o644, 'the mode is exact whatever the umask');
    assert.equal(statSync(join(dir, 'b')).mode & 0o777, 0o600, 'default 0600');
    assert.deepEqual(readdirSync(dir).sort(), ['a', 'b'], 'no temp file left');
  },
);

test('writeFileAtomic: temp names are unpredictable, and a failed write leaves no temp file', async () => {
  const dir = tmp();
  const a = tempPath(join(dir, 'x'));
  const b = tempPath(join(dir, 'x'));
  assert.notEqual(a, b);
  assert.match(a, new RegExp(`/\\.tmp-${process.pid}-[0-9a-f]{16}-x\\.tmp$`));
  mkdirSync(join(dir, 'is-a-dir'));
  writeFileSync(join(dir, 'is-a-dir', 'f'), '');
  await assert.rejects(writeFileAtomic(join(dir, 'is-a-dir'), 'x'), (e: NodeJS.ErrnoException) => typeof e.code === 'string');
  assert.deepEqual(readdirSync(dir), ['is-a-dir'], 'the temp file was removed');
});

test('symlinkAtomic replaces whatever link is there', async () => {
  const dir = tmp();
  symlinkSync('/etc/passwd', join(dir, 'l'));
  await symlinkAtomic('/target/of/ours', join(dir, 'l'));
  assert.equal(readlinkSync(join(dir, 'l')), '/target/of/ours');
  assert.deepEqual(readdirSync(dir), ['l']);
});

test(
  'openAppendNoFollow appends to a regular file and refuses a link, a FIFO (with or without a reader), ' + 'a device and a directory',
  async (t) => {
    const dir = tmp();
    const file = join(dir, 'log');
    for (const line of ['1\n', '2\n']) {
      const fh = await openAppendNoFollow(file);
      await fh.write(line);
      await fh.close();
    }
    assert.equal(readFileSync(file, 'utf8'), '1\n2\n');
    symlinkSync(file, join(dir, 'link'));
    await assert.rejects(
      openAppendNoFollow(join(dir, 'link')),
      (e: Error) => e instanceof UnsafeFileError && /symbolic link/.test(e.message) && e.message.includes(join(dir, 'link')),
    );
    await assert.rejects(openAppendNoFollow('/dev/null'), (e: Error) => e instanceof UnsafeFileError && /character device/.test(e.message));
    mkdirSync(join(dir, 'd'));
    await assert.rejects(openAppendNoFollow(join(dir, 'd')), (e: Error) => e instanceof UnsafeFileError && /directory/.test(e.message));
    const fifo = join(dir, 'fifo');
    if (!mkfifo(fifo)) return t.skip('mkfifo is not available');
    await assert.rejects(openAppendNoFollow(fifo), (e: Error) => e instanceof UnsafeFileError && /FIFO/.test(e.message));
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await assert.rejects(openAppendNoFollow(fifo), (e: Error) => e instanceof UnsafeFileError && /FIFO/.test(e.message));
    } finally {
      closeSync(reader);
    }
  },
);

test(
  'readRegularFile reads small regular files and refuses links, FIFOs, ' + 'directories and oversized files without reading them',
  async (t) => {
    const dir = tmp();
    writeFileSync(join(dir, 'f'), 'hello');
    assert.equal((await readRegularFile(join(dir, 'f'), 10))!.data.toString(), 'hello');
    assert.equal(readRegularFileSync(join(dir, 'f'), 10)!.data.toString(), 'hello');
    assert.equal(await readRegularFile(join(dir, 'missing'), 10), undefined);
    assert.equal(readRegularFileSync(join(dir, 'missing'), 10), undefined);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    const big = join(dir, 'big');
    writeFileSync(big, '');
    truncateSync(big, 1024 ** 3); // sparse
    mkdirSync(join(dir, 'd'));
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'zero'), /symbolic link \(to \/dev\/zero\)/],
      [big, /1073741824 bytes/],
      [join(dir, 'd'), /directory/],
    ];
    if (mkfifo(join(dir, 'fifo'))) cases.push([join(dir, 'fifo'), /FIFO/]);
    else t.diagnostic('mkfifo is not available: FIFO case skipped');
    for (const [path, what] of cases) {
      await assert.rejects(
        readRegularFile(path, 4096),
        (e: Error) => e instanceof UnsafeFileError && what.test(e.message) && e.message.includes(path),
      );
      assert.throws(
        () => readRegularFileSync(path, 4096),
        (e: Error) => e instanceof UnsafeFileError && what.test(e.message),
      );
    }
  },
);

test('ensurePrivateDir creates 0700 folders, restricts wider ones (once), refuses links and non-directories', async () => {
  const root = tmp();
  const made = join(root, 'a', 'b');
  assert.equal(await ensurePrivateDir(made), undefined);
  assert.equal(statSync(made).mode & 0o777, 0o700);
  const wide = join(root, 'wide');
  mkdirSync(wide);
  chmodSync(wide, 0o755);
  assert.match((await ensurePrivateDir(wide, { what: 'the outbox directory' }))!, /the outbox directory .*wide had mode 0755.*set to 0700/);
  assert.equal(statSync(wide).mode & 0o777, 0o700);
  assert.equal(await ensurePrivateDir(wide), undefined, 'no second warning');
  symlinkSync(wide, join(root, 'link'));
  await assert.rejects(
    ensurePrivateDir(join(root, 'link'), { hint: 'set X' }),
    (e: Error) => e instanceof UnsafeFileError && /symbolic link.*refusing.*set X/.test(e.message),
  );
  writeFileSync(join(root, 'file'), '');
  await assert.rejects(
    ensurePrivateDir(join(root, 'file')),
    (e: Error) => e instanceof UnsafeFileError && /regular file, not a directory/.test(e.message),
  );
  assert.equal(await ensurePrivateDir(join(root, 'absent'), { create: false }), undefined);
  assert.equal(existsSync(join(root, 'absent')), false);
});
