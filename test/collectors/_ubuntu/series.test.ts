/**
 * The shared Ubuntu series helper: distro-info's selections (supported, ESM, development) for a
 * given day from a fixed copy of ubuntu.csv, the overriding variables, no development series
 * without an error, and every way the file can be missing or wrong.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  DEFAULT_UBUNTU_CSV,
  MAX_CSV_BYTES,
  parseUbuntuCsv,
  readUbuntuSeries,
  selectSeries,
  seriesOrder,
} from '../../../src/collectors/_ubuntu/series.js';
import { repoRoot } from '../../helpers/servers.js';

const CSV = join(repoRoot, 'test', 'collectors', '_ubuntu', 'fixtures', 'ubuntu.csv');
const env = (extra: Record<string, string> = {}) => ({ UBUNTU_DISTRO_INFO_CSV: CSV, ...extra });
const at = (day: string) => new Date(`${day}T12:00:00Z`);

const dir = mkdtempSync(join(tmpdir(), 'ubuntu-series-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('the selections of distro-info', () => {
  test('during a development cycle: supported includes the development series', async () => {
    const s = await readUbuntuSeries(env(), at('2026-01-10'));
    assert.deepEqual(s.supported, ['jammy', 'noble', 'plucky', 'questing', 'resolute']);
    assert.deepEqual(s.supportedEsm, ['xenial', 'bionic', 'jammy', 'noble', 'resolute']);
    assert.equal(s.devel, 'resolute');
    assert.equal(s.source, CSV);
    assert.equal(s.all.length, 10);
  });
  test('a series not created yet is not seen; its predecessor is the development series', async () => {
    const s = await readUbuntuSeries(env(), at('2025-05-01'));
    assert.deepEqual(s.supported, ['jammy', 'noble', 'plucky', 'questing']);
    assert.deepEqual(s.supportedEsm, ['xenial', 'bionic', 'jammy', 'noble']);
    assert.equal(s.devel, 'questing');
  });
  test('no development series in the data: undefined, no error (distro-info raises DistroDataOutdated)', async () => {
    const s = await readUbuntuSeries(env(), at('2026-06-01'));
    assert.equal(s.devel, undefined);
    assert.deepEqual(s.supported, ['jammy', 'noble', 'questing', 'resolute']);
    assert.deepEqual(s.supportedEsm, ['bionic', 'jammy', 'noble', 'resolute']);
  });
  test('the end-of-life day itself is still supported; the release day is no longer development', () => {
    const all = parseUbuntuCsv('version,codename,series,created,release,eol\n1,A a,aa,2020-01-01,2020-06-01,2021-01-01\n', 'x.csv');
    assert.deepEqual(selectSeries(all, '2021-01-01').supported, ['aa']);
    assert.deepEqual(selectSeries(all, '2021-01-02').supported, []);
    assert.equal(selectSeries(all, '2020-05-31').devel, 'aa');
    assert.equal(selectSeries(all, '2020-06-01').devel, undefined);
  });
  test('a release without a release date is in development', () => {
    const all = parseUbuntuCsv('version,codename,series,created,release,eol\n1,A a,aa,2020-01-01,,\n', 'x.csv');
    assert.equal(selectSeries(all, '2030-01-01').devel, 'aa');
  });
  test('seriesOrder: the table order; an unknown series after all', async () => {
    const { all } = await readUbuntuSeries(env(), at('2026-01-10'));
    assert.ok(seriesOrder(all, 'yakkety') < seriesOrder(all, 'artful'));
    assert.ok(seriesOrder(all, 'artful') < seriesOrder(all, 'bionic'));
    assert.equal(seriesOrder(all, 'zzz-new'), all.length);
  });
});

describe('the overriding variables', () => {
  test('UBUNTU_DEVEL_SERIES names a series the data does not know yet: it is also supported', async () => {
    const s = await readUbuntuSeries(env({ UBUNTU_DEVEL_SERIES: 'stonking' }), at('2026-06-01'));
    assert.equal(s.devel, 'stonking');
    assert.deepEqual(s.supported, ['jammy', 'noble', 'questing', 'resolute', 'stonking']);
    assert.equal(s.source, `${CSV} with UBUNTU_DEVEL_SERIES`);
  });
  test('UBUNTU_DEVEL_SERIES=none: no development series', async () => {
    const s = await readUbuntuSeries(env({ UBUNTU_DEVEL_SERIES: 'none' }), at('2026-01-10'));
    assert.equal(s.devel, undefined);
    assert.ok(s.supported.includes('resolute'), 'the supported list is left alone');
  });
  test('UBUNTU_SERIES and UBUNTU_ESM_SERIES replace the lists (commas and/or spaces)', async () => {
    const s = await readUbuntuSeries(env({ UBUNTU_SERIES: 'noble, resolute  jammy', UBUNTU_ESM_SERIES: 'bionic' }), at('2026-01-10'));
    assert.deepEqual(s.supported, ['noble', 'resolute', 'jammy']);
    assert.deepEqual(s.supportedEsm, ['bionic']);
    assert.equal(s.source, `${CSV} with UBUNTU_SERIES, UBUNTU_ESM_SERIES`);
  });
  test('empty variables are not set', async () => {
    const s = await readUbuntuSeries(env({ UBUNTU_SERIES: ' ', UBUNTU_DEVEL_SERIES: '' }), at('2026-01-10'));
    assert.equal(s.devel, 'resolute');
    assert.equal(s.source, CSV);
  });
  test('bad values are errors naming the variable', async () => {
    await assert.rejects(readUbuntuSeries(env({ UBUNTU_SERIES: 'noble,Bad!' }), at('2026-01-10')), /UBUNTU_SERIES=.*"Bad!"/);
    await assert.rejects(readUbuntuSeries(env({ UBUNTU_DEVEL_SERIES: 'a b' }), at('2026-01-10')), /UBUNTU_DEVEL_SERIES=.*one series/);
  });
});

describe('a missing or bad file', () => {
  test('missing: the error names the file and the package', async () => {
    const missing = join(dir, 'nope.csv');
    await assert.rejects(readUbuntuSeries({ UBUNTU_DISTRO_INFO_CSV: missing }, at('2026-01-10')), (e: Error) => {
      assert.equal(e.name, 'CollectorError');
      assert.ok(e.message.includes(missing), e.message);
      assert.match(e.message, /distro-info-data/);
      assert.match(e.message, /UBUNTU_DISTRO_INFO_CSV/);
      return true;
    });
  });
  test('a directory is not the file', async () => {
    const d = join(dir, 'a-dir');
    mkdirSync(d);
    await assert.rejects(readUbuntuSeries({ UBUNTU_DISTRO_INFO_CSV: d }, at('2026-01-10')), /not a regular file.*distro-info-data/);
  });
  test('too large: bounded read', async () => {
    const big = file('big.csv', `version,codename,series,created,release,eol\n${'x'.repeat(MAX_CSV_BYTES)}\n`);
    await assert.rejects(readUbuntuSeries({ UBUNTU_DISTRO_INFO_CSV: big }, at('2026-01-10')), /larger than 1048576 bytes/);
  });
  const bad: Array<[string, string, RegExp]> = [
    ['an HTML page', '<html><body>Not found</body></html>\n', /:1: the header has no "version" column/],
    ['an empty file', '', /:1: the header has no "version" column/],
    ['only the header', 'version,codename,series,created,release,eol\n', /no releases in the table/],
    ['a truncated row', 'version,codename,series,created,release,eol\n1,A a,aa,2020-01-01\n', /:2: 4 columns, the header has 6/],
    ['too many columns', 'version,codename,series,created,release,eol\n1,A,aa,2020-01-01,,,x\n', /:2: 7 columns/],
    ['a bad date', 'version,codename,series,created,release,eol\n1,A a,aa,2020-13-45,,\n', /:2: created "2020-13-45" is not a date/],
    ['a missing created date', 'version,codename,series,created,release,eol\n1,A a,aa,,,\n', /:2: no created date/],
    [
      'a bad codename',
      'version,codename,series,created,release,eol\n1,A a,A A,2020-01-01,,\n',
      /:2: series "A A" is not a series codename/,
    ],
    [
      'a repeated codename',
      'version,codename,series,created,release,eol\n1,A,aa,2020-01-01,,\n2,A,aa,2020-01-01,,\n',
      /:3: series aa appears twice/,
    ],
    ['an empty line inside', 'version,codename,series,created,release,eol\n\n1,A,aa,2020-01-01,,\n', /:2: an empty line/],
  ];
  for (const [what, text, why] of bad) {
    test(`${what}: an error with the file and line`, async () => {
      const path = file(`${what.replaceAll(' ', '-')}.csv`, text);
      await assert.rejects(readUbuntuSeries({ UBUNTU_DISTRO_INFO_CSV: path }, at('2026-01-10')), (e: Error) => {
        assert.ok(e.message.includes(path), e.message);
        assert.match(e.message, why);
        return true;
      });
    });
  }
  test('CRLF line endings are read', () => {
    const all = parseUbuntuCsv('version,codename,series,created,release,eol\r\n1,A a,aa,2020-01-01,2020-06-01,2021-01-01\r\n', 'x.csv');
    assert.equal(all[0]?.eol, '2021-01-01');
  });
});

test('the installed distro-info-data parses (CI installs it)', { skip: !existsSync(DEFAULT_UBUNTU_CSV) && !process.env.CI }, async () => {
  const s = await readUbuntuSeries({}, new Date());
  assert.ok(
    s.all.some((r) => r.series === 'noble'),
    'noble is in the table',
  );
  assert.equal(s.source, DEFAULT_UBUNTU_CSV);
});
