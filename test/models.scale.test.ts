/**
 * Sparse models stay sparse: item-kNN and frequently-bought-together on a 50,000-item catalogue
 * (an items × items float32 matrix would need 10 GB) finish quickly in little memory; EASE, dense
 * by nature, refuses the catalogue instead of allocating it.
 */
import { describe, expect, it } from 'vitest';
import { csrFromCoo } from '../src/core/csr.js';
import type { TrainingData } from '../src/core/recommender.js';
import { mulberry32 } from '../src/core/random.js';
import { ItemKnnRecommender } from '../src/models/item-knn.js';
import { FbtRecommender } from '../src/models/fbt.js';
import { EaseRecommender } from '../src/models/ease.js';
import { ModelFitError } from '../src/core/errors.js';

const ITEMS = 50_000;
const CUSTOMERS = 20_000;

function sparseData(): TrainingData {
  const rnd = mulberry32(1);
  const r: number[] = [];
  const c: number[] = [];
  for (let u = 0; u < CUSTOMERS; u++) {
    // 10 items near a random "taste" position, so items have real neighbours
    const centre = Math.floor(rnd() * ITEMS);
    for (let j = 0; j < 10; j++) {
      r.push(u);
      c.push((centre + Math.floor(rnd() * 40)) % ITEMS);
    }
  }
  const m = csrFromCoo(CUSTOMERS, ITEMS, r, c, r.map(() => 1));
  return { weights: m, counts: m, baskets: m, items: [], customers: [] };
}

describe('sparse models at 50k items', () => {
  const data = sparseData();

  it('item-kNN fits and recommends without an items × items matrix', async () => {
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const m = new ItemKnnRecommender({ neighbours: 20 });
    await m.fit(data);
    const res = await m.recommend([0, 1, 2], 10, { exclude: data.counts });
    const seconds = (performance.now() - t0) / 1000;
    const grownMb = (process.memoryUsage().rss - before) / 2 ** 20;
    expect(m.lists.indptr.length).toBe(ITEMS + 1);
    expect(m.lists.indices.length).toBeLessThanOrEqual(ITEMS * 20);
    expect(m.lists.indices.length).toBeGreaterThan(ITEMS * 5);
    expect(res.ids[0]).toBeGreaterThanOrEqual(0);
    expect(grownMb).toBeLessThan(500);
    expect(seconds).toBeLessThan(20);
  });

  it('frequently bought together fits in the same way', async () => {
    const m = new FbtRecommender({ minSupport: 2 });
    await m.fit(data);
    expect(m.lists.indptr.length).toBe(ITEMS + 1);
    expect(m.lists.indices.length).toBeGreaterThan(0);
  });

  it('EASE refuses a catalogue above maxItems', async () => {
    await expect(new EaseRecommender().fit(data)).rejects.toBeInstanceOf(ModelFitError);
  });
});
