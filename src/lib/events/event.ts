/**
 * events/: typed metric events: the model (this module), their description (schema.ts,
 * describe.ts, issues.ts), the registry (registry.ts), the command line's coercion (coerce.ts),
 * events as points (to-point.ts), and where they go: the sinks (sinks.ts: the metrics log,
 * Promtail, InfluxDB) and logrotate for the metrics log. It imports platform/, points/ and (the
 * InfluxDB sink, lazily) delivery/; zod is loaded only by what imports events/.
 *
 * Metric events: typed, validated records of something that happened (a runner was installed, a
 * reconciliation finished). An event goes to the event sinks (sinks.ts: a JSON-lines metrics log,
 * Promtail, InfluxDB) and can become an InfluxDB point (`eventToPoint`, to-point.ts).
 *
 * Defining an event: the fields are a zod shape; the class name gives the event name.
 *
 *     import { z } from 'zod';
 *     import { defineEvent, registerEvent } from '../../lib/sdk/events.js';
 *
 *     export class RunnerInstalled extends defineEvent({
 *       flavor: z.string(),
 *       duration: z.number().nonnegative().describe('seconds'),
 *     }) {
 *       static override description = 'A runner was installed.';
 *     }
 *     registerEvent(RunnerInstalled);     // known to `metrics event` and parseEvent() (registry.ts)
 *
 *     const e = new RunnerInstalled({ flavor: 'small', duration: 12.5 });
 *     e.timestamp  // UNIX seconds (float), now unless given
 *     e.event      // 'runner_installed'
 *     JSON.stringify(e) // {"timestamp":…,"event":"runner_installed","flavor":"small","duration":12.5}
 *
 * Rules
 * - `timestamp`: UNIX time in seconds, a non-negative float; default: now.
 * - `event`: the name; default: the class name in snake case exactly as the Python reference does
 *   (`re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()`): every capital A–Z after the first character
 *   gets a `_` before it, then all is lower-cased (`RunnerInstalled` → `runner_installed`,
 *   `HTTPError` → `h_t_t_p_error`). A class may set `static eventName` instead.
 * - Construction validates against the shape (plus `timestamp` and `event`). Unknown fields are
 *   an error (a typo in a shell script must not vanish). Failures throw `EventValidationError`
 *   naming the class, every bad field (dotted path) and the problem. Use `z.strictObject` for
 *   nested objects so that unknown nested keys are errors too.
 * - `toJSON()` leaves absent optional fields out (as the reference's `exclude_none`).
 * - Do not redeclare the fields as class properties in the subclass: with ES2022 class fields a
 *   declaration without `declare` would overwrite the validated value with `undefined`. Their
 *   types come from the shape.
 *
 * Events as points (`eventToPoint`): measurement = event name; time = the event's timestamp;
 * nested objects are flattened with `_` (`status_info.code` → `status_info_code`); then
 * - **tags**: the string values (strings and string enums), unless the class lists its tags in
 *   `static tagFields` (flattened names): then exactly those, and its other strings are string
 *   fields. Strings are the dimensions events are grouped by (flavor, repo, workflow, status…);
 *   a class with a free-text or unique string (an error message, a run id) must declare
 *   `tagFields` so that the string does not become a high-cardinality tag. An empty string is
 *   left out (InfluxDB has no empty tag values).
 * - **fields**: numbers are floats, except those the schema declares integer (`z.int()`,
 *   `.int()`), which are written as integers; booleans are booleans; arrays are JSON strings. An
 *   event without any numeric or boolean value gets the field `count=1i` (a point needs a field).
 */
import { z } from 'zod';
import { CollectorError } from '../platform/errors.js';
import type { PointObject } from '../points/point.js';
import { describeIssue, describeValue, type EventIssue } from './issues.js';
import { schemaInfo } from './schema.js';
import { eventToPoint } from './to-point.js';

// ---------------------------------------------------------------------------------------------
// Errors

/** An event's data does not match its schema. A collector that builds such an event fails. */
export class EventValidationError extends CollectorError {
  override name = 'EventValidationError';
  constructor(
    message: string,
    /** the event class name, e.g. `RunnerInstalled` */
    readonly eventClass: string,
    readonly issues: EventIssue[],
  ) {
    super(message);
  }
}

