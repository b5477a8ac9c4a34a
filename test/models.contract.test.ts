/**
 * The shared model contract: every model on a synthetic block catalogue with a known answer.
 * 3 blocks × 5 items; 10 customers per block; customer c of a block buys every item of its block
 * except item (c mod 5), so each customer's held-back item must come back first among the items
 * they do not own (the only unowned items that co-occur with their history).
 */
import { describe, expect, it } from 'vitest';
import { csrFromCoo } from '../src/core/csr.js';
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../src/core/recommender.js';
import { PopularityRecommender } from '../src/models/popularity.js';
import { RepeatRecommender } from '../src/models/repeat.js';
import { ItemKnnRecommender } from '../src/models/item-knn.js';
import { FbtRecommender } from '../src/models/fbt.js';
import { EaseRecommender } from '../src/models/ease.js';
import { AlsRecommender } from '../src/models/als.js';
import { BlendRecommender } from '../src/models/blend.js';

const BLOCKS = 3;
const PER_BLOCK = 5;
const CUSTOMERS_PER_BLOCK = 10;

function blockFixture(): { data: TrainingData; heldBack: number[] } {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  const heldBack: number[] = [];
  let u = 0;
  for (let b = 0; b < BLOCKS; b++) {
    for (let n = 0; n < CUSTOMERS_PER_BLOCK; n++, u++) {
      const skip = n % PER_BLOCK;
      heldBack.push(b * PER_BLOCK + skip);
      for (let j = 0; j < PER_BLOCK; j++) {
        if (j === skip) continue;
        r.push(u);
        c.push(b * PER_BLOCK + j);
        v.push(1 + ((u + j) % 3)); // counts 1..3
      }
    }
  }
  const nu = u;
  const ni = BLOCKS * PER_BLOCK;
  const counts = csrFromCoo(nu, ni, r, c, v);
  return {
    data: {
      weights: counts,
      counts,
      baskets: csrFromCoo(nu, ni, r, c, v.map(() => 1)),
      items: Array.from({ length: ni }, (_, i) => `sku${i}`),
      customers: Array.from({ length: nu }, (_, i) => `c${i}`),
    },
    heldBack,
  };
}

interface Entry {
  make: () => Recommender;
  /** The model learns item relations (held-back item first; similar items in the same block). */
  learns: boolean;
  similar: boolean;
}

const MODELS: Record<string, Entry> = {
  popularity: { make: () => new PopularityRecommender(), learns: false, similar: false },
  repeat: { make: () => new RepeatRecommender(), learns: false, similar: false },
  item_knn: { make: () => new ItemKnnRecommender({ neighbours: 10 }), learns: true, similar: true },
  item_knn_bm25_source: { make: () => new ItemKnnRecommender({ weighting: 'bm25', input: 'weights', scoreBy: 'source' }), learns: true, similar: true },
  item_knn_jaccard: { make: () => new ItemKnnRecommender({ similarity: 'jaccard' }), learns: true, similar: true },
  fbt: { make: () => new FbtRecommender(), learns: true, similar: true },
  ease: { make: () => new EaseRecommender({ lambda: 1 }), learns: true, similar: true },
  als: { make: () => new AlsRecommender({ factors: 6, iterations: 10, reg: 0.1, alpha: 5 }), learns: true, similar: true },
  blend_ease: { make: () => new BlendRecommender(new EaseRecommender({ lambda: 1 })), learns: true, similar: true },
};

const nu = BLOCKS * CUSTOMERS_PER_BLOCK;
const allCustomers = Array.from({ length: nu }, (_, i) => i);

