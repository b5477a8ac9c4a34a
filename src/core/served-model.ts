/**
 * The served model: the one scoring path of "recommended for you" (and of a guest's session), used by
 * offline evaluation (src/models/served.ts), by validation selection (src/eval/select.ts) and by the
 * service (src/serve/recommendation-service.ts), so what is evaluated is what is served. Pure.
 *
 * A list is a weighted sum of normalised components over every item j of the catalogue:
 *
 *   s_j = learnedWeight · L_j / max L  +  learned2Weight · L2_j / max L2  +  trendWeight · t_j
 *         +  tifuWeight · P_j / max P  +  1e-6 · pop_j
 *
 * - L: the learned model's scores, `als` (x_u · y_j, the customer's factor vector) or `lists`
 *   (Σ_{i ∈ history} w(i, j) over per-item top-K lists: EASE's B rows, item-kNN's neighbour lists);
 *   max L over all items (0 when max ≤ 0); L2 a second learned model, normalised alike (optional: a blend
 *   of two learned models, e.g. EASE + item-kNN, hedges between models that validation cannot tell apart);
 * - t: the item trend of the list's half-life (T_j = Σ_customers 2^(−age/h) over each customer's last
 *   purchase of j, t = T / max T); half-life 0 means no decay: t is then popularity (distinct buyers);
 * - P: TIFU-KNN (src/models/tifu-knn.ts) α · own_j + (1 − α) · neighbours_j from the customer's record;
 * - pop: distinct buyers / max, the last tie-break.
 * With `ownedFirst` ("own items, then …"), an item the customer bought scores
 *   1e6 + count_j + 0.5 · t_j (t: the list's trend, popularity without one),
 * so their own items come first by purchase count, ties by trend, then the rest by s.
 *
 * The default list (purchased items excluded, the discovery protocol) and the repeat-inclusive list
 * (the "all" protocol) each have their own ListSpec, chosen on a validation window by training.
 */
import type { TopKLists } from './bundle.js';
import { TopSelect } from './top-select.js';

export type LearnedKind = 'none' | 'als' | 'ease' | 'item_knn';

export interface ListSpec {
  /** A readable name ("ease+trend7", "repeat>trend14", "tifu", "popularity"). */
  name: string;
  learned: LearnedKind;
  learnedWeight: number;
  /** A second learned model added with its own weight (absent or 'none': no second term). */
  learned2?: LearnedKind;
  learned2Weight?: number;
  /** Half-life of the trend term in days; 0 = no decay (popularity). Ignored when trendWeight is 0. */
  trendHalfLifeDays: number;
  trendWeight: number;
  tifuWeight: number;
  /** TIFU-KNN's α: weight of the customer's own decayed vector against their neighbours'. */
  tifuAlpha: number;
  ownedFirst: boolean;
  /**
   * Own items compete with the rest by score (not with `ownedFirst`): each item the customer bought adds
   * ownWeight · log2(1 + count) · 2^(−age / ownHalfLifeDays), age = days from its last purchase to the
   * customer's latest purchase (0 half-life: no decay). Absent or 0: nothing added.
   */
  ownWeight?: number;
  ownHalfLifeDays?: number;
}

export interface ServedSpec {
  /** The default list ("recommended for you": purchased items excluded). */
  discovery: ListSpec;
  /** The list with purchased items (excludePurchased=false). */
  all: ListSpec;
  /**
   * How "buy it again" orders the customer's own items, chosen on validation's buy-again protocol:
   * `rhythm` (src/core/buy-again.ts: due by their repurchase interval), `repeat` (purchase count, ties by
   * popularity) or `served` (the `all` list's scores). Absent: rhythm.
   */
  buyAgain?: BuyAgainRanking;
}

export const BUY_AGAIN_RANKINGS = ['rhythm', 'repeat', 'served'] as const;
export type BuyAgainRanking = (typeof BUY_AGAIN_RANKINGS)[number];

/**
 * The order of a customer's own items for "buy it again" under `repeat` or `served` (positions into
 * person.items, best first; ties: lower item index); `rhythm` is src/core/buy-again.ts.
 */
