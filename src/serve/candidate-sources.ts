/**
 * The candidate sources of serving, pure functions over the loaded model: each returns
 * up to `limit` accepted items, best first, with a score and a reason. Lists that are
 * precomputed (neighbours, fbt, popular) are walked in order; factor scores are one dot
 * product per item over k factors with partial top-k selection (or, for big catalogues,
 * over a candidate set of neighbours + popular items).
 */
import type { LoadedModel } from '../cache/model-source.js';
import type { RankedList, TopKLists } from '../core/bundle.js';
import type { Channel, Segment } from '../core/records.js';
import type { ItemFilter } from './item-filter.js';
import type { Reason } from './rec-list.js';
import type { SimdScorer } from './simd-scorer.js';
import { preparedOf, scratchOf } from './prepared-model.js';
import { TopSelect } from '../core/top-select.js';

export interface Candidate {
  item: number;
  score: number;
  reason: Reason;
}

/** Catalogues larger than this score factors over a candidate set instead of every item (default). */
export const FULL_SCAN_MAX_ITEMS = 20_000;
/** How many popular items (global; in the store; trending) join the candidate set of a big catalogue. */
const POPULAR_CANDIDATES = { global: 500, store: 200, trending: 100 };

/**
 * The store's popular list, if the bundle has one: an own key only (a store id is the client's text:
 * "constructor" or "__proto__" must not find Object.prototype's members).
 */
const storeList = (model: LoadedModel, store: string | undefined): RankedList | undefined =>
  store !== undefined && Object.hasOwn(model.popular.byStore, store) ? model.popular.byStore[store] : undefined;

/** Walks a ranked list in order, keeping accepted items. */
export function fromRanked(list: RankedList | undefined, filter: ItemFilter, limit: number, reason: (item: number) => Reason): Candidate[] {
  const out: Candidate[] = [];
  if (!list) return out;
  for (let p = 0; p < list.items.length && out.length < limit; p++) {
    const i = list.items[p];
    if (filter.accepts(i)) out.push({ item: i, score: list.scores[p], reason: reason(i) });
  }
  return out;
}

/**
 * Popular items: in the store's list when asked and known, else in the segment's, else global. The
 * global list is the asking channel's when it is given and the bundle has one (best sellers in the
 * app for the app), followed by the global list to fill what the channel's list cannot.
 */
export function popular(
  model: LoadedModel,
  filter: ItemFilter,
  limit: number,
  scope: { store?: string; segment?: Segment | null; category?: string | null; channel?: Channel } = {},
): Candidate[] {
  const p = model.popular;
  const inStore = storeList(model, scope.store);
  if (inStore) {
    const store = scope.store!;
    return fromRanked(inStore, filter, limit, () => ({ type: 'popular', scope: 'store', store }));
  }
  if (scope.segment && p.bySegment[scope.segment]) {
    const segment = scope.segment;
    return fromRanked(p.bySegment[segment], filter, limit, () => ({ type: 'popular', scope: 'segment', segment }));
  }
  if (scope.category) {
    const category = scope.category;
    const inCategory = { accepts: (i: number) => model.itemCategories[i] === category && filter.accepts(i) } as ItemFilter;
    return fromRanked(p.global, inCategory, limit, () => ({ type: 'popular', scope: 'global', category }));
  }
  const global = fromRanked(p.global, filter, limit, () => ({ type: 'popular', scope: 'global' }));
  const channel = scope.channel;
  const list = channel ? p.byChannel?.[channel] : undefined;
  if (!channel || !list?.items.length) return global;
  // callers add candidates in order and skip repeats, so the global ones only fill after the channel's
  return [...fromRanked(list, filter, limit, () => ({ type: 'popular', scope: 'channel', channel })), ...global];
}

/** Row i of a top-K list. */
function row(lists: TopKLists, i: number): { s: number; e: number } {
  return { s: lists.indptr[i], e: lists.indptr[i + 1] };
}

/**
 * Items related to several seed items through a top-K list (neighbours or fbt):
 * score(j) = Σ_seed weight(seed) · sim(seed, j); the reason names the seed that contributed most.
 */
export function aggregateLists(
  model: LoadedModel,
  lists: TopKLists,
  seeds: readonly number[],
  filter: ItemFilter,
  limit: number,
  reason: (seedSku: string) => Reason,
  seedWeights?: readonly number[],
): Candidate[] {
  // sums and strongest seeds in per-model scratch arrays (no Map, no object per item); the
  // selection does not depend on the order items are offered in (ties go to the lower index)
  const sc = scratchOf(model);
  const { mark, epoch } = sc;
  const sums = sc.sums ?? (sc.sums = new Float64Array(mark.length));
  const bestSeed = sc.bestSeed ?? (sc.bestSeed = new Int32Array(mark.length));
  const bestScore = sc.bestScore ?? (sc.bestScore = new Float64Array(mark.length));
  const touched: number[] = [];
  for (let n = 0; n < seeds.length; n++) {
    const seed = seeds[n];
    if (seed < 0 || seed >= lists.indptr.length - 1) continue;
    const w = seedWeights ? seedWeights[n] : 1;
    const { s, e } = row(lists, seed);
    for (let p = s; p < e; p++) {
      const j = lists.indices[p];
      const c = w * lists.scores[p];
      if (mark[j] !== epoch) {
        mark[j] = epoch;
        touched.push(j);
        sums[j] = 0 + c;
        bestSeed[j] = seed;
        bestScore[j] = c;
      } else {
        sums[j] += c;
        if (c > bestScore[j]) {
          bestSeed[j] = seed;
          bestScore[j] = c;
        }
      }
    }
  }
  const sel = new TopSelect(limit);
  for (const j of touched) {
    const s = sums[j];
    if (sel.wouldAccept(s, j) && filter.accepts(j)) sel.push(s, j);
  }
  return sel.drain().map(({ id, score: s }) => ({ item: id, score: s, reason: reason(model.items[bestSeed[id]]) }));
}

