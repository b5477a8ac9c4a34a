import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/core/random.js';
import { factorScoresF32, scoreList, type ServedTables, topAccepted, trendTable } from '../src/core/served-model.js';
import { listSpec } from '../src/models/served.js';
import { fitTifu, ownVector } from '../src/models/tifu-knn.js';
import { SimdScorer } from '../src/serve/simd-scorer.js';

describe('served model scoring (src/core/served-model.ts)', () => {
  it('the f32 factor loop evaluation runs is bit-identical to the service SIMD kernel', () => {
    const rnd = mulberry32(3);
    for (const k of [64, 10, 3]) {
      const n = 301;
      const y = Float32Array.from({ length: n * k }, () => rnd() * 2 - 1);
      const x = Float32Array.from({ length: k }, () => rnd() * 2 - 1);
      const simd = SimdScorer.create(y, k, n);
      expect(simd).not.toBeNull(); // Node ≥ 16 has WebAssembly SIMD (without it the service runs the loop itself)
      expect(Array.from(simd!.scores(x))).toEqual(Array.from(factorScoresF32(y, k, n, x)));
    }
  });

  it('scoresMany (several customers per pass over the item factors) is bit for bit one scores call per vector', () => {
    const rnd = mulberry32(5);
    for (const k of [64, 10, 3]) {
      const n = 303;
      const y = Float32Array.from({ length: n * k }, () => rnd() * 2 - 1);
      const simd = SimdScorer.create(y, k, n)!;
      expect(simd.many).toBe(true);
      // growing batches (the instance's memory grows), then a smaller one
      for (const count of [1, 5, 16, 3]) {
        const xs = Float32Array.from({ length: count * k }, () => rnd() * 2 - 1);
        const many = Array.from(simd.scoresMany(xs, count));
        for (let v = 0; v < count; v++) {
          const x = xs.subarray(v * k, v * k + k);
          expect(many.slice(v * n, v * n + n)).toEqual(Array.from(factorScoresF32(y, k, n, x)));
          expect(many.slice(v * n, v * n + n)).toEqual(Array.from(simd.scores(x)));
        }
      }
    }
  });

  it('a second learned model adds its normalised scores; own items fade by the time from their last purchase to the latest', () => {
    const DAY = 86_400_000;
    const tables: ServedTables = {
      nItems: 4,
      popularity: new Float32Array(4),
      trends: {},
      lists: {
        // item 0 → 2 (weight 2), 3 (weight 1); item-kNN: item 0 → 3 (weight 4)
        ease: { indptr: Int32Array.from([0, 2, 2, 2, 2]), indices: Int32Array.from([2, 3]), scores: Float32Array.from([2, 1]) },
        item_knn: { indptr: Int32Array.from([0, 1, 1, 1, 1]), indices: Int32Array.from([3]), scores: Float32Array.from([4]) },
      },
      factors: null,
    };
    const person = { items: Int32Array.from([0, 1]), counts: Float32Array.from([3, 1]), lastTime: Float64Array.from([100 * DAY, 70 * DAY]) };
    const one = scoreList(tables, listSpec('ease', { learned: 'ease', learnedWeight: 1 }), person);
    expect(Array.from(one)).toEqual([0, 0, 1, 0.5]);
    const two = scoreList(tables, listSpec('ease+0.5·item_knn', { learned: 'ease', learnedWeight: 1, learned2: 'item_knn', learned2Weight: 0.5 }), person);
    expect(Array.from(two)).toEqual([0, 0, 1, 1]);
    // item 0: 0.5 · log2(4) · 2^0 = 1; item 1 (30 days before the latest, half-life 30): 0.5 · log2(2) · 0.5 = 0.25
    const own = scoreList(tables, listSpec('own', { learned: 'ease', learnedWeight: 1, ownWeight: 0.5, ownHalfLifeDays: 30 }), person);
    expect(own[0]).toBeCloseTo(1, 12);
    expect(own[1]).toBeCloseTo(0.25, 12);
    expect(Array.from(own.subarray(2))).toEqual([1, 0.5]);
  });

  it('trend at half-life 0 is popularity; a short half-life favours what sold lately', () => {
    const DAY = 86_400_000;
    // item 0: three old buyers; item 1: one recent buyer
    const items = [0, 0, 0, 1];
    const last = [0, 0, 0, 100 * DAY];
    expect(Array.from(trendTable(2, items, last, 0, 100 * DAY))).toEqual([1, Math.fround(1 / 3)]);
    const t = trendTable(2, items, last, 7, 100 * DAY);
    expect(t[1]).toBe(1);
    expect(t[0]).toBeLessThan(0.01);
  });

  it('own items first by count (ties by trend), then the rest by the blend; exclusions never listed', () => {
    const tables: ServedTables = {
      nItems: 5,
      popularity: Float32Array.from([1, 0.5, 0.2, 0.9, 0.1]),
      trends: { '7': Float32Array.from([0.1, 0.2, 1, 0.5, 0.3]) },
      lists: {},
      factors: null,
    };
    const person = { items: [0, 1, 4], counts: [2, 2, 1] };
    const all = listSpec('repeat>trend7', { trendHalfLifeDays: 7, trendWeight: 1, ownedFirst: true });
    const ranked = topAccepted(scoreList(tables, all, person), 5, () => true).map((x) => x.id);
    // counts 2, 2 (item 1 has the higher trend), then 1; then the others by trend
    expect(ranked).toEqual([1, 0, 4, 2, 3]);
    const disc = listSpec('trend7', { trendHalfLifeDays: 7, trendWeight: 1 });
    expect(topAccepted(scoreList(tables, disc, person), 5, (i) => !person.items.includes(i)).map((x) => x.id)).toEqual([2, 3]);
  });
});