export function ownedOrder(tables: ServedTables, spec: ServedSpec, person: ServedPerson, ranking: Exclude<BuyAgainRanking, 'rhythm'>): number[] {
  const pos = Array.from({ length: person.items.length }, (_, q) => q).filter((q) => person.counts[q] > 0);
  const key = new Float64Array(person.items.length);
  if (ranking === 'served') {
    const sc = scoreList(tables, spec.all, person);
    for (const q of pos) key[q] = sc[person.items[q]];
  } else for (const q of pos) key[q] = person.counts[q] + POP_TIE * tables.popularity[person.items[q]];
  return pos.sort((a, b) => key[b] - key[a] || person.items[a] - person.items[b]);
}

/** The item side a spec needs, built once per version (training, evaluation, serving alike). */
export interface ServedTables {
  nItems: number;
  /** Distinct buyers / max, per item. */
  popularity: Float32Array;
  /** Trend t ∈ [0, 1] per item, by half-life in days (as a string key: "0", "7", …). */
  trends: Record<string, Float32Array>;
  /** Per-item top-K lists of the list-based learned models (EASE: B's rows; item-kNN: its scoring lists) a spec uses. */
  lists: Partial<Record<'ease' | 'item_knn', TopKLists>>;
  /**
   * Item factors (items × k, row-major) when a spec uses ALS. `dot`, when given, must return exactly
   * factorScoresF32 (the service passes its WebAssembly SIMD kernel, which computes the same f32 sums).
   */
  factors: {
    k: number;
    itemFactors: Float32Array;
    dot?: (x: Float32Array) => Float32Array;
    /**
     * `dot` for `count` vectors at once (xs: count × k): row v (at v · nItems) bit for bit dot(x_v), each item's
     * factors read once for all of them (src/serve/simd-scorer.ts scoresMany); a view valid until the next call.
     * Offline scoring of many customers uses it; absent: one `dot` per customer.
     */
    dotMany?: (xs: Float32Array, count: number) => Float32Array;
  } | null;
}

/** What a spec reads of one customer (or of a guest's session). */
export interface ServedPerson {
  /** Owned items with purchase counts (line counts). */
  items: ArrayLike<number>;
  counts: ArrayLike<number>;
  /** Weights of the history for list-based learned scores (1 per item when absent). */
  listWeights?: ArrayLike<number>;
  /** ALS factor vector. */
  vector?: Float32Array | null;
  /** Last purchase time (epoch ms) of each of `items` (for ListSpec.ownWeight; absent: all alike). */
  lastTime?: ArrayLike<number>;
  /** TIFU-KNN: own decayed weights aligned with `items`, and the neighbours' part (any items). */
  tifu?: { own: ArrayLike<number>; nbrItems: ArrayLike<number>; nbrScores: ArrayLike<number> } | null;
}

export const OWNED_BASE = 1e6;
/** Weight of popularity, the last tie-break. */
export const POP_TIE = 1e-6;

export const trendKey = (halfLifeDays: number): string => String(halfLifeDays);

/** Components a spec needs, computed once per person (selection reuses them for every candidate). */
export interface Components {
  learned: Partial<Record<LearnedKind, Float64Array>>;
  tifu: Map<number, Float64Array>;
}

export function specNeeds(spec: ListSpec): { learned: LearnedKind | null; learned2: LearnedKind | null; tifu: boolean; trend: string | null } {
  return {
    learned: spec.learned !== 'none' && spec.learnedWeight !== 0 ? spec.learned : null,
    learned2: spec.learned2 && spec.learned2 !== 'none' && spec.learned2Weight ? spec.learned2 : null,
    tifu: spec.tifuWeight !== 0,
    trend: spec.trendWeight !== 0 || spec.ownedFirst ? trendKey(spec.trendHalfLifeDays) : null,
  };
}

