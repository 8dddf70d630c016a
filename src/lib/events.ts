/**
 * Metric events: typed, validated records of something that happened (a runner was installed, a
 * reconciliation finished). An event goes to the event sinks (event-sinks.ts: a JSON-lines
 * metrics log, Promtail, InfluxDB) and can become an InfluxDB point (`eventToPoint`).
 *
 * Defining an event: the fields are a zod shape; the class name gives the event name.
 *
 *     import { z } from 'zod';
 *     import { defineEvent, registerEvent } from '../../lib/events.js';
 *
 *     export class RunnerInstalled extends defineEvent({
 *       flavor: z.string(),
 *       duration: z.number().nonnegative().describe('seconds'),
 *     }) {
 *       static override description = 'A runner was installed.';
 *     }
 *     registerEvent(RunnerInstalled);     // known to `metrics event` and parseEvent()
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
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CollectorError, errorMessage } from './platform/errors.js';
import { collectorsDir } from './platform/paths.js';
import { int, type FieldValue, type PointObject } from './points/point.js';

// ---------------------------------------------------------------------------------------------
// Errors

export interface EventIssue {
  /** dotted path of the field (`status_info.code`); empty for the event as a whole */
  path: string;
  problem: string;
}

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
    if (!Object.prototype.hasOwnProperty.call(cls, 'fields') && cls.fields === Event.fields) {
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

  /** The event as an InfluxDB point (see `eventToPoint`). */
  toPoint(): PointObject {
    return eventToPoint(this);
  }
}

/** An alias, for code where the global DOM-style `Event` would be confusing. */
export { Event as MetricEvent };

/** What a concrete event class looks like to the registry and the sinks. */
export interface EventClass<E extends Event = Event> {
  new (data: any): E;
  readonly name: string;
  readonly fields: z.ZodObject;
  readonly eventName?: string;
  readonly description?: string;
  readonly tagFields?: readonly string[];
}

/** The data a constructor takes: the shape's input, plus optional `timestamp` and `event`. */
export type EventInput<S extends EventShape> = z.input<z.ZodObject<S>> & { timestamp?: number; event?: string };

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
  if (Object.prototype.hasOwnProperty.call(cls, 'eventName') && cls.eventName) return cls.eventName;
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

interface ClassInfo {
  full: z.ZodObject;
  /** `timestamp` and the fields, from the JSON Schema of the shape */
  fieldList: EventFieldInfo[];
  integerPaths: Set<string>;
  stringPaths: Set<string>;
}

const infos = new WeakMap<object, ClassInfo>();

function info(cls: EventClass): ClassInfo {
  let i = infos.get(cls);
  if (!i) {
    const full = cls.fields.extend({ timestamp: timestampSchema.optional(), event: eventNameSchema.optional() });
    const fieldList: EventFieldInfo[] = [
      { path: 'timestamp', type: 'number', optional: true, constraints: ['>= 0'], description: 'UNIX time in seconds (default: now)' },
    ];
    const integerPaths = new Set<string>();
    const stringPaths = new Set<string>();
    const schema = z.toJSONSchema(cls.fields, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    walkJsonSchema(schema, '', false, fieldList, integerPaths, stringPaths);
    i = { full, fieldList, integerPaths, stringPaths };
    infos.set(cls, i);
  }
  return i;
}

function validate(cls: EventClass, data: object): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new EventValidationError(`invalid ${cls.name} event: its data must be an object of fields, got ${describeValue(data)}`, cls.name, [
      { path: '', problem: 'not an object' },
    ]);
  }
  const result = info(cls).full.safeParse(data, { reportInput: true });
  if (result.success) return result.data as Record<string, unknown>;
  const issues = result.error.issues.flatMap((issue) => describeIssue(cls, issue));
  const text = issues.map((i) => (i.path ? `field "${i.path}" ${i.problem}` : i.problem)).join('; ');
  throw new EventValidationError(`invalid ${cls.name} event (${eventNameOf(cls)}): ${text}`, cls.name, issues);
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'an array';
  return `a${/^[aeiou]/.test(typeof v) ? 'n' : ''} ${typeof v}`;
}

