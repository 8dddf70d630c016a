import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { CollectorError, Metric, durationRule, int, type PointObject, readSetting, sizeRule } from '../../lib/sdk/index.js';

export const DEFAULT_URL = 'rsync://cdimage.ubuntu.com/cdimage/';
export const MEASUREMENT = 'daily_image_details';
export const IMAGE_FORMATS = ['.iso', '.img.xz', '.tar.gz', '.wsl'] as const;
/** ubuntustudio's `dvd` folders count only for these series (later ones moved to daily-live) */
export const UBUNTUSTUDIO_DVD_RELEASES = ['jammy', 'noble'];
const IMAGE_NAME = /^(\w+)-.*-([\w+]+)\..+/;
const DAY_MS = 86_400_000;

/**
 * The points of an rsync listing in `%l %M %f` form (size, mtime as `YYYY/MM/DD-HH:MM:SS` in UTC,
 * path), as the original reads it: image files (by extension) whose line says `current` or
 * `pending`; the flavor is the first path element, the series and architecture come from the file
 * name, the image type from the first `daily-*` (or `dvd`) element. A line of that kind that does
 * not read so throws, naming it.
 */
export function imagePoints(listing: string, nowMs: number, source: string): PointObject[] {
  const points: PointObject[] = [];
  for (const line of listing.split(/\r?\n/)) {
    if (!IMAGE_FORMATS.some((ext) => line.endsWith(ext))) continue;
    if (!line.includes('current') && !line.includes('pending')) continue;
    const bad = (what: string): never => {
      throw new CollectorError(`${source}: listing line ${JSON.stringify(line.slice(0, 200))}: ${what}`);
    };
    const parts = line
      .replace(/^'+|'+$/g, '')
      .trim()
      .split(/\s+/);
    if (parts.length !== 3) bad('is not "size mtime path"');
    const [sizeText, mtime, path] = parts as [string, string, string];
    if (!/^\d+$/.test(sizeText)) bad('the size is not a whole number');
    const m = /^(\d{4})\/(\d{2})\/(\d{2})-(\d{2}):(\d{2}):(\d{2})$/.exec(mtime);
    if (!m) bad('the time is not YYYY/MM/DD-HH:MM:SS');
    const [y, mo, d, h, mi, s] = m!.slice(1).map(Number) as [number, number, number, number, number, number];
    const at = Date.UTC(y, mo - 1, d, h, mi, s);
    const pathTable = path.split('/');
    const flavor = pathTable[0]!;
    const imageName = pathTable.at(-1)!;
    const typePart = pathTable.find((p) => p.startsWith('daily-') || p === 'dvd');
    const imageType = typePart?.replaceAll('daily-', '');
    // hidden files that sometimes show up, and the old ubuntu-core-16 images
    if (imageName.startsWith('.') || imageName.startsWith('ubuntu-core-16')) continue;
    const currentOrPending = line.includes('current') ? 'current' : 'pending';
    const name = IMAGE_NAME.exec(imageName);
    if (!name) bad('the file name is not <series>-…-<arch>.<ext>');
    const [, series, arch] = name! as unknown as [string, string, string];
    if (flavor === 'ubuntustudio' && !UBUNTUSTUDIO_DVD_RELEASES.includes(series) && line.includes('dvd')) continue;
    points.push({
      measurement: MEASUREMENT,
      tags: { flavor, release: series, current_or_pending: currentOrPending, architecture: arch, image_type: imageType },
      fields: { age: int(Math.floor((nowMs - at) / DAY_MS)), size: int(Number(sizeText)) },
    });
  }
  return points;
}

/**
 * The daily images published on cdimage: for each image file under a `current` or `pending`
 * folder, its age in days and size in bytes, from one `rsync --dry-run` listing of the tree.
 */
export class ImagesMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const source = this.env.IMAGES_RSYNC_URL || DEFAULT_URL;
    if (!/^rsync:\/\/[^/]+\/\S*$/.test(source)) {
      throw new CollectorError(`IMAGES_RSYNC_URL=${JSON.stringify(source)}: it must be an rsync URL like ${DEFAULT_URL}`);
    }
    const timeoutS = readSetting(this.env, 'IMAGES_RSYNC_TIMEOUT', durationRule({ min: 1, max: 3600 }), 120);
    const maxBytes = readSetting(this.env, 'IMAGES_RSYNC_MAX_BYTES', sizeRule({ min: 1024, max: 1024 ** 3 }), 64 * 1024 ** 2);
    const listing = await this.rsyncList(source, timeoutS * 1000, maxBytes);
    return imagePoints(listing, this.now().getTime(), source);
  }

  /** `rsync --dry-run` of the whole tree: its `%l %M %f` lines (times in UTC); any failure throws. */
  private rsyncList(source: string, timeoutMs: number, maxBytes: number): Promise<string> {
    const program = 'rsync';
    const args = ['-4', '--dry-run', '--relative', '--copy-links', '--out-format=%l %M %f', '--archive', source, tmpdir()];
    const what = `${program} ${args.slice(0, -2).join(' ')} ${source}`;
    this.log.debug(`listing: ${what}`);
    return new Promise((resolve, reject) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([this.signal, timeout]);
      const child = spawn(program, args, { env: { PATH: this.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LC_ALL: 'C' }, signal });
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let tooBig = false;
      child.stdout.on('data', (chunk: Buffer) => {
        outBytes += chunk.length;
        if (outBytes > maxBytes) {
          tooBig = true;
          child.kill();
        } else out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (err.length < 4000) err += chunk.toString('utf8');
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (timeout.aborted)
          reject(new CollectorError(`${what} timed out after ${timeoutMs / 1000} s; IMAGES_RSYNC_TIMEOUT sets the limit`));
        else if (this.signal.aborted) reject(this.signal.reason);
        else if (error.code === 'ENOENT') reject(new CollectorError(`${program} is not installed: apt install rsync`));
        else reject(new CollectorError(`${what} failed: ${error.message}`));
      });
      child.on('close', (code, sig) => {
        if (signal.aborted) return; // reported by 'error'
        if (tooBig) return reject(new CollectorError(`${what}: the listing is larger than ${maxBytes} bytes (IMAGES_RSYNC_MAX_BYTES)`));
        if (code !== 0) {
          const msg = err.trim().replace(/\s+/g, ' ').slice(0, 300);
          return reject(
            new CollectorError(`${what} failed with ${code === null ? `signal ${sig}` : `exit code ${code}`}${msg ? `: ${msg}` : ''}`),
          );
        }
        resolve(Buffer.concat(out).toString('utf8'));
      });
    });
  }
}
