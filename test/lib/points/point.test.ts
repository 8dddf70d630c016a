/**
 * Points: line-protocol escaping (checked against the InfluxDB line-protocol reference), field
 * types, validation errors, time handling, default time stamping by the serializer, and
 * `@influxdata/influxdb-client` Points. Stamping through Metric.run(): test/lib/sdk/metric.test.ts.
 *
 * The reference (docs.influxdata.com, "Line protocol reference", "Special characters"):
 *  - measurement: escape comma and space;
 *  - tag keys, tag values, field keys: escape comma, equals sign and space;
 *  - string field values: escape double quote and backslash;
 *  - other characters (quotes in names, a backslash not followed by a special character,
 *    non-ASCII text) are written as they are.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Point } from '@influxdata/influxdb-client';
import { CollectorError, PointError } from '../../../src/lib/platform/errors.js';
import { Serializer } from '../../../src/lib/points/line-protocol.js';
import { int, type PointObject } from '../../../src/lib/points/point.js';

/** 2023-11-14T22:13:20.123Z */
const T_MS = 1_700_000_000_123;
const T_NS = '1700000000123000000';
const DEFAULT_NS = '1600000000000000000';

function serialize(p: unknown, collector = 'unit'): string {
  return new Serializer(collector, DEFAULT_NS).serialize(p);
}

// ------------------------------------------------------------------------------------------------
// The escaping table

interface Row {
  what: string;
  point: PointObject;
  /** the exact line-protocol bytes */
  line: string;
}

const pt = (measurement: string, tags: Record<string, string> | undefined, fields: PointObject['fields']): PointObject => ({
  measurement,
  ...(tags ? { tags } : {}),
  fields,
  time: T_MS,
});