const article = (word: string) => (/^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`);

function describeIssue(cls: EventClass, issue: z.core.$ZodIssue): EventIssue[] {
  const path = issue.path.map(String).join('.');
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return [{ path, problem: 'is required but missing' }];
      const isInt = issue.expected === 'int' || (issue.expected === 'number' && info(cls).integerPaths.has(path));
      const expected = isInt ? 'integer' : issue.expected;
      return [{ path, problem: `must be ${article(expected)}, got ${describeValue(input)}` }];
    }
    case 'too_small': {
      if (issue.origin === 'string') {
        return [{ path, problem: Number(issue.minimum) === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters long` }];
      }
      if (issue.origin === 'array' || issue.origin === 'set') return [{ path, problem: `must have at least ${issue.minimum} items` }];
      return [{ path, problem: `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}, got ${describeValue(input)}` }];
    }
    case 'too_big': {
      if (issue.origin === 'string') return [{ path, problem: `must be at most ${issue.maximum} characters long` }];
      if (issue.origin === 'array' || issue.origin === 'set') return [{ path, problem: `must have at most ${issue.maximum} items` }];
      return [{ path, problem: `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}, got ${describeValue(input)}` }];
    }
    case 'unrecognized_keys': {
      const known = knownKeysAt(cls, issue.path.map(String));
      return issue.keys.map((k) => ({
        path: path ? `${path}.${k}` : k,
        problem: `is not a field of ${cls.name}${known.length ? ` (its fields${path ? ` under ${path}` : ''}: ${known.join(', ')})` : ''}`,
      }));
    }
    case 'invalid_value':
      return [{ path, problem: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}` }];
    case 'not_multiple_of':
      return [{ path, problem: `must be a multiple of ${issue.divisor}, got ${describeValue(input)}` }];
    case 'invalid_format':
      return [{ path, problem: `must be ${article(issue.format)} (${issue.message})` }];
    default:
      return [{ path, problem: issue.message }];
  }
}

function knownKeysAt(cls: EventClass, path: string[]): string[] {
  const prefix = path.length ? path.join('.') + '.' : '';
  const depth = path.length;
  return info(cls)
    .fieldList.filter((f) => f.path.startsWith(prefix) && f.path.split('.').length === depth + 1)
    .map((f) => f.path.slice(prefix.length));
}

// ---------------------------------------------------------------------------------------------
// Field descriptions (from the JSON Schema zod derives: the public, stable view of a schema)

export interface EventFieldInfo {
  /** dotted path, e.g. `status_info.code` */
  path: string;
  /** `string`, `number`, `integer`, `boolean`, `object`, `array`, `enum`, or `any` */
  type: string;
  /** may be left out (for a nested field: within its parent object) */
  optional: boolean;
  /** e.g. `>= 0`, `one of "a", "b"` */
  constraints: string[];
  description?: string;
}

export interface EventInfo {
  name: string;
  className: string;
  description?: string;
  fields: EventFieldInfo[];
  /** flattened field names that become tags in InfluxDB */
  tags: string[];
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  description?: string;
  default?: unknown;
}

const SAFE = Number.MAX_SAFE_INTEGER;

function simpleType(s: JsonSchema): { type: string; node: JsonSchema } {
  const branches = s.anyOf ?? s.oneOf;
  if (branches) {
    const nonNull = branches.filter((b) => b.type !== 'null');
    if (nonNull.length === 1) return simpleType({ ...nonNull[0], description: s.description ?? nonNull[0]!.description });
    return { type: nonNull.map((b) => simpleType(b).type).join(' | ') || 'any', node: s };
  }
  if (s.enum || s.const !== undefined) return { type: 'enum', node: s };
  const t = Array.isArray(s.type) ? s.type.filter((x) => x !== 'null').join(' | ') : s.type;
  return { type: t ?? 'any', node: s };
}

function constraintsOf(s: JsonSchema, type: string): string[] {
  const c: string[] = [];
  if (s.enum) c.push(`one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  if (s.const !== undefined) c.push(`exactly ${JSON.stringify(s.const)}`);
  if (s.minimum !== undefined && !(type === 'integer' && s.minimum <= -SAFE)) c.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) c.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && !(type === 'integer' && s.maximum >= SAFE)) c.push(`<= ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) c.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined) c.push(s.minLength === 1 ? 'not empty' : `at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) c.push(`at most ${s.maxLength} characters`);
  if (s.format) c.push(`format ${s.format}`);
  if (s.pattern) c.push(`matches /${s.pattern}/`);
  return c;
}