/** L / max L over the catalogue for one learned model (a fresh array); zeros when it cannot score. */
export function learnedScores(tables: ServedTables, kind: LearnedKind, person: ServedPerson, into?: Float64Array): Float64Array {
  const n = tables.nItems;
  const out = into ? into.fill(0) : new Float64Array(n);
  if (kind === 'als') {
    const f = tables.factors;
    const x = person.vector;
    if (!f || !x) return out;
    const raw = f.dot ? f.dot(x) : factorScoresF32(f.itemFactors, f.k, n, x);
    for (let j = 0; j < n; j++) out[j] = raw[j];
  } else if (kind === 'ease' || kind === 'item_knn') {
    const l = tables.lists[kind];
    if (!l) return out;
    for (let q = 0; q < person.items.length; q++) {
      const i = person.items[q];
      if (i < 0 || i >= l.indptr.length - 1) continue;
      const w = person.listWeights ? person.listWeights[q] : 1;
      for (let p = l.indptr[i]; p < l.indptr[i + 1]; p++) out[l.indices[p]] += w * l.scores[p];
    }
  } else return out;
  let max = 0;
  for (let j = 0; j < n; j++) if (out[j] > max) max = out[j];
  if (max > 0) for (let j = 0; j < n; j++) out[j] /= max;
  else out.fill(0);
  return out;
}

/**
 * x · y_j for every item in f32 arithmetic, exactly as src/serve/simd-scorer.ts computes it: four lanes
 * (lane l sums the products of dimensions d ≡ l mod 4, each product and sum rounded to f32), then
 * (lane0 + lane1) + (lane2 + lane3). Evaluation scores with this loop and the service with the SIMD
 * kernel; the results are bit-identical, so both rank alike.
 */
export function factorScoresF32(y: Float32Array, k: number, n: number, x: ArrayLike<number>): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(n);
  const xs = Float32Array.from({ length: k }, (_, d) => x[d]);
  for (let j = 0, o = 0; j < n; j++, o += k) {
    let l0 = 0;
    let l1 = 0;
    let l2 = 0;
    let l3 = 0;
    let d = 0;
    for (; d + 3 < k; d += 4) {
      l0 = f(l0 + f(y[o + d] * xs[d]));
      l1 = f(l1 + f(y[o + d + 1] * xs[d + 1]));
      l2 = f(l2 + f(y[o + d + 2] * xs[d + 2]));
      l3 = f(l3 + f(y[o + d + 3] * xs[d + 3]));
    }
    if (d < k) l0 = f(l0 + f(y[o + d] * xs[d]));
    if (d + 1 < k) l1 = f(l1 + f(y[o + d + 1] * xs[d + 1]));
    if (d + 2 < k) l2 = f(l2 + f(y[o + d + 2] * xs[d + 2]));
    out[j] = f(f(l0 + l1) + f(l2 + l3));
  }
  return out;
}

/** P / max P for TIFU-KNN at α (zeros without a TIFU vector). */
export function tifuScores(n: number, person: ServedPerson, alpha: number): Float64Array {
  const out = new Float64Array(n);
  const t = person.tifu;
  if (!t) return out;
  for (let q = 0; q < person.items.length; q++) out[person.items[q]] += alpha * t.own[q];
  for (let q = 0; q < t.nbrItems.length; q++) out[t.nbrItems[q]] += (1 - alpha) * t.nbrScores[q];
  let max = 0;
  for (let j = 0; j < n; j++) if (out[j] > max) max = out[j];
  if (max > 0) for (let j = 0; j < n; j++) out[j] /= max;
  return out;
}

/** The components of one person that `specs` need (cached in `into` when given). */
export function components(tables: ServedTables, specs: readonly ListSpec[], person: ServedPerson, into?: Components): Components {
  const c: Components = into ?? { learned: {}, tifu: new Map() };
  for (const s of specs) {
    const need = specNeeds(s);
    if (need.learned && !c.learned[need.learned]) c.learned[need.learned] = learnedScores(tables, need.learned, person);
    if (need.learned2 && !c.learned[need.learned2]) c.learned[need.learned2] = learnedScores(tables, need.learned2, person);
    if (need.tifu && !c.tifu.has(s.tifuAlpha)) c.tifu.set(s.tifuAlpha, tifuScores(tables.nItems, person, s.tifuAlpha));
  }
  return c;
}

