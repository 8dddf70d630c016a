import { CollectorError, Metric, errorMessage, int, type PointObject } from '../../lib/sdk/index.js';
import { type Entry, Launchpad } from '../_launchpad/launchpad.js';
import { byArchSummary, countTeamReviews, csvTail, priorityMismatches } from './reports.js';

export const DEFAULT_REPORTS_URL = 'https://ubuntu-archive-team.ubuntu.com/';
export const DEFAULT_REVIEWS_URL = 'https://code.launchpad.net/~ubuntu-archive/+activereviews';
export const TEAM = 'ubuntu-archive';
/** rows of the CSVs older than this (before the collection time) are left out, as in the original */
const WINDOW_MS = 12 * 60 * 60 * 1000;
/** the tail of a CSV asked for: enough for 12 hours of rows */
const TAIL_BYTES = 2048;
/** the component-mismatches CSVs, by the pocket they describe */
const COMPONENT_MISMATCHES = { release: 'component-mismatches.csv', proposed: 'component-mismatches-proposed.csv' } as const;
/** the columns after the time in component-mismatches*.csv */
const MISMATCH_COLUMNS = [
  { action: 'promotion', type: 'source' },
  { action: 'promotion', type: 'binary' },
  { action: 'demotion', type: 'source' },
  { action: 'demotion', type: 'binary' },
] as const;

/**
 * The Ubuntu archive team's numbers: NBS (not built from source) counts, uninstallable and
 * out-of-date binaries and priority mismatches per architecture of the development series,
 * component mismatches, open reviews requested from the team, and its subscribed and assigned bugs.
 */
export class UbuntuArchiveMetric extends Metric {
  private lp!: Launchpad;
  private base = DEFAULT_REPORTS_URL;
  private devSeries = '';
  private architectures: string[] = [];

