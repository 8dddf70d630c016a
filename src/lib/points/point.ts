/**
 * points/: the point model and its line protocol. What a collector returns, how it is validated,
 * stamped and turned into line protocol (line-protocol.ts). Imports only platform/.
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
 */

/**
 * An integer field value, written as an InfluxDB integer (`42i`): made by `int(3)`,
 * `int('9007199254740993')` or `int(3n)`. A plain JS number is always written as a float.
 */
export class Integer {
  constructor(readonly value: bigint | number) {}
  toString(): string {
    return String(this.value);
  }
}

/**
 * Asks for an integer field: `int(42)`, `int(42n)`, or a decimal string for values beyond 2^53
 * (`int('9007199254740993')`). A number that is not a safe integer, or a string that is not a
 * whole decimal number, fails the point when it is validated.
 */
export function int(value: number | bigint | string): Integer {
  if (typeof value === 'string') {
    if (!/^-?\d+$/.test(value.trim())) return new Integer(Number.NaN);
    return new Integer(BigInt(value.trim()));
  }
  return new Integer(value);
}

/**
 * A field value: a number (always a float), an integer (`int()` or a bigint), a boolean or a
 * string. NaN and Infinity are refused.
 */
export type FieldValue = number | bigint | boolean | string | Integer;

/**
 * A point's time: a number is milliseconds since the epoch (`Date.now()`), a bigint nanoseconds,
 * a Date or an RFC 3339 string as it is. A number that looks like seconds or like micro- or
 * nanoseconds is refused rather than guessed.
 */
export type TimeValue = Date | number | bigint | string;

/**
 * The seed-style point: `{ measurement, tags?, fields, time? }`. Tag values are non-empty strings
 * (an undefined tag is left out); a field that is `undefined` or `null` is left out, and at least
 * one field must remain. Without a time the point gets the collection time of the run.
 */
export interface PointObject {
  measurement: string;
  tags?: Record<string, string | undefined>;
  fields: Record<string, FieldValue | undefined | null>;
  time?: TimeValue;
}

/** The parts of `@influxdata/influxdb-client`'s Point that we read (its fields are already escaped values). */
export interface ClientPointShape {
  name?: string;
  tags: Record<string, string>;
  fields: Record<string, string>;
  time?: string | number | Date;
  toLineProtocol: (...args: unknown[]) => unknown;
}

/** What a collector may hand over as a point: a PointObject or a `Point` of `@influxdata/influxdb-client`. */
export type CollectedPoint = PointObject | ClientPointShape | object;

export function isClientPoint(p: unknown): p is ClientPointShape {
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof (p as ClientPointShape).toLineProtocol === 'function' &&
    typeof (p as ClientPointShape).fields === 'object'
  );
}

/** the range of an InfluxDB integer field */
export const MAX_INT64 = 9223372036854775807n;
export const MIN_INT64 = -9223372036854775808n;
/** 1973-03-03 in ms; smaller positive numbers are seconds, not milliseconds */
export const MIN_MS = 1e11;
/** year 5138 in ms; larger numbers are micro- or nanoseconds */
export const MAX_MS = 1e14;
const MIN_NS = 100_000_000_000_000_000n;
const MAX_NS = 9_223_372_036_854_775_806n;

/** Milliseconds (number), nanoseconds (bigint), Date or RFC 3339 string → nanoseconds as a string. */
export function toNanos(time: TimeValue, problem: (msg: string) => never): string {
  if (typeof time === 'number') {
    if (!Number.isFinite(time)) problem(`time ${time} is not a finite number`);
    if (time < MIN_MS && time > -MIN_MS) {
      problem(`time ${time} looks like seconds, but a plain-number time is milliseconds since the epoch: multiply by 1000 or pass a Date`);
    }
    if (time >= MAX_MS || time <= -MAX_MS) {
      problem(
        `time ${time} looks like micro- or nanoseconds, but a plain-number time is milliseconds since the epoch: pass nanoseconds as ` +
          `a bigint`,
      );
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
    return ms === 0 ? '0' : ms + '000000'; // a Date holds whole milliseconds
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

/** Nanoseconds since the epoch, now, at millisecond resolution. */
export function nowNanos(): string {
  return `${Date.now()}000000`;
}