/** s_j for every item into `out` (length nItems). */
export function combine(tables: ServedTables, spec: ListSpec, person: ServedPerson, comps: Components, out: Float64Array): Float64Array {
  const n = tables.nItems;
  const need = specNeeds(spec);
  const pop = tables.popularity;
  for (let j = 0; j < n; j++) out[j] = POP_TIE * pop[j];
  if (need.learned) {
    const l = comps.learned[need.learned]!;
    const w = spec.learnedWeight;
    for (let j = 0; j < n; j++) out[j] += w * l[j];
  }
  if (need.learned2) {
    const l = comps.learned[need.learned2]!;
    const w = spec.learned2Weight!;
    for (let j = 0; j < n; j++) out[j] += w * l[j];
  }
  const trend = need.trend ? tables.trends[need.trend] : undefined;
  if (spec.trendWeight !== 0 && trend) {
    const w = spec.trendWeight;
    for (let j = 0; j < n; j++) out[j] += w * trend[j];
  }
  if (need.tifu) {
    const p = comps.tifu.get(spec.tifuAlpha)!;
    const w = spec.tifuWeight;
    for (let j = 0; j < n; j++) out[j] += w * p[j];
  }
  addOwnTerms(spec, person, out, trend, pop);
  return out;
}

/** The person's own items onto a scored list: the fading own-item term, or (ownedFirst) every owned item above the rest. */
function addOwnTerms(spec: ListSpec, person: ServedPerson, out: Float64Array, trend: ArrayLike<number> | null | undefined, pop: ArrayLike<number>): void {
  if (spec.ownWeight && !spec.ownedFirst) addOwn(spec, person, out);
  if (spec.ownedFirst) {
    const tie = spec.trendWeight !== 0 && trend ? trend : pop;
    for (let q = 0; q < person.items.length; q++) {
      const i = person.items[q];
      if (person.counts[q] > 0) out[i] = OWNED_BASE + person.counts[q] + 0.5 * tie[i];
    }
  }
}

/** ownWeight · log2(1 + count) · 2^(−age / h) onto each own item (age to the person's latest purchase). */
export function addOwn(spec: ListSpec, person: ServedPerson, out: Float64Array): void {
  const w = spec.ownWeight!;
  const h = spec.ownHalfLifeDays ?? 0;
  const lt = person.lastTime;
  let latest = -Infinity;
  if (lt && h > 0) for (let q = 0; q < person.items.length; q++) if (person.counts[q] > 0 && lt[q] > latest) latest = lt[q];
  for (let q = 0; q < person.items.length; q++) {
    const c = person.counts[q];
    if (!(c > 0)) continue;
    const decay = lt && h > 0 && Number.isFinite(latest) ? Math.pow(2, -Math.max(0, latest - lt[q]) / (h * 86_400_000)) : 1;
    out[person.items[q]] += w * Math.log2(1 + c) * decay;
  }
}

/**
 * One spec's scores for one person (components computed for it alone). With `scratch` (a caller that
 * finishes with the result before the next call, e.g. the single-threaded service), no array is allocated.
 */
export function scoreList(
  tables: ServedTables,
  spec: ListSpec,
  person: ServedPerson,
  out: Float64Array = new Float64Array(tables.nItems),
  scratch?: Float64Array,
): Float64Array {
  const need = specNeeds(spec);
  if (scratch && need.learned && !need.learned2 && !need.tifu) {
    const comps: Components = { learned: { [need.learned]: learnedScores(tables, need.learned, person, scratch) }, tifu: new Map() };
    return combine(tables, spec, person, comps, out);
  }
  return combine(tables, spec, person, components(tables, [spec], person), out);
}

/**
 * Reusable buffers of scoreListInto: item-length accumulators that are zero outside the entries a
 * call touched (reset before it returns), so a call allocates nothing. One per thread of scoring.
 */
export class ServedScratch {
  /** Sparse accumulators (learned lists, TIFU), each zero outside its `touched` entries between calls. */
  readonly acc: Float64Array[];
  readonly seen: Uint8Array[];
  readonly touched: number[][];
  /** The normalised ALS scores (written whole by each call that needs them). */
  readonly als: Float64Array;
  /** All zeros: the term a spec does not have (f64 for the learned and TIFU terms, f32 for the trend). */
  readonly zeros: Float64Array;
  readonly zerosF32: Float32Array;

