/**
 * `npm run bench` (`-- --smoke` for small sizes, one run each, no thresholds: what CI runs so the
 * bench cannot rot): speed and memory, each row a ratio against a baseline measured in the same
 * run on the same machine (never a timed assertion in the tests). Prints a table, the same table
 * in markdown for the README's "Performance" section, and writes bench/results.json.
 *
 *  - start-up and discovery rows: bench/startup.ts (`startupRows({ smoke })`);
 *  - serialization: bench/serialize.ts (in-process against the client's Point, and a whole
 *    `--dry-run --format lp` process against the client's Point alone);
 *  - ingest and memory: bench/ingest.ts (a real InfluxDB 1.6.7, started here on a free loopback
 *    port; skipped with a message when `influxd` is missing).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startupRows } from './startup.js';
import { repo, type BenchOptions } from './common.js';
import { ingestRows } from './ingest.js';
import { dryRunRows, serializerRow } from './serialize.js';
import { formatMarkdown, formatTable, type BenchRow } from './table.js';

const smoke = process.argv.includes('--smoke');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const opts: BenchOptions = { smoke, note: (line) => process.stderr.write(`bench: ${line}\n`) };
const want = (group: string): boolean => only === undefined || only.includes(group);

const rows: BenchRow[] = [];
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()[0]!.toFixed(1)} at start`;
opts.note(`${smoke ? 'smoke run (small sizes, no thresholds)' : 'full run'} on ${machine}`);

// start-up and discovery rows (bench/startup.ts)
if (want('startup')) rows.push(...(await startupRows({ smoke })));
if (want('serialization')) {
  rows.push(serializerRow(opts));
  rows.push(...(await dryRunRows(opts)));
}
if (want('ingest')) rows.push(...(await ingestRows(opts)));

process.stdout.write(`\n${formatTable(rows)}\n`);
process.stdout.write(`README table (${machine}):\n\n${formatMarkdown(rows)}`);
const results = { date: new Date().toISOString(), machine, smoke, rows };
writeFileSync(join(repo, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
const missed = rows.filter((r) => r.met === false);
if (missed.length > 0) opts.note(`targets not met: ${missed.map((r) => r.what).join('; ')}`);
