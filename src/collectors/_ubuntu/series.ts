/**
 * Ubuntu series data for the Ubuntu collectors, from the system's distro-info-data (the Debian
 * package `distro-info-data`: `/usr/share/distro-info/ubuntu.csv`), read the way python3-distro-info
 * reads it, so the collectors see the same series as the Python original:
 *
 * - `supported`: created on or before today, and today on or before its end of life (or of its
 *   server support), the development series included (distro-info's `supported()`);
 * - `supportedEsm`: created on or before today, and today on or before its ESM end (`supported_esm()`);
 * - `devel`: the newest series created on or before today and not yet released (`devel()`), or
 *   `undefined` when the data has none: distro-info raises DistroDataOutdated there, this never
 *   throws for it.
 *
 * When the data is outdated (a new series not in the installed package yet), the variables
 * override it: `UBUNTU_SERIES` (supported), `UBUNTU_ESM_SERIES`, `UBUNTU_DEVEL_SERIES` (a codename,
 * or `none`). `UBUNTU_DISTRO_INFO_CSV` points at another file (tests, a newer copy). See README.md.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { CollectorError } from '../../lib/sdk/index.js';

/** Where Debian's distro-info-data installs the Ubuntu table. */
export const DEFAULT_UBUNTU_CSV = '/usr/share/distro-info/ubuntu.csv';
/** The file is about 4 KiB; anything near this is not that file. */
export const MAX_CSV_BYTES = 1024 * 1024;

/** One row of ubuntu.csv. Dates are `YYYY-MM-DD` strings (they compare as dates). */
export interface UbuntuRelease {
  version: string;
  codename: string;
  series: string;
  created: string;
  release: string | undefined;
  eol: string | undefined;
  eolServer: string | undefined;
  eolEsm: string | undefined;
}

export interface UbuntuSeries {
  /** every release of the table, oldest first (distro-info's `all`) */
  all: UbuntuRelease[];
  /** supported series codenames, oldest first; with the development series */
  supported: string[];
  /** series in extended security maintenance, oldest first */
  supportedEsm: string[];
  /** the development series, or undefined when there is none */
  devel: string | undefined;
  /** where the data came from: the file, and the variables that overrode it */
  source: string;
}

const SERIES_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const REQUIRED = ['version', 'codename', 'series', 'created', 'release', 'eol'] as const;

const MISSING_HINT =
  'install the Debian package distro-info-data (apt-get install distro-info-data), ' +
  'or set UBUNTU_DISTRO_INFO_CSV to a copy of ubuntu.csv';

