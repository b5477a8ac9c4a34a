/**
 * Validation selection (src/eval/select.ts): the served lists are the best candidates on the validation
 * window, so never below popularity, trend alone or own-items-then-trend there.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../src/core/records.js';
import { mulberry32 } from '../src/core/random.js';
import { buildCandidateCache, buyAgainServed, CandidateCache, KeptLearned, scoreCandidates, selectServed } from '../src/eval/select.js';
import { evaluateBuyAgain } from '../src/eval/buy-again-eval.js';
import { ndcgAt, recallAt } from '../src/eval/metrics.js';
import { round4 } from '../src/eval/evaluate.js';
import { type LearnedKind, learnedScores, ownedOrder, scoreList, tifuScores, topAccepted } from '../src/core/served-model.js';
import { type EvalSplit, timeSplit } from '../src/eval/time-split.js';
import { DOT_BATCH, listSpec, ServedRecommender, type ServedState } from '../src/models/served.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

/** The served model selected on history()'s split at day 75 (small ALS, 10 TIFU neighbours), and the split. */
async function selectedOnHistory() {
  const split = timeSplit(history(), T0 + 75 * DAY);
  const sel = await selectServed(split, { params: { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 } } });
  return { split, sel };
}

function history(): HistoryLine[] {
  const rnd = mulberry32(11);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 120; c++) {
    const group = c % 3;
    for (let b = 0; b < 3 + Math.floor(rnd() * 5); b++) {
      const day = Math.floor(rnd() * 90);
      const orderId = `o${o++}`;
      for (let l = 0; l < 1 + Math.floor(rnd() * 3); l++) {
        // tastes by group, and items 40–44 selling only lately (a trend)
        const item = day > 70 && rnd() < 0.3 ? 40 + Math.floor(rnd() * 5) : group * 12 + Math.floor(rnd() * 12);
        lines.push({ orderId, customerId: `C${c}`, sku: `S${item}`, time: T0 + day * DAY + c, quantity: 1, unitPrice: 1, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}

describe('served model selection on validation', () => {
  it('picks the best candidate per list: never below popularity, trend or own items then trend', async () => {
    const { split, sel } = await selectedOnHistory();
    const d = sel.validation.discovery;
    const a = sel.validation.all;
    const of = (protocol: string, pred: (name: string) => boolean) => sel.candidates.filter((c) => c.protocol === protocol && pred(c.name));
    for (const c of of('discovery', (n) => n === 'popularity' || /^trend\d+$/.test(n))) expect(d['ndcg@10']).toBeGreaterThanOrEqual(c['ndcg@10']);
    for (const c of of('all', (n) => n === 'repeat' || /^repeat>trend\d+$/.test(n))) expect(a['ndcg@10']).toBeGreaterThanOrEqual(c['ndcg@10']);
    // the chosen lists are candidates, and every candidate kind was tried
    expect(sel.candidates.some((c) => c.name === d.name && c.protocol === 'discovery')).toBe(true);
    for (const m of ['als', 'ease', 'item_knn', 'tifu_knn']) expect(sel.candidates.some((c) => c.name === m)).toBe(true);
    expect(['rhythm', 'repeat', 'served']).toContain(sel.spec.buyAgain);
    // with a trend in the data, recency wins over plain popularity for trend alone
    expect(sel.baselines.trend.discovery.trendHalfLifeDays).toBeGreaterThan(0);
  }, 60_000);

  it('scores candidates from the cache exactly as scoring every item does, whatever the cache depth', async () => {
    const { split, sel } = await selectedOnHistory();
    const st = sel.state;
    const specs = sel.candidates.map((c) => c.spec);
    const ndcg = ndcgAt(10);
    const recall = recallAt(20);
    for (const protocol of ['discovery', 'all'] as const) {
      const mine = specs.filter((_, i) => sel.candidates[i].protocol === protocol);
      // every item scored (src/core/served-model.ts), the purchased items excluded on discovery
      const users = protocol === 'discovery' ? split.discoveryUsers : split.allUsers;
      const truth = protocol === 'discovery' ? split.truthNew : split.truthAll;
      const want = mine.map((spec) => {
        let n = 0;
        let r = 0;
        let count = 0;
        for (const u of users) {
          const t = truth.get(u);
          if (!t || t.size === 0) continue;
          count++;
          const p = st.person(u);
          const own = new Set(Array.from(p.items));
          const ids = topAccepted(scoreList(st.tables, spec, p), 20, (i) => protocol === 'all' || !own.has(i)).map((x) => x.id);
          n += ndcg(t, ids);
          r += recall(t, ids);
        }
        return [round4(n / count), round4(r / count)];
      });
      const comps = ['pop', ...['0', '3', '7', '14', '30', '60'].map((h) => `t:${h}`), 'l:als', 'l:ease', 'l:item_knn', 'p:0', 'p:0.5', 'p:0.7', 'p:0.9'];
      for (const k of [1, 4, 20, 10_000]) {
        const cache = buildCandidateCache(st, split, protocol, comps, k);
        const got = scoreCandidates(st, cache, mine).map((c) => [c['ndcg@10'], c['recall@20']]);
        expect(got).toEqual(want);
        // a deep cache proves every list from U alone; a shallow one is deepened (still exact)
        if (k === 10_000) expect(cache.deepened).toBe(0);
        if (k === 1) expect(cache.deepened).toBeGreaterThan(0);
      }
    }
  }, 60_000);
});

describe('the candidate caches of both protocols built together', () => {
  it("hold what each protocol's cache built alone holds (learned lists' scores computed once per customer)", async () => {
    const split = timeSplit(history(), T0 + 75 * DAY);
    const sel = await selectServed(split, { params: { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 }, item_knn: { neighbours: 3 } } as never });
    const st = sel.state;
    const base = ['pop', 't:0', 't:7', 'l:als', 'l:ease', 'l:item_knn'];
    const comps = { discovery: [...base, 'p:0'], all: [...base, 'p:0.5', 'p:0.9'] };
    // every customer, and a subset of each protocol's (as a sample above maxUsers)
    const subsets = [undefined, { discovery: split.discoveryUsers.filter((_, i) => i % 2 === 0), all: split.allUsers.filter((_, i) => i % 3 !== 1) }];
    const entries = (c: CandidateCache) => c.users.map((e) => ({ u: e.u, k: e.k, truth: [...e.truth], items: [...e.items], owned: [...e.owned], vals: [...e.vals], bound: [...e.bound] }));
    let compared = 0;
    for (const only of subsets) {
      for (const k of [1, 5, 50]) {
        const [d, a] = CandidateCache.buildTogether(st, split, [
          { protocol: 'discovery', comps: comps.discovery, only: only?.discovery },
          { protocol: 'all', comps: comps.all, only: only?.all },
        ], k);
        for (const [protocol, together] of [['discovery', d], ['all', a]] as const) {
          const alone = buildCandidateCache(st, split, protocol, comps[protocol], k, only?.[protocol]);
          expect(together.users.length).toBeGreaterThan(0);
          expect(entries(together)).toEqual(entries(alone));
          compared += together.users.length;
        }
      }
    }
    expect(compared).toBeGreaterThan(200);
  }, 120_000);
});

/**
 * Checks every entry of the caches built at each depth of `ks` against scanning the whole catalogue (components from
 * `first` on: list-based learned or TIFU scores): the k + 1 best accepted items (score, then lower index) are among its
 * items, its bound is the (k + 1)-th's score, its values are the scan's. Returns how many (entry, component) it checked.
 */
function expectCacheAsScan(st: ServedState, split: EvalSplit, comps: string[], ks: number[], first: number): number {
  const n = st.tables.nItems;
  let checked = 0;
  for (const protocol of ['discovery', 'all'] as const) {
    for (const k of ks) {
      const cache = buildCandidateCache(st, split, protocol, comps, k);
      for (const e of cache.users) {
        const p = st.person(e.u);
        const own = new Set(Array.from(p.items));
        const accepted = (j: number) => protocol === 'all' || !own.has(j);
        const m = e.items.length;
        for (let c = first; c < comps.length; c++) {
          const id = comps[c];
          const v = id.startsWith('l:') ? learnedScores(st.tables, id.slice(2) as LearnedKind, p) : tifuScores(n, p, Number(id.slice(2)));
          const order = Array.from({ length: n }, (_, j) => j).filter((j) => accepted(j) && v[j] > -Infinity);
          order.sort((a, b) => v[b] - v[a] || a - b);
          const best = order.slice(0, k + 1);
          for (const j of best) expect(e.items).toContain(j);
          expect(e.bound[c]).toBe(best.length > k ? v[best[k]] : -Infinity);
          for (let q = 0; q < m; q++) expect(e.vals[c * m + q]).toBe(v[e.items[q]]);
          checked++;
        }
      }
    }
  }
  return checked;
}

describe('the candidate cache: sparse components as the dense catalogue scan', () => {
  it('holds the same items U, values and bounds as scanning every item of learnedScores / tifuScores', async () => {
    const split = timeSplit(history(), T0 + 75 * DAY);
    // short item-kNN lists: a customer's list scores touch few items, so most of U's places go to untouched items at 0
    const sel = await selectServed(split, { params: { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 }, item_knn: { neighbours: 1 } } as never });
    const st = sel.state;
    const comps = ['pop', 't:7', 'l:als', 'l:ease', 'l:item_knn', 'p:0', 'p:0.5', 'p:0.9'];
    const checked = expectCacheAsScan(st, split, comps, [1, 3, 8, 10_000], 2);
    expect(checked).toBeGreaterThan(500);
  }, 240_000);
});

describe('the served model as a Recommender at scale', () => {
  it('scores ALS for customers in batches (dotMany) exactly as one customer at a time through scoreList', async () => {
    const { split, sel } = await selectedOnHistory();
    const st = sel.state;
    expect(st.tables.factors?.dotMany).toBeTypeOf('function');
    const disc = listSpec('als+trend', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 0.5 });
    const all = listSpec('item_knn+als', { learned: 'item_knn', learnedWeight: 1, learned2: 'als', learned2Weight: 0.5, ownWeight: 1, ownHalfLifeDays: 60 });
    const r = ServedRecommender.fromState('t', { discovery: disc, all }, st);
    const users = Int32Array.from(split.allUsers);
    expect(users.length).toBeGreaterThan(DOT_BATCH * 2);
    for (const exclude of [true, false]) {
      const got = await r.recommend(users, 20, exclude ? { exclude: split.reference.weights } : undefined);
      users.forEach((u, n) => {
        const p = st.person(u);
        const own = new Set(exclude ? Array.from(split.reference.weights.indices.subarray(split.reference.weights.indptr[u], split.reference.weights.indptr[u + 1])) : []);
        const want = topAccepted(scoreList(st.tables, exclude ? disc : all, p), 20, (i) => !own.has(i));
        expect(Array.from(got.ids.subarray(n * 20, n * 20 + want.length))).toEqual(want.map((x) => x.id));
        expect(Array.from(got.scores.subarray(n * 20, n * 20 + want.length))).toEqual(want.map((x) => Math.fround(x.score)));
      });
    }
  }, 60_000);
});

describe('served model selection at scale: a seeded sample of validation users', () => {
  it('scores at most maxUsers per protocol, the same users every time, and everyone below the cap', async () => {
    const { scoredUsers } = await import('../src/eval/select.js');
    const split = timeSplit(history(), T0 + 75 * DAY);
    const whole = scoredUsers(split, 'all', 1_000_000);
    expect(whole.users.length).toBe(whole.of);
    expect(whole.of).toBeGreaterThan(20);
    const a = scoredUsers(split, 'all', 15);
    const b = scoredUsers(split, 'all', 15);
    expect(a.users.length).toBe(15);
    expect(a.of).toBe(whole.of);
    expect([...a.users]).toEqual([...b.users]);
    expect([...a.users]).toEqual([...a.users].sort((x, y) => x - y));
    for (const u of a.users) expect(whole.users.includes(u)).toBe(true);
    expect(new Set(a.users).size).toBe(15);

    const params = { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 } };
    const capped = await selectServed(split, { params, maxUsers: 15 });
    expect(capped.users.all).toEqual({ of: whole.of, scored: 15 });
    for (const c of capped.candidates) expect(c.users).toBeLessThanOrEqual(15);
    // the buy-again protocol (its served ranking scores every item) on the same sample
    for (const v of Object.values(capped.buyAgain)) expect(v.users).toBeLessThanOrEqual(15);
    // under the cap the choice is scored on everyone, as before
    const full = await selectServed(split, { params });
    expect(full.users.all).toEqual({ of: whole.of, scored: whole.of });
    for (const c of full.candidates.filter((x) => x.protocol === 'all')) expect(c.users).toBe(whole.of);
  }, 60_000);
});

