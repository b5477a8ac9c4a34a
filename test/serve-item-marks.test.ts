/** ItemMarks: a small array for a few members, one byte per item past 16; the same set either way. */
import { describe, expect, it } from 'vitest';
import { ItemMarks } from '../src/serve/item-filter.js';

describe('ItemMarks', () => {
  it('holds exactly the in-range items added, across the switch to the byte array', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const count of [0, 1, 15, 16, 17, 40, 300]) {
      const n = 500;
      const added = Array.from({ length: count }, () => Math.floor(rnd() * (n + 20)) - 10); // some out of range
      const m = new ItemMarks(n, added.slice(0, count >> 1));
      for (const i of added.slice(count >> 1)) m.add(i);
      const want = new Set(added.filter((i) => i >= 0 && i < n));
      expect(m.size).toBe(want.size);
      for (let i = -12; i < n + 12; i++) expect(m.has(i)).toBe(want.has(i));
    }
  });
});
