import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../src/core/records.js';
import { evaluateRecommender } from '../src/eval/evaluate.js';
import { parseCutoff, resolveCutoff, timeSplit } from '../src/eval/time-split.js';
import { PopularityRecommender } from '../src/models/popularity.js';

const DAY = 86_400_000;
const CUT = '2020-01-10';
const T = (d: number) => parseCutoff(CUT) + d * DAY;
const l = (customerId: string | null, orderId: string, sku: string, quantity: number, day: number): HistoryLine => ({
  customerId,
  orderId,
  channel: 'web',
  storeId: null,
  time: T(day),
  sku,
  quantity,
  unitPrice: 1,
});

/**
 * Before the cutoff: A buys i1 twice and i2; B buys i1 and i3; a guest buys i4; D only cancels.
 * After: A buys i2 (repeat), i3 (new) and i9 (unknown item); B buys i1 (repeat only);
 * C, first seen after the cutoff, buys i1.
 */
const LOG: HistoryLine[] = [
  l('A', 'o1', 'i1', 1, -9),
  l('A', 'o1', 'i2', 2, -9),
  l('A', 'o2', 'i1', 1, -5),
  l('B', 'o3', 'i1', 1, -4),
  l('B', 'o3', 'i3', 1, -4),
  l(null, 'o4', 'i4', 1, -3),
  l('D', 'C5', 'i1', -1, -2),
  l('A', 'o6', 'i2', 1, 1),
  l('A', 'o6', 'i3', 1, 1),
  l('A', 'o6', 'i9', 1, 1),
  l('B', 'o7', 'i1', 1, 2),
  l('C', 'o8', 'i1', 1, 3),
  l('B', 'C9', 'i3', -1, 4),
];

describe('time split (reference_eval.py protocol)', () => {
  const s = timeSplit(LOG, parseCutoff(CUT));
  const u = (id: string) => s.reference.customers.indexOf(id);
  const i = (sku: string) => s.reference.items.indexOf(sku);

  it('indexes the customers and items of training purchases by known customers', () => {
    expect(s.reference.customers).toEqual(['A', 'B']);
    // i4 was bought by a guest only; D only cancelled
    expect(s.reference.items).toEqual(['i1', 'i2', 'i3']);
    expect(s.counts).toMatchObject({ trainLines: 5, testLines: 5, users: 2, items: 3, trainPairs: 4 });
  });

  it('the train matrix is binary and the counts matrix counts lines', () => {
    const X = s.reference.weights;
    const a = u('A');
    expect(Array.from(X.data.subarray(X.indptr[a], X.indptr[a + 1]))).toEqual([1, 1]);
    const C = s.reference.counts;
    expect(Array.from(C.data.subarray(C.indptr[a], C.indptr[a + 1]))).toEqual([2, 1]);
  });

  it('test customers are those seen before the cutoff; unknown items leave the truth', () => {
    expect([...s.truthAll.keys()].sort()).toEqual([u('A'), u('B')]);
    expect([...s.truthAll.get(u('A'))!].sort()).toEqual([i('i2'), i('i3')]);
    expect([...s.truthAll.get(u('B'))!]).toEqual([i('i1')]);
  });

  it('discovery truth holds new items only; customers with none are not scored', () => {
    expect([...s.truthNew.entries()]).toEqual([[u('A'), new Set([i('i3')])]]);
    expect(Array.from(s.discoveryUsers)).toEqual([u('A')]);
    expect(Array.from(s.allUsers)).toEqual([u('A'), u('B')]);
  });

  it('the cutoff defaults to the last purchase minus the holdout days', () => {
    expect(resolveCutoff(LOG, { holdoutDays: 2 })).toBe(T(3) - 2 * DAY);
    expect(resolveCutoff(LOG, { cutoff: CUT })).toBe(T(0));
    expect(() => parseCutoff('2020-02-30')).toThrow(/YYYY-MM-DD/);
  });

  it('evaluates popularity with known ranks', async () => {
    const pop = new PopularityRecommender();
    await pop.fit(s.reference);
    const r = await evaluateRecommender(pop, s);
    // ranking i1 (2 buyers), i2, i3 (1 each, ties by index).
    // all: A's truth {i2,i3} at ranks 2,3 → NDCG (1/log2 3 + 1/log2 4)/(1 + 1/log2 3) = 0.6934264; B's {i1} at rank 1 → 1
    expect(r.all['ndcg@10']).toBeCloseTo(Math.round(((0.6934264036 + 1) / 2) * 1e4) / 1e4, 9);
    expect(r.all['recall@20']).toBe(1);
    expect(r.all.users).toBe(2);
    // discovery: A's bought i1, i2 are filtered, i3 comes first
    expect(r.discovery).toMatchObject({ 'ndcg@10': 1, 'recall@20': 1, 'hr@10': 1, users: 1 });
  });
});
