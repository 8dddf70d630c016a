/**
 * What a collector writes, read from the measurement tables of its README.md (the Telegraf habit:
 * every plugin documents its schema), for the per-collector panels of `metrics grafana dashboard`.
 *
 * Two table forms are understood (both are in the shipped collectors' READMEs):
 *
 * 1. One table for several measurements, whose header row starts with `measurement` and has
 *    `tags` and `fields` columns:
 *
 *        | measurement | tags | fields |
 *        | --- | --- | --- |
 *        | `system_load` | `host` | `load1`, `load5`, `load15` (float) |
 *        | `system_disk` | `host`, `path` (mount point) | `total`, `free` (integer, bytes); `used_percent` (float) |
 *
 *    Names are the `backticked` words outside parentheses; a parenthesis that starts with a type
 *    (`float`, `integer`, `string`, `boolean`) gives the type of the names before it, back to the
 *    previous typed parenthesis; other parentheses are descriptions and are ignored (names inside
 *    them too).
 *
 * 2. A heading that names one measurement, followed by a tag table and a field table:
 *
 *        ## Measurement `sponsoring_queue_stats`
 *
 *        | tag | meaning |          | field | type | meaning |
 *        | --- | --- |              | --- | --- | --- |
 *        | `report` | ... |         | `count` | integer | ... |
 *
 *    The first column holds the `backticked` name; a `type` column, when there is one, the type.
 *    The tables belong to the measurement until the next heading.
 *
 * Anything else in the README is ignored. A README without such a table gives no measurements
 * (the dashboard then has no panels for that collector, and the command says so).
 */

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

export interface FieldSpec {
  name: string;
  /** as the README states it; undefined when it does not */
  type?: FieldType;
}

export interface MeasurementSpec {
  measurement: string;
  tags: string[];
  fields: FieldSpec[];
}

const TYPES: readonly FieldType[] = ['float', 'integer', 'string', 'boolean'];

/** The cells of a Markdown table row (`| a | b |`), trimmed; undefined when the line is no row. */
function cells(line: string): string[] | undefined {
  const t = line.trim();
  if (!t.startsWith('|')) return undefined;
  // a `|` inside backticks or escaped as \| is part of the cell
  const out: string[] = [];
  let cell = '';
  let code = false;
  for (let i = 1; i < t.length; i++) {
    const ch = t[i]!;
    if (ch === '\\' && t[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (ch === '`') {
      code = !code;
      cell += ch;
    } else if (ch === '|' && !code) {
      out.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  if (cell.trim() !== '') out.push(cell.trim());
  return out;
}

const isSeparator = (row: string[]) => row.length > 0 && row.every((c) => /^:?-{3,}:?$/.test(c));

/** A type word at the start of a text: `integer, bytes` → integer; `available to…` → undefined. */
function typeAtStart(text: string): FieldType | undefined {
  const word = /^\s*([a-z]+)/i.exec(text)?.[1]?.toLowerCase();
  return TYPES.find((t) => t === word);
}

/**
 * The names in a cell and their types: `a`, `b` (integer); `c` (float, as `df` computes it)
 * → a, b integer; c float. Names inside parentheses are not names.
 */
export function namesInCell(cell: string): FieldSpec[] {
  const out: FieldSpec[] = [];
  let pending: FieldSpec[] = [];
  let depth = 0;
  let paren = '';
  for (let i = 0; i < cell.length; i++) {
    const ch = cell[i]!;
    if (ch === '(') {
      if (depth === 0) paren = '';
      else paren += ch;
      depth++;
    } else if (ch === ')' && depth > 0) {
      depth--;
      if (depth === 0) {
        const type = typeAtStart(paren);
        if (type) {
          for (const p of pending) p.type = type;
          pending = [];
        }
      } else paren += ch;
    } else if (depth > 0) {
      paren += ch;
    } else if (ch === '`') {
      const end = cell.indexOf('`', i + 1);
      if (end < 0) break;
      const spec: FieldSpec = { name: cell.slice(i + 1, end) };
      out.push(spec);
      pending.push(spec);
      i = end;
    }
  }
  return out.filter((s) => s.name !== '');
}

/** The measurement tables of a collector's README (see the module comment for the forms). */
export function parseMeasurementTables(markdown: string): MeasurementSpec[] {
  const lines = markdown.split(/\r?\n/);
  const result: MeasurementSpec[] = [];
  const add = (m: MeasurementSpec) => {
    const known = result.find((r) => r.measurement === m.measurement);
    if (!known) {
      result.push(m);
      return;
    }
    for (const t of m.tags) if (!known.tags.includes(t)) known.tags.push(t);
    for (const f of m.fields) if (!known.fields.some((k) => k.name === f.name)) known.fields.push(f);
  };
  let headed: MeasurementSpec | undefined;
  let inFence = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    if (inFence) continue;
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      const named = /^measurement\s+`([^`]+)`/i.exec(heading[1]!.trim());
      headed = named ? { measurement: named[1]!, tags: [], fields: [] } : undefined;
      if (headed) add(headed);
      continue;
    }
    const header = cells(line);
    const separator = header && cells(lines[i + 1] ?? '');
    if (!header || !separator || !isSeparator(separator)) continue;
    const columns = header.map((h) => h.toLowerCase());
    const rows: string[][] = [];
    let j = i + 2;
    for (; j < lines.length; j++) {
      const row = cells(lines[j]!);
      if (!row) break;
      rows.push(row);
    }
    i = j - 1;
    if (columns[0] === 'measurement' && columns.includes('fields')) {
      const tagsAt = columns.indexOf('tags');
      const fieldsAt = columns.indexOf('fields');
      for (const row of rows) {
        const name = namesInCell(row[0] ?? '')[0]?.name;
        if (!name) continue;
        add({
          measurement: name,
          tags: tagsAt >= 0 ? namesInCell(row[tagsAt] ?? '').map((t) => t.name) : [],
          fields: namesInCell(row[fieldsAt] ?? ''),
        });
      }
    } else if (headed && (columns[0] === 'field' || columns[0] === 'tag')) {
      const typeAt = columns.indexOf('type');
      for (const row of rows) {
        const name = namesInCell(row[0] ?? '')[0]?.name;
        if (!name) continue;
        if (columns[0] === 'tag') {
          if (!headed.tags.includes(name)) headed.tags.push(name);
        } else if (!headed.fields.some((f) => f.name === name)) {
          const type = typeAt >= 0 ? typeAtStart(row[typeAt] ?? '') : undefined;
          headed.fields.push(type ? { name, type } : { name });
        }
      }
    }
  }
  return result.filter((m) => m.fields.length > 0);
}