/** Lists whose sums cancel: row i scores every other item j at +0.5 (i + j even) or −0.5 (odd), so a customer with items of both parities sums many items to exactly 0. */
function cancellingLists(n: number): { indptr: Int32Array; indices: Int32Array; scores: Float32Array } {
  const indptr = new Int32Array(n + 1);
  const indices: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      indices.push(j);
      scores.push((i + j) % 2 === 0 ? 0.5 : -0.5);
    }
    indptr[i + 1] = indices.length;
  }
  return { indptr, indices: Int32Array.from(indices), scores: Float32Array.from(scores) };
}

describe('the candidate cache: list scores summed without the first-touch test', () => {
  it('gives the dense scan\'s U, values and bounds when sums cancel to 0, and leaves zero sums out of the touched items', async () => {
    const split = timeSplit(history(), T0 + 75 * DAY);
    const sel = await selectServed(split, { params: { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 }, item_knn: { neighbours: 1 } } as never });
    const st = sel.state;
    const n = st.tables.nItems;
    // EASE's place: long cancelling lists (every customer's lists cover the catalogue); item-kNN's short ones stay
    st.tables.lists.ease = cancellingLists(n);
    const comps = ['pop', 't:7', 'l:als', 'l:ease', 'l:item_knn'];
    const checked = expectCacheAsScan(st, split, comps, [1, 3, 8, 30, 10_000], 3);
    let zeros = 0;
    // the summing itself: touched items ascending, none summing to 0 (the first-touch loop keeps them, in touch order)
    const cache = buildCandidateCache(st, split, 'all', comps, 1) as unknown as {
      sparseScores(c: number, id: string, p: ReturnType<typeof st.person>): { acc: Float64Array; touched: number[] };
      releaseSparse(): void;
    };
    for (const u of split.allUsers) {
      const p = st.person(u);
      const items = Array.from(p.items);
      if (!items.some((i) => i % 2 === 0) || !items.some((i) => i % 2 === 1)) continue;
      const raw = new Float64Array(n);
      for (const i of items) for (let j = 0; j < n; j++) if (j !== i) raw[j] += (i + j) % 2 === 0 ? 0.5 : -0.5;
      zeros += raw.filter((x) => x === 0).length;
      const { acc, touched } = cache.sparseScores(3, 'l:ease', p);
      expect(touched).toEqual([...touched].sort((a, b) => a - b));
      expect(touched).toEqual(Array.from({ length: n }, (_, j) => j).filter((j) => raw[j] !== 0));
      const want = learnedScores(st.tables, 'ease', p);
      for (let j = 0; j < n; j++) expect(acc[j]).toBe(want[j]);
      cache.releaseSparse();
    }
    expect(zeros).toBeGreaterThan(50);
    expect(checked).toBeGreaterThan(300);
  }, 240_000);
});

