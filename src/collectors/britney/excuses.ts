/** The update_excuses statistics of britney: the CSV history and the YAML by team. */
import { CollectorError } from '../../lib/sdk/index.js';

/** The CSV columns and the fields they become. */
export const CSV_FIELDS = {
  'valid candidates': 'valid_candidates',
  'not considered': 'not_considered',
  total: 'total',
  'median age': 'median_age',
  backlog: 'backlog',
} as const;
type CsvField = (typeof CSV_FIELDS)[keyof typeof CSV_FIELDS];
export type ExcusesRow = { time: number } & Record<CsvField, number>;

/** One CSV record (RFC 4180 quoting within a line), or undefined for an unterminated quote. */
export function splitCsvLine(line: string): string[] | undefined {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  if (quoted) return undefined;
  cells.push(cell);
  return cells;
}

/** Python's `int(text)` for plain decimal text: surrounding spaces, a sign, `_` between digits. */
export function pythonInt(text: string): number | undefined {
  const t = text.trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(t)) return undefined;
  const n = Number(t.replaceAll('_', ''));
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The rows of update_excuses.csv newer than `cutoffMs` (the `time` column, ms since the epoch).
 * Every row must have the header's columns (a truncated file fails) and a whole-number time; the
 * rows kept must have whole numbers in every statistic.
 */
export function parseExcusesCsv(text: string, url: string, cutoffMs: number): ExcusesRow[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '')?.map((h) => h.trim());
  const need = ['time', ...Object.keys(CSV_FIELDS)];
  const missing = need.filter((c) => !header?.includes(c));
  if (!header || missing.length > 0)
    throw new CollectorError(`${url}:1: the header lacks the column(s) ${missing.map((c) => `"${c}"`).join(', ')}: not update_excuses.csv`);
  const rows: ExcusesRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    if (!cells || cells.length !== header.length)
      throw new CollectorError(
        `${url}:${i + 1}: ${cells ? `${cells.length} columns, the header has ${header.length}` : 'an unterminated quote'}` +
          ' (a truncated or malformed file)',
      );
    const value = (column: string) => cells[header.indexOf(column)]!;
    const time = pythonInt(value('time'));
    if (time === undefined) throw new CollectorError(`${url}:${i + 1}: time ${JSON.stringify(value('time'))} is not a whole number`);
    if (time <= cutoffMs) continue;
    const row = { time } as ExcusesRow;
    for (const [column, field] of Object.entries(CSV_FIELDS)) {
      const n = pythonInt(value(column));
      if (n === undefined) throw new CollectorError(`${url}:${i + 1}: ${column} ${JSON.stringify(value(column))} is not a whole number`);
      row[field] = n;
    }
    rows.push(row);
  }
  return rows;
}

export interface TeamStats {
  team: string;
  /** packages waiting more than 3 days */
  count: number;
  /** their average age in days (0 when none) */
  age: number;
}

function ageOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value)) return Number(value);
  return undefined;
}

/**
 * update_excuses_by_team.yaml: a mapping team → list of items with an `age` (days). Per team, in
 * the file's order: the items older than 3 days, and their average age.
 */
export async function parseByTeam(text: string, url: string): Promise<TeamStats[]> {
  const { parse } = await import('yaml'); // loaded only when the collector gets this far
  let data: unknown;
  try {
    data = parse(text, { mapAsMap: true, maxAliasCount: 100 });
  } catch (error) {
    throw new CollectorError(`${url}: invalid YAML (${errorText(error)})`);
  }
  if (data === null || data === undefined) return [];
  if (!(data instanceof Map))
    throw new CollectorError(`${url}: expected a mapping of teams, got ${Array.isArray(data) ? 'a list' : typeof data}`);
  const out: TeamStats[] = [];
  for (const [key, items] of data) {
    const team = String(key);
    if (team === '' || key === null) throw new CollectorError(`${url}: a team without a name`);
    if (items !== null && !Array.isArray(items)) throw new CollectorError(`${url}: team ${team}: expected a list of packages`);
    const ages: number[] = [];
    (items ?? []).forEach((item: unknown, i: number) => {
      const age = item instanceof Map ? ageOf(item.get('age')) : undefined;
      if (age === undefined) {
        const got = JSON.stringify(item instanceof Map ? item.get('age') : item)?.slice(0, 60);
        throw new CollectorError(`${url}: team ${team}, item #${i}: no "age" as a number of days (got ${got})`);
      }
      if (age > 3.0) ages.push(age);
    });
    out.push({ team, count: ages.length, age: ages.length > 0 ? ages.reduce((a, b) => a + b, 0) / ages.length : 0 });
  }
  return out;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 200);
}
