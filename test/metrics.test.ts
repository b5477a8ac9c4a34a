import { describe, expect, it } from 'vitest';
import { coverageAt, hitRateAt, ndcgAt, recallAt } from '../src/eval/metrics.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('Recall@20', () => {
  const r20 = recallAt(20);
  it('divides hits by |truth| when the truth is small', () => {
    // 2 of the 3 relevant items are in the list
    expect(r20(new Set([1, 2, 3]), [1, 9, 2, 8])).toBeCloseTo(2 / 3, 12);
  });
  it('divides by 20, not |truth|, when more than 20 items are relevant', () => {
    // 25 relevant items (0..24); the top 20 holds 10 of them (0..9) and 10 others
    const truth = new Set(range(0, 25));
    const ranked = [...range(0, 10), ...range(100, 110)];
    expect(r20(truth, ranked)).toBeCloseTo(10 / 20, 12);
    // a perfect list of 20 relevant items scores 1 although 5 relevant items are missing
    expect(r20(truth, range(0, 20))).toBe(1);
  });
  it('ignores what is ranked after 20, padding, and empty truth', () => {
    expect(r20(new Set([50]), [...range(100, 120), 50])).toBe(0);
    expect(r20(new Set([7]), [-1, -1, 7])).toBe(1);
    expect(r20(new Set(), [1, 2])).toBe(0);
  });
});

describe('NDCG@10 (binary gains)', () => {
  const n10 = ndcgAt(10);
  it('matches a hand computation', () => {
    // hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5) = 1.0616063; IDCG (2 relevant) = 1 + 1/log2(3) = 1.6309298
    expect(n10(new Set([10, 20]), [5, 10, 6, 20, 7])).toBeCloseTo(0.6509209298, 9);
  });
  it('caps IDCG at 10 positions when more than 10 items are relevant', () => {
    const truth = new Set(range(0, 12));
    // ranks 1-5 relevant, 6-10 not: DCG = Σ_{r=1..5} 1/log2(r+1) = 2.9484591, IDCG = Σ_{r=1..10} = 4.5435593
    expect(n10(truth, [0, 1, 2, 3, 4, 100, 101, 102, 103, 104])).toBeCloseTo(0.6489315753, 9);
    // ten relevant items in the top 10 is perfect even though 2 more are relevant
    expect(n10(truth, range(0, 10))).toBeCloseTo(1, 12);
  });
  it('is 1 for the relevant item first and 0 when none is in the top 10', () => {
    expect(n10(new Set([3]), [3, 1, 2])).toBe(1);
    expect(n10(new Set([3]), [...range(100, 110), 3])).toBe(0);
  });
});

describe('HR@10', () => {
  const h10 = hitRateAt(10);
  it('is 1 with a hit in the top 10, else 0', () => {
    expect(h10(new Set([4, 40]), [...range(100, 109), 40])).toBe(1);
    expect(h10(new Set([4, 40]), [...range(100, 110), 40])).toBe(0);
  });
});

describe('catalogue coverage', () => {
  it('counts distinct items in the top k of all lists over the catalogue size', () => {
    // two lists of width 3 (-1 padded), coverage@2 sees {0,1} and {1,3}: 3 of 10 items
    const lists = Int32Array.from([0, 1, 2, 1, 3, -1]);
    expect(coverageAt(2, 10, lists, 3)).toBeCloseTo(0.3, 12);
    expect(coverageAt(3, 10, lists, 3)).toBeCloseTo(0.4, 12);
  });
});
