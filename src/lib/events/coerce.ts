/**
 * Event data from the command line: `key=value` strings coerced by the type the schema gives
 * each path (`metrics event runner_stop status_info.code=1 …`).
 */
import { EventValidationError, eventNameOf, type EventClass } from './event.js';
import { schemaInfo } from './schema.js';

/**
 * Turns `key=value` strings into the data of an event class, coercing each value by the type
 * the schema gives its path: numbers and integers (`12.5`, `3`), booleans (`true`/`false`,
 * `1`/`0`, `yes`/`no`), strings as they are; `status_info.code=3` builds nested objects, and an
 * object-typed key takes JSON (`status_info={"code":3}`). A value that does not coerce is kept as
 * a string, so that validation names the field and the problem. Malformed pairs throw an
 * `EventValidationError`.
 */
export function eventDataFromPairs(cls: EventClass, pairs: readonly string[]): Record<string, unknown> {
  const types = new Map(schemaInfo(cls.fields).fieldList.map((f) => [f.path, f.type]));
  const data: Record<string, unknown> = {};
  const seen = new Set<string>();
  const bad = (path: string, problem: string): never => {
    throw new EventValidationError(
      `invalid ${cls.name} event (${eventNameOf(cls)}): ${path ? `field "${path}" ` : ''}${problem}`,
      cls.name,
      [{ path, problem }],
    );
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