describe('TIFU-KNN', () => {
  it('decays within and across groups of baskets (Hu et al. 2020, eq. 1–2)', () => {
    // 3 baskets, groups of 2 from the newest back: group 0 = [b0], group 1 = [b1, b2]
    const v = ownVector([[1], [1, 2], [2]], { groupSize: 2, withinDecay: 0.5, groupDecay: 0.25 });
    // group 1 (newest, weight 1/2): b1 · 0.5 / 2, b2 · 1 / 2; group 0 (weight 0.25 / 2): b0 · 1 / 1
    expect(v.get(1)).toBeCloseTo(0.5 * (0.5 / 2) + 0.125 * 1, 12);
    expect(v.get(2)).toBeCloseTo(0.5 * (0.5 / 2 + 1 / 2), 12);
  });

  it("blends in the nearest customers' vectors: a customer gets their twin's other item", () => {
    // customers 0 and 1 share items 0, 1; customer 1 also bought 2; customer 2 bought only 3
    const lines = { customer: Int32Array.from([0, 0, 1, 1, 1, 2]), order: Int32Array.from([0, 0, 1, 1, 1, 2]), item: Int32Array.from([0, 1, 0, 1, 2, 3]), time: new Float64Array(6) };
    const t = fitTifu(lines, 3, 4, { neighbours: 1, keep: 10 });
    const nbr0 = Array.from(t.nbrItems.subarray(t.nbrPtr[0], t.nbrPtr[1]));
    expect(nbr0).toEqual([0, 1, 2]);
    expect(Array.from(t.nbrItems.subarray(t.nbrPtr[2], t.nbrPtr[3]))).toEqual([]);
  });
});

describe('guest fold-in from the per-version Cholesky factor (Woodbury)', () => {
  it('equals the direct solve', async () => {
    const { choleskyFactor, foldIn, foldInFactored, gramMatrix } = await import('../src/core/fold-in.js');
    const rnd = mulberry32(9);
    const k = 16;
    const n = 50;
    const y = Float32Array.from({ length: n * k }, () => rnd() - 0.5);
    const gram = gramMatrix(y, k);
    const model = { itemFactors: y, k, gram, reg: 0.1, alpha: 2 };
    const chol = Float64Array.from(gram);
    for (let d = 0; d < k; d++) chol[d * k + d] += model.reg;
    choleskyFactor(chol, k);
    for (const [items, w] of [[[3], [1]], [[1, 7, 9], [0.69, 1.2, 0]], [[4, 5, 6, 8], [1, 1, 1, 1]]] as const) {
      const direct = foldIn(model, items, w);
      const fast = foldInFactored(model, chol, items, w);
      Array.from(fast).forEach((v, d) => expect(v).toBeCloseTo(direct[d], 5));
    }
  });
});
