/**
 * Reads InfluxDB line protocol back into points: the test harness (sdk/testing.ts) gives a
 * collector's points this way, and tests compare what a collector writes with an expected output
 * (e.g. the line protocol the Python original produced for a fixture). Values keep their
 * line-protocol type, so `count=42i` (integer) and `count=42` (float) differ, while the float
 * spellings `0`, `0.0` and `0e0` are one value: Python and JavaScript print floats differently,
 * InfluxDB stores them the same.
 */

export type FieldType = 'float' | 'integer' | 'unsigned' | 'string' | 'boolean';

export interface ParsedField {
  type: FieldType;
  /** floats and integers as numbers (integers beyond 2^53 as bigint), strings unescaped */
  value: number | bigint | string | boolean;
}

export interface ParsedPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, ParsedField>;
  /** nanoseconds as written, or undefined when the line has none */
  time?: string;
}

/** Splits `text` at `sep` outside double quotes, honouring backslash escapes. */
function split(text: string, sep: string, max = Number.POSITIVE_INFINITY): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[i + 1];
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === sep && !quoted && parts.length < max - 1) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

const unbackslash = (s: string): string => s.replace(/\\(.)/g, '$1');

function fieldValue(raw: string, line: string): ParsedField {
  if (raw.startsWith('"')) {
    if (!raw.endsWith('"') || raw.length < 2) throw new Error(`unterminated string field in: ${line}`);
    return { type: 'string', value: raw.slice(1, -1).replace(/\\(["\\])/g, '$1') };
  }
  if (/^-?\d+i$/.test(raw)) {
    const n = BigInt(raw.slice(0, -1));
    return { type: 'integer', value: n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n };
  }
  if (/^\d+u$/.test(raw)) return { type: 'unsigned', value: Number(raw.slice(0, -1)) };
  if (/^(t|T|true|True|TRUE)$/.test(raw)) return { type: 'boolean', value: true };
  if (/^(f|F|false|False|FALSE)$/.test(raw)) return { type: 'boolean', value: false };
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`field value ${JSON.stringify(raw)} is not line protocol in: ${line}`);
  return { type: 'float', value: n };
}

/** One line of line protocol; throws naming the line when it is not valid. */
export function parseLine(line: string): ParsedPoint {
  const [head, fieldText, time, ...extra] = split(line, ' ');
  if (head === undefined || fieldText === undefined || extra.length > 0) throw new Error(`not a line-protocol point: ${line}`);
  const [measurement, ...tagParts] = split(head, ',');
  const tags: Record<string, string> = {};
  for (const t of tagParts) {
    const [k, v] = split(t, '=', 2);
    if (k === undefined || v === undefined) throw new Error(`tag ${JSON.stringify(t)} has no value in: ${line}`);
    tags[unbackslash(k)] = unbackslash(v);
  }
  const fields: Record<string, ParsedField> = {};
  for (const f of split(fieldText, ',')) {
    const [k, v] = split(f, '=', 2);
    if (k === undefined || v === undefined) throw new Error(`field ${JSON.stringify(f)} has no value in: ${line}`);
    fields[unbackslash(k)] = fieldValue(v, line);
  }
  return { measurement: unbackslash(measurement!), tags, fields, ...(time !== undefined && time !== '' ? { time } : {}) };
}

/** Every point of a line-protocol text; blank lines and `#` comments are skipped. */
export function parseLines(text: string): ParsedPoint[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map(parseLine);
}

/** The points without their times (for outputs whose times the server or the clock assigns). */
export function withoutTime(points: ParsedPoint[]): ParsedPoint[] {
  return points.map(({ time: _time, ...rest }) => rest);
}
