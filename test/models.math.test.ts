/**
 * The pure math under the models, against hand-computed values: top-k selection, similarity and
 * re-weighting, frequently-bought-together lift and thresholds, popular lists, RFM segments,
 * the blend score and repurchase statistics.
 */
import { describe, expect, it } from 'vitest';
import { csrFromCoo } from '../src/core/csr.js';
import { topK, recommendDense, compactTopK } from '../src/core/top-k.js';
import { bm25Weight, idf, itemNeighbours, scoreFromLists, tfidfWeight } from '../src/core/similarity.js';
import { computeRfm, segmentCustomers } from '../src/core/rfm.js';
import { BLEND_DEFAULTS, blendScores, itemTrend } from '../src/core/blend.js';
import { FbtRecommender } from '../src/models/fbt.js';
import { popularLists } from '../src/models/popularity.js';
import { buyAgainScores, repurchaseStats } from '../src/models/repeat.js';
import { mulberry32 } from '../src/core/random.js';

const DAY = 86_400_000;

describe('top-k', () => {
  it('selects the k largest, ties by lower index, skipping -Infinity and NaN, padding with -1', () => {
    const r = topK([3, 5, NaN, 5, -Infinity, 1], 5);
    expect(Array.from(r.ids)).toEqual([1, 3, 0, 5, -1]);
    expect(Array.from(r.scores)).toEqual([5, 5, 3, 1, -Infinity]);
  });

  it('agrees with a full sort on random data', () => {
    const rnd = mulberry32(3);
    const xs = Array.from({ length: 1000 }, () => Math.floor(rnd() * 50));
    const r = topK(xs, 37);
    const expected = xs.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 37).map((e) => e[1]);
    expect(Array.from(r.ids)).toEqual(expected);
  });

  it('recommendDense masks excluded items per requested row', () => {
    const ex = csrFromCoo(2, 4, [0, 1], [3, 0], [1, 1]);
    const res = recommendDense([0, 1], 2, 4, { exclude: ex }, (_u, out) => out.set([4, 3, 2, 9]));
    expect(Array.from(res.ids)).toEqual([0, 1, 3, 1]);
  });

  it('compactTopK drops the padding', () => {
    const c = compactTopK(2, 2, Int32Array.of(4, -1, 1, 2), Float32Array.of(1, -Infinity, 3, 2));
    expect(Array.from(c.indptr)).toEqual([0, 1, 3]);
    expect(Array.from(c.indices)).toEqual([4, 1, 2]);
  });
});

describe('similarity', () => {
  // customers × items, binary:
  //   c0: i0 i1      c1: i0 i1 i2      c2: i1 i2      c3: i2
  const x = csrFromCoo(4, 3, [0, 0, 1, 1, 1, 2, 2, 3], [0, 1, 0, 1, 2, 1, 2, 2], [1, 1, 1, 1, 1, 1, 1, 1]);
  // G = XᵀX: diag (2, 3, 3); G01 = 2, G02 = 1, G12 = 2

  it('cosine with shrinkage: G_ij / (√G_ii √G_jj + shrink)', () => {
    const l = itemNeighbours(x, 2, 'cosine', 1);
    // item 0: s(0,1) = 2 / (√2·√3 + 1), s(0,2) = 1 / (√6 + 1)
    expect(Array.from(l.indices.subarray(l.indptr[0], l.indptr[1]))).toEqual([1, 2]);
    expect(l.scores[l.indptr[0]]).toBeCloseTo(2 / (Math.sqrt(6) + 1), 6);
    expect(l.scores[l.indptr[0] + 1]).toBeCloseTo(1 / (Math.sqrt(6) + 1), 6);
    // item 1: s(1,0) = 2 / (√6 + 1) ≈ 0.58 ranks above s(1,2) = 2 / (3 + 1) = 0.5
    expect(Array.from(l.indices.subarray(l.indptr[1], l.indptr[2]))).toEqual([0, 2]);
    expect(l.scores[l.indptr[1] + 1]).toBeCloseTo(0.5, 6);
  });

  it('jaccard: G_ij / (G_ii + G_jj − G_ij)', () => {
    const l = itemNeighbours(x, 1, 'jaccard', 0);
    // item 2: J(2,1) = 2 / (3 + 3 − 2) = 0.5, J(2,0) = 1 / (3 + 2 − 1) = 0.25
    expect(l.indices[l.indptr[2]]).toBe(1);
    expect(l.scores[l.indptr[2]]).toBeCloseTo(0.5, 6);
  });

  it('idf, tf-idf and bm25 re-weight as implicit does', () => {
    const w = idf(x);
    expect(w[0]).toBeCloseTo(Math.log(4) - Math.log(3), 9); // df = 2
    const t = tfidfWeight(x);
    expect(t.data[0]).toBeCloseTo(w[0], 6);
    const counts = csrFromCoo(2, 2, [0, 1, 1], [0, 0, 1], [4, 1, 1]);
    const b = bm25Weight(counts, 100, 0.8);
    // len = (4, 2), avg 3; x'(0,0) = 4·101 / (100·(0.2 + 0.8·4/3) + 4) · idf(0), idf(0) = log 2 − log 3
    const idf0 = Math.log(2) - Math.log(3);
    expect(b.data[0]).toBeCloseTo(((4 * 101) / (100 * (0.2 + (0.8 * 4) / 3) + 4)) * idf0, 5);
  });

  it('scoreFromLists sums weighted neighbour scores', () => {
    const lists = { indptr: Int32Array.of(0, 2, 3, 3), indices: Int32Array.of(1, 2, 2), scores: Float32Array.of(0.5, 0.25, 1) };
    const out = new Float64Array(3);
    scoreFromLists(lists, [0, 1], [2, 1], out);
    expect(Array.from(out)).toEqual([0, 1, 1.5]);
  });
});