  constructor(readonly nItems: number) {
    this.acc = [new Float64Array(nItems), new Float64Array(nItems), new Float64Array(nItems)];
    this.seen = [new Uint8Array(nItems), new Uint8Array(nItems), new Uint8Array(nItems)];
    this.touched = [[], [], []];
    this.als = new Float64Array(nItems);
    this.zeros = new Float64Array(nItems);
    this.zerosF32 = new Float32Array(nItems);
  }

  /** Zeroes every accumulator again. */
  release(): void {
    for (let t = 0; t < this.acc.length; t++) {
      const acc = this.acc[t];
      const seen = this.seen[t];
      const touched = this.touched[t];
      for (let q = 0; q < touched.length; q++) {
        acc[touched[q]] = 0;
        seen[touched[q]] = 0;
      }
      touched.length = 0;
    }
  }
}

/**
 * The same scores as `scoreList` into `out`, bit for bit (the same floating-point operations in the
 * same order for every item), without its per-call arrays and with one pass over the catalogue for
 * the sum: list-based and TIFU components are accumulated and normalised on the entries they touch
 * only (every other entry is 0, and adding 0 changes no sum here: no sum is ever −0, since the first
 * term, POP_TIE · pop ≥ 0, is +0 or positive), ALS scores normalised in one pass. For serving, where
 * a list is scored per request; evaluation and selection keep `scoreList` (test/served-model.test.ts
 * holds the two equal).
 */
export function scoreListInto(tables: ServedTables, spec: ListSpec, person: ServedPerson, out: Float64Array, scratch: ServedScratch): Float64Array {
  const n = tables.nItems;
  const need = specNeeds(spec);
  const zeros = scratch.zeros;
  let used = 0;
  let alsDone = false;
  // a learned component's normalised scores (zeros when it cannot score, as learnedScores)
  const learned = (kind: LearnedKind): Float64Array => {
    if (kind === 'als') {
      const f = tables.factors;
      const x = person.vector;
      if (!f || !x) return zeros;
      const a = scratch.als;
      if (alsDone) return a;
      const raw = f.dot ? f.dot(x) : factorScoresF32(f.itemFactors, f.k, n, x);
      let max = 0;
      for (let j = 0; j < n; j++) if (raw[j] > max) max = raw[j];
      if (!(max > 0)) return zeros;
      for (let j = 0; j < n; j++) a[j] = raw[j] / max;
      alsDone = true;
      return a;
    }
    if (kind !== 'ease' && kind !== 'item_knn') return zeros;
    const l = tables.lists[kind];
    if (!l) return zeros;
    const t = used++;
    const acc = scratch.acc[t];
    const seen = scratch.seen[t];
    const touched = scratch.touched[t];
    const { indptr, indices, scores } = l;
    for (let q = 0; q < person.items.length; q++) {
      const i = person.items[q];
      if (i < 0 || i >= indptr.length - 1) continue;
      const w = person.listWeights ? person.listWeights[q] : 1;
      for (let p = indptr[i]; p < indptr[i + 1]; p++) {
        const j = indices[p];
        if (seen[j] === 0) {
          seen[j] = 1;
          touched.push(j);
        }
        acc[j] += w * scores[p];
      }
    }
    return normalised(acc, touched, true);
  };
  // divides the touched entries by their max when it is positive; else zeros (learnedScores) or the raw sums (tifuScores)
  const normalised = (acc: Float64Array, touched: readonly number[], zeroUnlessPositive: boolean): Float64Array => {
    let max = 0;
    for (let q = 0; q < touched.length; q++) if (acc[touched[q]] > max) max = acc[touched[q]];
    if (!(max > 0)) return zeroUnlessPositive ? zeros : acc;
    for (let q = 0; q < touched.length; q++) acc[touched[q]] /= max;
    return acc;
  };
  try {
    let a1 = zeros;
    let w1 = 0;
    let a2 = zeros;
    let w2 = 0;
    // each term's array of one type (the loop below stays monomorphic)
    let a3: Float32Array = scratch.zerosF32;
    let w3 = 0;
    let a4 = zeros;
    let w4 = 0;
    // the same kind twice reads the same scores (components() computes each kind once)
    if (need.learned) {
      a1 = learned(need.learned);
      w1 = spec.learnedWeight;
    }
    if (need.learned2) {
      a2 = need.learned2 === need.learned ? a1 : learned(need.learned2);
      w2 = spec.learned2Weight!;
    }
    const trend = need.trend ? tables.trends[need.trend] : undefined;
    if (spec.trendWeight !== 0 && trend) {
      a3 = trend;
      w3 = spec.trendWeight;
    }
    if (need.tifu) {
      w4 = spec.tifuWeight;
      const t = person.tifu;
      if (t) {
        const u = used++;
        const acc = scratch.acc[u];
        const seen = scratch.seen[u];
        const touched = scratch.touched[u];
        const add = (j: number, v: number) => {
          if (seen[j] === 0) {
            seen[j] = 1;
            touched.push(j);
          }
          acc[j] += v;
        };
        const alpha = spec.tifuAlpha;
        for (let q = 0; q < person.items.length; q++) add(person.items[q], alpha * t.own[q]);
        for (let q = 0; q < t.nbrItems.length; q++) add(t.nbrItems[q], (1 - alpha) * t.nbrScores[q]);
        // tifuScores divides only when max > 0 (else the raw sums stay)
        a4 = normalised(acc, touched, false);
      }
    }
    const pop = tables.popularity;
    // combine()'s order: pop, learned, learned2, trend, TIFU; an absent term adds w · 0 = ±0 (no change)
    for (let j = 0; j < n; j++) {
      let s = POP_TIE * pop[j];
      s += w1 * a1[j];
      s += w2 * a2[j];
      s += w3 * a3[j];
      s += w4 * a4[j];
      out[j] = s;
    }
    addOwnTerms(spec, person, out, trend, pop);
    return out;
  } finally {
    scratch.release();
  }
}

