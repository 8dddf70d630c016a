/**
 * The Serializer's caches and its fast path, attacked: a serializer that has serialized many points
 * (warm caches, the fast path taken) must write exactly the bytes a fresh one writes (the full
 * path), and refuse exactly what a fresh one refuses, with the same message. The basic cases are in
 * point.test.ts ("a serializer that has seen the names before"); these are the caches' edges:
 * millisecond times around the cached thousands, integers, tag values by position, changing shapes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PointError } from '../../../src/lib/platform/errors.js';
import { Serializer } from '../../../src/lib/points/line-protocol.js';
import { int, type PointObject } from '../../../src/lib/points/point.js';

const DEFAULT_NS = '1600000000000000000';

/** What a serializer makes of a point: its line, or its PointError's message without the point number. */
function outcome(s: Serializer, p: unknown): string {
  try {
    return s.serialize(p);
  } catch (error) {
    if (!(error instanceof PointError)) throw error;
    return 'refused: ' + error.message.replace(/point #\d+/, 'point #N');
  }
}

/** Serializes the points in order on one serializer and checks each against a fresh serializer. */
function sameAsFresh(points: unknown[], s = new Serializer('unit', DEFAULT_NS)): string[] {
  return points.map((p, i) => {
    const warm = outcome(s, p);
    const fresh = outcome(new Serializer('unit', DEFAULT_NS), p);
    assert.equal(warm, fresh, `point ${i}: ${JSON.stringify(p, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    return warm;
  });
}

const point = (time: unknown, fields: Record<string, unknown> = { v: 1 }, tags: Record<string, unknown> = { h: 'a' }) =>
  ({ measurement: 'm', tags, fields, time }) as PointObject;

describe('millisecond times on a warm serializer', () => {
  test('times crossing, repeating and going back over the thousands give the exact nanoseconds', () => {
    const base = 1_700_000_000_000;
    const times: number[] = [];
    for (const t of [base - 2, base - 1, base, base + 1, base + 999, base + 1000, base + 1001, base + 999, base - 1, base]) times.push(t);
    for (let i = 0; i < 3000; i += 7) times.push(base + i);
    for (let i = 3000; i > 0; i -= 13) times.push(base + i);
    // digits rolling over in the high part, and every 3-digit tail once
    for (const t of [1_699_999_999_999, 1_700_000_000_000, 9_999_999_999_999, 10_000_000_000_000, 10_000_000_000_001]) times.push(t);
    for (let k = 0; k < 1000; k++) times.push(1_234_567_890_000 + k);
    const lines = sameAsFresh(times.map((t) => point(t)));
    lines.forEach((line, i) => {
      assert.equal(line, `m,h=a v=1 ${BigInt(times[i]!) * 1_000_000n}`);
    });
  });

  test('the range limits: 1e11 and just below 1e14 are written, just outside is refused', () => {
    const s = new Serializer('unit', DEFAULT_NS);
    s.serialize(point(1_700_000_000_000));
    const lines = sameAsFresh(
      [1e11, 1e14 - 1, 1e11 - 1, 1e14, 1e11, 1e14 - 1, 99_999_999_999.5].map((t) => point(t)),
      s,
    );
    assert.equal(lines[0], 'm,h=a v=1 100000000000000000');
    assert.equal(lines[1], 'm,h=a v=1 99999999999999000000');
    assert.match(lines[2]!, /^refused: .*looks like seconds/);
    assert.match(lines[3]!, /^refused: .*looks like micro- or nanoseconds/);
    assert.match(lines[6]!, /^refused: .*looks like seconds/);
  });

  test('times that are not integers, negative, -0, NaN, infinite or not numbers take the full path', () => {
    const base = 1_700_000_000_000;
    const times: unknown[] = [
      base,
      base + 0.5,
      base + 1,
      base + 0.000001,
      base + 0.9999999,
      -base,
      base,
      -0,
      0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      base,
      '2023-11-14T22:13:20.123Z',
      new Date(base + 5),
      BigInt(base) * 1_000_000n + 7n,
      base + 5,
      null,
      undefined,
      base + 6,
      Number.MAX_SAFE_INTEGER,
      2 ** 60,
      base + 7,
    ];
    const lines = sameAsFresh(times.map((t) => point(t)));
    assert.equal(lines[2], `m,h=a v=1 1700000000001000000`);
    assert.equal(lines[16], `m,h=a v=1 1700000000005000000`);
    assert.equal(lines[19], `m,h=a v=1 1700000000006000000`);
    assert.equal(lines[22], `m,h=a v=1 1700000000007000000`);
  });
});

describe('integer and float fields on a warm serializer', () => {
  test('int() of many numbers, around the thousands, negative and at the safe limits', () => {
    const values: number[] = [
      0,
      1,
      -1,
      999,
      1000,
      1001,
      -999,
      -1000,
      -1001,
      999_999,
      1_000_000,
      2 ** 31,
      -(2 ** 31),
      2 ** 53 - 1,
      -(2 ** 53 - 1),
    ];
    for (let i = 0; i < 5000; i += 3) values.push(i, -i, 1_000_000 + i);
    for (let i = 5000; i > 0; i -= 11) values.push(i);
    const lines = sameAsFresh(values.map((v, i) => point(1_700_000_000_000 + i, { c: int(v) })));
    lines.forEach((line, i) => {
      assert.equal(line, `m,h=a c=${values[i]}i ${BigInt(1_700_000_000_000 + i) * 1_000_000n}`);
    });
  });

  test('int() of what is not a safe integer is refused; bigints and -0 are written', () => {
    const values: unknown[] = [
      int(5),
      int(1.5),
      int(2 ** 53),
      int(-(2 ** 53)),
      int(Number.NaN),
      int(Number.POSITIVE_INFINITY),
      int(-0),
      int(7),
    ];
    values.push(
      int(10n),
      int(-(2n ** 63n)),
      int(2n ** 63n - 1n),
      int(2n ** 63n),
      int('123456789012345678'),
      int('x'),
      int(8),
      -0,
      0.5,
      1e21,
      1e-7,
      -1e300,
    );
    const lines = sameAsFresh(values.map((v, i) => point(1_700_000_000_000 + i, { c: v })));
    assert.equal(lines[6], `m,h=a c=0i 1700000000006000000`);
    assert.match(lines[1]!, /^refused: .*not a safe integer/);
    assert.match(lines[2]!, /^refused: .*not a safe integer/);
  });

  test('int() fields whose key or position changes between points with the same thousands', () => {
    const fieldsList: Array<Record<string, unknown>> = [
      { a: int(5000) },
      { b: int(5001) },
      { a: int(5002), b: int(5003) },
      { b: int(5004), a: int(5005) },
      { a: 5006, b: int(5007) },
      { a: int(5008) },
      { 'a b': int(5009) },
      { a: int(5010) },
      { a: undefined, b: int(5011) },
      { a: int(6012), b: int(5013) },
      { a: int(-5014), b: int(5015) },
      { a: int(5016), b: int(999) },
      { a: int(5017), b: int(1000) },
    ];
    for (let round = 0; round < 3; round++) {
      const lines = sameAsFresh(fieldsList.map((fields, i) => point(1_700_000_000_000 + i, fields)));
      assert.equal(lines[1], 'm,h=a b=5001i 1700000000001000000');
      assert.equal(lines[3], 'm,h=a b=5004i,a=5005i 1700000000003000000');
    }
  });

  test('an Integer-like object that is not an Integer is refused', () => {
    const fake = { value: 5, toString: () => '5' };
    const lines = sameAsFresh([point(1_700_000_000_000, { c: int(5) }), point(1_700_000_000_001, { c: fake })]);
    assert.match(lines[1]!, /^refused: .*wrong type/);
  });
});

describe('tag values by position on a warm serializer', () => {
  test('escaped, repeated, changing and refused tag values', () => {
    const values = [
      'a',
      'a',
      'b c',
      'b c',
      'a',
      'x,y=z',
      'x,y=z',
      'a',
      '',
      'a',
      'q\\',
      'a',
      'n\nl',
      'a',
      'é ü',
      '"quoted"',
      'a',
      'back\\slash',
      'a',
    ];
    sameAsFresh(values.map((v, i) => point(1_700_000_000_000 + i, { v: 1 }, { h: v, r: 'eu west' })));
  });

  test('the same value under another key, in another position, and keys coming and going', () => {
    const shapes: Array<Record<string, unknown>> = [
      { a: 'x', b: 'y' },
      { a: 'y', b: 'x' },
      { b: 'x' },
      { a: 'x', b: 'y', c: 'z' },
      { a: undefined, b: 'y' },
      { b: 'y', a: 'x' },
      { 'a b': 'x', b: 'y' },
      { 'a,b': 'x', b: 'y' },
      { a: 'x', b: 'y' },
      {},
      { a: 'x', b: 'y' },
      { a: 'x', b: 5 },
      { a: 'x', b: 'y' },
      { a: 'x', 'b\n': 'y' },
      { a: 'x', b: 'y' },
    ];
    for (let round = 0; round < 3; round++) {
      sameAsFresh(shapes.map((tags, i) => point(1_700_000_000_000 + i, { v: 1 }, tags)));
    }
  });

  test('many distinct values (past the caches\u2019 limits) are still written exactly', () => {
    const points: PointObject[] = [];
    for (let i = 0; i < 25_000; i++) points.push(point(1_700_000_000_000 + i, { v: i }, { h: `h ${i}`, r: i % 2 ? 'x=1' : 'y' }));
    const s = new Serializer('unit', DEFAULT_NS);
    points.forEach((p, i) => {
      assert.equal(s.serialize(p), `m,h=h\\ ${i},r=${i % 2 ? 'x\\=1' : 'y'} v=${i} ${BigInt(1_700_000_000_000 + i) * 1_000_000n}`);
    });
  });
});

describe('points of changing shapes on one serializer', () => {
  test('fields and measurements changing from point to point', () => {
    const shapes: PointObject[] = [
      { measurement: 'm', tags: { a: 'x' }, fields: { f: 1, g: int(2) }, time: 1_700_000_000_000 },
      { measurement: 'm', tags: { a: 'x' }, fields: { g: int(2), f: 1 }, time: 1_700_000_000_001 },
      { measurement: 'm', tags: { a: 'x' }, fields: { f: 'str "q" \\' }, time: 1_700_000_000_002 },
      { measurement: 'n o', tags: { a: 'x' }, fields: { f: true, g: false }, time: 1_700_000_000_003 },
      { measurement: 'm', fields: { f: 1, h: 2, g: int(3) }, time: 1_700_000_000_004 },
      { measurement: 'm', tags: { a: 'x' }, fields: { f: undefined, g: int(3) }, time: 1_700_000_000_005 },
      { measurement: 'm', tags: { a: 'x' }, fields: { f: 1.5, g: 2n }, time: 1_700_000_000_006 },
      { measurement: '#m', tags: { a: 'x' }, fields: { f: 1 }, time: 1_700_000_000_007 },
      { measurement: 'm', tags: { a: 'x' }, fields: { 'f g': 1 }, time: 1_700_000_000_008 },
      { measurement: 'm', tags: { a: 'x' }, fields: { f: 1 }, time: 999 },
    ];
    for (let round = 0; round < 3; round++) sameAsFresh(shapes);
  });

  test('tags or fields objects with a prototype other than Object.prototype', () => {
    const nullProto = Object.assign(Object.create(null) as Record<string, string>, { a: 'x' });
    const inherited = Object.assign(Object.create({ b: 'inherited' }) as Record<string, string>, { a: 'x' });
    class Tags {
      a = 'x';
    }
    const fieldsInherited = Object.assign(Object.create({ g: 2 }) as Record<string, number>, { f: 1 });
    const points: unknown[] = [
      point(1_700_000_000_000, { f: 1 }, { a: 'x' }),
      point(1_700_000_000_001, { f: 1 }, nullProto),
      point(1_700_000_000_002, { f: 1 }, inherited),
      point(1_700_000_000_003, { f: 1 }, new Tags() as unknown as Record<string, string>),
      point(1_700_000_000_004, fieldsInherited, { a: 'x' }),
      point(1_700_000_000_005, { f: 1 }, ['x'] as unknown as Record<string, string>),
      point(1_700_000_000_006, { f: 1 }, { a: 'x' }),
    ];
    for (let round = 0; round < 3; round++) sameAsFresh(points);
  });
});
