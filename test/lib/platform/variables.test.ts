/**
 * The settings loader (src/lib/platform/settings.ts) and its rules:
 *  - its table of variables (VARIABLES) and the README's "Configuration" table list the same
 *    variables with the same defaults and allowed values, so that the two cannot drift;
 *  - every variable the loader reads is in that table;
 *  - the cheap sections are checked at once, with one message per variable; the InfluxDB section
 *    only when asked for (a dry-run needs no credentials);
 *  - the rules (whole number, decimal, duration, boolean, size) accept what the README says and
 *    refuse the rest with one error format: the setting named, the allowed values.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/lib/platform/errors.js';
import { booleanRule, decimalRule, durationRule, integerRule, sizeRule } from '../../../src/lib/platform/setting-rules.js';
import { VARIABLES, loadSettings, readSettings } from '../../../src/lib/platform/settings.js';

/** dist/test/lib/platform → the repository */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

interface Row {
  names: string[];
  default: string;
  rule: string;
  line: number;
}

/** The rows of the first table under "## Configuration" in the README. */
function readmeRows(): Row[] {
  const lines = readFileSync(join(repo, 'README.md'), 'utf8').split('\n');
  const start = lines.indexOf('## Configuration');
  assert.ok(start >= 0, 'README.md has a "## Configuration" section');
  const rows: Row[] = [];
  let inTable = false;
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('## '); i++) {
    const line = lines[i]!;
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .slice(1, -1)
      .split(' | ')
      .map((c) => c.trim());
    if (cells[0] === 'variable' || /^-+$/.test(cells[0]!)) continue;
    assert.equal(
      cells.length,
      4,
      `README.md line ${i + 1}: a row of the Configuration table has 4 cells (variable, meaning, default, allowed values)`,
    );
    const names = [...cells[0]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!);
    rows.push({ names, default: cells[2]!, rule: cells[3]!, line: i + 1 });
  }
  return rows;
}

describe('the Configuration table of the README and the loader', () => {
  test('list the same variables, with the same defaults and allowed values', () => {
    const rows = readmeRows();
    assert.ok(rows.length > 10, 'the table was found');
    const known = new Map(VARIABLES.map((v) => [v.name, v]));
    const documented = new Set<string>();
    for (const row of rows) {
      assert.ok(row.names.length > 0, `README.md line ${row.line}: no variable name in backticks`);
      for (const name of row.names) {
        const v = known.get(name);
        assert.ok(
          v,
          `README.md line ${row.line}: ${name} is not a variable the settings loader reads (VARIABLES in src/lib/platform/settings.ts)`,
        );
        assert.equal(row.default, v.default, `README.md line ${row.line}: the default of ${name}`);
        assert.equal(row.rule, v.rule, `README.md line ${row.line}: the allowed values of ${name}`);
        documented.add(name);
      }
    }
    const missing = VARIABLES.filter((v) => !documented.has(v.name)).map(
      (v) => `| \`${v.name}\` | ${v.meaning} | ${v.default} | ${v.rule} |`,
    );
    assert.deepEqual(missing, [], `variables the loader reads but the README's Configuration table does not list:\n${missing.join('\n')}`);
  });

  test('every variable the loader reads is in its table', () => {
    const source = readFileSync(join(repo, 'src', 'lib', 'platform', 'settings.ts'), 'utf8');
    const read = new Set<string>();
    // env.NAME, or a reader called with the name: read(env, 'NAME'), nameList(snapshot, 'NAME')…
    const uses = new RegExp(
      /\b(?:env|snapshot)\.([A-Z][A-Z0-9_]+)\b|/.source +
        /\b(?:read|readSecretSafely|parseRunCommand|nameList)\(\s*(?:env|snapshot)?,?\s*'([A-Z][A-Z0-9_]+)'/.source,
      'g',
    );
    for (const m of source.matchAll(uses)) {
      read.add(m[1] ?? m[2]!);
    }
    for (const secret of ['INFLUXDB_PASSWORD', 'INFLUX_TOKEN']) read.add(`${secret}_FILE`);
    assert.ok(read.has('METRICS_TIMEOUT') && read.has('INFLUX_URL'), `the scan found the variables: ${[...read].join(', ')}`);
    const table = new Set(VARIABLES.map((v) => v.name));
    assert.deepEqual([...read].filter((n) => !table.has(n)).sort(), []);
  });
});

describe('loadSettings', () => {
  test('an empty environment: the defaults, and no InfluxDB until it is asked for', () => {
    const s = loadSettings({ HOME: '/home/u' });
    assert.equal(s.run.timeoutSec, 600);
    assert.equal(s.run.disabled, undefined);
    assert.equal(s.state.outboxMaxBytes, 256 * 1024 * 1024);
    assert.deepEqual(s.events.sinks, []);
    assert.equal(s.debug, false);
    assert.equal(s.fastPath, true);
    assert.throws(
      () => s.influx(),
      (e: Error) => e instanceof ConfigError && /no InfluxDB configured/.test(e.message),
    );
  });

  test('the InfluxDB section is parsed on first use, once', () => {
    const s = loadSettings({ INFLUXDB_HOSTNAME: 'influx', INFLUXDB_DATABASE: 'db', INFLUX_TIMEOUT: '2.5' });
    assert.equal(s.influx().url, 'http://influx:8086');
    assert.equal(s.influx().timeoutMs, 2500);
    assert.equal(s.influx(), s.influx());
  });

  test('every invalid variable of the cheap sections is named at once', () => {
    assert.throws(
      () =>
        loadSettings({
          METRICS_TIMEOUT: '0',
          METRICS_OUTBOX_MAX_SIZE: '1 GB',
          METRICS_DEBUG: 'maybe',
          METRICS_DISABLE: 'a, b c',
          METRICS_RUN_COMMAND: '[1]',
        }),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        for (const name of [
          'METRICS_TIMEOUT="0"',
          'METRICS_OUTBOX_MAX_SIZE="1 GB"',
          'METRICS_DEBUG="maybe"',
          'METRICS_DISABLE=',
          'METRICS_RUN_COMMAND=',
        ]) {
          assert.ok(e.message.includes(name), `${name} in:\n${e.message}`);
        }
        return true;
      },
    );
    // readSettings (the generator's): the defaults in place of the invalid values, and the problems
    const { settings, problems } = readSettings({ METRICS_TIMEOUT: '0', METRICS_DISABLE: 'a,b c' });
    assert.equal(settings.run.timeoutSec, 600);
    assert.deepEqual([...settings.run.disabled!], ['a']);
    assert.equal(problems.length, 2);
  });

  test('the state directory: STATE_DIRECTORY, then METRICS_STATE_DIR; the outbox in it or METRICS_OUTBOX_DIR', () => {
    assert.deepEqual(loadSettings({ STATE_DIRECTORY: '/var/lib/a:/var/lib/b', METRICS_STATE_DIR: '/x', METRICS_OUTBOX_DIR: '/y' }).state, {
      dir: '/var/lib/a',
      outboxDir: '/var/lib/a/outbox',
      outboxMaxBytes: 256 * 1024 * 1024,
    });
    const s = loadSettings({ METRICS_STATE_DIR: '/srv/state', METRICS_OUTBOX_MAX_SIZE: '10K' }).state;
    assert.deepEqual(s, { dir: '/srv/state', outboxDir: '/srv/state/outbox', outboxMaxBytes: 10 * 1024 });
  });

  test('the environment is a snapshot: later changes of the object given are not seen', () => {
    const env: Record<string, string | undefined> = { METRICS_LOG_PATH: '/a.log', MY_COLLECTOR_VAR: 'x' };
    const s = loadSettings(env);
    env.METRICS_LOG_PATH = '/b.log';
    env.MY_COLLECTOR_VAR = 'y';
    assert.equal(s.events.logPath, '/a.log');
    assert.equal(s.env.MY_COLLECTOR_VAR, 'x');
    assert.ok(Object.isFrozen(s.env));
  });
});