describe('the candidate cache: a deepened entry reads the list scores it kept', () => {
  it('counts what an entry costs beyond its items, and keeps no empty list', () => {
    const kept = new KeptLearned(3 * (12 * 10 + 320));
    const acc = new Float64Array(100).fill(0.5);
    const ten = Array.from({ length: 10 }, (_, j) => j * 3);
    kept.put('l:ease', 1, acc, []);
    expect(kept.get('l:ease', 1)).toBeUndefined();
    expect(kept.bytes).toBe(0);
    for (let u = 0; u < 4; u++) kept.put('l:item_knn', u, acc, ten);
    // three 10-item entries fill the budget with their overhead counted: the fourth is summed again
    expect(kept.bytes).toBe(3 * (12 * 10 + 320));
    expect(kept.get('l:item_knn', 2)?.items).toEqual(Int32Array.from(ten));
    expect(kept.get('l:item_knn', 3)).toBeUndefined();
  });

  it('is the entry built at that depth, without summing the lists again; past the budget they are summed again', async () => {
    const { split, sel } = await selectedOnHistory();
    const st = sel.state;
    const comps = { discovery: ['pop', 't:7', 'l:als', 'l:ease', 'l:item_knn', 'p:0'], all: ['pop', 't:7', 'l:als', 'l:ease', 'l:item_knn', 'p:0.5'] };
    const parts = (['discovery', 'all'] as const).map((protocol) => ({ protocol, comps: comps[protocol] }));
    const entries = (c: CandidateCache) => c.users.map((e) => ({ u: e.u, k: e.k, items: [...e.items], owned: [...e.owned], vals: [...e.vals], bound: [...e.bound] }));
    // what deepening every entry of a depth-2 cache must give: the caches built at depth 8 (CAND_DEEPEN = 4)
    const want = CandidateCache.buildTogether(st, split, parts, 8).map(entries);
    const lists = st.tables.lists;
    const kept = CandidateCache.buildTogether(st, split, parts, 2);
    const again = CandidateCache.buildTogether(st, split, parts, 2);
    for (const c of again) c.kept = new KeptLearned(0);
    expect(kept[0].kept).toBe(kept[1].kept);
    expect(kept[0].kept.bytes).toBeGreaterThan(0);
    // lists that would give other scores: a deepened entry that sums them again differs
    st.tables.lists = { ease: cancellingLists(st.tables.nItems), item_knn: cancellingLists(st.tables.nItems) };
    try {
      for (const c of kept) for (let x = 0; x < c.users.length; x++) c.deepen(x);
      expect(kept.map(entries)).toEqual(want);
      for (const c of again) for (let x = 0; x < c.users.length; x++) c.deepen(x);
      expect(again.map(entries)).not.toEqual(want);
    } finally {
      st.tables.lists = lists;
    }
    // with the lists back, the budget-less caches deepen to the same entries (summed again)
    const fresh = CandidateCache.buildTogether(st, split, parts, 2);
    for (const c of fresh) c.kept = new KeptLearned(0);
    for (const c of fresh) for (let x = 0; x < c.users.length; x++) c.deepen(x);
    expect(fresh.map(entries)).toEqual(want);
    expect(want[0].length + want[1].length).toBeGreaterThan(100);
  }, 120_000);
});

