/**
 * Events as points: measurement = the event name; time = its timestamp; nested objects
 * flattened with `_`; the strings are tags (or exactly the class's `tagFields`), the rest fields,
 * integers as integers (the full rule is in event.ts). Also the timestamp conversions.
 *
 * It reads an event and its class through the small interfaces below (an `Event` of event.ts
 * has them), so that event.ts can use it without a cycle.
 */
import type { z } from 'zod';
import { int, type FieldValue, type PointObject } from '../points/point.js';
import { schemaInfo } from './schema.js';

/** What the point rule reads of an event class (an EventClass of event.ts). */
export interface EventSchemaClass {
  readonly name: string;
  readonly fields: z.ZodObject;
  readonly tagFields?: readonly string[];
}

/** What the point rule reads of an event (an Event of event.ts). */
export interface PointableEvent {
  readonly event: string;
  readonly timestamp: number;
  toJSON(): Record<string, unknown>;
}

/** A dotted path as a point name: `status_info.code` → `status_info_code`. */
export function flatName(path: string): string {
  return path.replaceAll('.', '_');
}

/** The paths of the fields that become tags: the class's `tagFields`, else its strings. */
export function tagPaths(cls: EventSchemaClass): Set<string> {
  const i = schemaInfo(cls.fields);
  if (cls.tagFields === undefined) return i.stringPaths;
  const byFlat = new Map([...i.stringPaths].map((p) => [flatName(p), p]));
  const out = new Set<string>();
  for (const t of cls.tagFields) {
    const p = byFlat.get(t) ?? (i.stringPaths.has(t) ? t : undefined);
    if (!p) {
      throw new TypeError(
        `${cls.name}.tagFields names "${t}", which is not a string field of the event (its string fields: ` +
          `${[...byFlat.keys()].join(', ') || 'none'})`,
      );
    }
    out.add(p);
  }
  return out;
}

/**
 * The event as an InfluxDB point: measurement = event name, tags = its string values (or the
 * class's `tagFields`), fields = the rest (integers as integers), time = its timestamp; nested
 * objects flattened with `_`. See the module comment of event.ts for the full rule.
 */
export function eventToPoint(event: PointableEvent): PointObject {
  const cls = event.constructor as unknown as EventSchemaClass;
  const i = schemaInfo(cls.fields);
  const tagSet = tagPaths(cls);
  const tags: Record<string, string> = {};
  const fields: Record<string, FieldValue> = {};
  const visit = (value: unknown, path: string): void => {
    if (value === undefined || value === null) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, path ? `${path}.${k}` : k);
      return;
    }
    const name = flatName(path);
    if (typeof value === 'string') {
      if (tagSet.has(path)) {
        if (value !== '') tags[name] = value;
      } else fields[name] = value;
    } else if (typeof value === 'number') {
      fields[name] = i.integerPaths.has(path) && Number.isSafeInteger(value) ? int(value) : value;
    } else if (typeof value === 'boolean' || typeof value === 'bigint') {
      fields[name] = value;
    } else {
      fields[name] = JSON.stringify(value);
    }
  };
  const json = event.toJSON();
  for (const key of Object.keys(cls.fields.shape)) visit(json[key], key);
  if (Object.keys(fields).length === 0) fields.count = int(1);
  return { measurement: event.event, tags, fields, time: timestampToTime(event.timestamp) };
}

/** UNIX seconds (float) → point time: nanoseconds as a bigint (microsecond precision). */
export function timestampToTime(seconds: number): bigint | Date {
  const micros = Math.round(seconds * 1e6);
  // points/point.ts takes bigint nanoseconds from 1973 on; earlier (odd, but valid) times as a Date
  if (micros < 1e14) return new Date(micros / 1000);
  return BigInt(micros) * 1000n;
}

/** UNIX seconds (float) → nanoseconds as a decimal string (Loki's timestamp format). */
export function timestampToNanoString(seconds: number): string {
  return (BigInt(Math.round(seconds * 1e6)) * 1000n).toString();
}
