/**
 * One row of `npm run bench`: a measured value and its ratio to a baseline measured in the same
 * run. Every bench module returns rows; bench/run.ts prints them as a table and writes them as
 * JSON (bench/results.json) for comparison between runs.
 */
export interface BenchRow {
  /** the table section, e.g. 'start-up', 'ingest', 'serialization', 'memory' */
  group: string;
  /** what was measured, e.g. 'metrics run system --dry-run vs node -e 0' */
  what: string;
  /** the measured value with its unit, e.g. '81 ms', '1.2 M points/s', '110 MiB' */
  value: string;
  /** the baseline it is compared with, with its value, e.g. 'node -e 0: 54 ms' */
  baseline: string;
  /** value / baseline (for times and memory: lower is better) or baseline / value (for speeds: higher is better), as `direction` says */
  ratio: number;
  direction: 'lower-is-better' | 'higher-is-better';
  /** the target from the issue, e.g. '<= 1.25x'; absent when there is none */
  target?: string;
  /** whether the target is met; absent when there is none */
  met?: boolean;
}

/** `ratio <= max` for lower-is-better rows, `ratio >= min` for higher-is-better ones. */
export function targetMet(row: Pick<BenchRow, 'ratio' | 'direction'>, bound: number): boolean {
  return row.direction === 'lower-is-better' ? row.ratio <= bound : row.ratio >= bound;
}

function ratioText(row: BenchRow): string {
  return `${row.ratio.toFixed(2)}x`;
}

function targetText(row: BenchRow): string {
  if (row.target === undefined) return '';
  return `${row.target} ${row.met ? 'met' : 'NOT MET'}`;
}

/** The rows as a plain-text table for the terminal. */
export function formatTable(rows: readonly BenchRow[]): string {
  const cells = [
    ['group', 'what', 'value', 'baseline', 'ratio', 'target'],
    ...rows.map((r) => [r.group, r.what, r.value, r.baseline, ratioText(r), targetText(r)]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return (
    cells
      .map((c) =>
        c
          .map((x, i) => x.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** The rows as the README's performance table (markdown), ready to paste. */
export function formatMarkdown(rows: readonly BenchRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| what | result | baseline | ratio | target |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${esc(r.what)} | ${esc(r.value)} | ${esc(r.baseline)} | ${ratioText(r)} | ${esc(targetText(r))} |`);
  return lines.join('\n') + '\n';
}
