/**
 * The event registry: the event classes known by name, to `metrics event`, `findEvent` and
 * `parseEvent`. Collectors register theirs in their `events.ts` catalog, which
 * `loadEventCatalogs` imports.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../platform/errors.js';
import { describeEvent, type EventInfo } from './describe.js';
import { Event, EventValidationError, eventNameOf, type EventClass } from './event.js';
import { describeValue } from './issues.js';

const registry = new Map<string, EventClass>();

/** Makes an event class known by its event name (to `metrics event`, `findEvent`, `parseEvent`). */
export function registerEvent<C extends EventClass>(cls: C): C {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Event)) {
    throw new TypeError(`registerEvent: ${String((cls as { name?: string })?.name ?? cls)} is not an Event class`);
  }
  const name = eventNameOf(cls);
  const existing = registry.get(name);
  if (existing && existing !== cls) {
    throw new TypeError(
      `registerEvent: event name "${name}" is already taken by class ${existing.name}; set static eventName on ${cls.name}`,
    );
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
 * the events collectors define (what `metrics event` needs). `dir` is the collectors directory
 * discovery uses (the run settings: `$METRICS_COLLECTORS_DIR` or dist/src/collectors). A catalog that fails to
 * load is reported, not thrown: the others still work.
 */
export async function loadEventCatalogs(dir: string): Promise<{ loaded: string[]; failed: { file: string; error: string }[] }> {
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
