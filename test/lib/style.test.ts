/**
 * The one style rule Biome cannot enforce (README, "Code style"): no line of src/, test/ or bench/
 * is longer than 140 characters. The formatter keeps code within that width, but it cannot break
 * a string, a regex or a comment; those are split by hand (`'…' +`, `new RegExp(/…/.source + …)`).
 * The checker is plain code over a map of file contents, so that it is tested on synthetic input
 * too.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

export const MAX_LINE = 140;

/** `file:line (n characters)` for every line over MAX_LINE characters (code points, as an editor counts them). */
export function longLines(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, text] of files) {
    text.split('\n').forEach((line, i) => {
      const length = [...line.replace(/\r$/, '')].length;
      if (length > MAX_LINE) problems.push(`${file}:${i + 1} (${length} characters)`);
    });
  }
  return problems;
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every .ts file under src/, test/ and bench/ (fixtures are data, not code), by path from the repository. */
function tsFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'fixtures' && name !== 'node_modules') walk(path);
      } else if (name.endsWith('.ts')) files.set(relative(repo, path).split('\\').join('/'), readFileSync(path, 'utf8'));
    }
  };
  for (const top of ['src', 'test', 'bench']) walk(join(repo, top));
  return files;
}

test('checker: a line of 140 characters passes, 141 fail, counted in characters (not bytes or UTF-16 units)', () => {
  const ok = 'x'.repeat(MAX_LINE);
  const files = new Map([
    ['a.ts', `${ok}\n${ok}y\n`],
    ['b.ts', `${'é'.repeat(MAX_LINE)}\r\n${'🌡'.repeat(MAX_LINE)}\n`],
    ['c.ts', `short\n\n${'z'.repeat(200)}`],
  ]);
  assert.deepEqual(longLines(files), ['a.ts:2 (141 characters)', 'c.ts:3 (200 characters)']);
});

test('src/, test/ and bench/: no line over 140 characters', () => {
  const files = tsFiles();
  assert.ok(files.size > 100, `read only ${files.size} files from ${repo}`);
  assert.ok(files.has('src/lib/sdk/index.ts') && files.has('test/lib/style.test.ts') && files.has('bench/run.ts'));
  const problems = longLines(files);
  assert.deepEqual(
    problems,
    [],
    `lines over ${MAX_LINE} characters (split the string, regex or comment; see README "Code style"):\n  ${problems.join('\n  ')}`,
  );
});
