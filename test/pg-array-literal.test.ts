import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayLiteral, withArrayLiterals } from '../src/store/pg-array-literal.js';

const pgPrepare = (createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (v: unknown) => unknown }).prepareValue;

describe('arrayLiteral: the literal node-postgres sends for an array parameter', () => {
  it('is byte for byte what pg builds, for strings with quotes, backslashes, braces, commas and any unicode', () => {
    const element = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom('', '"', '\\', '\\"', 'a"b\\c', '{x,y}', 'NULL', ' x ', 'é€😀'),
      fc.double(),
      fc.integer(),
      fc.constant(null),
      fc.constant(undefined),
      fc.boolean(),
      fc.date({ noInvalidDate: true }),
    );
    const arr = fc.array(fc.oneof(element, fc.array(element, { maxLength: 4 })), { maxLength: 20 });
    fc.assert(
      fc.property(arr, (a) => {
        expect(arrayLiteral(a)).toBe(pgPrepare(a));
      }),
      { numRuns: 2000 },
    );
  });

  it('handles buffers, objects and -0 as pg does', () => {
    for (const a of [[Buffer.from([1, 2, 255])], [{ a: '"x"' }], [-0, 0, NaN, Infinity, -Infinity, 1e21, 5e-324], [[[]]], []]) {
      expect(arrayLiteral(a)).toBe(pgPrepare(a));
    }
  });

  it('replaces only array parameters, and leaves the caller\'s list untouched', () => {
    const params = ['x', 3, null, ['a"b', null], new Date(0)];
    const out = withArrayLiterals(params)!;
    expect(out).toEqual(['x', 3, null, '{"a\\"b",NULL}', params[4]]);
    expect(params[3]).toEqual(['a"b', null]);
    const plain = [1, 'y'];
    expect(withArrayLiterals(plain)).toBe(plain);
    expect(withArrayLiterals(undefined)).toBeUndefined();
  });
});
