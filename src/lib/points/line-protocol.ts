/**
 * Line protocol: validating a point and writing it as one line, as the InfluxDB line-protocol
 * reference says, and the readable one-line view of a dry-run.
 *
 * Escaping: measurement `,` and space; tag keys, tag values and field keys `,` `=` and space;
 * string field values `"` and `\`. Newlines cannot be represented in names or tag values and are
 * rejected, as is a trailing backslash (it would escape the separator that follows it).
 */
import { PointError } from '../platform/errors.js';
import {
  Integer,
  MAX_INT64,
  MAX_MS,
  MIN_INT64,
  MIN_MS,
  isClientPoint,
  nowNanos,
  toNanos,
  type ClientPointShape,
  type CollectedPoint,
  type PointObject,
  type TimeValue,
} from './point.js';

const NEEDS_MEASUREMENT_ESCAPE = /[, ]/;
const NEEDS_TAG_ESCAPE = /[,= ]/;
const BAD_NAME = /[\n\r]|\\$/;
/** `000000000` .. `999000000`: the last 3 digits of a millisecond time, as nanoseconds */
const MS_TAIL: string[] = Array.from({ length: 1000 }, (_, k) => String(k).padStart(3, '0') + '000000');
/** `000i` .. `999i`: the last 3 digits of an integer field */
const INT_TAIL: string[] = Array.from({ length: 1000 }, (_, k) => String(k).padStart(3, '0') + 'i');

