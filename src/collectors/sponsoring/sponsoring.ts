import { z } from 'zod';
import { CollectorError, Metric, int, type PointObject } from '../../lib/sdk/index.js';

/** The original's current source: the general sponsoring queue of sponsoring-reports.ubuntu.com. */
export const DEFAULT_URL = 'http://sponsoring-reports.ubuntu.com/jsons/general.json';
export const MEASUREMENT = 'sponsoring_queue_stats';
/** the report that covers every entry of the queue */
export const ALL = 'sponsoring';

const Entry = z.object({
  date_queued: z.string().regex(/^\d{2}\/\d{2}\/\d{2}$/, 'must be a date as MM/DD/YY'),
  /** the sets (teams' queues) the entry is in; an entry without counts only in the whole queue */
  sets: z.array(z.string().min(1, 'must not be empty')).optional(),
});
const Queue = z.array(z.unknown());

/** MM/DD/YY → UTC midnight in ms; two-digit years as Python's %y: 69–99 → 19xx, 00–68 → 20xx. */
export function parseQueuedDate(text: string): number | undefined {
  const m = /^(\d{2})\/(\d{2})\/(\d{2})$/.exec(text);
  if (!m) return undefined;
  const month = Number(m[1]);
  const day = Number(m[2]);
  const yy = Number(m[3]);
  const year = yy >= 69 ? 1900 + yy : 2000 + yy;
  const ms = Date.UTC(year, month - 1, day);
  const d = new Date(ms);
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  return ms;
}

export interface QueueStats {
  count: number;
  oldest: number;
  average_age: number;
}

/** Ages in whole days → count, oldest, and the average truncated to whole days. */
export function stats(ages: number[]): QueueStats {
  if (ages.length === 0) return { count: 0, oldest: 0, average_age: 0 };
  const sum = ages.reduce((a, b) => a + b, 0);
  return { count: ages.length, oldest: Math.max(...ages), average_age: Math.trunc(sum / ages.length) };
}

/**
 * The sponsoring queue: a JSON list of entries `{ date_queued: "MM/DD/YY", sets?: [names], … }`.
 * One point per report: each set name, plus `sponsoring` for the whole queue.
 */
export class SponsoringMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const url = this.env.SPONSORING_URL || DEFAULT_URL;
    const data = await this.fetchJson(url, { hint: 'check the source, or point SPONSORING_URL at it', timeoutMs: 30_000 });
    const list = Queue.safeParse(data);
    if (!list.success)
      throw new CollectorError(`${url}: expected a JSON list of queue entries, got ${data === null ? 'null' : typeof data}`);
    const today = this.now();
    const todayUtc = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
    const ages = new Map<string, number[]>([[ALL, []]]);
    let clash = false;
    list.data.forEach((raw, i) => {
      const entry = Entry.safeParse(raw);
      if (!entry.success) {
        const issue = entry.error.issues[0]!;
        const field = issue.path.join('.') || '(entry)';
        throw new CollectorError(`${url}: entry #${i} is invalid: ${field} ${issue.message}; got ${JSON.stringify(raw).slice(0, 120)}`);
      }
      const queued = parseQueuedDate(entry.data.date_queued);
      if (queued === undefined)
        throw new CollectorError(`${url}: entry #${i}: date_queued ${JSON.stringify(entry.data.date_queued)} is not a valid MM/DD/YY date`);
      const age = Math.max(0, Math.floor((todayUtc - queued) / 86_400_000));
      ages.get(ALL)!.push(age);
      for (const set of new Set(entry.data.sets ?? [])) {
        if (set === ALL) {
          clash = true;
          continue;
        }
        if (!ages.has(set)) ages.set(set, []);
        ages.get(set)!.push(age);
      }
    });
    if (clash)
      this.log.warn(`${url}: a set is named "${ALL}", the name of the report over all entries: its entries count only in that report`);
    this.log.debug(`${list.data.length} entries in ${ages.size - 1} sets from ${url}`);
    return [...ages].map(([report, a]) => {
      const s = stats(a);
      return {
        measurement: MEASUREMENT,
        tags: { report },
        fields: { count: int(s.count), oldest: int(s.oldest), average_age: int(s.average_age) },
      };
    });
  }
}