const TABLE: Row[] = [
  { what: 'plain point', point: pt('cpu', { host: 'a' }, { v: 1 }), line: `cpu,host=a v=1 ${T_NS}` },
  // measurement: comma and space escaped; = quotes backslash non-ASCII kept
  { what: 'measurement with a space', point: pt('my cpu', undefined, { v: 1 }), line: `my\\ cpu v=1 ${T_NS}` },
  { what: 'measurement with a comma', point: pt('cpu,total', undefined, { v: 1 }), line: `cpu\\,total v=1 ${T_NS}` },
  { what: 'measurement with = (not escaped)', point: pt('a=b', undefined, { v: 1 }), line: `a=b v=1 ${T_NS}` },
  { what: 'measurement with double quotes (not escaped)', point: pt('"q"', undefined, { v: 1 }), line: `"q" v=1 ${T_NS}` },
  { what: 'measurement with a backslash in the middle', point: pt('a\\b', undefined, { v: 1 }), line: `a\\b v=1 ${T_NS}` },
  {
    what: 'measurement with non-ASCII and emoji',
    point: pt('température_🌡', undefined, { v: 1 }),
    line: `température_🌡 v=1 ${T_NS}`,
  },
  { what: 'measurement with comma and space together', point: pt('a, b', undefined, { v: 1 }), line: `a\\,\\ b v=1 ${T_NS}` },
  // tag keys
  { what: 'tag key with a space', point: pt('m', { 'host name': 'x' }, { v: 1 }), line: `m,host\\ name=x v=1 ${T_NS}` },
  { what: 'tag key with a comma', point: pt('m', { 'a,b': 'x' }, { v: 1 }), line: `m,a\\,b=x v=1 ${T_NS}` },
  { what: 'tag key with =', point: pt('m', { 'a=b': 'x' }, { v: 1 }), line: `m,a\\=b=x v=1 ${T_NS}` },
  { what: 'tag key with quotes and non-ASCII', point: pt('m', { 'ö"k"': 'x' }, { v: 1 }), line: `m,ö"k"=x v=1 ${T_NS}` },
  // tag values
  { what: 'tag value with a space', point: pt('m', { city: 'New York' }, { v: 1 }), line: `m,city=New\\ York v=1 ${T_NS}` },
  { what: 'tag value with a comma', point: pt('m', { city: 'Zürich, CH' }, { v: 1 }), line: `m,city=Zürich\\,\\ CH v=1 ${T_NS}` },
  { what: 'tag value with =', point: pt('m', { expr: 'a=b' }, { v: 1 }), line: `m,expr=a\\=b v=1 ${T_NS}` },
  { what: 'tag value with double quotes (not escaped)', point: pt('m', { q: '"ÖPNV"' }, { v: 1 }), line: `m,q="ÖPNV" v=1 ${T_NS}` },
  {
    what: 'tag value with a backslash in the middle (kept literally)',
    point: pt('m', { path: 'C:\\dir' }, { v: 1 }),
    line: `m,path=C:\\dir v=1 ${T_NS}`,
  },
  { what: 'tag value with emoji', point: pt('m', { mood: '✓ 🚀' }, { v: 1 }), line: `m,mood=✓\\ 🚀 v=1 ${T_NS}` },
  {
    what: 'tag value with everything',
    point: pt('m', { t: 'Zürich, "ÖPNV" = a\\b ✓' }, { v: 1 }),
    line: `m,t=Zürich\\,\\ "ÖPNV"\\ \\=\\ a\\b\\ ✓ v=1 ${T_NS}`,
  },
  { what: 'tags are sorted by key', point: pt('m', { b: '2', a: '1', C: '0' }, { v: 1 }), line: `m,C=0,a=1,b=2 v=1 ${T_NS}` },
  // field keys
  { what: 'field key with a space', point: pt('m', undefined, { 'used percent': 1 }), line: `m used\\ percent=1 ${T_NS}` },
  { what: 'field key with a comma', point: pt('m', undefined, { 'a,b': 1 }), line: `m a\\,b=1 ${T_NS}` },
  { what: 'field key with =', point: pt('m', undefined, { 'a=b': 1 }), line: `m a\\=b=1 ${T_NS}` },
  { what: 'field key with quotes and a backslash', point: pt('m', undefined, { '"k"\\x': 1 }), line: `m "k"\\x=1 ${T_NS}` },
  // string field values: only " and \ are escaped
  { what: 'string field with comma, space and =', point: pt('m', undefined, { s: 'a, b = c' }), line: `m s="a, b = c" ${T_NS}` },
  { what: 'string field with double quotes', point: pt('m', undefined, { s: 'say "hi"' }), line: `m s="say \\"hi\\"" ${T_NS}` },
  { what: 'string field with a backslash in the middle', point: pt('m', undefined, { s: 'a\\b' }), line: `m s="a\\\\b" ${T_NS}` },
  { what: 'string field ending with a backslash', point: pt('m', undefined, { s: 'dir\\' }), line: `m s="dir\\\\" ${T_NS}` },
  { what: 'string field with a backslash before a quote', point: pt('m', undefined, { s: '\\"' }), line: `m s="\\\\\\"" ${T_NS}` },
  {
    what: 'string field with non-ASCII',
    point: pt('m', undefined, { s: 'Zürich ÖPNV 日本語' }),
    line: `m s="Zürich ÖPNV 日本語" ${T_NS}`,
  },
  { what: 'string field with emoji', point: pt('m', undefined, { s: '✓ 🚀 👩‍💻' }), line: `m s="✓ 🚀 👩‍💻" ${T_NS}` },
  { what: 'empty string field', point: pt('m', undefined, { s: '' }), line: `m s="" ${T_NS}` },
  {
    what: 'string field with everything',
    point: pt('m', undefined, { s: 'Zürich, "ÖPNV" = a\\b ✓' }),
    line: `m s="Zürich, \\"ÖPNV\\" = a\\\\b ✓" ${T_NS}`,
  },
  {
    what: 'several fields keep their order, tags and fields together',
    point: pt('weather station', { 'city name': 'São Paulo', id: '7' }, { temp: 21.5, 'wind,speed': int(3), ok: true, note: 'a "b"' }),
    line: `weather\\ station,city\\ name=São\\ Paulo,id=7 temp=21.5,wind\\,speed=3i,ok=true,note="a \\"b\\"" ${T_NS}`,
  },
];

describe('line-protocol escaping table', () => {
  test('the table has at least 20 rows', () => {
    assert.ok(TABLE.length >= 20, `${TABLE.length} rows`);
  });
  for (const row of TABLE) {
    test(row.what, () => {
      assert.equal(serialize(row.point), row.line);
      // the bytes as sent (UTF-8), not only the JS string
      assert.deepEqual(Buffer.from(serialize(row.point), 'utf8'), Buffer.from(row.line, 'utf8'));
    });
  }
});