describe('the buy-again protocol\'s served ranking from the candidate cache', () => {
  it('ranks each customer\'s own items as ownedOrder does (every item scored), and evaluateBuyAgain sums those figures', async () => {
    const { split, sel } = await selectedOnHistory();
    const st = sel.state;
    const ndcg = ndcgAt(10);
    const recall = recallAt(20);
    const comps = ['pop', 't:0', 't:7', 'l:als', 'l:ease', 'l:item_knn', 'p:0.5'];
    const specs = [
      listSpec('repeat>trend7', { trendHalfLifeDays: 7, trendWeight: 1, ownedFirst: true }),
      listSpec('repeat', { trendHalfLifeDays: 0, trendWeight: 0, ownedFirst: true }),
      { ...listSpec('own+als+knn', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 2 }), learned2: 'item_knn' as const, learned2Weight: 1, ownWeight: 1, ownHalfLifeDays: 120 },
      listSpec('tifu+trend', { tifuWeight: 1, tifuAlpha: 0.5, trendHalfLifeDays: 0, trendWeight: 0.3 }),
      listSpec('ease (all items)', { learned: 'ease', learnedWeight: 1 }),
      // a component the cache does not hold (TIFU at another α): scored the full way
      listSpec('tifu 0.9', { tifuWeight: 1, tifuAlpha: 0.9 }),
    ];
    let compared = 0;
    for (const k of [1, 5, 10_000]) {
      const cache = buildCandidateCache(st, split, 'all', comps, k);
      for (const spec of specs) {
        const got = buyAgainServed(st, cache, spec);
        cache.users.forEach((e, x) => {
          const p = st.person(e.u);
          const truth = new Set([...e.truth].filter((i) => Array.from(p.items).includes(i)));
          if (truth.size === 0) {
            expect(got.ndcg[x]).toBeNaN();
            return;
          }
          const ranked = ownedOrder(st.tables, { discovery: spec, all: spec }, p, 'served').map((q) => p.items[q]);
          expect(got.ndcg[x]).toBe(ndcg(truth, ranked));
          expect(got.recall[x]).toBe(recall(truth, ranked));
          compared++;
        });
      }
      // nothing scored, nothing deepened
      expect(cache.scored).toBe(0);
    }
    expect(compared).toBeGreaterThan(300);
    // evaluateBuyAgain sums the given figures in place of ranking again (the same figures when they are right)
    const cache = buildCandidateCache(st, split, 'all', comps, 5);
    const users = Int32Array.from(cache.users.map((e) => e.u));
    const chosen = { discovery: specs[2], all: specs[2] };
    const figs = buyAgainServed(st, cache, specs[2]);
    const plain = evaluateBuyAgain(split, { state: st, spec: chosen }, users);
    expect(evaluateBuyAgain(split, { state: st, spec: chosen }, users, figs)).toEqual(plain);
    const ones = { ndcg: figs.ndcg.map((v) => (Number.isNaN(v) ? v : 1)), recall: figs.recall.map((v) => (Number.isNaN(v) ? v : 1)) };
    const given = evaluateBuyAgain(split, { state: st, spec: chosen }, users, ones);
    expect(given.served['ndcg@10']).toBe(1);
    expect(given.repeat).toEqual(plain.repeat);
  }, 120_000);
});
