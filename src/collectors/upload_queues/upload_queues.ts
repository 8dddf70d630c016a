import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';
import { Launchpad, sameLink } from '../_launchpad/launchpad.js';

/** the queues looked at, in the original's order */
export const STATUSES = ['Unapproved', 'New'] as const;
export const POCKET = 'Proposed';
/** an upload waiting longer than this many days is in the backlog */
export const BACKLOG_DAYS = 10;
const DAY_MS = 86_400_000;

export interface QueueAges {
  oldest_age_in_days: number;
  ten_day_backlog_count: number;
}

/**
 * Ages in whole days (floored, as Python's `timedelta.days`) of uploads created at `created`
 * (ms) seen at `nowMs`: the oldest (0 for an empty queue) and how many are older than 10 days.
 */
export function queueAges(created: number[], nowMs: number): QueueAges {
  let oldest = 0;
  let backlog = 0;
  for (const c of created) {
    const age = Math.floor((nowMs - c) / DAY_MS);
    if (age > oldest) oldest = age;
    if (age > BACKLOG_DAYS) backlog++;
  }
  return { oldest_age_in_days: oldest, ten_day_backlog_count: backlog };
}

/**
 * The Unapproved and New uploads to the Proposed pocket of every active Ubuntu series: how many
 * (`ubuntu_queue_size`) and how old (`queue_ages`).
 */
export class UploadQueuesMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const lp = new Launchpad(this);
    const nowMs = this.now().getTime();
    const { active, currentLink } = await lp.ubuntuSeries();
    const sizes: PointObject[] = [];
    const ages: PointObject[] = [];
    for (const series of active) {
      const devel = sameLink(series.self_link, currentLink) ? 'True' : 'False';
      for (const status of STATUSES) {
        const uploads = await lp.all(series.self_link, { 'ws.op': 'getPackageUploads', status, pocket: POCKET });
        const created = uploads.map((u, i) => {
          const at = typeof u.date_created === 'string' ? Date.parse(u.date_created) : Number.NaN;
          if (Number.isNaN(at)) {
            throw new CollectorError(
              `Launchpad ${lp.url(series.self_link, { 'ws.op': 'getPackageUploads', status, pocket: POCKET })}: ` +
                `upload #${i} has no valid date_created: ${JSON.stringify(u.date_created)}`,
            );
          }
          return at;
        });
        this.log.debug(`${series.name} ${status}: ${uploads.length} uploads`);
        sizes.push({
          measurement: 'ubuntu_queue_size',
          tags: { devel, status, release: series.name },
          fields: { count: int(uploads.length) },
        });
        const a = queueAges(created, nowMs);
        ages.push({
          measurement: 'queue_ages',
          tags: { devel, release: series.name, status },
          fields: { oldest_age_in_days: int(a.oldest_age_in_days), ten_day_backlog_count: int(a.ten_day_backlog_count) },
        });
      }
    }
    return [...sizes, ...ages];
  }
}