// ------------------------------------------------------------------------------------------------
// Field types

describe('field types', () => {
  const f = (fields: PointObject['fields']) => serialize({ measurement: 'm', fields, time: T_MS });

  test('a JS number is a float: no i suffix, even for whole numbers', () => {
    assert.equal(f({ a: 1, b: 0, c: -3, d: 1.5, e: -0.25 }), `m a=1,b=0,c=-3,d=1.5,e=-0.25 ${T_NS}`);
    assert.doesNotMatch(f({ a: 42 }), /42i/);
  });
  test('int() and bigint are integers with the i suffix', () => {
    assert.equal(f({ a: int(42), b: 42n, c: int(-7), d: -7n, e: int(0) }), `m a=42i,b=42i,c=-7i,d=-7i,e=0i ${T_NS}`);
  });
  test('int() of a decimal string and of a bigint keep all digits', () => {
    assert.equal(f({ a: int('9007199254740993'), b: int(9007199254740993n) }), `m a=9007199254740993i,b=9007199254740993i ${T_NS}`);
  });
  test('the 64-bit limits are accepted', () => {
    assert.equal(
      f({ max: 9223372036854775807n, min: -9223372036854775808n }),
      `m max=9223372036854775807i,min=-9223372036854775808i ${T_NS}`,
    );
  });
  test('booleans', () => {
    assert.equal(f({ t: true, x: false }), `m t=true,x=false ${T_NS}`);
  });
  test('strings are quoted', () => {
    assert.equal(f({ s: 'ok', n: '42' }), `m s="ok",n="42" ${T_NS}`);
  });
  test('undefined and null fields are left out', () => {
    assert.equal(f({ a: undefined, b: 1, c: null, d: 'x' }), `m b=1,d="x" ${T_NS}`);
  });
  test('undefined tags are left out', () => {
    assert.equal(serialize({ measurement: 'm', tags: { a: undefined, b: 'x' }, fields: { v: 1 }, time: T_MS }), `m,b=x v=1 ${T_NS}`);
  });
});

// ------------------------------------------------------------------------------------------------
// Validation