describe('frequently bought together', () => {
  it('ranks by lift n_ij·N/(n_i·n_j) within support and confidence thresholds', async () => {
    // 6 baskets over items 0..3
    const baskets = [[0, 1], [0, 1], [0, 1, 2], [0, 2], [2, 3], [1, 3]];
    const r: number[] = [];
    const c: number[] = [];
    baskets.forEach((b, i) => b.forEach((it) => (r.push(i), c.push(it))));
    const b = csrFromCoo(6, 4, r, c, r.map(() => 1));
    const m = new FbtRecommender({ k: 3, minSupport: 2, minConfidence: 0.1 });
    await m.fit({ weights: b, counts: b, baskets: b, items: [], customers: [] });
    // n = (4, 4, 3, 2); n01 = 3, n02 = 2, n12 = 1 (below support), n13 = 1, n23 = 1
    const l = m.lists;
    expect(Array.from(l.indices.subarray(l.indptr[0], l.indptr[1]))).toEqual([1, 2]);
    expect(l.scores[l.indptr[0]]).toBeCloseTo((3 * 6) / (4 * 4), 6); // lift(0,1) = 1.125
    expect(l.scores[l.indptr[0] + 1]).toBeCloseTo((2 * 6) / (4 * 3), 6); // lift(0,2) = 1
    expect(l.indptr[4] - l.indptr[3]).toBe(0); // item 3: every pair below support
    // a high confidence threshold removes 0 → 2 (confidence 2/4) but keeps 2 → 0 (2/3)
    const strict = new FbtRecommender({ k: 3, minSupport: 2, minConfidence: 0.6 });
    await strict.fit({ weights: b, counts: b, baskets: b, items: [], customers: [] });
    expect(Array.from(strict.lists.indices.subarray(strict.lists.indptr[0], strict.lists.indptr[1]))).toEqual([1]);
    expect(Array.from(strict.lists.indices.subarray(strict.lists.indptr[2], strict.lists.indptr[3]))).toEqual([0]);
  });
  it('ranks a customer by summed confidence of their items, then backs off to popularity', async () => {
    // baskets: item 1 goes with 0 in 3 of 0's 4 baskets (confidence 0.75, lift 1.125),
    // item 2 in 2 of them (confidence 0.5, lift 1); item 3 never reaches 0 but has 2 buyers.
    const baskets = [[0, 1], [0, 1], [0, 1, 2], [0, 2], [2, 3], [1, 3]];
    const r: number[] = [];
    const c: number[] = [];
    baskets.forEach((b, i) => b.forEach((it) => (r.push(i), c.push(it))));
    const b = csrFromCoo(6, 4, r, c, r.map(() => 1));
    // customers: 0 bought item 0 only; 1 bought item 3 only (item 3 has no list entries)
    const counts = csrFromCoo(3, 4, [0, 1, 2, 2], [0, 3, 3, 2], [1, 1, 1, 1]);
    const m = new FbtRecommender({ k: 3, minSupport: 2, minConfidence: 0.1 });
    await m.fit({ weights: counts, counts, baskets: b, items: [], customers: [] });
    const res = await m.recommend([0, 1], 4);
    // customer 0: 1 (conf 0.75) before 2 (0.5), then unreached items by buyers (3: 2 buyers), own item last
    expect(Array.from(res.ids.subarray(0, 3))).toEqual([1, 2, 3]);
    expect(res.scores[2]).toBeLessThan(0);
    // customer 1: item 3 has no list, so the whole ranking is by buyers: 3 (2 buyers), then 0 (1; ties by index)
    expect(res.ids[4]).toBe(3);
    expect(res.ids[5]).toBe(0);
  });
});