/** The top `k` items by score that `accepts` (ties: lower index first), best first. */
export function topAccepted(scores: Float64Array, k: number, accepts: (item: number) => boolean): { id: number; score: number }[] {
  const sel = new TopSelect(k);
  // items come in index order, so a later one never wins a tie: it enters iff s > floor
  let floor = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!(s > floor) || !accepts(i)) continue;
    sel.push(s, i);
    floor = sel.floor();
  }
  return sel.drain();
}

/** Popularity and trend tables from a customers × items count matrix's entries and their last purchase times. */
export function trendTable(nItems: number, items: ArrayLike<number>, lastTime: ArrayLike<number>, halfLifeDays: number, now: number): Float32Array {
  const t = new Float64Array(nItems);
  const hl = halfLifeDays * 86_400_000;
  for (let p = 0; p < items.length; p++) {
    if (halfLifeDays <= 0) t[items[p]] += 1;
    else {
      const age = Math.max(0, now - lastTime[p]);
      if (Number.isFinite(age)) t[items[p]] += Math.pow(2, -age / hl);
    }
  }
  let max = 0;
  for (const v of t) max = Math.max(max, v);
  const out = new Float32Array(nItems);
  if (max > 0) for (let j = 0; j < nItems; j++) out[j] = t[j] / max;
  return out;
}

/** Every half-life (days) a served spec reads a trend table of. */
export function specTrendKeys(spec: ServedSpec): string[] {
  const keys = new Set<string>();
  for (const s of [spec.discovery, spec.all]) {
    const k = specNeeds(s).trend;
    if (k !== null) keys.add(k);
  }
  return [...keys];
}

/** Whether a list reads the given learned model (as its first or second learned term). */
export const listUses = (s: ListSpec, what: LearnedKind): boolean => {
  const n = specNeeds(s);
  return n.learned === what || n.learned2 === what;
};

/** Whether a served spec reads the given learned model, TIFU vectors. */
export const specUses = (spec: ServedSpec, what: LearnedKind | 'tifu'): boolean =>
  [spec.discovery, spec.all].some((s) => (what === 'tifu' ? specNeeds(s).tifu : listUses(s, what)));