describe('the rules: one error format, naming the setting and the allowed values', () => {
  test('whole numbers and decimals are plain: digits (and a fraction), no sign, exponent, hex or spaces', () => {
    const port = integerRule({ min: 1, max: 65535 });
    assert.deepEqual(port.check('P', '8086'), { ok: true, value: 8086 });
    for (const bad of ['0x1f90', '1e3', '+80', ' 80 ', '80.0', '']) {
      const r = port.check('P', bad);
      assert.ok(
        !r.ok &&
          r.problem.startsWith(`P=${JSON.stringify(bad)} is not written as a plain decimal`) &&
          r.problem.endsWith('it must be a plain decimal whole number from 1 to 65535'),
        JSON.stringify(r),
      );
    }
    assert.deepEqual(port.check('--port', '0'), {
      ok: false,
      problem: '--port "0" is out of range: it must be a plain decimal whole number from 1 to 65535',
    });
    const d = decimalRule({ min: 0, max: 10, fractionDigits: 1 });
    assert.deepEqual(d.check('D', '2.5'), { ok: true, value: 2.5 });
    assert.equal(d.check('D', '2.55').ok, false);
  });

  test('durations are seconds, at most what one Node.js timer can wait', () => {
    const t = durationRule({ min: 0, minExclusive: true });
    assert.deepEqual(t.check('T', '2147483'), { ok: true, value: 2147483 });
    const r = t.check('T', '2147484');
    assert.ok(!r.ok && /greater than 0 and at most 2147483 \(about 24\.8 days/.test(r.problem), JSON.stringify(r));
    assert.equal(t.check('T', '0').ok, false);
    assert.equal(t.rangeProblem('--timeout 0', 0), `--timeout 0 is out of range: it must be ${t.description}`);
    assert.equal(durationRule({ max: 1e9 }).rule.max, 2_147_483, 'never beyond one timer');
  });

  test('booleans and sizes', () => {
    const b = booleanRule();
    for (const yes of ['true', 'TRUE', 'yes', 'on', '1']) assert.deepEqual(b.check('B', yes), { ok: true, value: true });
    for (const no of ['false', 'no', 'off', '0']) assert.deepEqual(b.check('B', no), { ok: true, value: false });
    assert.deepEqual(b.check('B', 'maybe'), {
      ok: false,
      problem: 'B="maybe" is not a boolean: it must be true or false (also yes/no, on/off, 1/0)',
    });
    const s = sizeRule({ min: 1, max: 1024 ** 4 });
    assert.deepEqual(s.check('S', '256M'), { ok: true, value: 256 * 1024 ** 2 });
    assert.deepEqual(s.check('S', '64KiB'), { ok: true, value: 65536 });
    assert.deepEqual(s.check('S', '1.5G'), { ok: true, value: 1.5 * 1024 ** 3 });
    assert.deepEqual(s.check('S', '1000'), { ok: true, value: 1000 });
    for (const bad of ['lots', '1 GB', '-1M', '0']) assert.equal(s.check('S', bad).ok, false, bad);
    assert.match((s.check('S', '2T') as { problem: string }).problem, /^S="2T" is out of range: it must be a size from 1 byte to 1T/);
  });
});
