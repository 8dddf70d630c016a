import { CollectorError, Metric, errorMessage, int, type PointObject } from '../../lib/sdk/index.js';
import { baseUrl } from '../_ubuntu/url.js';

/** The autopkgtest instances, their default base URLs and the variables that override them. */
export const INSTANCES = [
  { instance: 'production', variable: 'AUTOPKGTEST_URL', url: 'https://autopkgtest.ubuntu.com/' },
  { instance: 'staging', variable: 'AUTOPKGTEST_STAGING_URL', url: 'https://autopkgtest.staging.ubuntu.com/' },
] as const;
export const QUEUE_SIZE_PATH = 'queue_size.json';
export const RUNNING_PATH = 'static/running.json';

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `${typeof value} ${String(value).slice(0, 40)}`;
}

/** `{ context: { release: { arch: count } } }` → one point per count. */
export function queueSizePoints(data: Json, instance: string, url: string): PointObject[] {
  if (!isObject(data)) throw new CollectorError(`${url}: expected an object of contexts, got ${describe(data)}`);
  const points: PointObject[] = [];
  for (const [context, releases] of Object.entries(data)) {
    if (!isObject(releases)) throw new CollectorError(`${url}: ${context}: expected an object of releases, got ${describe(releases)}`);
    for (const [release, arches] of Object.entries(releases)) {
      if (!isObject(arches))
        throw new CollectorError(`${url}: ${context}.${release}: expected an object of architectures, got ${describe(arches)}`);
      for (const [arch, count] of Object.entries(arches)) {
        if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)
          throw new CollectorError(`${url}: ${context}.${release}.${arch}: expected a count (a whole number), got ${describe(count)}`);
        points.push({ measurement: 'autopkgtest_queue_size', tags: { context, release, arch, instance }, fields: { count: int(count) } });
      }
    }
  }
  return points;
}

/**
 * `{ package: { run key: { release: { arch: details } } } }` → one point per release and
 * architecture: the number of tests running there.
 */
export function runningPoints(data: Json, instance: string, url: string): PointObject[] {
  if (!isObject(data)) throw new CollectorError(`${url}: expected an object of packages, got ${describe(data)}`);
  const counts = new Map<string, Map<string, number>>();
  for (const [pkg, runs] of Object.entries(data)) {
    if (!isObject(runs)) throw new CollectorError(`${url}: ${pkg}: expected an object of runs, got ${describe(runs)}`);
    for (const [key, releases] of Object.entries(runs)) {
      if (!isObject(releases)) throw new CollectorError(`${url}: ${pkg}.${key}: expected an object of releases, got ${describe(releases)}`);
      for (const [release, arches] of Object.entries(releases)) {
        if (!isObject(arches))
          throw new CollectorError(`${url}: ${pkg}.${key}.${release}: expected an object of architectures, got ${describe(arches)}`);
        const byArch = counts.get(release) ?? new Map<string, number>();
        counts.set(release, byArch);
        for (const arch of Object.keys(arches)) byArch.set(arch, (byArch.get(arch) ?? 0) + 1);
      }
    }
  }
  const points: PointObject[] = [];
  for (const [release, byArch] of counts) {
    for (const [arch, count] of byArch) {
      points.push({ measurement: 'autopkgtest_running', tags: { release, arch, instance }, fields: { count: int(count) } });
    }
  }
  return points;
}

/**
 * Queue sizes and running tests of autopkgtest.ubuntu.com and its staging instance. Every
 * instance is fetched; when one fails, the points of the others are still written and the run
 * fails naming the failing URL.
 */
export class AutopkgtestMetric extends Metric {
  async collect(): Promise<PointObject[]> {
    const opts = { timeoutMs: 60_000, hint: 'check the source, or point AUTOPKGTEST_URL / AUTOPKGTEST_STAGING_URL at it' };
    const bases = INSTANCES.map((i) => ({ ...i, base: baseUrl(this.env, i.variable, i.url).href }));
    const results = await Promise.allSettled(
      bases.flatMap(({ instance, base }) => [
        this.fetchJson(new URL(QUEUE_SIZE_PATH, base).href, opts).then((d) =>
          queueSizePoints(d, instance, new URL(QUEUE_SIZE_PATH, base).href),
        ),
        this.fetchJson(new URL(RUNNING_PATH, base).href, opts).then((d) => runningPoints(d, instance, new URL(RUNNING_PATH, base).href)),
      ]),
    );
    // the original's order: the queue sizes of every instance, then the running tests of every instance
    const order = [0, 2, 1, 3];
    const points: PointObject[] = [];
    const failures: string[] = [];
    for (const i of order) {
      const r = results[i]!;
      if (r.status === 'fulfilled') points.push(...r.value);
      else failures.push(errorMessage(r.reason));
    }
    if (failures.length > 0) {
      for (const p of points) await this.emit(p);
      throw new CollectorError(failures.join('; '));
    }
    return points;
  }
}