describe('validation errors name collector, measurement and field', () => {
  const COLLECTOR = 'weather_ch';
  const bad = (point: unknown): Error => {
    let caught: unknown;
    try {
      new Serializer(COLLECTOR, DEFAULT_NS).serialize(point);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof PointError, `expected a PointError, got ${String(caught)}`);
    assert.ok(caught instanceof CollectorError, 'a PointError is a CollectorError (fails the collector)');
    assert.match(caught.message, new RegExp(`"${COLLECTOR}"`), 'names the collector');
    return caught;
  };
  const names = (err: Error, measurement: string, field?: string) => {
    assert.match(err.message, new RegExp(`"${measurement}"`), `names the measurement: ${err.message}`);
    if (field !== undefined) assert.match(err.message, new RegExp(`"${field}"`), `names the field: ${err.message}`);
  };

  test('empty measurement', () => {
    const e = bad({ measurement: '', fields: { v: 1 } });
    assert.match(e.message, /measurement/);
  });
  test('missing measurement', () => {
    assert.match(bad({ fields: { v: 1 } }).message, /measurement/);
  });
  test('no fields', () => {
    const e = bad({ measurement: 'temp', fields: {} });
    names(e, 'temp');
    assert.match(e.message, /no fields/);
  });
  test('fields missing altogether', () => {
    names(bad({ measurement: 'temp' }), 'temp');
  });
  test('all fields undefined', () => {
    const e = bad({ measurement: 'temp', fields: { a: undefined, b: undefined } });
    names(e, 'temp');
    assert.match(e.message, /no fields/);
  });
  test('NaN', () => {
    const e = bad({ measurement: 'temp', fields: { ok: 1, celsius: Number.NaN } });
    names(e, 'temp', 'celsius');
    assert.match(e.message, /NaN/);
  });
  test('Infinity and -Infinity', () => {
    names(bad({ measurement: 'temp', fields: { celsius: Infinity } }), 'temp', 'celsius');
    const e = bad({ measurement: 'temp', fields: { kelvin: -Infinity } });
    names(e, 'temp', 'kelvin');
    assert.match(e.message, /-Infinity/);
  });
  test('an object as a field value', () => {
    const e = bad({ measurement: 'temp', fields: { reading: { value: 1 } } });
    names(e, 'temp', 'reading');
    assert.match(e.message, /wrong type/);
  });
  test('a Date as a field value', () => {
    const e = bad({ measurement: 'temp', fields: { when: new Date() } });
    names(e, 'temp', 'when');
    assert.match(e.message, /Date/);
  });
  test('an array as a field value', () => {
    names(bad({ measurement: 'temp', fields: { list: [1, 2] } }), 'temp', 'list');
  });
  test('empty tag value', () => {
    const e = bad({ measurement: 'temp', tags: { city: '' }, fields: { v: 1 } });
    names(e, 'temp', 'city');
    assert.match(e.message, /empty/);
  });
  test('a tag value that is not a string', () => {
    names(bad({ measurement: 'temp', tags: { zip: 8000 }, fields: { v: 1 } }), 'temp', 'zip');
  });
  test('a newline in a tag value', () => {
    const e = bad({ measurement: 'temp', tags: { city: 'Zürich\nBern' }, fields: { v: 1 } });
    names(e, 'temp', 'city');
    assert.match(e.message, /newline/);
  });
  test('a newline in a tag key, field key or measurement', () => {
    assert.match(bad({ measurement: 'temp', tags: { 'a\nb': 'x' }, fields: { v: 1 } }).message, /newline/);
    assert.match(bad({ measurement: 'temp', fields: { 'a\nb': 1 } }).message, /newline/);
    assert.match(bad({ measurement: 'te\nmp', fields: { v: 1 } }).message, /newline/);
  });
  test('a trailing backslash in a tag value', () => {
    const e = bad({ measurement: 'temp', tags: { path: 'C:\\' }, fields: { v: 1 } });
    names(e, 'temp', 'path');
    assert.match(e.message, /backslash/);
  });
  test('a trailing backslash in a measurement, tag key or field key', () => {
    assert.match(bad({ measurement: 'temp\\', fields: { v: 1 } }).message, /backslash/);
    assert.match(bad({ measurement: 'temp', tags: { 'k\\': 'x' }, fields: { v: 1 } }).message, /backslash/);
    assert.match(bad({ measurement: 'temp', fields: { 'f\\': 1 } }).message, /backslash/);
  });
  test('int(1.5)', () => {
    const e = bad({ measurement: 'temp', fields: { count: int(1.5) } });
    names(e, 'temp', 'count');
    assert.match(e.message, /1\.5/);
  });
  test('int() of an unsafe number and of a non-integer string', () => {
    names(bad({ measurement: 'temp', fields: { big: int(2 ** 60) } }), 'temp', 'big');
    names(bad({ measurement: 'temp', fields: { s: int('12abc') } }), 'temp', 's');
  });
  test('out-of-range bigint', () => {
    const e = bad({ measurement: 'temp', fields: { huge: 2n ** 63n } });
    names(e, 'temp', 'huge');
    assert.match(e.message, /64-bit/);
    names(bad({ measurement: 'temp', fields: { tiny: -(2n ** 63n) - 1n } }), 'temp', 'tiny');
  });
  test('a point that is not an object', () => {
    bad(null);
    bad(42);
  });
  test('the error says which point of the run it was', () => {
    const s = new Serializer(COLLECTOR, DEFAULT_NS);
    s.serialize({ measurement: 'ok', fields: { v: 1 } });
    assert.throws(() => s.serialize({ measurement: 'bad', fields: { v: Number.NaN } }), /point #2/);
  });
});

// ------------------------------------------------------------------------------------------------
// Time

describe('time', () => {
  const at = (time: unknown) => serialize({ measurement: 'm', fields: { v: 1 }, time });
  const timeOf = (line: string) => line.split(' ').at(-1);

  test('a plain number is milliseconds since the epoch', () => {
    assert.equal(timeOf(at(1_700_000_000_123)), '1700000000123000000');
    assert.equal(timeOf(at(Date.UTC(2026, 0, 31, 12))), `${Date.UTC(2026, 0, 31, 12)}000000`);
  });
  test('a bigint is nanoseconds since the epoch', () => {
    assert.equal(timeOf(at(1_700_000_000_123_456_789n)), '1700000000123456789');
  });
  test('a Date', () => {
    assert.equal(timeOf(at(new Date('2023-11-14T22:13:20.123Z'))), '1700000000123000000');
  });
  test('an RFC 3339 string with nanoseconds', () => {
    assert.equal(timeOf(at('2023-11-14T22:13:20.123456789Z')), '1700000000123456789');
    assert.equal(timeOf(at('2023-11-14T23:13:20.000000001+01:00')), '1700000000000000001');
    assert.equal(timeOf(at('2023-11-14T22:13:20Z')), '1700000000000000000');
    assert.equal(timeOf(at('2023-11-14T22:13:20.5Z')), '1700000000500000000');
  });
  test('a number that looks like seconds is rejected', () => {
    assert.throws(
      () => at(1_700_000_000),
      (e: Error) => e instanceof PointError && /seconds/.test(e.message) && /"m"/.test(e.message),
    );
  });
  test('numbers that look like micro- or nanoseconds are rejected', () => {
    assert.throws(
      () => at(1_700_000_000_123_456),
      (e: Error) => e instanceof PointError && /micro- or nanoseconds/.test(e.message),
    );
    assert.throws(
      // nanoseconds as a number: past 2 ** 53, so only about 17 digits hold (…_456_789 would read as this double)
      () => at(1_700_000_000_123_456_800),
      (e: Error) => e instanceof PointError && /micro- or nanoseconds/.test(e.message),
    );
  });
  test('a bigint that looks like milliseconds is rejected', () => {
    assert.throws(() => at(1_700_000_000_123n), PointError);
  });
  test('invalid time values are rejected', () => {
    assert.throws(() => at(new Date('nope')), PointError);
    assert.throws(() => at('yesterday'), PointError);
    assert.throws(() => at(Number.NaN), PointError);
    assert.throws(() => at({}), PointError);
  });
  test('a point without a time gets the default time of the serializer', () => {
    assert.equal(new Serializer('c', DEFAULT_NS).serialize({ measurement: 'm', fields: { v: 1 } }), `m v=1 ${DEFAULT_NS}`);
  });
});

// ------------------------------------------------------------------------------------------------
// @influxdata/influxdb-client Points

describe('@influxdata/influxdb-client Point', () => {
  test('tags, int/float/string/bool fields and a Date timestamp', () => {
    const p = new Point('weather station')
      .tag('city name', 'Zürich, CH')
      .tag('id', 'a=b')
      .intField('count', 42)
      .floatField('temp', 21.5)
      .stringField('note', 'say "hi" \\ ✓')
      .booleanField('ok', true)
      .booleanField('stale', false)
      .timestamp(new Date(T_MS));
    // tags and fields sorted by key, as the client itself does
    assert.equal(
      serialize(p),
      `weather\\ station,city\\ name=Zürich\\,\\ CH,id=a\\=b count=42i,note="say \\"hi\\" \\\\ ✓",ok=T,stale=F,temp=21.5 ${T_NS}`,
    );
  });
  test('the client and this serializer agree on the bytes', () => {
    const p = new Point('m x')
      .tag('a b', 'c,d')
      .intField('i', 3)
      .floatField('f', 1.5)
      .stringField('s', 'q"\\')
      .booleanField('b', true)
      .timestamp(new Date(T_MS));
    assert.equal(serialize(p), p.toLineProtocol());
  });
  test('a Point without a timestamp gets the default time', () => {
    assert.equal(serialize(new Point('m').floatField('v', 1)), `m v=1 ${DEFAULT_NS}`);
  });
  test('a Point with a nanosecond string timestamp', () => {
    assert.equal(serialize(new Point('m').floatField('v', 1).timestamp('1700000000123456789')), `m v=1 1700000000123456789`);
  });
  test('a Point without fields or name is rejected naming the collector', () => {
    assert.throws(
      () => new Serializer('cli_pts', DEFAULT_NS).serialize(new Point('m')),
      (e: Error) => e instanceof PointError && /"cli_pts"/.test(e.message) && /"m"/.test(e.message),
    );
    assert.throws(() => new Serializer('cli_pts', DEFAULT_NS).serialize(new Point().floatField('v', 1)), PointError);
  });
  test('a Point with a trailing backslash in a tag is rejected', () => {
    assert.throws(() => serialize(new Point('m').tag('path', 'C:\\').floatField('v', 1)), /backslash/);
  });
});

// ------------------------------------------------------------------------------------------------
// The fast path: a serializer that has seen the names before takes a shorter way; it must write
// the same bytes and refuse the same points with the same messages as a fresh one.

describe('a serializer that has seen the names before (the fast path)', () => {
  for (const row of TABLE) {
    test(`same line the second and third time: ${row.what}`, () => {
      const s = new Serializer('unit', DEFAULT_NS);
      assert.equal(s.serialize(row.point), row.line);
      assert.equal(s.serialize(row.point), row.line);
      assert.equal(s.serialize({ ...row.point }), row.line);
    });
  }

  const primer: PointObject = { measurement: 'm', tags: { a: 'x', b: 'y' }, fields: { f: 1, g: int(2), s: 'q' }, time: T_MS };
  const inherited = Object.assign(Object.create({ z: 'inherited' }) as Record<string, string>, { a: 'x', b: 'y' });
  const cases: Array<[string, unknown]> = [
    ['NaN field', { ...primer, fields: { f: Number.NaN } }],
    ['Infinity field', { ...primer, fields: { f: 1, g: Number.NEGATIVE_INFINITY } }],
    ['unsafe int()', { ...primer, fields: { g: int(2 ** 60) } }],
    ['bigint beyond 64 bits', { ...primer, fields: { g: 2n ** 64n } }],
    ['a Date as field', { ...primer, fields: { f: new Date(0) } }],
    ['a number as tag value', { ...primer, tags: { a: 1 } }],
    ['an empty tag value', { ...primer, tags: { a: '', b: 'y' } }],
    ['an unknown tag value with a newline', { ...primer, tags: { a: 'x\ny' } }],
    ['no field left', { ...primer, fields: { f: undefined, g: null } }],
    ['time in seconds', { ...primer, time: 1_700_000_000 }],
    ['time as an invalid Date', { ...primer, time: new Date(Number.NaN) }],
    ['fields not an object', { ...primer, fields: 3 }],
    ['tags not an object', { ...primer, tags: 'a=x' }],
  ];
  for (const [what, point] of cases) {
    test(`refused as by a fresh serializer: ${what}`, () => {
      const s = new Serializer('unit', DEFAULT_NS);
      s.serialize(primer);
      s.serialize(primer);
      let warm: unknown;
      let fresh: unknown;
      try {
        s.serialize(point);
      } catch (error) {
        warm = error;
      }
      try {
        new Serializer('unit', DEFAULT_NS).serialize(point);
      } catch (error) {
        fresh = error;
      }
      assert.ok(fresh instanceof PointError, `a fresh serializer refuses it: ${String(fresh)}`);
      assert.ok(warm instanceof PointError, `a warm serializer refuses it too: ${String(warm)}`);
      assert.equal(warm.message.replace('point #3', 'point #1'), fresh.message);
    });
  }

  test('tags out of order, undefined tags and inherited tags are written as by a fresh serializer', () => {
    const s = new Serializer('unit', DEFAULT_NS);
    s.serialize(primer);
    for (const tags of [{ b: 'y', a: 'x' }, { a: 'x', c: undefined, b: 'y' }, inherited]) {
      const point = { ...primer, tags };
      assert.equal(s.serialize(point), new Serializer('unit', DEFAULT_NS).serialize(point));
    }
    assert.equal(s.serialize({ ...primer, tags: inherited }), `m,a=x,b=y f=1,g=2i,s="q" ${T_NS}`);
  });

  test('points without a time get the collection time and are counted as collisions on the fast path too', () => {
    const s = new Serializer('unit', DEFAULT_NS);
    const p = { measurement: 'm', tags: { a: 'x' }, fields: { f: 1 } };
    assert.equal(s.serialize(p), `m,a=x f=1 ${DEFAULT_NS}`);
    assert.equal(s.serialize(p), `m,a=x f=1 ${DEFAULT_NS}`);
    assert.equal(s.collisions, 1);
    assert.deepEqual(s.collidedSeries, ['m,a=x']);
  });

  test('a client Point after seed-style points of the same names is still read as a Point', () => {
    const s = new Serializer('unit', DEFAULT_NS);
    s.serialize({ measurement: 'm', fields: { v: 1 }, time: T_MS });
    assert.equal(s.serialize(new Point('m').floatField('v', 2).timestamp(new Date(T_MS))), `m v=2 ${T_NS}`);
  });
});