export function escapeMeasurement(s: string): string {
  return NEEDS_MEASUREMENT_ESCAPE.test(s) ? s.replace(/([, ])/g, '\\$1') : s;
}
export function escapeTag(s: string): string {
  return NEEDS_TAG_ESCAPE.test(s) ? s.replace(/([,= ])/g, '\\$1') : s;
}
export function escapeStringField(s: string): string {
  return s.replace(/(["\\])/g, '\\$1');
}

/**
 * Validates and serializes points to line protocol. One instance per collector run; `measurement`
 * holds the measurement of the point serialized last (so callers can count without re-parsing).
 */
export class Serializer {
  measurement = '';
  private index = 0;

  constructor(
    /** collector name, for error messages */
    readonly collector: string,
    /** nanoseconds, given to every point without a time */
    readonly defaultTime: string,
  ) {}

  private fail(measurement: string | undefined, message: string): never {
    const m = measurement === undefined ? '' : ` (measurement "${measurement}")`;
    throw new PointError(`collector "${this.collector}": point #${this.index}${m}: ${message}`);
  }

  private checkName(kind: string, name: string, measurement: string): void {
    if (name.length === 0) this.fail(measurement, `${kind} is empty`);
    if (BAD_NAME.test(name)) {
      this.fail(
        measurement,
        `${kind} ${JSON.stringify(name)} contains a newline or ends with a backslash, which line protocol cannot carry`,
      );
    }
  }

  // Names and tag values repeat from point to point: each distinct one is checked and escaped once.
  private readonly measurementCache = new Map<string, string>();
  private readonly keyCache = new Map<string, string>();
  private readonly tagValueCache = new Map<string, string>();

  private cached(cache: Map<string, string>, value: string, make: () => string): string {
    let out = cache.get(value);
    if (out === undefined) {
      out = make();
      if (cache.size >= 10_000) cache.clear();
      cache.set(value, out);
    }
    return out;
  }

  private escapedKey(kind: string, k: string, measurement: string): string {
    return this.cached(this.keyCache, k, () => {
      this.checkName(kind, k, measurement);
      return escapeTag(k);
    });
  }

  /**
   * The line of one point. The common case (a seed-style point whose names, tag keys and tag values
   * were all seen before, plain field values, a millisecond time) takes {@link Serializer.fast}: one
   * pass, no intermediate arrays or closures, names found by position; anything else, and every
   * first sight of a name, takes the full path, which validates and fills the caches.
   */
  serialize(p: unknown): string {
    this.index++;
    if (typeof p === 'object' && p !== null) {
      const line = this.fast(p as PointObject);
      if (line !== undefined) return line;
    }
    return this.full(p);
  }

  // the fast path's memory: the last measurement, and the tag and field keys by position
  private lastMeasurement: string | undefined;
  private lastMeasurementEscaped = '';
  private readonly tagSlotKeys: string[] = [];
  /** `,<escaped key>=` */
  private readonly tagSlotPrefixes: string[] = [];
  /** the tag key's values seen, each with its whole `,<escaped key>=<escaped value>` */
  private readonly tagSlotSegments: Map<string, string>[] = [];
  /** those maps by tag key, so that points of different shapes do not empty each other's */
  private readonly tagSegments = new Map<string, Map<string, string>>();
  private readonly fieldSlotKeys: string[] = [];
  /** ` <escaped key>=` for the first field, `,<escaped key>=` for the others */
  private readonly fieldSlotPrefixes: string[] = [];
  /** for an int() field: its last value's thousands (a multiple of 1000), and prefix + it / 1000 */
  private readonly fieldSlotIntHigh: number[] = [];
  private readonly fieldSlotIntHighStrings: string[] = [];
  /** the last millisecond time's thousands (a multiple of 1000), and ' ' + it / 1000 */
  private lastTimeHigh = -1;
  private lastTimeHighString = '';

  /**
   * The line of a point made only of what was validated before, or undefined: then the full path
   * decides (and fails with its message). It has no effect but filling the position caches, so
   * it cannot let through anything the full path would refuse.
   */
  private fast(point: PointObject): string | undefined {
    const measurement = point.measurement;
    if (typeof measurement !== 'string' || typeof (point as { toLineProtocol?: unknown }).toLineProtocol === 'function') return undefined;
    let line: string;
    if (measurement === this.lastMeasurement) {
      line = this.lastMeasurementEscaped;
    } else {
      const escaped = this.measurementCache.get(measurement);
      if (escaped === undefined) return undefined;
      this.lastMeasurement = measurement;
      this.lastMeasurementEscaped = escaped;
      line = escaped;
    }

    const tags = point.tags;
    if (tags !== undefined && tags !== null) {
      // for..in would also list inherited keys, which the full path (Object.keys) leaves out
      if (typeof tags !== 'object' || Object.getPrototypeOf(tags) !== Object.prototype) return undefined;
      let i = 0;
      let previous = '';
      for (const k in tags) {
        if (k < previous) return undefined; // not sorted: the full path sorts
        previous = k;
        const v = tags[k];
        if (v === undefined) continue;
        if (typeof v !== 'string') return undefined;
        if (this.tagSlotKeys[i] !== k) {
          const ek = this.keyCache.get(k);
          if (ek === undefined) return undefined;
          let segments = this.tagSegments.get(k);
          if (segments === undefined) {
            if (this.tagSegments.size >= 1000) this.tagSegments.clear();
            segments = new Map();
            this.tagSegments.set(k, segments);
          }
          this.tagSlotKeys[i] = k;
          this.tagSlotPrefixes[i] = ',' + ek + '=';
          this.tagSlotSegments[i] = segments;
        }
        const segments = this.tagSlotSegments[i]!;
        let segment = segments.get(v);
        if (segment === undefined) {
          const ev = this.tagValueCache.get(v);
          if (ev === undefined) return undefined;
          segment = this.tagSlotPrefixes[i]! + ev;
          if (segments.size >= 10_000) segments.clear();
          segments.set(v, segment);
        }
        line += segment;
        i++;
      }
    }

    const fields = point.fields;
    if (typeof fields !== 'object' || fields === null) return undefined;
    const series = line;
    let j = 0;
    for (const k in fields) {
      const v = fields[k];
      if (v === undefined || v === null) continue;
      let prefix: string;
      if (this.fieldSlotKeys[j] === k) {
        prefix = this.fieldSlotPrefixes[j]!;
      } else {
        const ek = this.keyCache.get(k);
        if (ek === undefined) return undefined;
        prefix = (j === 0 ? ' ' : ',') + ek + '=';
        this.fieldSlotKeys[j] = k;
        this.fieldSlotPrefixes[j] = prefix;
        this.fieldSlotIntHigh[j] = -1;
      }
      switch (typeof v) {
        case 'number':
          if (v - v !== 0) return undefined; // NaN, ±Infinity
          line += prefix + v;
          break;
        case 'string':
          line += prefix + '"' + (v.indexOf('"') < 0 && v.indexOf('\\') < 0 ? v : escapeStringField(v)) + '"';
          break;
        case 'boolean':
          line += prefix + (v ? 'true' : 'false');
          break;
        case 'object':
          if (v instanceof Integer) {
            const n = v.value;
            if (typeof n !== 'number' || !Number.isSafeInteger(n)) return undefined;
            if (n >= 1000) {
              // counters: the thousands are those of this field's last value most of the time
              const low = n % 1000;
              const high = n - low;
              if (high !== this.fieldSlotIntHigh[j]) {
                this.fieldSlotIntHigh[j] = high;
                this.fieldSlotIntHighStrings[j] = prefix + high / 1000;
              }
              line += this.fieldSlotIntHighStrings[j]! + INT_TAIL[low]!;
            } else {
              line += prefix + n + 'i';
            }
            break;
          }
          return undefined;
        default:
          return undefined;
      }
      j++;
    }
    if (j === 0) return undefined;

    const t = point.time;
    if (typeof t === 'number' && Number.isInteger(t) && t >= MIN_MS && t < MAX_MS) {
      // ' ' + t + '000000' without converting the whole 12-14 digit number (a double, slow to
      // print) each time: its thousands change once per 1000 ms, and its last 3 digits come from a table
      const low = t % 1000;
      const high = t - low;
      if (high !== this.lastTimeHigh) {
        this.lastTimeHigh = high;
        this.lastTimeHighString = ' ' + high / 1000;
      }
      line += this.lastTimeHighString + MS_TAIL[low]!;
    } else if (t === undefined || t === null) {
      this.noteDefaultTime(series);
      line += ' ' + this.defaultTime;
    } else {
      line += ' ' + this.time(measurement, t);
    }
    this.measurement = measurement;
    return line;
  }

  private full(p: unknown): string {
    if (isClientPoint(p)) return this.serializeClientPoint(p);
    if (typeof p !== 'object' || p === null) {
      this.fail(
        undefined,
        `expected a point object { measurement, tags?, fields, time? } or a Point, got ${p === null ? 'null' : typeof p}`,
      );
    }
    const point = p as PointObject;
    const measurement = point.measurement;
    if (typeof measurement !== 'string' || measurement.length === 0) {
      this.fail(undefined, `measurement must be a non-empty string, got ${JSON.stringify(measurement)}`);
    }
    let line = this.cached(this.measurementCache, measurement, () => {
      this.checkName('measurement', measurement, measurement);
      if (measurement.startsWith('#')) this.fail(measurement, 'measurement must not start with "#" (a comment in line protocol)');
      return escapeMeasurement(measurement);
    });

    const tags = point.tags;
    if (tags !== undefined && tags !== null) {
      if (typeof tags !== 'object') this.fail(measurement, 'tags must be an object of strings');
      const keys = Object.keys(tags);
      // InfluxDB wants tags sorted by key; most collectors already write them in order
      for (let i = 1; i < keys.length; i++) {
        if (keys[i - 1]! > keys[i]!) {
          keys.sort();
          break;
        }
      }
      for (const k of keys) {
        const v = tags[k];
        if (v === undefined) continue;
        if (typeof v !== 'string')
          this.fail(measurement, `tag "${k}" must be a string, got ${typeof v}: convert it with String() or make it a field`);
        const ek = this.escapedKey('tag key', k, measurement);
        if (v.length === 0) this.fail(measurement, `tag "${k}" has an empty value: leave the tag out instead`);
        const ev = this.cached(this.tagValueCache, v, () => {
          this.checkName(`tag "${k}" value`, v, measurement);
          return escapeTag(v);
        });
        line += ',' + ek + '=' + ev;
      }
    }

    const fields = point.fields;
    if (typeof fields !== 'object' || fields === null) this.fail(measurement, 'fields must be an object with at least one field');
    const series = line;
    let sep = ' ';
    for (const k in fields) {
      const v = fields[k];
      if (v === undefined || v === null) continue;
      line += sep + this.escapedKey('field key', k, measurement) + '=' + this.fieldValue(measurement, k, v);
      sep = ',';
    }
    if (sep === ' ') this.fail(measurement, 'no fields: a point needs at least one field with a value');

    const t = point.time;
    if (t === undefined || t === null) {
      this.noteDefaultTime(series);
      line += ' ' + this.defaultTime;
    } else {
      line += ' ' + (typeof t === 'number' && Number.isInteger(t) && t >= MIN_MS && t < MAX_MS ? t + '000000' : this.time(measurement, t));
    }
    this.measurement = measurement;
    return line;
  }

  /** Series (measurement and tags) of the points that got the collection time. */
  private readonly defaultTimed = new Set<string>();
  /** Points that share their series and the collection time with an earlier point of this run. */
  collisions = 0;
  /** A few of those series, for the warning. */
  readonly collidedSeries: string[] = [];

  /**
   * Two points of one series with the same time are one point in InfluxDB (the later one wins,
   * field by field). Points without a time all get the collection time, so a collector that
   * returns several readings of a series without times would lose all but one: count it, so the
   * run can say so loudly. (Checked for up to 100 000 series per run.)
   */
  private noteDefaultTime(series: string): void {
    if (this.defaultTimed.has(series)) {
      this.collisions++;
      if (this.collidedSeries.length < 3 && !this.collidedSeries.includes(series)) this.collidedSeries.push(series);
    } else if (this.defaultTimed.size < 100_000) {
      this.defaultTimed.add(series);
    }
  }

  private time(measurement: string, t: TimeValue): string {
    return toNanos(t, (msg) => this.fail(measurement, msg));
  }

  private fieldValue(measurement: string, key: string, v: unknown): string {
    switch (typeof v) {
      case 'number':
        if (!Number.isFinite(v)) this.fail(measurement, `field "${key}" is ${v}: InfluxDB accepts only finite numbers`);
        return String(v);
      case 'string':
        return '"' + escapeStringField(v) + '"';
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        if (v > MAX_INT64 || v < MIN_INT64) this.fail(measurement, `field "${key}" integer ${v} is outside the 64-bit range`);
        return v + 'i';
      case 'object':
        if (v instanceof Integer) {
          const n = v.value;
          if (typeof n === 'bigint') return this.fieldValue(measurement, key, n);
          if (!Number.isSafeInteger(n)) {
            this.fail(
              measurement,
              `field "${key}" was given to int() as ${n}, which is not a safe integer: ` +
                'round it first, or pass a bigint or a decimal string',
            );
          }
          return n + 'i';
        }
    }
    return this.fail(
      measurement,
      `field "${key}" has the wrong type (${v instanceof Date ? 'Date' : typeof v}): use a number (float), int()/bigint (integer), ` +
        `boolean or string`,
    );
  }

  private serializeClientPoint(p: ClientPointShape): string {
    const measurement = p.name;
    if (typeof measurement !== 'string' || measurement.length === 0) this.fail(undefined, 'Point has no measurement name');
    this.checkName('measurement', measurement, measurement);
    let line = escapeMeasurement(measurement);
    const keys = Object.keys(p.tags ?? {}).sort();
    for (const k of keys) {
      const v = p.tags[k];
      this.checkName('tag key', k, measurement);
      if (v === '' || v === undefined) this.fail(measurement, `tag "${k}" has an empty value: leave the tag out instead`);
      this.checkName(`tag "${k}" value`, v, measurement);
      line += ',' + escapeTag(k) + '=' + escapeTag(v);
    }
    let sep = ' ';
    for (const k of Object.keys(p.fields).sort()) {
      this.checkName('field key', k, measurement);
      const v = p.fields[k]!;
      if (/^\d+u$/.test(v)) {
        this.fail(measurement, `field "${k}" is an unsigned integer (uintField): InfluxDB 1.x does not accept it; use intField()`);
      }
      line += sep + escapeTag(k) + '=' + v;
      sep = ',';
    }
    if (sep === ' ') this.fail(measurement, 'no fields: a point needs at least one field with a value');
    const t = p.time;
    line += ' ' + (t === undefined || t === '' ? this.defaultTime : this.time(measurement, t));
    this.measurement = measurement;
    return line;
  }
}

/** A readable one-line view of a point for `--dry-run` (not line protocol). */
export function describePoint(p: unknown, defaultTime: string): string {
  const fmtTime = (ns: string) => {
    const n = BigInt(ns);
    const ms = n / 1_000_000n;
    const iso = new Date(Number(ms)).toISOString();
    const sub = (n % 1_000_000n).toString().padStart(6, '0');
    return sub === '000000' ? iso : iso.replace('Z', '') + sub + 'Z';
  };
  const noFail = (msg: string): never => {
    throw new Error(msg);
  };
  if (isClientPoint(p)) {
    const tags = Object.entries(p.tags)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const fields = Object.entries(p.fields)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const t = p.time === undefined || p.time === '' ? defaultTime : toNanos(p.time, noFail);
    return `${p.name}${tags ? '  ' + tags : ''}  ${fields}  ${fmtTime(t)}`;
  }
  const point = p as PointObject;
  const tags = Object.entries(point.tags ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(' ');
  const fields = Object.entries(point.fields)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => {
      if (v instanceof Integer) return `${k}=${v.value}i`;
      if (typeof v === 'bigint') return `${k}=${v}i`;
      if (typeof v === 'string') return `${k}=${JSON.stringify(v)}`;
      return `${k}=${String(v)}`;
    })
    .join(' ');
  const t = point.time === undefined || point.time === null ? defaultTime : toNanos(point.time, noFail);
  return `${point.measurement}${tags ? '  ' + tags : ''}  ${fields}  ${fmtTime(t)}`;
}

/**
 * Checks points as a run does, without sending them (Metric.validatePoints): each is validated and
 * serialized in order, and the first invalid one throws a PointError naming the collector, its
 * position (#1 first), the measurement and the problem. An item with a `toPoint()` method (an
 * event) is checked as its point, asked for when its turn comes.
 */
export function validatePoints(items: Iterable<CollectedPoint | { toPoint(): CollectedPoint }>, collector: string): void {
  const serializer = new Serializer(collector, nowNanos());
  for (const item of items) serializer.serialize(hasToPoint(item) ? item.toPoint() : item);
}

function hasToPoint(item: unknown): item is { toPoint(): CollectedPoint } {
  return typeof item === 'object' && item !== null && typeof (item as { toPoint?: unknown }).toPoint === 'function';
}
