import { CollectorError, Metric, errorMessage, int, type PointObject } from '../../lib/sdk/index.js';
import { type Entry, Launchpad } from '../_launchpad/launchpad.js';

/** the teams counted, in the original's order */
export const TEAMS = [
  'motu',
  'ubuntumembers',
  'ubuntu-archive',
  'ubuntu-core-dev',
  'ubuntu-dev',
  'ubuntu-developer-members',
  'ubuntu-release',
  'ubuntu-sru',
  'ubuntu-sru-developers',
  'ubuntu-uploaders',
] as const;

export const MEASUREMENT = 'launchpad_team_members';

/** `a, b` → ['a', 'b'], each a Launchpad name. */
export function parseTeams(raw: string): string[] {
  const teams = raw
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const bad = teams.find((t) => !/^[a-z0-9][a-z0-9+.-]*$/.test(t));
  if (bad !== undefined || teams.length === 0) {
    throw new CollectorError(
      `CONTRIBUTORS_TEAMS=${JSON.stringify(raw)}: it must be Launchpad team names, comma-separated` +
        (bad !== undefined ? ` (${JSON.stringify(bad)} is not one)` : ''),
    );
  }
  return teams;
}

/**
 * For each team: how many members (direct) and participants (direct and indirect) it has, read
 * as the `total_size` of the team's `members` and `participants` collections.
 */
export class ContributorsMetric extends Metric {
  async *collect(): AsyncGenerator<PointObject> {
    const lp = new Launchpad(this);
    const teams = this.env.CONTRIBUTORS_TEAMS ? parseTeams(this.env.CONTRIBUTORS_TEAMS) : [...TEAMS];
    const failures: string[] = [];
    for (const team of teams) {
      // a failing team does not hide the others: their points are written, then the run fails
      let counts: { members: number; participants: number };
      try {
        this.log.debug(`fetching the member count of Launchpad team ${team}`);
        const entry = await lp.entry<Entry & { members_collection_link?: unknown; participants_collection_link?: unknown }>(`~${team}`);
        const link = (key: 'members_collection_link' | 'participants_collection_link'): string => {
          const v = entry[key];
          if (typeof v !== 'string') throw new CollectorError(`Launchpad ${lp.url(`~${team}`)}: the entry has no ${key} (is it a team?)`);
          return v;
        };
        counts = {
          members: await lp.count(link('members_collection_link')),
          participants: await lp.count(link('participants_collection_link')),
        };
      } catch (error) {
        if (this.signal.aborted) throw error;
        failures.push(`team ${team}: ${errorMessage(error)}`);
        continue;
      }
      this.log.debug(`team ${team} has ${counts.members} members and ${counts.participants} participants`);
      yield { measurement: MEASUREMENT, tags: { team, count_type: 'members' }, fields: { count: int(counts.members) } };
      yield { measurement: MEASUREMENT, tags: { team, count_type: 'participants' }, fields: { count: int(counts.participants) } };
    }
    if (failures.length > 0) {
      throw new CollectorError(`${failures.length} of ${teams.length} teams could not be read: ${failures.join('; ')}`);
    }
  }
}
