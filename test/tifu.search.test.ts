import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/core/random.js';
import { type BasketLines, buyerCap, customerBaskets, fitTifu, ownVector, ownVectors, TIFU_DEFAULTS, type TifuSearchStats } from '../src/models/tifu-knn.js';

/** Random purchase lines: `customers` buyers, skewed item popularity (item 0 the most popular), several orders each. */
function randomLines(seed: number, customers: number, nItems: number, ordersPer = 6): BasketLines {
  const rnd = mulberry32(seed);
  const customer: number[] = [];
  const order: number[] = [];
  const item: number[] = [];
  const time: number[] = [];
  let o = 0;
  for (let c = 0; c < customers; c++) {
    const orders = 1 + Math.floor(rnd() * ordersPer);
    for (let k = 0; k < orders; k++, o++) {
      const t = Math.floor(rnd() * 1000) * 86_400_000;
      const lines = 1 + Math.floor(rnd() * 5);
      for (let l = 0; l < lines; l++) {
        customer.push(c);
        order.push(o);
        item.push(Math.floor(nItems * Math.pow(rnd(), 2.5))); // skewed: low ids popular (repeats within an order too)
        // lines of one order at slightly different times: the basket's time is its earliest
        time.push(t + Math.floor(rnd() * 3) * 1000);
      }
    }
  }
  // a guest line and one out of range: skipped
  customer.push(-1, customers + 3);
  order.push(o, o + 1);
  item.push(0, 0);
  time.push(0, 0);
  // shuffled: the fit must not depend on line order
  const idx = Array.from({ length: customer.length }, (_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return {
    customer: Int32Array.from(idx, (i) => customer[i]),
    order: Int32Array.from(idx, (i) => order[i]),
    item: Int32Array.from(idx, (i) => item[i]),
    time: Float64Array.from(idx, (i) => time[i]),
  };
}

/**
 * The reference: every pair of customers compared (no inverted index, no cap), own vectors from
 * ownVector(customerBaskets): the exact TIFU-KNN the capped search must equal when it keeps every buyer.
 */
function bruteForce(lines: BasketLines, customers: number, nItems: number, p = TIFU_DEFAULTS) {
  const own = customerBaskets(lines, customers).map((b) => [...ownVector(b, p)].sort((a, b) => a[0] - b[0]).map(([i, w]) => [i, Math.fround(w), w] as const));
  const norms = own.map((v) => Math.sqrt(v.reduce((s, [, , w]) => s + w * w, 0)));
  const weight = own.map((v) => new Map(v.map(([i, w]) => [i, w])));
  const nbrItems: number[][] = [];
  const nbrScores: number[][] = [];
  for (let c = 0; c < customers; c++) {
    const cands: { id: number; cos: number }[] = [];
    for (let v = 0; v < customers; v++) {
      if (v === c) continue;
      let dot = 0;
      let shared = false;
      for (const [i, w] of own[c]) {
        const x = weight[v].get(i);
        if (x !== undefined) {
          dot += w * x;
          shared = true;
        }
      }
      const cos = shared && norms[c] > 0 && norms[v] > 0 ? dot / (norms[c] * norms[v]) : 0;
      if (cos > 0) cands.push({ id: v, cos });
    }
    cands.sort((a, b) => b.cos - a.cos || a.id - b.id);
    const acc = new Map<number, number>();
    for (const { id: v } of cands.slice(0, p.neighbours)) for (const [i, w] of own[v]) acc.set(i, (acc.get(i) ?? 0) + (1 / p.neighbours) * w);
    const kept = [...acc].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, p.keep).sort((a, b) => a[0] - b[0]);
    nbrItems.push(kept.map(([i]) => i));
    nbrScores.push(kept.map(([, s]) => Math.fround(s)));
  }
  expect(nItems).toBeGreaterThan(0);
  return { own, nbrItems, nbrScores };
}

const slice = (a: ArrayLike<number>, s: number, e: number) => Array.from(a).slice(s, e);

describe('TIFU-KNN neighbour search (bounded)', () => {
  it('typed own vectors equal ownVector of the customers baskets, bit for bit', () => {
    const lines = randomLines(5, 120, 40);
    const o = ownVectors(lines, 120, 40, TIFU_DEFAULTS);
    const ref = customerBaskets(lines, 120).map((b) => [...ownVector(b, TIFU_DEFAULTS)].sort((a, b) => a[0] - b[0]));
    for (let c = 0; c < 120; c++) {
      expect(slice(o.ownItems, o.ownPtr[c], o.ownPtr[c + 1])).toEqual(ref[c].map(([i]) => i));
      expect(slice(o.ownScores, o.ownPtr[c], o.ownPtr[c + 1])).toEqual(ref[c].map(([, w]) => Math.fround(w)));
      expect(o.norms[c]).toBe(Math.sqrt(ref[c].reduce((s, [, w]) => s + w * w, 0)));
    }
  });

  it('within the budget (every buyer kept) the search is exact: the same vectors as comparing every pair of customers', () => {
    for (const [seed, customers, nItems, params] of [
      [1, 150, 30, {}],
      [2, 200, 60, { neighbours: 7, keep: 12 }],
    ] as const) {
      const lines = randomLines(seed, customers, nItems);
      const stats = {} as TifuSearchStats;
      const t = fitTifu(lines, customers, nItems, params, stats);
      expect(stats.cap).toBeNull();
      expect(stats.visited).toBe(stats.exactVisited);
      // the largest budget that still caps, and the smallest that does not
      const exactly = fitTifu(lines, customers, nItems, { ...params, searchBudget: stats.exactVisited });
      const ref = bruteForce(lines, customers, nItems, { ...TIFU_DEFAULTS, ...params });
      for (const v of [t, exactly]) {
        for (let c = 0; c < customers; c++) {
          expect(slice(v.ownItems, v.ownPtr[c], v.ownPtr[c + 1])).toEqual(ref.own[c].map(([i]) => i));
          expect(slice(v.ownScores, v.ownPtr[c], v.ownPtr[c + 1])).toEqual(ref.own[c].map(([, w]) => w));
          expect(slice(v.nbrItems, v.nbrPtr[c], v.nbrPtr[c + 1])).toEqual(ref.nbrItems[c]);
          expect(slice(v.nbrScores, v.nbrPtr[c], v.nbrPtr[c + 1])).toEqual(ref.nbrScores[c]);
        }
      }
      const capped = {} as TifuSearchStats;
      fitTifu(lines, customers, nItems, { ...params, searchBudget: stats.exactVisited - 1 }, capped);
      expect(capped.cap).not.toBeNull();
    }
  });

  it('above the budget every item keeps at most C buyers: the pairs visited stay within the budget, not Σ buyers²', () => {
    // 3,000 customers who all bought item 0 (and a few others): the exact search visits ≥ 3,000² pairs
    const customers = 3000;
    const lines = randomLines(9, customers, 50, 3);
    const withAll: BasketLines = {
      customer: Int32Array.from([...lines.customer, ...Array.from({ length: customers }, (_, c) => c)]),
      order: Int32Array.from([...lines.order, ...Array.from({ length: customers }, (_, c) => 1_000_000 + c)]),
      item: Int32Array.from([...lines.item, ...new Array(customers).fill(0)]),
      time: Float64Array.from([...lines.time, ...new Array(customers).fill(5)]),
    };
    const exact = {} as TifuSearchStats;
    fitTifu(withAll, customers, 50, { searchBudget: Infinity }, exact);
    expect(exact.cap).toBeNull();
    expect(exact.visited).toBeGreaterThanOrEqual(customers * customers);
    for (const budget of [2_000_000, 200_000]) {
      const stats = {} as TifuSearchStats;
      const t = fitTifu(withAll, customers, 50, { searchBudget: budget }, stats);
      expect(stats.cap).not.toBeNull();
      expect(stats.cap!).toBeLessThan(customers);
      expect(stats.visited).toBeLessThanOrEqual(budget);
      expect(stats.visited).toBeGreaterThan(budget / 10); // the largest cap within the budget, not a tiny one
      expect(stats.exactVisited).toBe(exact.visited);
      // still a full model: everyone has neighbours' items, the same answer run after run
      let withNbrs = 0;
      for (let c = 0; c < customers; c++) if (t.nbrPtr[c + 1] > t.nbrPtr[c]) withNbrs++;
      expect(withNbrs).toBe(customers);
      const again = fitTifu(withAll, customers, 50, { searchBudget: budget });
      expect(Array.from(again.nbrItems)).toEqual(Array.from(t.nbrItems));
      expect(Array.from(again.nbrScores)).toEqual(Array.from(t.nbrScores));
    }
  });

  it('buyerCap: the largest cap whose cost Σ n·min(n, C) fits the budget; null when the exact search fits', () => {
    const n = [10, 5, 3, 1];
    expect(buyerCap(n, 135)).toBeNull(); // 100 + 25 + 9 + 1
    expect(buyerCap(n, 134)).toBe(9); // 90 + 25 + 9 + 1 = 125; C = 10 would be 135
    expect(buyerCap(n, 125)).toBe(9);
    expect(buyerCap(n, 124)).toBe(8); // 80 + 25 + 9 + 1 = 115
    expect(buyerCap(n, 0)).toBe(1); // at least one buyer per item
  });
});
