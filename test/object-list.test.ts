/**
 * objectList (src/core/object-list.ts): an empty array of the general kind, fresh at each call (the import's
 * per-batch lists: a shared one would carry one batch's values into the next).
 */
import { describe, expect, it } from 'vitest';
import { objectList } from '../src/core/object-list.js';

describe('objectList', () => {
  it('is empty, fresh at each call, and holds any value', () => {
    const a = objectList<string | null>();
    const b = objectList<string | null>();
    expect(a).toEqual([]);
    expect(a).not.toBe(b);
    a.push('x', null);
    a.push('y');
    expect(a).toEqual(['x', null, 'y']);
    expect(b).toEqual([]);
    expect(Array.isArray(a)).toBe(true);
  });
});