function walkJsonSchema(
  schema: JsonSchema,
  prefix: string,
  parentOptional: boolean,
  out: EventFieldInfo[],
  integers: Set<string>,
  strings: Set<string>,
): void {
  const required = new Set(schema.required ?? []);
  for (const [key, raw] of Object.entries(schema.properties ?? {})) {
    const path = prefix + key;
    const { type, node } = simpleType(raw);
    const optional = !required.has(key);
    const entry: EventFieldInfo = { path, type, optional, constraints: constraintsOf(node, type) };
    const description = raw.description ?? node.description;
    if (description) entry.description = description;
    out.push(entry);
    if (type === 'integer') integers.add(path);
    if (type === 'string' || (type === 'enum' && (node.enum ?? [node.const]).every((v) => typeof v === 'string'))) strings.add(path);
    if (type === 'object' && node.properties) walkJsonSchema(node, path + '.', parentOptional || optional, out, integers, strings);
  }
}

/** The fields of an event class (with `timestamp`), for `--list`, docs and the CLI's coercion. */
export function describeEvent(cls: EventClass): EventInfo {
  const i = info(cls);
  const out: EventInfo = {
    name: eventNameOf(cls),
    className: cls.name,
    fields: i.fieldList.map((f) => ({ ...f, constraints: [...f.constraints] })),
    tags: [...tagPaths(cls)].map(flatName),
  };
  if (cls.description) out.description = cls.description;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Registry

const registry = new Map<string, EventClass>();

/** Makes an event class known by its event name (to `metrics event`, `findEvent`, `parseEvent`). */
export function registerEvent<C extends EventClass>(cls: C): C {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Event)) {
    throw new TypeError(`registerEvent: ${String((cls as { name?: string })?.name ?? cls)} is not an Event class`);
  }
  const name = eventNameOf(cls);
  const existing = registry.get(name);
  if (existing && existing !== cls) {
    throw new TypeError(`registerEvent: event name "${name}" is already taken by class ${existing.name}; set static eventName on ${cls.name}`);
  }
  registry.set(name, cls);
  return cls;
}

/** The class registered under an event name (or, failing that, a class name). */
export function findEvent(name: string): EventClass | undefined {
  const byName = registry.get(name);
  if (byName) return byName;
  for (const cls of registry.values()) if (cls.name === name) return cls;
  return undefined;
}

/** Every registered event with its fields, sorted by name. */
export function listEvents(): EventInfo[] {
  return [...registry.keys()].sort().map((name) => describeEvent(registry.get(name)!));
}

/** Builds a registered event from its JSON object (as found in a metrics log line). */
export function parseEvent(data: unknown): Event {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new EventValidationError(`not an event: expected a JSON object with an "event" name, got ${describeValue(data)}`, 'Event', [
      { path: '', problem: 'not an object' },
    ]);
  }
  const name = (data as { event?: unknown }).event;
  if (typeof name !== 'string') {
    throw new EventValidationError('not an event: the field "event" (its name) is missing or not a string', 'Event', [
      { path: 'event', problem: 'is required but missing' },
    ]);
  }
  const cls = registry.get(name);
  if (!cls) {
    throw new EventValidationError(`unknown event "${name}" (known: ${[...registry.keys()].sort().join(', ') || 'none'})`, 'Event', [
      { path: 'event', problem: 'unknown event name' },
    ]);
  }
  return new cls(data);
}

/**
 * Imports every event catalog: `<collectors dir>/<name>/events.js`, so that the registry knows
 * the events collectors define (what `metrics event` needs). The collectors dir is the one
 * discovery uses (`$METRICS_COLLECTORS_DIR` or dist/src/collectors). A catalog that fails to
 * load is reported, not thrown: the others still work.
 */