/** Reads at most `max` bytes of a regular file; more is an error. */
async function readBoundedFile(path: string, max: number): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CollectorError(`Ubuntu series data ${path} does not exist: ${MISSING_HINT}`);
    throw new CollectorError(`Ubuntu series data ${path} cannot be read (${code ?? String(error)}): ${MISSING_HINT}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new CollectorError(`Ubuntu series data ${path} is not a regular file: ${MISSING_HINT}`);
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > max)
      throw new CollectorError(`Ubuntu series data ${path} is larger than ${max} bytes: it is not distro-info's ubuntu.csv`);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Parses and validates ubuntu.csv (plain comma-separated values: the file has no quoting). */
export function parseUbuntuCsv(text: string, file: string): UbuntuRelease[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  const header = (lines[0] ?? '').split(',');
  for (const column of REQUIRED) {
    if (!header.includes(column))
      throw new CollectorError(`${file}:1: the header has no "${column}" column (got "${lines[0] ?? ''}"): ${MISSING_HINT}`);
  }
  const at = (name: string) => header.indexOf(name);
  const releases: UbuntuRelease[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const line = lines[i]!;
    if (line.trim() === '') throw new CollectorError(`${where}: an empty line inside the table`);
    const cells = line.split(',');
    if (cells.length > header.length || cells.length < REQUIRED.length)
      throw new CollectorError(`${where}: ${cells.length} columns, the header has ${header.length}: "${line.slice(0, 120)}"`);
    const cell = (name: string): string | undefined => {
      const index = at(name);
      const value = index < 0 ? undefined : cells[index];
      return value === undefined || value === '' ? undefined : value;
    };
    const date = (name: string, required: boolean): string | undefined => {
      const value = cell(name);
      if (value === undefined) {
        if (required) throw new CollectorError(`${where}: no ${name} date`);
        return undefined;
      }
      if (!DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
        throw new CollectorError(`${where}: ${name} ${JSON.stringify(value)} is not a date as YYYY-MM-DD`);
      return value;
    };
    const series = cell('series') ?? '';
    if (!SERIES_NAME.test(series)) throw new CollectorError(`${where}: series ${JSON.stringify(series)} is not a series codename`);
    if (seen.has(series)) throw new CollectorError(`${where}: series ${series} appears twice`);
    seen.add(series);
    releases.push({
      version: cell('version') ?? '',
      codename: cell('codename') ?? '',
      series,
      created: date('created', true)!,
      release: date('release', false),
      eol: date('eol', false),
      eolServer: date('eol-server', false),
      eolEsm: date('eol-esm', false),
    });
  }
  if (releases.length === 0) throw new CollectorError(`${file}: no releases in the table: ${MISSING_HINT}`);
  return releases;
}

/** `YYYY-MM-DD` of a time, in UTC. */
export function dayOf(time: Date): string {
  return time.toISOString().slice(0, 10);
}

/** distro-info's selections for one day, from the table alone. */
export function selectSeries(all: readonly UbuntuRelease[], today: string): Pick<UbuntuSeries, 'supported' | 'supportedEsm' | 'devel'> {
  const available = all.filter((r) => r.created <= today);
  const supported = available
    .filter((r) => (r.eol !== undefined && today <= r.eol) || (r.eolServer !== undefined && today <= r.eolServer))
    .map((r) => r.series);
  const supportedEsm = available.filter((r) => r.eolEsm !== undefined && today <= r.eolEsm).map((r) => r.series);
  const devel = available.filter((r) => r.release === undefined || (today < r.release && (r.eol === undefined || today <= r.eol))).at(-1);
  return { supported, supportedEsm, devel: devel?.series };
}

/** A list variable: codenames separated by commas and/or spaces; each must look like one. */
function seriesList(name: string, raw: string): string[] {
  const list = raw.split(/[\s,]+/).filter((s) => s !== '');
  for (const s of list) {
    if (!SERIES_NAME.test(s)) throw new CollectorError(`${name}=${JSON.stringify(raw)}: ${JSON.stringify(s)} is not a series codename`);
  }
  return [...new Set(list)];
}

/**
 * The series for the day of `now` (UTC): the table of `UBUNTU_DISTRO_INFO_CSV` (default
 * {@link DEFAULT_UBUNTU_CSV}), overridden by `UBUNTU_SERIES`, `UBUNTU_ESM_SERIES` and
 * `UBUNTU_DEVEL_SERIES` when they are set and not empty. The development series is always in
 * `supported` (as distro-info's), appended when an override names one the list lacks.
 */
export async function readUbuntuSeries(env: Record<string, string | undefined>, now: Date): Promise<UbuntuSeries> {
  const file = env.UBUNTU_DISTRO_INFO_CSV || DEFAULT_UBUNTU_CSV;
  const all = parseUbuntuCsv(await readBoundedFile(file, MAX_CSV_BYTES), file);
  const selected = selectSeries(all, dayOf(now));
  const overrides: string[] = [];
  let { supported, supportedEsm, devel } = selected;
  if (env.UBUNTU_SERIES?.trim()) {
    supported = seriesList('UBUNTU_SERIES', env.UBUNTU_SERIES);
    overrides.push('UBUNTU_SERIES');
  }
  if (env.UBUNTU_ESM_SERIES?.trim()) {
    supportedEsm = seriesList('UBUNTU_ESM_SERIES', env.UBUNTU_ESM_SERIES);
    overrides.push('UBUNTU_ESM_SERIES');
  }
  if (env.UBUNTU_DEVEL_SERIES?.trim()) {
    const raw = env.UBUNTU_DEVEL_SERIES.trim();
    if (raw === 'none') devel = undefined;
    else {
      const list = seriesList('UBUNTU_DEVEL_SERIES', raw);
      if (list.length !== 1)
        throw new CollectorError(`UBUNTU_DEVEL_SERIES=${JSON.stringify(raw)}: one series codename (or "none"), not ${list.length}`);
      devel = list[0];
    }
    overrides.push('UBUNTU_DEVEL_SERIES');
  }
  if (devel !== undefined && !supported.includes(devel)) supported = [...supported, devel];
  const source = overrides.length > 0 ? `${file} with ${overrides.join(', ')}` : file;
  return { all, supported, supportedEsm, devel, source };
}

/**
 * The position of a series in the table (oldest first), to compare series as distro-info's
 * order does; a series the table does not know (newer than the installed data) comes after all.
 */
export function seriesOrder(all: readonly UbuntuRelease[], series: string): number {
  const index = all.findIndex((r) => r.series === series);
  return index < 0 ? all.length : index;
}