/**
 * Factor scores x·yᵢ for every item (SIMD when available), or for a candidate set on catalogues
 * above `fullScanMax` items; the top `limit` accepted by the filter.
 */
export function factorScores(
  model: LoadedModel,
  x: Float32Array,
  filter: ItemFilter,
  limit: number,
  options: { candidates?: () => ArrayLike<number>; fullScanMax?: number } = {},
): { id: number; score: number }[] {
  const { k, itemFactors: y } = model.als!;
  const n = model.items.length;
  const sel = new TopSelect(limit);
  if (n <= (options.fullScanMax ?? FULL_SCAN_MAX_ITEMS) || !options.candidates) {
    const scores = simdScorer(model)?.scores(x) ?? denseScores(y, k, n, x);
    // items come in index order, so a later one never wins a tie against the selection: it enters
    // iff s > floor (sel.wouldAccept exactly, NaN and −Infinity included), tested inline
    let floor = -Infinity;
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (!(s > floor) || !filter.accepts(i)) continue;
      sel.push(s, i);
      floor = sel.floor();
    }
  } else {
    const candidates = options.candidates();
    for (let c = 0; c < candidates.length; c++) {
      const i = candidates[c];
      const o = i * k;
      let s0 = 0;
      let s1 = 0;
      let d = 0;
      for (; d + 1 < k; d += 2) {
        s0 += x[d] * y[o + d];
        s1 += x[d + 1] * y[o + d + 1];
      }
      if (d < k) s0 += x[d] * y[o + d];
      const s = s0 + s1;
      if (sel.wouldAccept(s, i) && filter.accepts(i)) sel.push(s, i);
    }
  }
  return sel.drain();
}

/** The model's SIMD scorer (null without WebAssembly SIMD or factors). */
export function simdScorer(model: LoadedModel): SimdScorer | null {
  return preparedOf(model).simd;
}

/** One reusable score buffer per catalogue size (serving is single-threaded; callers use it synchronously). */
let buffer = new Float64Array(0);

/** scores[i] = x·y_i for every item in JavaScript (the fallback without SIMD), 4 lanes unrolled. */
function denseScores(y: Float32Array, k: number, n: number, x: Float32Array): Float64Array {
  if (buffer.length < n) buffer = new Float64Array(n);
  const out = buffer;
  const k4 = k & ~3;
  for (let i = 0, o = 0; i < n; i++, o += k) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d < k4; d += 4) {
      s0 += x[d] * y[o + d];
      s1 += x[d + 1] * y[o + d + 1];
      s2 += x[d + 2] * y[o + d + 2];
      s3 += x[d + 3] * y[o + d + 3];
    }
    for (; d < k; d++) s0 += x[d] * y[o + d];
    out[i] = s0 + s1 + s2 + s3;
  }
  return out;
}

/**
 * The candidate set for factor scoring on big catalogues, distinct items: neighbours of the seeds
 * (recent purchases or session items), then the head of the popular lists (store, global, trending).
 */
export function factorCandidates(model: LoadedModel, seeds: readonly number[], store?: string): Int32Array {
  const { mark, epoch } = scratchOf(model);
  const out: number[] = [];
  const add = (i: number) => {
    if (mark[i] !== epoch) {
      mark[i] = epoch;
      out.push(i);
    }
  };
  const nb = model.neighbours;
  for (const seed of seeds) {
    if (seed < 0 || seed >= nb.indptr.length - 1) continue;
    for (let p = nb.indptr[seed]; p < nb.indptr[seed + 1]; p++) add(nb.indices[p]);
  }
  const head = (list: RankedList | undefined, n: number) => {
    if (list) for (let p = 0; p < Math.min(list.items.length, n); p++) add(list.items[p]);
  };
  head(storeList(model, store), POPULAR_CANDIDATES.store);
  head(model.popular.global, POPULAR_CANDIDATES.global);
  head(model.popular.trending, POPULAR_CANDIDATES.trending);
  return Int32Array.from(out);
}

/** The seed (among `seeds`) whose neighbour list holds item j, or -1: explains a factor-based pick. */
export function explainingSeed(model: LoadedModel, seeds: readonly number[], j: number): number {
  const nb = model.neighbours;
  for (const seed of seeds) {
    if (seed < 0 || seed >= nb.indptr.length - 1) continue;
    for (let p = nb.indptr[seed]; p < nb.indptr[seed + 1]; p++) if (nb.indices[p] === j) return seed;
  }
  return -1;
}
