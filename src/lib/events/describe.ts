/**
 * An event class described for people and tools: its name, description, fields (with types and
 * constraints) and the fields that become tags (`metrics event --list`, the docs).
 */
import { eventNameOf, type EventClass } from './event.js';
import { schemaInfo, type EventFieldInfo } from './schema.js';
import { flatName, tagPaths } from './to-point.js';

export interface EventInfo {
  name: string;
  className: string;
  description?: string;
  fields: EventFieldInfo[];
  /** flattened field names that become tags in InfluxDB */
  tags: string[];
}

/** The fields of an event class (with `timestamp`), for `--list`, docs and the CLI's coercion. */
export function describeEvent(cls: EventClass): EventInfo {
  const i = schemaInfo(cls.fields);
  const out: EventInfo = {
    name: eventNameOf(cls),
    className: cls.name,
    fields: i.fieldList.map((f) => ({ ...f, constraints: [...f.constraints] })),
    tags: [...tagPaths(cls)].map(flatName),
  };
  if (cls.description) out.description = cls.description;
  return out;
}