describe('popular lists', () => {
  it('counts distinct buyers globally, per store and per segment; guests per line; trending decays', () => {
    const now = Date.UTC(2024, 0, 31);
    const lines = {
      item: Int32Array.of(0, 0, 0, 1, 1, 2, 2),
      customer: Int32Array.of(0, 0, 1, 1, -1, -1, 2),
      store: Int32Array.of(0, 0, 1, -1, 1, 1, 1),
      time: Float64Array.of(now - 60 * DAY, now - 50 * DAY, now - 40 * DAY, now - 30 * DAY, now, now, now - DAY),
      storeIds: ['s0', 's1'],
    };
    const p = popularLists(lines, { nItems: 3, segments: ['vip', 'new', 'vip'], now, trendingHalfLifeDays: 1 });
    // global: item0 = customers {0,1} = 2; item1 = customer 1 + one guest line = 2; item2 = guest + customer 2 = 2
    expect(Array.from(p.global.scores)).toEqual([2, 2, 2]);
    expect(Array.from(p.byStore.s0.items)).toEqual([0]);
    expect(Array.from(p.byStore.s0.scores)).toEqual([1]); // customer 0 twice counts once
    expect(Array.from(p.byStore.s1.items)).toEqual([2, 0, 1]);
    expect(Array.from(p.bySegment.vip!.items)).toEqual([0, 2]);
    expect(Array.from(p.bySegment.new!.items)).toEqual([0, 1]);
    // trending (half-life 1 day): item2 = 1 + 0.5, item1 = 1 + 2^-30, item0 ≈ 0
    expect(Array.from(p.trending.items.subarray(0, 2))).toEqual([2, 1]);
    expect(p.trending.scores[0]).toBeCloseTo(1.5, 6);
  });
});

describe('popular lists per channel', () => {
  it('counts distinct buyers per channel (guests per line); no channel column or no purchase in a channel → no list', () => {
    const now = Date.UTC(2024, 0, 31);
    // channels: 0 web, 1 app, 2 store; 255 = unknown
    const lines = {
      item: Int32Array.of(0, 0, 1, 1, 2, 2, 2),
      customer: Int32Array.of(0, 0, 1, -1, 2, 0, 1),
      store: Int32Array.of(-1, -1, -1, -1, -1, -1, -1),
      channel: Uint8Array.of(1, 1, 1, 1, 0, 0, 255),
      time: Float64Array.of(now, now, now, now, now, now, now),
      storeIds: [],
    };
    const p = popularLists(lines, { nItems: 3, now });
    // app: item 0 customer 0 twice = 1; item 1 customer 1 + one guest line = 2
    expect(Array.from(p.byChannel.app!.items)).toEqual([1, 0]);
    expect(Array.from(p.byChannel.app!.scores)).toEqual([2, 1]);
    // web: item 2 by customers 2 and 0; the unknown channel's line counts only globally
    expect(Array.from(p.byChannel.web!.items)).toEqual([2]);
    expect(Array.from(p.byChannel.web!.scores)).toEqual([2]);
    expect(p.byChannel.store).toBeUndefined();
    expect(Array.from(p.global.scores)).toEqual([3, 2, 1]);
    const { channel: _none, ...noChannels } = lines;
    expect(popularLists(noChannels, { nItems: 3, now }).byChannel).toEqual({});
  });
});

