import { CollectorError, Metric, errorMessage, type PointObject } from '../../lib/sdk/index.js';
import { Launchpad } from '../_launchpad/launchpad.js';

/** the archive folder of a series' command-not-found metadata; `{series}` is the series name */
export const DEFAULT_URL = 'http://archive.ubuntu.com/ubuntu/dists/{series}/main/cnf/';
export const MEASUREMENT = 'command_not_found_age';
const CELL = '<td align="right">';
const NEXT_CELL = '</td><td align="right">';

/**
 * The "last modified" time (UTC ms) of the `Commands-*` files of an Apache directory listing, as
 * the original reads it: on each line naming `Commands`, the text of the first right-aligned
 * cell, `YYYY-MM-DD HH:MM`; the last such line wins. Undefined when no line names `Commands`.
 * A `Commands` line without a readable date throws.
 */
export function listedCommandsTime(html: string, url: string): number | undefined {
  let found: number | undefined;
  for (const line of html.split(/\r?\n/)) {
    if (!line.includes('Commands')) continue;
    const start = line.indexOf(CELL);
    const rest = start < 0 ? '' : line.slice(start + CELL.length);
    const end = rest.indexOf(NEXT_CELL);
    const text = (end < 0 ? rest : rest.slice(0, end)).trimEnd();
    const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(text);
    const ms = m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!) : Number.NaN;
    if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3]!) {
      throw new CollectorError(
        `${url}: the listing line of a Commands file has no date as YYYY-MM-DD HH:MM: ${JSON.stringify(line.trim().slice(0, 200))}`,
      );
    }
    found = ms;
  }
  return found;
}

/**
 * For each series Launchpad marks active: how old, in days (a decimal), the newest listing of its
 * `main/cnf/Commands-*` files is, and whether that is more than a day.
 */
export class CommandNotFoundMetric extends Metric {
  async *collect(): AsyncGenerator<PointObject> {
    const template = this.env.CNF_URL || DEFAULT_URL;
    if (!template.includes('{series}')) {
      throw new CollectorError(`CNF_URL=${JSON.stringify(template)} has no {series}: it must be like ${DEFAULT_URL}`);
    }
    const nowMs = this.now().getTime();
    const { active } = await new Launchpad(this).ubuntuSeries();
    const failures: string[] = [];
    for (const series of active) {
      const url = template.replaceAll('{series}', encodeURIComponent(series.name));
      let listed: number | undefined;
      try {
        const html = await this.fetchText(url, { timeoutMs: 30_000, hint: 'check the archive mirror, or point CNF_URL at one' });
        listed = listedCommandsTime(html, url);
        if (listed === undefined) throw new CollectorError(`${url}: the listing names no Commands file (is it the cnf folder?)`);
      } catch (error) {
        if (this.signal.aborted) throw error;
        failures.push(`${series.name}: ${errorMessage(error)}`);
        continue;
      }
      const age = (nowMs - listed) / 86_400_000;
      yield { measurement: MEASUREMENT, tags: { release: series.name }, fields: { cnf_age: age, out_of_date: age > 1 } };
    }
    if (failures.length > 0) throw new CollectorError(`${failures.length} of ${active.length} series failed: ${failures.join('; ')}`);
  }
}
