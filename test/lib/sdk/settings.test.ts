/**
 * The SDK's settings helpers for a collector's own variables (src/lib/sdk/settings.ts):
 * readSecret() reads a secret as the framework reads its own (`<NAME>_FILE`, the systemd
 * credential `<NAME>`, the plain variable unless refused), registers it with the redactor, and
 * names the variable and the file in its errors, never the value.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { forgetSecrets, redact } from '../../../src/lib/platform/redact.js';
import { CollectorError, readSecret } from '../../../src/lib/sdk/index.js';

const root = mkdtempSync(join(tmpdir(), 'sdk-settings-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => forgetSecrets());

const SECRET = 's3cr3t-weather-token';

test('readSecret: from <NAME>_FILE (trailing whitespace removed), registered with the redactor', () => {
  const file = join(root, 'token');
  writeFileSync(file, `${SECRET}\n\n`);
  assert.equal(readSecret({ WEATHER_TOKEN_FILE: file }, 'WEATHER_TOKEN'), SECRET);
  assert.equal(redact(`token ${SECRET}`), 'token ***');
});

test('readSecret: from the systemd credential <NAME> in $CREDENTIALS_DIRECTORY', () => {
  const creds = join(root, 'credentials');
  mkdirSync(creds);
  writeFileSync(join(creds, 'WEATHER_TOKEN'), SECRET);
  assert.equal(readSecret({ CREDENTIALS_DIRECTORY: creds }, 'WEATHER_TOKEN', { environment: false }), SECRET);
});

test('readSecret: unset is undefined; the plain variable is read unless refused', () => {
  assert.equal(readSecret({}, 'WEATHER_TOKEN'), undefined);
  assert.equal(readSecret({ WEATHER_TOKEN: SECRET }, 'WEATHER_TOKEN'), SECRET);
  forgetSecrets();
  assert.throws(
    () => readSecret({ WEATHER_TOKEN: SECRET }, 'WEATHER_TOKEN', { environment: false }),
    (e: Error) =>
      e instanceof CollectorError &&
      /WEATHER_TOKEN is set in the environment, where it is not read.*WEATHER_TOKEN_FILE.*credential WEATHER_TOKEN/.test(e.message) &&
      !e.message.includes(SECRET),
  );
  // refused, and still never printed
  assert.equal(redact(SECRET), '***');
});

test('readSecret: problems name the variable and the file, never the value (CollectorError)', () => {
  const missing = join(root, 'no-such-file');
  assert.throws(
    () => readSecret({ WEATHER_TOKEN_FILE: missing }, 'WEATHER_TOKEN'),
    (e: Error) => e instanceof CollectorError && e.message.includes(`WEATHER_TOKEN_FILE=${missing}`) && /ENOENT/.test(e.message),
  );
  const twoLines = join(root, 'two-lines');
  writeFileSync(twoLines, `${SECRET}\nsecond line\n`);
  assert.throws(
    () => readSecret({ WEATHER_TOKEN_FILE: twoLines }, 'WEATHER_TOKEN'),
    (e: Error) => e instanceof CollectorError && /line break/.test(e.message) && !e.message.includes(SECRET),
  );
  const empty = join(root, 'empty');
  writeFileSync(empty, '\n');
  assert.throws(() => readSecret({ WEATHER_TOKEN_FILE: empty }, 'WEATHER_TOKEN'), /is empty/);
});