describe('RFM segments', () => {
  it('applies the documented rules in order', () => {
    const now = Date.UTC(2024, 6, 1);
    // customer: orders (days ago, revenue)
    const spec: [number, number][][] = [
      [[200, 50]], // 0 lapsed
      [[100, 50], [120, 10]], // 1 at_risk
      [[5, 5000]], // 2 vip (top revenue)
      [[1, 10], [10, 10], [20, 10], [30, 10], [40, 10]], // 3 loyal (5 orders)
      [[3, 400]], // 4 high AOV, one order, revenue below vip
      [[2, 20]], // 5 new
      [[2, 20], [9, 20]], // 6 repeat
      [], // 7 no orders
      [[4, 30]], // 8 new
      [[6, 15], [7, 15]], // 9 repeat
    ];
    const customer: number[] = [];
    const order: number[] = [];
    const time: number[] = [];
    const revenue: number[] = [];
    let o = 0;
    spec.forEach((orders, c) =>
      orders.forEach(([ago, rev]) => {
        // two lines per order: frequency counts orders, not lines
        for (let l = 0; l < 2; l++) {
          customer.push(c);
          order.push(o);
          time.push(now - ago * DAY);
          revenue.push(rev / 2);
        }
        o++;
      }),
    );
    const rfm = computeRfm({ customer, order, time, revenue }, spec.length, now);
    expect(rfm.frequency[3]).toBe(5);
    expect(rfm.monetary[2]).toBe(5000);
    expect(rfm.recencyDays[1]).toBeCloseTo(100, 9);
    const seg = segmentCustomers(rfm, { vipShare: 0.1 }); // 9 customers with revenue → top 1 is vip
    expect(seg).toEqual(['lapsed', 'at_risk', 'vip', 'loyal', 'high_aov', 'new', 'repeat', null, 'new', 'repeat']);
    // thresholds are configurable: a longer lapse window turns customer 0 at risk
    expect(segmentCustomers(rfm, { vipShare: 0.1, lapsedDays: 365, atRiskDays: 90 })[0]).toBe('at_risk');
  });
});

describe('blend', () => {
  it('puts owned items first by count, trend then popularity breaking ties, then learned + trend', () => {
    const trendValues = [0, 0.8, 0, 0, 1];
    const r = blendScores(
      BLEND_DEFAULTS,
      { items: [0, 1, 2], counts: [1, 1, 3] },
      { items: [3, 4, 0], scores: [2, 1, 5] },
      (i) => [1, 0, 0, 0, 0][i],
      10,
      new Set(),
      { items: [4], value: (j) => trendValues[j] },
    );
    // owned: 2 → 3; 1 → 1 + 0.5·0.8 = 1.4; 0 → 1 + 0.01·1 = 1.01 (its learned score is ignored, but it
    // sets the normaliser: best listed score 5) → 3: 0.5·(2/5) = 0.2; 4: 0.5·(1/5 + 0.5·1) = 0.35
    expect(r.items).toEqual([2, 1, 0, 4, 3]);
    expect(r.scores[1]).toBeCloseTo(1.4, 9);
    expect(r.scores[3]).toBeCloseTo(0.35, 9);
  });

  it('computes the item trend from last purchase times, scaled to 1', () => {
    const now = 100 * DAY;
    const t = itemTrend(3, [0, 1, 1], [now, now - 7 * DAY, now], 7);
    expect(Array.from(t)).toEqual([1 / 1.5, 1, 0]);
  });
});

describe('repurchase', () => {
  it('mean interval and buy-again urgency', () => {
    const s = repurchaseStats([10 * DAY, 0, 4 * DAY]);
    expect(s).toEqual({ count: 3, lastTime: 10 * DAY, intervalDays: 5 });
    expect(repurchaseStats([DAY]).intervalDays).toBeNaN();
    const b = buyAgainScores([3, 2], [10 * DAY, 10 * DAY], [5, NaN], 12.5 * DAY);
    expect(b[0]).toBeCloseTo(3 * 0.5, 6);
    expect(b[1]).toBeCloseTo(0.2, 6);
  });
});
