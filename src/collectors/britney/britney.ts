import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';
import { readUbuntuSeries, seriesOrder } from '../_ubuntu/series.js';
import { baseUrl, httpUrl } from '../_ubuntu/url.js';
import { parseByTeam, parseExcusesCsv } from './excuses.js';

export const DEFAULT_URL = 'https://ubuntu-archive-team.ubuntu.com/proposed-migration/';
const HOUR = 3_600_000;
const MINUTE = 60_000;
/** update_excuses.html of the development series is tens of MB */
const PAGE_LIMIT = 128 * 1024 * 1024;
const LOG_LIMIT = 256 * 1024 * 1024;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The time of the `Generated: YYYY.MM.DD HH:MM:SS` line of an update_excuses.html page (UTC),
 * or undefined when the page has none.
 */
export function generatedAt(html: string): Date | undefined {
  const m = /Generated:\s*(\d{4})\.(\d{2})\.(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(html);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const t = new Date(ms);
  if (t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return t;
}

/** Whole hours from `generated` to `now`, days included (the original used timedelta.seconds). */
export function runAgeHours(generated: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - generated.getTime()) / HOUR));
}

/** `Fri, 09 Jan 2026 23:58:01 +0000` (Python's `%a, %d %b %Y %H:%M:%S %z`) → ms, or undefined. */
export function parseLogTime(text: string): number | undefined {
  const m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(
    text.trim(),
  );
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!);
  if (month < 0) return undefined;
  const [day, year, h, mi, s] = [m[1], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const local = Date.UTC(year, month, day, h, mi, s);
  const check = new Date(local);
  if (check.getUTCDate() !== day || h > 23 || mi > 59 || s > 59) return undefined;
  const offset = (Number(m[8]) * 60 + Number(m[9])) * MINUTE * (m[7] === '-' ? -1 : 1);
  return local - offset;
}

/** The lines of a text as Python's `splitlines()` gives them for `\n`, `\r\n` and `\r`. */
function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * A britney log: its first line is the start time, its last `Finished at: <time>` when the run
 * finished. Whole minutes of the run (0 included), or undefined for a run that has not finished.
 */
