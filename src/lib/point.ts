/**
 * Points: what a collector returns, how it is validated, stamped and turned into line protocol.
 *
 * A collector may return two shapes, mixed freely:
 *  - the seed-style object `{ measurement, tags?, fields, time? }`;
 *  - a `Point` of `@influxdata/influxdb-client` (recognised by shape, so that a dry-run does not
 *    have to load the client).
 *
 * Field types. A JS `number` is always written as a float: InfluxDB rejects a field whose type
 * flips between integer and float, and a JS number cannot say which it is. Integers are asked
 * for explicitly with `int(42)` or a `bigint` (`42n`). Booleans and strings are written as such.
 * A field whose value is `undefined` or `null` is left out (nothing was measured); a point with no
 * field left is an error.
 *
 * Time. A plain-number `time` is **milliseconds since the UNIX epoch** (as `Date.now()`); a
 * `bigint` is nanoseconds; a `Date` or an RFC 3339 string (fractional seconds to the nanosecond)
 * is taken as it is. A number that is clearly in another unit (seconds, micro- or nanoseconds) is
 * rejected rather than guessed. A point without a time gets the collection time of the run, so a
 * re-send of the same batch overwrites instead of adding points.
 *
 * Escaping follows the InfluxDB line-protocol reference: measurement `,` and space; tag keys, tag
 * values and field keys `,` `=` and space; string field values `"` and `\`. Newlines cannot be
 * represented in names or tag values and are rejected, as is a trailing backslash (it would
 * escape the separator that follows it).
 */
import { PointError } from './errors.js';

/** An integer field value: `int(3)`, `int('9007199254740993')`, `int(3n)`. */
export class Integer {
  constructor(readonly value: bigint | number) {}
  toString(): string {
    return String(this.value);
  }
}

export function int(value: number | bigint | string): Integer {
  if (typeof value === 'string') {
    if (!/^-?\d+$/.test(value.trim())) return new Integer(Number.NaN);
    return new Integer(BigInt(value.trim()));
  }
  return new Integer(value);
}

export type FieldValue = number | bigint | boolean | string | Integer;
export type TimeValue = Date | number | bigint | string;

/** The seed-style point. */
export interface PointObject {
  measurement: string;
  tags?: Record<string, string | undefined>;
  fields: Record<string, FieldValue | undefined | null>;
  time?: TimeValue;
}

/** The parts of `@influxdata/influxdb-client`'s Point that we read (its fields are already escaped values). */
interface ClientPointShape {
  name?: string;
  tags: Record<string, string>;
  fields: Record<string, string>;
  time?: string | number | Date;
  toLineProtocol: (...args: unknown[]) => unknown;
}

export type CollectedPoint = PointObject | ClientPointShape | object;

export function isClientPoint(p: unknown): p is ClientPointShape {
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof (p as ClientPointShape).toLineProtocol === 'function' &&
    typeof (p as ClientPointShape).fields === 'object'
  );
}

const MAX_INT64 = 9223372036854775807n;
const MIN_INT64 = -9223372036854775808n;
/** 1973-03-03 in ms; smaller positive numbers are seconds, not milliseconds */
const MIN_MS = 1e11;
/** year 5138 in ms; larger numbers are micro- or nanoseconds */
const MAX_MS = 1e14;
const MIN_NS = 100_000_000_000_000_000n;
const MAX_NS = 9_223_372_036_854_775_806n;

const NEEDS_MEASUREMENT_ESCAPE = /[, ]/;
const NEEDS_TAG_ESCAPE = /[,= ]/;
const BAD_NAME = /[\n\r]|\\$/;

export function escapeMeasurement(s: string): string {
  return NEEDS_MEASUREMENT_ESCAPE.test(s) ? s.replace(/([, ])/g, '\\$1') : s;
}
export function escapeTag(s: string): string {
  return NEEDS_TAG_ESCAPE.test(s) ? s.replace(/([,= ])/g, '\\$1') : s;
}
export function escapeStringField(s: string): string {
  return s.replace(/(["\\])/g, '\\$1');
}

/** Milliseconds (number), nanoseconds (bigint), Date or RFC 3339 string → nanoseconds as a string. */
export function toNanos(time: TimeValue, problem: (msg: string) => never): string {
  if (typeof time === 'number') {
    if (!Number.isFinite(time)) problem(`time ${time} is not a finite number`);
    if (time < MIN_MS && time > -MIN_MS) {
      problem(`time ${time} looks like seconds, but a plain-number time is milliseconds since the epoch: multiply by 1000 or pass a Date`);
    }
    if (time >= MAX_MS || time <= -MAX_MS) {
      problem(`time ${time} looks like micro- or nanoseconds, but a plain-number time is milliseconds since the epoch: pass nanoseconds as a bigint`);
    }
    if (Number.isInteger(time)) return time === 0 ? '0' : `${time}000000`;
    const whole = Math.floor(time);
    const frac = Math.round((time - whole) * 1e6);
    return (BigInt(whole) * 1_000_000n + BigInt(frac)).toString();
  }
  if (typeof time === 'bigint') {
    if (time > MAX_NS || time < -MAX_NS) problem(`time ${time}n is out of InfluxDB's range`);
    if (time > 0n && time < MIN_NS) {
      problem(`time ${time}n looks like seconds, milliseconds or microseconds, but a bigint time is nanoseconds since the epoch`);
    }
    return time.toString();
  }
  if (time instanceof Date) {
    const ms = time.getTime();
    if (Number.isNaN(ms)) problem('time is an invalid Date');
    return ms === 0 ? '0' : (BigInt(ms) * 1_000_000n).toString();
  }
  if (typeof time === 'string') {
    if (/^-?\d+$/.test(time)) return toNanos(BigInt(time), problem);
    const m = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/.exec(time);
    const ms = m ? Date.parse(m[1] + m[3]) : Number.NaN;
    if (!m || Number.isNaN(ms)) problem(`time "${time}" is not an RFC 3339 date (e.g. 2026-01-31T12:00:00Z)`);
    const frac = (m![2] ?? '').padEnd(9, '0');
    return (BigInt(ms) * 1_000_000n + BigInt(frac)).toString();
  }
  return problem(`time has the wrong type (${typeof time}): use a Date, milliseconds as a number, or nanoseconds as a bigint`);
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
      this.fail(measurement, `${kind} ${JSON.stringify(name)} contains a newline or ends with a backslash, which line protocol cannot carry`);
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

  serialize(p: unknown): string {
    this.index++;
    if (isClientPoint(p)) return this.serializeClientPoint(p);
    if (typeof p !== 'object' || p === null) {
      this.fail(undefined, `expected a point object { measurement, tags?, fields, time? } or a Point, got ${p === null ? 'null' : typeof p}`);
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
        if (typeof v !== 'string') this.fail(measurement, `tag "${k}" must be a string, got ${typeof v}: convert it with String() or make it a field`);
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
            this.fail(measurement, `field "${key}" was given to int() as ${n}, which is not a safe integer: round it first, or pass a bigint or a decimal string`);
          }
          return n + 'i';
        }
    }
    return this.fail(
      measurement,
      `field "${key}" has the wrong type (${v instanceof Date ? 'Date' : typeof v}): use a number (float), int()/bigint (integer), boolean or string`,
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
    const tags = Object.entries(p.tags).map(([k, v]) => `${k}=${v}`).join(' ');
    const fields = Object.entries(p.fields).map(([k, v]) => `${k}=${v}`).join(' ');
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

/** Nanoseconds since the epoch, now, at millisecond resolution. */
export function nowNanos(): string {
  return `${Date.now()}000000`;
}
