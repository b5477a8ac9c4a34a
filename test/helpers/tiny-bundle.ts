/**
 * A hand-made ModelBundle small enough to reason about in tests.
 *
 * Items (index: sku, category):
 *   0 TEA-1 tea, 1 TEA-2 tea, 2 TEA-3 tea, 3 MUG-1 mug, 4 MUG-2 mug, 5 MUG-3 mug, 6 SOAP-1 soap, 7 SOAP-2 soap
 * ALS, k = 2: teas load on factor 0 (1.0, 0.9, 0.8), mugs on factor 1 (1.0, 0.9, 0.8), soaps on both (0.3, 0.3)/(0.2, 0.2).
 * Neighbours: each item's same-category items, nearer index first (scores 0.9, 0.8); soaps: each other (0.7).
 * FBT: TEA-i ↔ MUG-i (lift 3.0), and TEA-1 → SOAP-1 (lift 1.5).
 * Popular global: SOAP-1, TEA-1, MUG-1, SOAP-2, TEA-2, MUG-2, TEA-3, MUG-3 (scores 8..1).
 * Popular by store: S1 → MUG-3, MUG-2, TEA-3; S2 → TEA-2. Popular by segment: vip → TEA-3, MUG-3.
 * Customers (ids passed in, because the store assigns unified ids):
 *   tea  — vector (1, 0), bought TEA-1 ×3 (every 10 days, last at `now − 9 days`), segment vip
 *   mug  — vector (0, 1), bought MUG-1 once (at `now − 40 days`) and SOAP-2 ×2 (interval 30 days, last at `now − 5 days`)
 *   novec — no vector, bought SOAP-1 once
 */
import type { CustomerRecord, ModelBundle, RankedList, TopKLists } from '../../src/core/bundle.js';

export const TINY_SKUS = ['TEA-1', 'TEA-2', 'TEA-3', 'MUG-1', 'MUG-2', 'MUG-3', 'SOAP-1', 'SOAP-2'];
export const TINY_CATEGORIES = ['tea', 'tea', 'tea', 'mug', 'mug', 'mug', 'soap', 'soap'];
const DAY = 86_400_000;

function lists(rows: [number, number][][]): TopKLists {
  const indptr = new Int32Array(rows.length + 1);
  const indices: number[] = [];
  const scores: number[] = [];
  rows.forEach((r, i) => {
    for (const [j, s] of r) {
      indices.push(j);
      scores.push(s);
    }
    indptr[i + 1] = indices.length;
  });
  return { indptr, indices: Int32Array.from(indices), scores: Float32Array.from(scores) };
}

const ranked = (skus: string[]): RankedList => ({
  items: Int32Array.from(skus.map((s) => TINY_SKUS.indexOf(s))),
  scores: Float32Array.from(skus.map((_, p) => skus.length - p)),
});

function record(customerId: string, vector: number[] | null, rows: [sku: string, count: number, lastTime: number, interval: number][], segment: CustomerRecord['segment'] = null): CustomerRecord {
  return {
    customerId,
    vector: vector ? Float32Array.from(vector) : null,
    segment,
    items: Int32Array.from(rows.map((r) => TINY_SKUS.indexOf(r[0]))),
    counts: Float32Array.from(rows.map((r) => r[1])),
    lastTime: Float64Array.from(rows.map((r) => r[2])),
    intervalDays: Float32Array.from(rows.map((r) => r[3])),
  };
}

export interface TinyCustomers {
  tea: string;
  mug: string;
  novec: string;
}

export function tinyBundle(ids: TinyCustomers, now = Date.now(), version = 'tiny-1'): ModelBundle {
  return {
    manifest: {
      version,
      createdAt: new Date(now).toISOString(),
      data: { source: 'hand-made', from: null, to: null, customers: 3, items: 8, lines: 7, orders: 6 },
      params: {},
      metrics: {},
      timings: {},
      files: {},
    },
    items: [...TINY_SKUS],
    itemCategories: [...TINY_CATEGORIES],
    als: {
      k: 2,
      reg: 0.1,
      alpha: 1,
      itemFactors: Float32Array.from([1, 0, 0.9, 0, 0.8, 0, 0, 1, 0, 0.9, 0, 0.8, 0.3, 0.3, 0.2, 0.2]),
    },
    neighbours: lists([
      [[1, 0.9], [2, 0.8]],
      [[0, 0.9], [2, 0.8]],
      [[1, 0.9], [0, 0.8]],
      [[4, 0.9], [5, 0.8]],
      [[3, 0.9], [5, 0.8]],
      [[4, 0.9], [3, 0.8]],
      [[7, 0.7]],
      [[6, 0.7]],
    ]),
    fbt: lists([[[3, 3], [6, 1.5]], [[4, 3]], [[5, 3]], [[0, 3]], [[1, 3]], [[2, 3]], [], []]),
    popular: {
      global: ranked(['SOAP-1', 'TEA-1', 'MUG-1', 'SOAP-2', 'TEA-2', 'MUG-2', 'TEA-3', 'MUG-3']),
      trending: ranked(['MUG-3', 'TEA-3']),
      byStore: { S1: ranked(['MUG-3', 'MUG-2', 'TEA-3']), S2: ranked(['TEA-2']) },
      bySegment: { vip: ranked(['TEA-3', 'MUG-3']) },
    },
    blend: { factors: 1, repeat: 0 },
    customers: [
      record(ids.tea, [1, 0], [['TEA-1', 3, now - 9 * DAY, 10]], 'vip'),
      record(ids.mug, [0, 1], [['MUG-1', 1, now - 40 * DAY, NaN], ['SOAP-2', 2, now - 5 * DAY, 30]]),
      record(ids.novec, null, [['SOAP-1', 1, now - 3 * DAY, NaN]]),
    ],
  };
}