for (const [name, entry] of Object.entries(MODELS)) {
  describe(`model contract: ${name}`, () => {
    const { data, heldBack } = blockFixture();

    it('recommends, for every customer, k results padded with -1, never an excluded item', async () => {
      const m = entry.make();
      await m.fit(data);
      const k = 20; // more than the 15 items
      const res = await m.recommend(allCustomers, k, { exclude: data.counts });
      expect(res.k).toBe(k);
      expect(res.ids.length).toBe(nu * k);
      for (let u = 0; u < nu; u++) {
        const row = Array.from(res.ids.subarray(u * k, u * k + k));
        const owned = new Set(data.counts.indices.subarray(data.counts.indptr[u], data.counts.indptr[u + 1]));
        const valid = row.filter((i) => i >= 0);
        expect(valid.every((i) => !owned.has(i))).toBe(true);
        expect(new Set(valid).size).toBe(valid.length);
        // padding only at the end, scores non-increasing
        const firstPad = row.indexOf(-1);
        if (firstPad >= 0) expect(row.slice(firstPad).every((i) => i === -1)).toBe(true);
        const sc = Array.from(res.scores.subarray(u * k, u * k + valid.length));
        for (let j = 1; j < sc.length; j++) expect(sc[j]).toBeLessThanOrEqual(sc[j - 1]);
      }
    });

    it('recommendMany (where a model has it) equals one recommend per list, with and without exclusions', async () => {
      const m = entry.make();
      await m.fit(data);
      const many = (m as Partial<{ recommendMany: (l: { users: ArrayLike<number>; options?: RecommendOptions }[], k: number) => BatchResult[] }>).recommendMany;
      if (!many) return;
      // two overlapping lists in different orders (a customer in both is scored once), one with its own exclude rows
      const a = [5, 0, 17, 3, 29, 12];
      const b = [12, 3, 8, 5, 21];
      const excludeRows = b.map((u) => (u + 1) % nu);
      const lists = [
        { users: a, options: { exclude: data.counts } },
        { users: b, options: { exclude: data.counts, excludeRows } },
        { users: b },
      ];
      const got = many.call(m, lists, 4);
      expect(got.length).toBe(3);
      for (let l = 0; l < lists.length; l++) {
        const want = await m.recommend(lists[l].users, 4, lists[l].options);
        expect(Array.from(got[l].ids)).toEqual(Array.from(want.ids));
        expect(Array.from(got[l].scores)).toEqual(Array.from(want.scores));
      }
    });

    if (entry.learns) {
      it("puts each customer's held-back item first", async () => {
        const m = entry.make();
        await m.fit(data);
        const res = await m.recommend(allCustomers, 3, { exclude: data.counts });
        const firsts = allCustomers.map((u) => res.ids[u * 3]);
        expect(firsts).toEqual(heldBack);
      });

      it('folds in an arbitrary history the same way (recommendForItems)', async () => {
        const m = entry.make();
        await m.fit(data);
        // a new customer with items 6, 7, 8 of block 1 (items 5..9): the best unowned item is in block 1
        const res = await m.recommendForItems([6, 7, 8], [1, 1, 1], 2, [6, 7, 8]);
        expect([5, 9]).toContain(res.ids[0]);
      });
    } else if (name === 'popularity') {
      it('ranks by distinct buyers, ties by index, exclusions skipped', async () => {
        const m = entry.make();
        await m.fit(data);
        // every item has 8 buyers: order is by index
        const res = await m.recommend([0], 4, { exclude: data.counts });
        const owned = new Set(data.counts.indices.subarray(data.counts.indptr[0], data.counts.indptr[1]));
        const expected = Array.from({ length: 15 }, (_, i) => i).filter((i) => !owned.has(i)).slice(0, 4);
        expect(Array.from(res.ids)).toEqual(expected);
        expect(res.scores[0]).toBe(8);
      });
    } else {
      it("ranks the customer's own items by purchase count first", async () => {
        const m = entry.make();
        await m.fit(data);
        const res = await m.recommend([0], 5);
        // customer 0 owns items 1..4 with counts 1 + ((0 + j) % 3): j=1→2, j=2→3, j=3→1, j=4→2
        expect(Array.from(res.ids.subarray(0, 4))).toEqual([2, 1, 4, 3]);
        expect(res.scores[0]).toBeCloseTo(3, 5);
      });
    }

    if (entry.similar) {
      it('finds similar items within the same block', async () => {
        const m = entry.make();
        await m.fit(data);
        const res = await m.similarItems([0, 7, 14], 2);
        for (const [n, item] of [0, 7, 14].entries()) {
          const block = Math.floor(item / PER_BLOCK);
          expect(Math.floor(res.ids[n * 2] / PER_BLOCK)).toBe(block);
          expect(res.ids[n * 2]).not.toBe(item);
        }
      });
    } else {
      it('says similar items are not supported', async () => {
        const m = entry.make();
        await m.fit(data);
        await expect(m.similarItems([0], 2)).rejects.toThrow(/similar/);
      });
    }

    it('saves and loads bit for bit, and the loaded model answers alike', async () => {
      const m = entry.make();
      await m.fit(data);
      const saved = m.save();
      const copy = entry.make();
      copy.load(structuredClone(saved));
      const again = copy.save();
      expect(again.header).toEqual(saved.header);
      expect(Object.keys(again.arrays).sort()).toEqual(Object.keys(saved.arrays).sort());
      for (const [key, arr] of Object.entries(saved.arrays)) {
        expect(again.arrays[key].constructor).toBe(arr.constructor);
        expect(Buffer.from(again.arrays[key].buffer, again.arrays[key].byteOffset, again.arrays[key].byteLength).equals(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength))).toBe(true);
      }
      if (name === 'blend_ease') return; // the blend's learned part saves itself
      const h = [6, 7, 8];
      const a = await m.recommendForItems(h, [1, 2, 1], 5, h);
      const b = await copy.recommendForItems(h, [1, 2, 1], 5, h);
      expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
      expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    });
  });
}