export function logDuration(text: string, url: string): number | undefined {
  const lines = splitLines(text);
  const last = lines.at(-1);
  if (last === undefined || !last.startsWith('Finished at:')) return undefined;
  const start = parseLogTime(lines[0]!);
  if (start === undefined)
    throw new CollectorError(`${url}:1: expected the start time of the run, got ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const finish = parseLogTime(last.slice('Finished at:'.length));
  if (finish === undefined)
    throw new CollectorError(`${url}:${lines.length}: expected "Finished at: <time>", got ${JSON.stringify(last.slice(0, 80))}`);
  if (finish < start) throw new CollectorError(`${url}: the run finished (${last.slice(13)}) before it started (${lines[0]})`);
  return Math.floor((finish - start) / MINUTE);
}

/**
 * The run logs of a directory listing (an Apache or nginx index page), newest first: the links
 * to `*.log` files of that directory, in reverse page order (the listing is sorted by name, which
 * is the time of the run), without the `notest` runs.
 */
export function listedLogs(html: string, listingUrl: string): string[] {
  const names: string[] = [];
  for (const m of html.matchAll(/href\s*=\s*"([^"]*)"/gi)) {
    let name = m[1]!.replaceAll('&amp;', '&').replace(/^\.\//, '');
    try {
      name = decodeURIComponent(name);
    } catch {
      continue;
    }
    if (!/^[^/?#\\]+\.log$/.test(name) || name.includes('notest')) continue;
    names.push(new URL(`./${name}`, listingUrl).href);
  }
  return [...new Set(names)].reverse();
}

/**
 * Britney (proposed-migration): per active series (supported and ESM), the age of the last run
 * from its update_excuses.html and the duration of the last finished run from its logs; for the
 * development series, the update_excuses statistics (CSV, rows of the last 12 hours) and per team
 * (YAML, packages stuck more than 3 days).
 */
export class BritneyMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const base = baseUrl(this.env, 'BRITNEY_URL', DEFAULT_URL);
    const csvUrl = httpUrl(
      'BRITNEY_UPDATE_EXCUSES_CSV_URL',
      this.env.BRITNEY_UPDATE_EXCUSES_CSV_URL || new URL('update_excuses.csv', base).href,
    );
    const yamlUrl = httpUrl(
      'BRITNEY_UPDATE_EXCUSES_BY_TEAM_URL',
      this.env.BRITNEY_UPDATE_EXCUSES_BY_TEAM_URL || new URL('update_excuses_by_team.yaml', base).href,
    );
    const now = this.now();
    const ubuntu = await readUbuntuSeries(this.env, now);
    const active = this.activeSeries(ubuntu.supported, ubuntu.supportedEsm).sort(
      (a, b) => seriesOrder(ubuntu.all, a) - seriesOrder(ubuntu.all, b),
    );
    this.log.debug(`active series ${active.join(', ')}; development series ${ubuntu.devel ?? 'none'} (${ubuntu.source})`);
    const hint = 'check the source, or point BRITNEY_URL at it';

    const points: PointObject[] = [];
    const runDays = new Map<string, string>();
    for (const series of active) {
      const url = new URL(`${encodeURIComponent(series)}/update_excuses.html`, base).href;
      const html = await this.fetchText(url, { timeoutMs: 120_000, maxBytes: PAGE_LIMIT, hint });
      const generated = generatedAt(html);
      if (!generated) throw new CollectorError(`${url}: no "Generated: YYYY.MM.DD HH:MM:SS" line: not an update_excuses page`);
      if (generated.getTime() > now.getTime() + MINUTE)
        this.log.warn(`${url}: generated ${generated.toISOString()}, after the collection time: run age 0`);
      runDays.set(series, generated.toISOString().slice(0, 10));
      points.push({
        measurement: 'britney_last_run_age',
        tags: { release: series },
        fields: { run_age: int(runAgeHours(generated, now)) },
      });
    }

    for (const series of active) {
      const duration = await this.lastRunDuration(new URL(`log/${encodeURIComponent(series)}/${runDays.get(series)}/`, base).href, hint);
      if (duration !== undefined)
        points.push({ measurement: 'britney_last_run_duration', tags: { release: series }, fields: { run_duration: int(duration) } });
    }

    if (ubuntu.devel === undefined) {
      this.log.info(
        'no development series in the series data: no update_excuses statistics (set UBUNTU_DEVEL_SERIES when the data is outdated)',
      );
      return points;
    }
    const release = ubuntu.devel;
    const csv = await this.fetchText(csvUrl.href, { timeoutMs: 60_000, maxBytes: 64 * 1024 * 1024, hint });
    for (const row of parseExcusesCsv(csv, csvUrl.href, now.getTime() - 12 * HOUR)) {
      const { time, ...fields } = row;
      points.push({
        measurement: 'update_excuses_stats',
        tags: { release },
        fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, int(v)])),
        time: new Date(time),
      });
    }
    const yaml = await this.fetchText(yamlUrl.href, { timeoutMs: 60_000, maxBytes: 64 * 1024 * 1024, hint });
    for (const { team, count, age } of await parseByTeam(yaml, yamlUrl.href)) {
      points.push({ measurement: 'update_excuses_by_team_stats', tags: { release, team }, fields: { count: int(count), age } });
    }
    return points;
  }

  /** `BRITNEY_SERIES` when set, else the supported and ESM series, each once. */
  private activeSeries(supported: string[], esm: string[]): string[] {
    const raw = this.env.BRITNEY_SERIES?.trim();
    if (!raw) return [...new Set([...supported, ...esm])];
    const list = raw.split(/[\s,]+/).filter((s) => s !== '');
    for (const s of list)
      if (!/^[a-z][a-z0-9-]{0,39}$/.test(s))
        throw new CollectorError(`BRITNEY_SERIES=${JSON.stringify(raw)}: ${JSON.stringify(s)} is not a series codename`);
    return [...new Set(list)];
  }

  /**
   * The duration of the newest finished run in a day's log directory, or undefined when no run of
   * that day has finished, or the directory does not exist (404: the day's first run has not
   * started). Any other failure is an error.
   */
  private async lastRunDuration(listingUrl: string, hint: string): Promise<number | undefined> {
    const listing = await this.fetchText(listingUrl, { timeoutMs: 60_000, maxBytes: 16 * 1024 * 1024, hint, accept: [404] });
    if (listing === undefined) {
      this.log.warn(`${listingUrl}: no such log directory (HTTP 404): no run duration`);
      return undefined;
    }
    for (const logUrl of listedLogs(listing, listingUrl)) {
      this.log.debug(`trying log ${logUrl}`);
      const duration = logDuration(await this.fetchText(logUrl, { timeoutMs: 120_000, maxBytes: LOG_LIMIT, hint }), logUrl);
      if (duration !== undefined) return duration;
    }
    this.log.debug(`${listingUrl}: no finished run`);
    return undefined;
  }
}
