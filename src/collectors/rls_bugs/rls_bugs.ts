import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';
import { readUbuntuSeries, seriesOrder, type UbuntuRelease } from '../_ubuntu/series.js';
import { baseUrl } from '../_ubuntu/url.js';

export const DEFAULT_URL = 'https://reqorts.qa.ubuntu.com/reports/rls-mgr/';
export const MEASUREMENT = 'distro_rls_bug_tasks';
export const TAGS = ['incoming', 'tracking'] as const;
export type Tag = (typeof TAGS)[number];

/**
 * The report file of a series: `rls-<prefix>-<tag>.json`, the prefix being the codename's first
 * letter once for the series before artful (`rls-x-…`) and twice from artful on (`rls-bb-…`).
 */
export function reportFile(all: readonly UbuntuRelease[], series: string, tag: Tag): string {
  const letters = seriesOrder(all, series) < seriesOrder(all, 'artful') ? 1 : 2;
  return `rls-${series[0]!.repeat(letters)}-${tag}.json`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The teams of each bug of a report, each team once per bug: `{ "tasks": { bug: [ { "team":
 * [names] | null }, … ] } }`. Calls `count(team)` once per bug and team.
 */
export function countTeams(data: unknown, url: string, count: (team: string) => void): number {
  if (!isObject(data) || !isObject(data.tasks))
    throw new CollectorError(`${url}: expected an object with "tasks" (bug → tasks), got ${JSON.stringify(data)?.slice(0, 80)}`);
  let bugs = 0;
  for (const [bug, tasks] of Object.entries(data.tasks)) {
    if (!Array.isArray(tasks)) throw new CollectorError(`${url}: bug ${bug}: expected a list of tasks`);
    const teams = new Set<string>();
    tasks.forEach((task, i) => {
      if (!isObject(task) || !('team' in task)) throw new CollectorError(`${url}: bug ${bug}, task #${i}: no "team"`);
      const team = task.team;
      if (team === null || team === undefined || team === '' || team === false) return; // no team: not counted (as the original)
      if (!Array.isArray(team) || !team.every((t) => typeof t === 'string' && t !== ''))
        throw new CollectorError(
          `${url}: bug ${bug}, task #${i}: "team" must be a list of team names, got ${JSON.stringify(team).slice(0, 80)}`,
        );
      for (const t of team) teams.add(t);
    });
    for (const t of teams) count(t);
    bugs++;
  }
  return bugs;
}

/**
 * Release-tracking bug tasks: for every supported series, the `incoming` and `tracking` reports
 * of the release manager's reports; one point per tag, team and series: the bugs with a task of
 * that team.
 */
export class RlsBugsMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const base = baseUrl(this.env, 'RLS_BUGS_URL', DEFAULT_URL);
    const now = this.now();
    const series = await readUbuntuSeries(this.env, now);
    this.log.debug(`supported series ${series.supported.join(', ')} (${series.source})`);
    const opts = { timeoutMs: 60_000, hint: 'check the source, or point RLS_BUGS_URL at it' };
    // tag → team → series → bugs, in the order first seen (the original's dict order)
    const counts = new Map<Tag, Map<string, Map<string, number>>>(TAGS.map((t) => [t, new Map()]));
    for (const tag of TAGS) {
      const byTeam = counts.get(tag)!;
      for (const codename of series.supported) {
        const url = new URL(reportFile(series.all, codename, tag), base).href;
        this.log.debug(`fetching ${url}`);
        const bugs = countTeams(await this.fetchJson(url, opts), url, (team) => {
          const bySeries = byTeam.get(team) ?? new Map<string, number>();
          byTeam.set(team, bySeries);
          bySeries.set(codename, (bySeries.get(codename) ?? 0) + 1);
        });
        this.log.debug(`${bugs} bugs in ${url}`);
      }
    }
    const points: PointObject[] = [];
    for (const [tag, byTeam] of counts) {
      for (const [team, bySeries] of byTeam) {
        for (const [release, count] of bySeries) {
          points.push({ measurement: MEASUREMENT, tags: { tag, release, team_name: team }, fields: { count: int(count) } });
        }
      }
    }
    return points;
  }
}
