import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';
import { baseUrl } from '../_ubuntu/url.js';

export const DEFAULT_URL = 'https://people.canonical.com/~platform/desktop/versions/stats/current/';
export const MEASUREMENT = 'versions_script_stats';

/** A report name: no whitespace, `/`, `=`, `?` or `#` (it is joined to the base URL). */
const NAME = /^[^\s/=\\?#]{1,200}$/;

/** The list of reports: one name a line; blank lines are skipped. */
export function parseReports(text: string, url: string): string[] {
  const reports: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    if (!NAME.test(line) || line === '.' || line === '..')
      throw new CollectorError(`${url}:${i + 1}: ${JSON.stringify(line.slice(0, 80))} is not a report name`);
    reports.push(line);
  });
  return reports;
}

/** A report: `category=count` a line; blank lines are skipped; anything else is an error. */
export function parseStats(text: string, url: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    // as Python's `category, value = line.split("=")` and `int(value)`: one `=`, a whole number
    const m = /^([^=]{1,200})=\s*([-+]?\d+)\s*$/.exec(line);
    const value = m ? Number(m[2]) : Number.NaN;
    if (!m || !Number.isSafeInteger(value))
      throw new CollectorError(`${url}:${i + 1}: expected "category=count", got ${JSON.stringify(line.slice(0, 80))}`);
    out.push([m[1]!, value]);
  });
  return out;
}

/**
 * The desktop versions script's statistics: `<base>reports` lists the reports, `<base><report>`
 * holds `category=count` lines. One point per report and category, for the development series.
 */
export class VersionsMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const base = baseUrl(this.env, 'VERSIONS_STATS_URL', DEFAULT_URL);
    const opts = { timeoutMs: 60_000, maxBytes: 1024 * 1024, hint: 'check the source, or point VERSIONS_STATS_URL at it' };
    const reportsUrl = new URL('reports', base).href;
    const reports = parseReports(await this.fetchText(reportsUrl, opts), reportsUrl);
    this.log.debug(`${reports.length} reports listed at ${reportsUrl}`);
    const points: PointObject[] = [];
    for (const report of reports) {
      const url = new URL(encodeURIComponent(report), base).href;
      for (const [category, count] of parseStats(await this.fetchText(url, opts), url)) {
        points.push({ measurement: MEASUREMENT, tags: { report, category, series: 'devel' }, fields: { count: int(count) } });
      }
    }
    return points;
  }
}