  async *collect(): AsyncGenerator<PointObject> {
    this.lp = new Launchpad(this);
    this.base = (this.env.UBUNTU_ARCHIVE_REPORTS_URL || DEFAULT_REPORTS_URL).replace(/\/*$/, '/');
    const distro = await this.lp.entry<Entry & { current_series_link?: unknown }>('ubuntu');
    if (typeof distro.current_series_link !== 'string') {
      throw new CollectorError(`Launchpad ${this.lp.url('ubuntu')}: the distribution has no current_series_link`);
    }
    const current = await this.lp.entry<Entry & { name?: unknown; architectures_collection_link?: unknown }>(distro.current_series_link);
    if (typeof current.name !== 'string' || typeof current.architectures_collection_link !== 'string') {
      throw new CollectorError(`Launchpad ${distro.current_series_link}: the series has no name or architectures_collection_link`);
    }
    this.devSeries = current.name;
    const arches = await this.lp.all(current.architectures_collection_link);
    this.architectures = arches.map((a, i) => {
      if (typeof a.architecture_tag !== 'string') {
        throw new CollectorError(`Launchpad ${current.architectures_collection_link}: architecture #${i} has no architecture_tag`);
      }
      return a.architecture_tag;
    });
    // each report in turn; one that fails does not hide the others: their points are written, then the run fails
    const parts: Array<[string, () => Promise<PointObject[]>]> = [
      ['NBS', () => this.nbs()],
      ['uninstallable', () => this.byArch('uninst', 'uninst_stats')],
      ['out of date', () => this.byArch('outdate', 'outdate_stats')],
      ['priority mismatches', () => this.priorityMismatches()],
      ['component mismatches', () => this.componentMismatches()],
      ['reviews', () => this.reviews()],
      ['bugs', () => this.bugs()],
    ];
    const failures: string[] = [];
    for (const [what, part] of parts) {
      let points: PointObject[];
      try {
        points = await part();
      } catch (error) {
        if (this.signal.aborted) throw error;
        failures.push(`${what}: ${errorMessage(error)}`);
        continue;
      }
      yield* points;
    }
    if (failures.length > 0) throw new CollectorError(`${failures.length} of ${parts.length} reports failed: ${failures.join('; ')}`);
  }

  private hint = 'check the report, or point UBUNTU_ARCHIVE_REPORTS_URL at a copy';

  /** The rows of the last 12 hours of a CSV's tail (a Range request). */
  private async recentRows(file: string, columns: number): Promise<number[][]> {
    const url = new URL(file, this.base).toString();
    const r = await this.fetchResponse(url, { headers: { range: `bytes=-${TAIL_BYTES}` }, timeoutMs: 60_000, hint: this.hint });
    if (r.status !== 200 && r.status !== 206) {
      throw new CollectorError(`${url}: answered HTTP ${r.status} to a Range request; expected 206 (or 200 with the whole file)`);
    }
    const cutoff = this.now().getTime() - WINDOW_MS;
    return csvTail(r.text, r.status, columns, url).filter((row) => row[0]! > cutoff);
  }

  private async nbs(): Promise<PointObject[]> {
    const rows = await this.recentRows('nbs.csv', 3);
    return rows.map(([ts, removable, total]) => ({
      measurement: 'nbs_stats',
      tags: { release: this.devSeries },
      time: ts!,
      fields: { removable: int(removable!), total: int(total!) },
    }));
  }

  private async componentMismatches(): Promise<PointObject[]> {
    const points: PointObject[] = [];
    for (const [pocket, file] of Object.entries(COMPONENT_MISMATCHES)) {
      for (const row of await this.recentRows(file, 5)) {
        MISMATCH_COLUMNS.forEach((tags, i) => {
          points.push({
            measurement: 'component_mismatch_stats',
            tags: { release: this.devSeries, pocket, ...tags },
            time: row[0]!,
            fields: { count: int(row[i + 1]!) },
          });
        });
      }
    }
    return points;
  }

  private async byArch(report: 'uninst' | 'outdate', measurement: string): Promise<PointObject[]> {
    const url = new URL(`proposed-migration/${encodeURIComponent(this.devSeries)}_${report}.txt`, this.base).toString();
    const text = await this.fetchText(url, { timeoutMs: 60_000, hint: this.hint });
    const { counts, generated } = byArchSummary(text, this.architectures, url);
    return [...counts].map(([arch, count]) => ({
      measurement,
      tags: { release: this.devSeries, arch },
      time: generated,
      fields: { count: int(count) },
    }));
  }

  private async priorityMismatches(): Promise<PointObject[]> {
    const url = new URL('priority-mismatches.txt', this.base).toString();
    const text = await this.fetchText(url, { timeoutMs: 60_000, hint: this.hint });
    const { counts, generated } = priorityMismatches(text, this.architectures, url);
    return [...counts].map(([arch, count]) => ({
      measurement: 'priority_mismatch_stats',
      tags: { release: this.devSeries, arch },
      time: generated,
      fields: { count: int(count) },
    }));
  }

  private async reviews(): Promise<PointObject[]> {
    const url = this.env.UBUNTU_ARCHIVE_REVIEWS_URL || DEFAULT_REVIEWS_URL;
    const html = await this.fetchText(url, { timeoutMs: 60_000, hint: 'check the page, or point UBUNTU_ARCHIVE_REVIEWS_URL at it' });
    if (!/<html[\s>]/i.test(html)) throw new CollectorError(`${url}: the answer is not an HTML page`);
    return [{ measurement: 'ubuntu_archive_reviews', fields: { count: int(countTeamReviews(html)) } }];
  }

  private async bugs(): Promise<PointObject[]> {
    const team = await this.lp.entry(`~${TEAM}`);
    const self = team.self_link ?? this.lp.url(`~${TEAM}`);
    const subscribed = await this.lp.count(`~${TEAM}`, { 'ws.op': 'searchTasks', bug_subscriber: self });
    const assigned = await this.lp.count(`~${TEAM}`, { 'ws.op': 'searchTasks', assignee: self });
    return [
      { measurement: 'ubuntu_archive_bugs', tags: { type: 'subscribed' }, fields: { count: int(subscribed) } },
      { measurement: 'ubuntu_archive_bugs', tags: { type: 'assigned' }, fields: { count: int(assigned) } },
    ];
  }
}
