/**
 * The archive team's reports as the Python original reads them: the tail of a CSV, the summary of
 * a by-architecture text report, the priority-mismatches listing, and the merge proposals of a
 * Launchpad "active reviews" page. Each parser throws a CollectorError naming the URL and what is
 * wrong: a report that changed shape is a failure, never zeros.
 */
import { CollectorError } from '../../lib/sdk/index.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function utc(url: string, text: string, y: number, mon: string, d: number, h: number, mi: number, s: number, offsetMin = 0): number {
  const m = MONTHS.indexOf(mon.toLowerCase());
  const ms = Date.UTC(y, m, d, h, mi, s) - offsetMin * 60_000;
  const check = new Date(Date.UTC(y, m, d));
  if (m < 0 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 61) {
    throw new CollectorError(`${url}: the generated time ${JSON.stringify(text)} is not a valid date`);
  }
  return ms;
}

/** `Wed, 02 Dec 2026 11:04:05 +0000` (Python's `%a, %d %b %Y %H:%M:%S %z`) → ms. */
export function parseRfc2822(text: string, url: string): number {
  const m = /^([A-Za-z]{3}),\s+(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{1,2}):(\d{1,2})\s+([+-])(\d{2}):?(\d{2})$/.exec(
    text.trim(),
  );
  if (!m || !DAYS.includes(m[1]!.toLowerCase())) {
    throw new CollectorError(`${url}: the generated time ${JSON.stringify(text)} is not like "Wed, 02 Dec 2026 11:04:05 +0000"`);
  }
  const offset = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  return utc(url, text, +m[4]!, m[3]!, +m[2]!, +m[5]!, +m[6]!, +m[7]!, offset);
}

