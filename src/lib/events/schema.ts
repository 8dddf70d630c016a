/**
 * An event class's fields as data: the JSON Schema zod derives from its shape (the public,
 * stable view of a schema) walked into a list of fields with their types and constraints, and
 * the paths of its integers and strings. Validation messages, `metrics event --list`, the CLI's
 * coercion and the point rule (tags, integer fields) read it. Computed once per shape.
 */
import { z } from 'zod';

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

/** A shape described: `timestamp` and the fields, and which paths are integers and strings. */
export interface SchemaInfo {
  /** `timestamp` and the fields, from the JSON Schema of the shape */
  fieldList: EventFieldInfo[];
  integerPaths: Set<string>;
  stringPaths: Set<string>;
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

const infos = new WeakMap<object, SchemaInfo>();

/** The description of an event class's `fields` (computed at the first call for that shape). */
export function schemaInfo(fields: z.ZodObject): SchemaInfo {
  let i = infos.get(fields);
  if (!i) {
    const fieldList: EventFieldInfo[] = [
      { path: 'timestamp', type: 'number', optional: true, constraints: ['>= 0'], description: 'UNIX time in seconds (default: now)' },
    ];
    const integerPaths = new Set<string>();
    const stringPaths = new Set<string>();
    const schema = z.toJSONSchema(fields, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    walkJsonSchema(schema, '', false, fieldList, integerPaths, stringPaths);
    i = { fieldList, integerPaths, stringPaths };
    infos.set(fields, i);
  }
  return i;
}