export async function loadEventCatalogs(dir?: string): Promise<{ loaded: string[]; failed: { file: string; error: string }[] }> {
  dir ??= collectorsDir();
  const loaded: string[] = [];
  const failed: { file: string; error: string }[] = [];
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return { loaded, failed };
  }
  for (const name of entries.sort()) {
    const file = join(dir, name, 'events.js');
    try {
      if (!(await stat(file)).isFile()) continue;
    } catch {
      continue;
    }
    try {
      await import(pathToFileURL(file).href);
      loaded.push(file);
    } catch (error) {
      failed.push({ file, error: errorMessage(error) });
    }
  }
  return { loaded, failed };
}

// ---------------------------------------------------------------------------------------------
// Input from strings (the CLI's key=value pairs)

/**
 * Turns `key=value` strings into the data of an event class, coercing each value by the type
 * the schema gives its path: numbers and integers (`12.5`, `3`), booleans (`true`/`false`,
 * `1`/`0`, `yes`/`no`), strings as they are; `status_info.code=3` builds nested objects, and an
 * object-typed key takes JSON (`status_info={"code":3}`). A value that does not coerce is kept as
 * a string, so that validation names the field and the problem. Malformed pairs throw an
 * `EventValidationError`.
 */
export function eventDataFromPairs(cls: EventClass, pairs: readonly string[]): Record<string, unknown> {
  const types = new Map(info(cls).fieldList.map((f) => [f.path, f.type]));
  const data: Record<string, unknown> = {};
  const seen = new Set<string>();
  const bad = (path: string, problem: string): never => {
    throw new EventValidationError(`invalid ${cls.name} event (${eventNameOf(cls)}): ${path ? `field "${path}" ` : ''}${problem}`, cls.name, [{ path, problem }]);
  };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) bad('', `"${pair}" is not key=value (e.g. flavor=small)`);
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(key)) {
      bad('', `"${key}" is not a field name (letters, digits and "_", nested fields joined by ".")`);
    }
    if (seen.has(key)) bad(key, 'is given twice');
    seen.add(key);
    const parts = key.split('.');
    let target = data;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      const existing = target[part];
      if (existing === undefined) target[part] = {};
      else if (typeof existing !== 'object' || existing === null || Array.isArray(existing)) {
        bad(parts.slice(0, i + 1).join('.'), 'is given as a value and as an object');
      }
      target = target[part] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1]!;
    if (target[last] !== undefined) bad(key, 'is given as a value and as an object');
    target[last] = coerce(raw, types.get(key));
  }
  return data;
}

function coerce(raw: string, type: string | undefined): unknown {
  switch (type) {
    case 'number':
    case 'integer': {
      const t = raw.trim();
      if (t !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
      return raw;
    }
    case 'boolean': {
      const t = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      return raw;
    }
    case 'object':
    case 'array': {
      try {
        return JSON.parse(raw);
      } catch {
        return raw;
      }
    }
    default:
      return raw;
  }
}

// ---------------------------------------------------------------------------------------------
// Events as points

function flatName(path: string): string {
  return path.replaceAll('.', '_');
}

function tagPaths(cls: EventClass): Set<string> {
  const i = info(cls);
  if (cls.tagFields === undefined) return i.stringPaths;
  const byFlat = new Map([...i.stringPaths].map((p) => [flatName(p), p]));
  const out = new Set<string>();
  for (const t of cls.tagFields) {
    const p = byFlat.get(t) ?? (i.stringPaths.has(t) ? t : undefined);
    if (!p) {
      throw new TypeError(
        `${cls.name}.tagFields names "${t}", which is not a string field of the event (its string fields: ${[...byFlat.keys()].join(', ') || 'none'})`,
      );
    }
    out.add(p);
  }
  return out;
}

/**
 * The event as an InfluxDB point: measurement = event name, tags = its string values (or the
 * class's `tagFields`), fields = the rest (integers as integers), time = its timestamp; nested
 * objects flattened with `_`. See the module comment for the full rule.
 */
export function eventToPoint(event: Event): PointObject {
  const cls = event.constructor as EventClass;
  const i = info(cls);
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
  // point.ts takes bigint nanoseconds from 1973 on; earlier (odd, but valid) times as a Date
  if (micros < 1e14) return new Date(micros / 1000);
  return BigInt(micros) * 1000n;
}

/** UNIX seconds (float) → nanoseconds as a decimal string (Loki's timestamp format). */
export function timestampToNanoString(seconds: number): string {
  return (BigInt(Math.round(seconds * 1e6)) * 1000n).toString();
}
