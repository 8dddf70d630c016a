/**
 * zod's validation issues in words: each names the field (dotted path) and the problem as a person
 * reads it ("must be an integer, got 1.5", "is not a field of RunnerStop (its fields: ...)").
 */
import type { z } from 'zod';
import type { SchemaInfo } from './schema.js';

/** One problem of an event's data: which field, and what is wrong with it. */
export interface EventIssue {
  /** dotted path of the field (`status_info.code`); empty for the event as a whole */
  path: string;
  problem: string;
}

/** A value as a message shows it: `the string "x"`, `1.5`, `an array`, `nothing`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'an array';
  return `a${/^[aeiou]/.test(typeof v) ? 'n' : ''} ${typeof v}`;
}

const article = (word: string) => (/^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`);

/** One zod issue of class `className` in words (an unknown-keys issue gives one per key). */
export function describeIssue(className: string, info: SchemaInfo, issue: z.core.$ZodIssue): EventIssue[] {
  const path = issue.path.map(String).join('.');
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return [{ path, problem: 'is required but missing' }];
      const isInt = issue.expected === 'int' || (issue.expected === 'number' && info.integerPaths.has(path));
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
      const known = knownKeysAt(info, issue.path.map(String));
      return issue.keys.map((k) => ({
        path: path ? `${path}.${k}` : k,
        problem: `is not a field of ${className}${known.length ? ` (its fields${path ? ` under ${path}` : ''}: ${known.join(', ')})` : ''}`,
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

function knownKeysAt(info: SchemaInfo, path: string[]): string[] {
  const prefix = path.length ? path.join('.') + '.' : '';
  const depth = path.length;
  return info.fieldList
    .filter((f) => f.path.startsWith(prefix) && f.path.split('.').length === depth + 1)
    .map((f) => f.path.slice(prefix.length));
}
