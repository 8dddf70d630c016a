/**
 * A small YAML emitter for plain data (what Kubernetes manifests are): mappings, sequences,
 * strings, finite numbers, booleans and null, in block style, two spaces per level, with comments.
 *
 * Why our own instead of the `yaml` package: the output is a fixed, small subset of YAML, and the
 * command should not carry a runtime dependency for it (start-up, supply chain). The tests parse
 * every generated file back with the `yaml` package (a dev dependency), as YAML 1.2 and as YAML 1.1
 * (the dialect of go-yaml, which kubectl uses), and compare the result with the object.
 *
 * Scalars are written so that every YAML 1.1 and 1.2 parser reads the same value:
 * - a string is written plain only when it starts with a letter, `_` or `/`, holds only letters,
 *   digits and `_ . / -`, and is none of the words YAML 1.1 reads as a boolean or null (`yes`,
 *   `no`, `on`, `off`, `y`, `n`, `true`, `false`, `null`, in any case); every other string is
 *   double-quoted, with `"` and `\` escaped and every character outside YAML's printable set (line
 *   breaks, tabs, other control characters, U+FEFF, lone surrogates) written as an escape;
 * - numbers are written as JavaScript prints them (an integer stays an integer); NaN and the
 *   infinities are refused (a manifest never holds them);
 * - `undefined` values in a mapping are left out, as `JSON.stringify` does.
 *
 * Comments: wrap a value in `commented(value, lines)` to write `# line` comments above its key (or
 * above its sequence item), and `trailing` for a comment after a scalar on the same line.
 */

/** A value with comments: lines above it, and (for a scalar) a short comment after it. */
export class Commented {
  constructor(
    readonly value: unknown,
    readonly before: readonly string[] = [],
    readonly trailing?: string,
  ) {}
}

/** `value` with `# ...` comment lines above it (and a trailing comment after a scalar). */
export function commented(value: unknown, before: string | readonly string[], trailing?: string): Commented {
  return new Commented(value, typeof before === 'string' ? [before] : before, trailing);
}

/** The value without its comments, recursively: what a YAML parser reads back. */
export function stripComments(value: unknown): unknown {
  if (value instanceof Commented) return stripComments(value.value);
  if (Array.isArray(value)) return value.map(stripComments);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!isUndefined(v)) out[k] = stripComments(v);
    return out;
  }
  return value;
}

export class YamlError extends Error {
  override name = 'YamlError';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isUndefined(value: unknown): boolean {
  return value === undefined || (value instanceof Commented && value.value === undefined);
}

const YAML11_WORDS = new Set(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null']);
const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;

/** A string as a YAML scalar: plain when that is unambiguous, else double-quoted. */
export function yamlString(s: string): string {
  if (PLAIN.test(s) && !YAML11_WORDS.has(s.toLowerCase())) return s;
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (isPrintable(c) && ch.length === (c > 0xffff ? 2 : 1)) out += ch;
    else if (c <= 0xff) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return out + '"';
}

/** YAML 1.2 c-printable (the characters a YAML stream may hold as they are). */
function isPrintable(c: number): boolean {
  return (
    (c >= 0x20 && c <= 0x7e) ||
    c === 0x85 ||
    (c >= 0xa0 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

function scalar(value: unknown, path: string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new YamlError(`${path}: ${value} cannot be written (not a finite number)`);
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (typeof value === 'string') return yamlString(value);
  throw new YamlError(`${path}: a ${typeof value} cannot be written as YAML`);
}

function commentLines(lines: readonly string[], indent: string): string[] {
  return lines.flatMap((l) => l.split('\n')).map((l) => (l === '' ? `${indent}#` : `${indent}# ${l}`));
}

function trailingComment(c: Commented | undefined): string {
  return c?.trailing ? `  # ${c.trailing.replace(/\n/g, ' ')}` : '';
}

function isCollection(value: unknown): boolean {
  return Array.isArray(value) || isPlainObject(value);
}

function isEmptyCollection(value: unknown): boolean {
  return (Array.isArray(value) && value.length === 0) || (isPlainObject(value) && Object.values(value).every(isUndefined));
}

/**
 * Lines of a mapping or a sequence at `indent`. The first line of a mapping inside a sequence item
 * goes after its "- ": `firstPrefix` replaces the indent of the first line.
 */
function block(value: unknown, indent: string, path: string): string[] {
  const lines: string[] = [];
  if (Array.isArray(value)) {
    value.forEach((raw, i) => {
      const c = raw instanceof Commented ? raw : undefined;
      const item = c ? c.value : raw;
      const itemPath = `${path}[${i}]`;
      if (c) lines.push(...commentLines(c.before, indent));
      if (item === undefined) throw new YamlError(`${itemPath}: undefined in a sequence cannot be written`);
      if (isCollection(item) && !isEmptyCollection(item)) {
        const inner = block(item, `${indent}  `, itemPath);
        if (Array.isArray(item)) {
          lines.push(`${indent}-`, ...inner);
        } else {
          // the first key of the mapping on the "- " line (after its own comments, if any)
          const first = inner.findIndex((l) => !l.trimStart().startsWith('#'));
          lines.push(...inner.slice(0, first), `${indent}- ${inner[first]!.slice(indent.length + 2)}`, ...inner.slice(first + 1));
        }
      } else {
        lines.push(`${indent}- ${isCollection(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item, itemPath)}${trailingComment(c)}`);
      }
    });
    return lines;
  }
  if (!isPlainObject(value)) throw new YamlError(`${path}: expected a mapping or a sequence`);
  for (const [key, raw] of Object.entries(value)) {
    if (isUndefined(raw)) continue;
    const c = raw instanceof Commented ? raw : undefined;
    const v = c ? c.value : raw;
    const keyPath = path ? `${path}.${key}` : key;
    if (c) lines.push(...commentLines(c.before, indent));
    const k = yamlString(key);
    if (isCollection(v) && !isEmptyCollection(v)) {
      lines.push(`${indent}${k}:${trailingComment(c)}`, ...block(v, `${indent}  `, keyPath));
    } else {
      lines.push(`${indent}${k}: ${isCollection(v) ? (Array.isArray(v) ? '[]' : '{}') : scalar(v, keyPath)}${trailingComment(c)}`);
    }
  }
  return lines;
}

/**
 * One YAML document for a mapping (or a sequence), with optional comment lines at its top.
 * Throws YamlError naming the path of a value that YAML cannot hold as written here.
 */
export function toYaml(value: unknown, header: readonly string[] = []): string {
  const c = value instanceof Commented ? value : undefined;
  const v = c ? c.value : value;
  const top = [...header, ...(c?.before ?? [])];
  return [...commentLines(top, ''), ...block(v, '', '')].join('\n') + '\n';
}