/** An event could not be issued to a sink (metrics log, Promtail, InfluxDB). */
export class IssueMetricEventError extends CollectorError {
  override name = 'IssueMetricEventError';
  constructor(
    message: string,
    /** which sink failed: `log`, `promtail`, `influx`; undefined when several did */
    readonly sink?: string,
    /** where: the log path or the URL (without credentials) */
    readonly target?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Names

/** The reference's rule: `re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()`. */
export function snakeCaseName(className: string): string {
  return className.replace(/(?<!^)(?=[A-Z])/g, '_').toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// The Event base class

/** A zod shape: field name → schema. */
export type EventShape = Record<string, z.ZodType>;

const timestampSchema = z.number().nonnegative();
const eventNameSchema = z.string().min(1);

/**
 * The base of every metric event: a validated record with a UNIX `timestamp` (seconds) and an
 * `event` name. Do not extend it directly: extend `defineEvent({...shape})` (see the module comment).
 */
export abstract class Event {
  /** the fields' schema (without `timestamp` and `event`); set by `defineEvent()` */
  static readonly fields: z.ZodObject = z.strictObject({});
  /** the event name, when it is not the class name in snake case (applies to this class only) */
  static readonly eventName?: string;
  /** one line for `metrics event --list` and the docs */
  static readonly description?: string;
  /** flattened names of the fields that become tags (see the module comment); default: the strings */
  static readonly tagFields?: readonly string[];

  /** UNIX time in seconds */
  readonly timestamp: number;
  /** the event name */
  readonly event: string;

  constructor(data: object = {}) {
    const cls = new.target as unknown as EventClass;
    if (!Object.hasOwn(cls, 'fields') && cls.fields === Event.fields) {
      throw new TypeError(`event class ${cls.name} has no fields: derive it from defineEvent({...})`);
    }
    const parsed = validate(cls, data);
    const { timestamp, event, ...fields } = parsed;
    this.timestamp = (timestamp as number | undefined) ?? Date.now() / 1000;
    this.event = (event as string | undefined) ?? eventNameOf(cls);
    Object.assign(this, fields);
  }

  /** The JSON object: `timestamp`, `event`, then the fields in schema order; absent ones left out. */
  toJSON(): Record<string, unknown> {
    const cls = this.constructor as EventClass;
    const out: Record<string, unknown> = { timestamp: this.timestamp, event: this.event };
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(cls.fields.shape)) {
      const v = dropUndefined(self[key]);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }

  /** One JSON line, without the newline. */
  toLine(): string {
    return JSON.stringify(this);
  }

  /** The event as an InfluxDB point (see `eventToPoint`, to-point.ts). */
  toPoint(): PointObject {
    return eventToPoint(this);
  }
}

/** An alias, for code where the global DOM-style `Event` would be confusing. */
export { Event as MetricEvent };

/** What a concrete event class looks like to the registry and the sinks. */
export interface EventClass<E extends Event = Event> {
  // Each class takes its own typed input, and the registry and the CLI construct it from data its
  // constructor validates at run time: only `any` lets every event class fit here and still be constructed.
  // biome-ignore lint/suspicious/noExplicitAny: every event class, whatever its input type, fits (see above)
  new (data: any): E;
  readonly name: string;
  readonly fields: z.ZodObject;
  readonly eventName?: string;
  readonly description?: string;
  readonly tagFields?: readonly string[];
}

/** The data a constructor takes: the shape's input, plus optional `timestamp` and `event`. */
export type EventInput<S extends EventShape> = z.input<z.ZodObject<S>> & { timestamp?: number; event?: string };

/** The class `defineEvent(shape)` returns: constructed from the shape's input, with its fields typed. */
export type DefinedEventClass<S extends EventShape> = {
  new (data: EventInput<S>): Event & z.output<z.ZodObject<S>>;
  readonly fields: z.ZodObject<S>;
} & Omit<typeof Event, 'prototype' | 'fields'>;

const RESERVED = new Set(['timestamp', 'event', 'toJSON', 'toLine', 'toPoint', 'constructor']);

/**
 * The base class of a concrete event: `class RunnerStart extends defineEvent({...}) {}`. The
 * instance gets the shape's (typed) fields; the class name gives the event name.
 */
export function defineEvent<S extends EventShape>(shape: S): DefinedEventClass<S> {
  for (const key of Object.keys(shape)) {
    if (RESERVED.has(key)) throw new TypeError(`defineEvent: "${key}" is reserved and cannot be an event field`);
    if (!(shape[key] instanceof z.ZodType)) throw new TypeError(`defineEvent: field "${key}" is not a zod schema`);
  }
  const fields = z.strictObject(shape);
  abstract class DefinedEvent extends Event {
    static override readonly fields = fields;
  }
  return DefinedEvent as unknown as DefinedEventClass<S>;
}

/** The event name of a class: its own `eventName`, else its class name in snake case. */
export function eventNameOf(cls: EventClass): string {
  if (Object.hasOwn(cls, 'eventName') && cls.eventName) return cls.eventName;
  return snakeCaseName(cls.name);
}

function dropUndefined(v: unknown): unknown {
  if (v === undefined || v === null || typeof v !== 'object' || Array.isArray(v)) return v === null ? undefined : v;
  const out: Record<string, unknown> = {};
  for (const [k, inner] of Object.entries(v)) {
    const d = dropUndefined(inner);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation

const fullSchemas = new WeakMap<object, z.ZodObject>();

/** The class's fields plus the optional `timestamp` and `event`; the shape is described (schema.ts) at the same time. */
function fullSchema(cls: EventClass): z.ZodObject {
  let full = fullSchemas.get(cls);
  if (!full) {
    schemaInfo(cls.fields);
    full = cls.fields.extend({ timestamp: timestampSchema.optional(), event: eventNameSchema.optional() });
    fullSchemas.set(cls, full);
  }
  return full;
}

function validate(cls: EventClass, data: object): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new EventValidationError(
      `invalid ${cls.name} event: its data must be an object of fields, got ${describeValue(data)}`,
      cls.name,
      [{ path: '', problem: 'not an object' }],
    );
  }
  const result = fullSchema(cls).safeParse(data, { reportInput: true });
  if (result.success) return result.data as Record<string, unknown>;
  const issues = result.error.issues.flatMap((issue) => describeIssue(cls.name, schemaInfo(cls.fields), issue));
  const text = issues.map((i) => (i.path ? `field "${i.path}" ${i.problem}` : i.problem)).join('; ');
  throw new EventValidationError(`invalid ${cls.name} event (${eventNameOf(cls)}): ${text}`, cls.name, issues);
}

/** Events named for a message: `event "runner_stop"`, or `3 events (runner_start, runner_stop)`. */
export function eventLabel(events: readonly Event[]): string {
  const set = [...new Set(events.map((e) => e.event))];
  if (events.length === 1) return `event "${set[0]}"`;
  return `${events.length} events (${set.join(', ')})`;
}
