/**
 * The images collector: the original's reading of an rsync listing (`%l %M %f`) of cdimage, from a
 * listing in that form; and the whole collector against a real rsync daemon serving a tree built
 * from the same listing (sparse files of the listed sizes and times, `current` and `pending` as
 * symbolic links to dated folders, which --copy-links follows), offline on loopback.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { imagePoints } from '../../../src/collectors/images/images.js';
import { ImagesMetric } from '../../../src/collectors/images/images.js';
import { type Expected, expectPoints, runRecorded } from '../../helpers/recorded-run.js';
import { freePort, repoRoot } from '../../helpers/servers.js';
import { parseLines } from '../../helpers/line-protocol.js';
import { Serializer } from '../../../src/lib/points/line-protocol.js';

const LISTING = readFileSync(join(repoRoot, 'test', 'collectors', 'images', 'fixtures', 'listing.txt'), 'utf8');
const NOW = Date.UTC(2026, 11, 2, 12);
const EXPECTED_LP = join(repoRoot, 'test', 'collectors', 'images', 'fixtures', 'expected.lp');

const img = (flavor: string, release: string, cp: string, arch: string, type: string | undefined, age: number, size: number): Expected => [
  'daily_image_details',
  { architecture: arch, current_or_pending: cp, flavor, ...(type ? { image_type: type } : {}), release },
  { age: { i: age }, size: { i: size } },
];
/** what the original writes for listing.txt at 2026-12-02T12:00:00Z */
const EXPECTED: Expected[] = [
  img('ubuntu', 'resolute', 'current', 'amd64', 'live', 0, 5937463296),
  img('ubuntu', 'resolute', 'current', 'arm64', 'live', 1, 5201283072),
  img('ubuntu', 'resolute', 'pending', 'amd64', 'live', 0, 5937475584),
  img('ubuntu-server', 'resolute', 'current', 'amd64', 'live', 7, 3213541376),
  img('ubuntu-server', 'resolute', 'current', 'arm64+raspi', 'preinstalled', 0, 2730491904),
  img('kubuntu', 'resolute', 'current', 'amd64', 'live', 1, 4200000000),
  img('ubuntustudio', 'noble', 'current', 'amd64', 'dvd', 31, 4500000000),
  img('ubuntustudio', 'resolute', 'current', 'amd64', 'live', 0, 5600000000),
  img('ubuntu-base', 'resolute', 'current', 'amd64', undefined, 0, 612345678),
  img('ubuntu-wsl', 'resolute', 'current', 'amd64', 'live', 0, 800000000),
];

/** The points as line protocol and back: what InfluxDB receives, typed. */
function written(points: ReturnType<typeof imagePoints>) {
  const s = new Serializer('images', `${NOW}000000`);
  return parseLines(points.map((p) => s.serialize(p)).join('\n')).map(({ time: _t, ...p }) => p);
}

describe('imagePoints (the listing as the original reads it)', () => {
  test('current and pending images: flavor, series, architecture, type, age in whole days, size in bytes', () => {
    assert.deepEqual(written(imagePoints(LISTING, NOW, 'rsync://x/')), expectPoints(EXPECTED));
  });
  test('skipped: other files, releases, hidden files, ubuntu-core-16, ubuntustudio dvd after noble', () => {
    const names = written(imagePoints(LISTING, NOW, 'u')).map((p) => `${p.tags.flavor}/${p.tags.release}`);
    assert.ok(!names.includes('ubuntustudio/oracular'));
    assert.ok(!names.some((n) => n.startsWith('ubuntu-core')));
  });
  test('a listing line of an image that does not read as the original expects is an error naming it', () => {
    assert.throws(() => imagePoints('12 x/current/a.iso', NOW, 'rsync://x/'), /rsync:\/\/x\/: listing line .* is not "size mtime path"/);
    assert.throws(() => imagePoints('12 2026-12-02 x/current/a-b-c.iso', NOW, 'u'), /the time is not/);
    assert.throws(() => imagePoints('12 2026/12/02-00:00:00 x/current/weird.iso', NOW, 'u'), /the file name is not/);
  });
});

// ------------------------------------------------------------------------------------------------

const hasRsync = spawnSync('rsync', ['--version']).status === 0;

