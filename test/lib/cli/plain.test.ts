/**
 * The plain `run` command line the entry point takes without yargs (cli/plain.ts): what it takes,
 * and that everything else is left to yargs (undefined), which parses it and says what is wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSimpleRun, plainCommand } from '../../../src/lib/cli/plain.js';

test('plain run lines: names, -n/--dry-run, -v/--verbose (grouped too), --format and --timeout (also with =)', () => {
  assert.deepEqual(parseSimpleRun(['run', 'system']), { names: ['system'], dryRun: false, verbose: false, format: 'text' });
  assert.deepEqual(parseSimpleRun(['run', 'a', '-n', 'b', '--verbose', '--format', 'lp', '--timeout', '30']), {
    names: ['a', 'b'],
    dryRun: true,
    verbose: true,
    format: 'lp',
    timeoutSec: 30,
  });
  assert.deepEqual(parseSimpleRun(['run', '-nv', 'x', '--format=text', '--timeout=1.5']), {
    names: ['x'],
    dryRun: true,
    verbose: true,
    format: 'text',
    timeoutSec: 1.5,
  });
  assert.deepEqual(parseSimpleRun(['run', '--dry-run', '-v']), { names: [], dryRun: true, verbose: true, format: 'text' });
  // the last value of a repeated option, as yargs takes it
  assert.equal(parseSimpleRun(['run', '--format', 'lp', '--format', 'text'])?.format, 'text');
});

test('anything else is left to yargs', () => {
  for (const argv of [
    ['list'],
    ['run', '--help'],
    ['run', '-h'],
    ['run', '--', 'system'],
    ['run', '--dry-run=true'],
    ['run', '-nx'],
    ['run', '--format'],
    ['run', '--format', 'json'],
    ['run', '--format='],
    ['run', '--format', '-n'],
    ['run', '--timeout', '-5'],
    ['run', '--timeout', 'soon'],
    ['run', '--timeout='],
    ['run', '--now', '2026-01-01T00:00:00Z'],
    ['run', 'Bad Name'],
    ['run', ''],
  ]) {
    assert.equal(parseSimpleRun(argv), undefined, JSON.stringify(argv));
  }
});

test('bin/<collector>: its own name and options, no names; list [--json]', () => {
  assert.deepEqual(plainCommand(['-n'], 'system'), {
    kind: 'run',
    options: { names: ['system'], dryRun: true, verbose: false, format: 'text' },
  });
  assert.equal(plainCommand(['other'], 'system'), undefined);
  assert.deepEqual(plainCommand(['list']), { kind: 'list', json: false });
  assert.deepEqual(plainCommand(['list', '--json']), { kind: 'list', json: true });
  assert.equal(plainCommand(['list', '--all']), undefined);
});