/** `Wed Dec  2 11:00:03 GMT 2026` (`date`'s output; Python's `%a %b %d %H:%M:%S %Y` once " GMT " is dropped), UTC → ms. */
export function parseDateOutput(text: string, url: string): number {
  const m = /^([A-Za-z]{3})\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{1,2}):(\d{1,2})\s+(\d{4})$/.exec(text.trim().replace(' GMT ', ' '));
  if (!m || !DAYS.includes(m[1]!.toLowerCase())) {
    throw new CollectorError(`${url}: the generated time ${JSON.stringify(text)} is not like "Wed Dec  2 11:00:03 GMT 2026"`);
  }
  return utc(url, text, +m[7]!, m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/**
 * The rows of the tail of a CSV of whole numbers (`time_ms,n,n,...`), fetched with a Range
 * request: after a 206 the first line is a fragment and is dropped; after a 200 (the whole file)
 * a first line that is not numbers is its header. Any other line that is not `columns` whole
 * numbers (a truncated or changed report) throws naming the URL, status and line.
 */
export function csvTail(text: string, status: number, columns: number, url: string): number[][] {
  let lines = text.trim().split(/\r?\n/);
  let first = 1;
  if (status === 206 && lines.length > 1) {
    lines = lines.slice(1);
    first = 2;
  }
  if (text.trim() === '') return [];
  const rows: number[][] = [];
  lines.forEach((line, i) => {
    const parts = line.split(',');
    if (parts.length === columns && parts.every((p) => /^-?\d+$/.test(p.trim()))) {
      rows.push(parts.map((p) => Number(p.trim())));
    } else if (!(i === 0 && status === 200 && !/^-?\d+$/.test(parts[0]!.trim()))) {
      throw new CollectorError(
        `${url} (HTTP ${status}): line ${i + first} of the tail is not ${columns} whole numbers (a truncated or changed CSV?): ` +
          JSON.stringify(line.slice(0, 120)),
      );
    }
  });
  return rows;
}

export interface ByArch {
  /** counts per architecture: the series' architectures first (0 unless listed), then any other listed one */
  counts: Map<string, number>;
  generated: number;
}

/** The `* summary` section (`<count> <arch>` lines) of a britney report, and its `# Generated:` time. */
export function byArchSummary(text: string, architectures: readonly string[], url: string): ByArch {
  const summary = /\* summary\n([\s\S]*?)(?=\n# Generated:)/.exec(text);
  if (!summary) throw new CollectorError(`${url}: no "* summary" section followed by "# Generated:" (is it the report?)`);
  const generated = /# Generated:[^\S\n]+(.+)/.exec(text) ?? /# Generated:\s+(.+)/.exec(text);
  if (!generated) throw new CollectorError(`${url}: no "# Generated:" time`);
  const counts = new Map(architectures.map((a) => [a, 0]));
  for (const line of summary[1]!.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(line);
    if (m) counts.set(m[2]!, Number(m[1]));
  }
  return { counts, generated: parseRfc2822(generated[1]!, url) };
}

/**
 * priority-mismatches.txt: per architecture section (a name underlined with `====`), the package
 * lines (no spaces, not a separator, not the last word of a subsection header underlined with
 * `----`), as the original counts them; only the series' architectures are counted.
 */
export function priorityMismatches(text: string, architectures: readonly string[], url: string): ByArch {
  const generated = /Generated:[^\S\n]+(.+)/.exec(text) ?? /Generated:\s+(.+)/.exec(text);
  if (!generated) throw new CollectorError(`${url}: no "Generated:" time (is it the priority mismatches report?)`);
  const counts = new Map(architectures.map((a) => [a, 0]));
  const lines = text.split(/\r?\n/);
  let arch: string | undefined;
  lines.forEach((line, i) => {
    if (!line || line.startsWith('Generated:')) return;
    const next = lines[i + 1];
    if (next?.startsWith('====')) {
      arch = line;
      return;
    }
    if (line.startsWith('====') || line.startsWith('----') || line.includes(' ')) return;
    if (next?.startsWith('----')) return;
    if (arch !== undefined && counts.has(arch)) counts.set(arch, counts.get(arch)! + 1);
  });
  return { counts, generated: parseDateOutput(generated[1]!, url) };
}

const MP_HREF = /^\/.*\/\+merge\/\d+$/;
const CAN_DO = /^(Requested reviews)|(Reviews) .* can do$/;

/** Decodes the few entities a Launchpad heading holds. */
function decode(text: string): string {
  return text
    .replace(/&nbsp;/g, '\u00a0')
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * The merge proposals a team is asked to review on its `+activereviews` page: the links to
 * `/…/+merge/<n>` that follow a `section-heading` cell reading "Requested reviews…" or
 * "Reviews … can do", up to the next heading (the original's BeautifulSoup walk, in document
 * order). A heading cell holding more than one piece of text reads as empty, as `tag.string` does.
 */
export function countTeamReviews(html: string): number {
  const token = /<td\b([^>]*)>([\s\S]*?)<\/td>|<a\b([^>]*)>/gi;
  let inSection = false;
  let count = 0;
  for (const m of html.matchAll(token)) {
    if (m[1] !== undefined) {
      const cls = /\bclass\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(m[1]);
      const classes = (cls?.[1] ?? cls?.[2] ?? '').split(/\s+/);
      if (!classes.includes('section-heading')) {
        // links inside an ordinary cell count as links
        for (const a of m[2]!.matchAll(/<a\b([^>]*)>/gi)) if (inSection && isMpLink(a[1]!)) count++;
        continue;
      }
      const inner = m[2]!;
      const only = /^<(\w+)\b[^>]*>([^<]*)<\/\1>$/.exec(inner);
      const text = !inner.includes('<') ? inner : only ? only[2]! : '';
      inSection = CAN_DO.test(decode(text).replace(/\n$/, ''));
    } else if (inSection && isMpLink(m[3]!)) count++;
  }
  return count;
}

function isMpLink(attrs: string): boolean {
  const href = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(attrs);
  return MP_HREF.test(decode(href?.[1] ?? href?.[2] ?? ''));
}