/** A tree served by a real rsync daemon: the listing's files as sparse files, current/pending as links. */
// skipped loudly without rsync; in CI (CI=true) a missing rsync fails instead (.ci/run installs it)
if (!hasRsync && process.env.CI === 'true') test('rsync is installed (CI)', () => assert.fail('rsync is missing: apt-get install rsync'));
describe('images against a real rsync daemon', { skip: hasRsync ? false : 'rsync is not installed (apt install rsync)' }, () => {
  const root = mkdtempSync(join(tmpdir(), 'images-test-'));
  let daemon: ChildProcess | undefined;
  let port = 0;

  before(async () => {
    const tree = join(root, 'cdimage');
    for (const line of LISTING.trim().split('\n')) {
      const [size, mtime, path] = line.split(' ') as [string, string, string];
      if (!/\.(iso|img\.xz|tar\.gz|wsl|manifest)$/.test(path)) continue;
      const [, y, mo, d, h, mi, s] = /^(\d+)\/(\d+)\/(\d+)-(\d+):(\d+):(\d+)$/.exec(mtime)!.map(Number) as number[];
      // current/ and pending/ are links to dated folders, as on cdimage
      const real = path.replace(/\/(current|pending)\//, (_m, which: string) => `/${which === 'current' ? '20261202' : '20261202.1'}/`);
      const file = join(tree, real);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, '');
      truncateSync(file, Number(size));
      const at = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000;
      utimesSync(file, at, at);
      const link = join(tree, dirname(path));
      if (real !== path && !existsSync(link)) symlinkSync(real.includes('20261202.1') ? '20261202.1' : '20261202', link);
    }
    port = await freePort();
    const conf = join(root, 'rsyncd.conf');
    writeFileSync(
      conf,
      [
        `pid file = ${join(root, 'rsyncd.pid')}`,
        'use chroot = no',
        `uid = ${process.getuid?.() ?? 0}`,
        `gid = ${process.getgid?.() ?? 0}`,
        '[cdimage]',
        `  path = ${tree}`,
        '  read only = yes',
        '',
      ].join('\n'),
    );
    daemon = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const c = connect(port, '127.0.0.1', () => {
          c.end();
          resolve(true);
        });
        c.on('error', () => resolve(false));
      });
      if (up) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the rsync daemon did not start');
  });
  after(() => {
    daemon?.kill();
    rmSync(root, { recursive: true, force: true });
  });

  const env = () => ({ IMAGES_RSYNC_URL: `rsync://127.0.0.1:${port}/cdimage/`, PATH: process.env.PATH ?? '/usr/bin:/bin' });

  test('one rsync listing of the tree gives the points the original writes', async () => {
    const r = await runRecorded(ImagesMetric, undefined, env(), { now: `${NOW}000000` });
    assert.equal(r.report.ok, true, r.report.error);
    const sort = <T extends { tags: Record<string, string> }>(a: T[]) =>
      [...a].sort((x, y) => JSON.stringify(x.tags).localeCompare(JSON.stringify(y.tags)));
    assert.deepEqual(sort(r.points.map(({ time: _t, ...p }) => p)), sort(expectPoints(EXPECTED)));
    // the line protocol the grafana test takes as this collector's dry-run (fixtures/dry-run.json)
    assert.deepEqual([...r.lines].sort(), readFileSync(EXPECTED_LP, 'utf8').trim().split('\n').sort());
  });

  test("an rsync failure (an unknown module) fails the collector with rsync's exit code and message", async () => {
    const r = await runRecorded(ImagesMetric, undefined, { ...env(), IMAGES_RSYNC_URL: `rsync://127.0.0.1:${port}/nothing/` });
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /rsync .*rsync:\/\/127\.0\.0\.1:\d+\/nothing\/ failed with exit code \d+: .*Unknown module/);
  });

  test('an unreachable rsync server fails the collector naming it', async () => {
    const dead = await freePort();
    const r = await runRecorded(ImagesMetric, undefined, { ...env(), IMAGES_RSYNC_URL: `rsync://127.0.0.1:${dead}/cdimage/` });
    assert.equal(r.report.ok, false);
    assert.match(r.report.error!, /rsync:\/\/127\.0\.0\.1:\d+\/cdimage\/ failed with exit code \d+/);
  });
});

test('IMAGES_RSYNC_URL must be an rsync URL', async () => {
  const r = await runRecorded(ImagesMetric, undefined, { IMAGES_RSYNC_URL: 'https://cdimage.ubuntu.com/' });
  assert.equal(r.report.ok, false);
  assert.match(r.report.error!, /IMAGES_RSYNC_URL="https:\/\/cdimage\.ubuntu\.com\/": it must be an rsync URL/);
});
