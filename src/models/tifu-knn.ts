/**
 * TIFU-KNN (Hu, Pan, Jiang, Ding, Chen, "Modeling Personalized Item Frequency Information for
 * Next-basket Recommendation", SIGIR 2020): a time-decayed personal item-frequency model blended
 * with the customer's nearest neighbours.
 *
 * A customer's baskets (orders, oldest first) are cut into groups of `groupSize` from the most recent
 * one back (the oldest group may be smaller). A group's vector is Σ_b r_b^(m−b) · basket_b / m over its
 * m baskets (b = 1 oldest … m newest); the customer's own vector is Σ_g r_g^(G−g) · group_g / G over their
 * G groups. The neighbours' part is the mean own vector of the `neighbours` most similar customers
 * (cosine of own vectors), kept to its `keep` largest entries. The prediction is
 *   α · own + (1 − α) · neighbours     (α is chosen per list by src/eval/select.ts: ListSpec.tifuAlpha).
 * Both parts go into the customer's record, so serving computes exactly what evaluation scores.
 */
import { ModelFitError } from '../core/errors.js';
import { TopSelect } from '../core/top-select.js';
import { Grow } from '../core/grow.js';

export interface TifuParams {
  /** Baskets per group (m). Default 7. */
  groupSize: number;
  /** Decay between baskets within a group (r_b). Default 0.9. */
  withinDecay: number;
  /** Decay between groups (r_g). Default 0.7. */
  groupDecay: number;
  /** Nearest customers averaged (k). Default 100. */
  neighbours: number;
  /** Entries kept of the neighbours' part per customer. Default 200. */
  keep: number;
  /**
   * At most this many (customer, co-buyer) pairs visited by the neighbour search; above it each item's
   * buyer list is cut to its most similar buyers (see fitTifu). Default 2·10⁹: exact up to a few million lines.
   */
  searchBudget: number;
}

export const TIFU_DEFAULTS: TifuParams = { groupSize: 7, withinDecay: 0.9, groupDecay: 0.7, neighbours: 100, keep: 200, searchBudget: 2e9 };

/** One customer's TIFU vectors: own weights over their items, the neighbours' part over any items. */
export interface TifuVectors {
  /** customers + 1 offsets into ownItems/ownScores (items ascending). */
  ownPtr: Int32Array;
  ownItems: Int32Array;
  ownScores: Float32Array;
  nbrPtr: Int32Array;
  nbrItems: Int32Array;
  nbrScores: Float32Array;
}

/** Purchase lines as TIFU reads them (guests: customer −1, skipped). */
export interface BasketLines {
  customer: Int32Array;
  order: Int32Array;
  item: Int32Array;
  time: Float64Array;
}

/** The own vector of one customer from their baskets (item sets), oldest first: sparse, items ascending. */
export function ownVector(baskets: readonly (readonly number[])[], p: Pick<TifuParams, 'groupSize' | 'withinDecay' | 'groupDecay'>): Map<number, number> {
  const out = new Map<number, number>();
  const n = baskets.length;
  if (n === 0) return out;
  const m = Math.max(1, Math.floor(p.groupSize));
  const groups = Math.ceil(n / m);
  // group g (0 = oldest) holds baskets [start, end): the newest groups are full
  for (let g = 0; g < groups; g++) {
    const end = n - (groups - 1 - g) * m;
    const start = Math.max(0, end - m);
    const size = end - start;
    const gw = Math.pow(p.groupDecay, groups - 1 - g) / groups;
    for (let b = start; b < end; b++) {
      const w = (gw * Math.pow(p.withinDecay, end - 1 - b)) / size;
      for (const i of baskets[b]) out.set(i, (out.get(i) ?? 0) + w);
    }
  }
  return out;
}

/** Each customer's baskets (distinct items per order), oldest first (ties by order index). */
export function customerBaskets(lines: BasketLines, customers: number): number[][][] {
  const byCustomer: Map<number, { time: number; items: Set<number> }>[] = Array.from({ length: customers }, () => new Map());
  for (let p = 0; p < lines.customer.length; p++) {
    const c = lines.customer[p];
    if (c < 0 || c >= customers) continue;
    const o = lines.order[p];
    let b = byCustomer[c].get(o);
    if (!b) byCustomer[c].set(o, (b = { time: lines.time[p], items: new Set() }));
    b.time = Math.min(b.time, lines.time[p]);
    b.items.add(lines.item[p]);
  }
  return byCustomer.map((m) =>
    [...m.entries()].sort((a, b) => a[1].time - b[1].time || a[0] - b[0]).map(([, b]) => [...b.items].sort((x, y) => x - y)),
  );
}


/**
 * Every customer's own vector (as `ownVector` of `customerBaskets`, the same floating-point sums in
 * the same order) in typed arrays: customers' lines by a counting sort, each customer's baskets
 * sorted in place — no per-customer Map/Set (at 10⁶ customers those cost GiBs of heap and GC time).
 */
export function ownVectors(
  lines: BasketLines,
  customers: number,
  nItems: number,
  p: Pick<TifuParams, 'groupSize' | 'withinDecay' | 'groupDecay'>,
): { ownPtr: Int32Array; ownItems: Int32Array; ownScores: Float32Array; norms: Float64Array } {
  const { customer, order, item, time } = lines;
  const n = customer.length;
  const start = new Int32Array(customers + 1);
  for (let q = 0; q < n; q++) {
    const c = customer[q];
    if (c >= 0 && c < customers) start[c + 1]++;
  }
  let most = 0;
  for (let c = 0; c < customers; c++) {
    most = Math.max(most, start[c + 1]);
    start[c + 1] += start[c];
  }
  const perm = new Int32Array(start[customers]);
  const fill = start.slice(0, customers);
  for (let q = 0; q < n; q++) {
    const c = customer[q];
    if (c >= 0 && c < customers) perm[fill[c]++] = q;
  }
  // per customer scratch: baskets (first line in bItems, end, time, order), their items, the accumulator
  const bStart = new Int32Array(most + 1);
  const bTime = new Float64Array(most);
  const bOrder = new Int32Array(most);
  const bRank = new Int32Array(most);
  const bItems = new Int32Array(most);
  const acc = new Float64Array(nItems);
  const accMark = new Uint8Array(nItems);
  const touched = new Int32Array(Math.min(nItems, most) + 1);
  const m = Math.max(1, Math.floor(p.groupSize));
  const ownPtr = new Int32Array(customers + 1);
  const items = new Grow(new Int32Array(1024), (k) => new Int32Array(k));
  const scores = new Grow(new Float32Array(1024), (k) => new Float32Array(k));
  const norms = new Float64Array(customers);
  const byOrderItem = (a: number, b: number) => order[a] - order[b] || item[a] - item[b];
  for (let c = 0; c < customers; c++) {
    const mine = perm.subarray(start[c], start[c + 1]).sort(byOrderItem);
    // baskets: runs of one order; time = the earliest line's; items distinct, ascending
    let nb = 0;
    let ni = 0;
    for (let q = 0; q < mine.length; q++) {
      const l = mine[q];
      if (q === 0 || order[l] !== order[mine[q - 1]]) {
        bStart[nb] = ni;
        bTime[nb] = time[l];
        bOrder[nb] = order[l];
        bRank[nb] = nb;
        nb++;
        bItems[ni++] = item[l];
      } else {
        if (time[l] < bTime[nb - 1]) bTime[nb - 1] = time[l];
        if (item[l] !== bItems[ni - 1]) bItems[ni++] = item[l];
      }
    }
    bStart[nb] = ni;
    // oldest first (ties by order index)
    const ranks = bRank.subarray(0, nb).sort((a, b) => bTime[a] - bTime[b] || bOrder[a] - bOrder[b]);
    let nt = 0;
    if (nb > 0) {
      const groups = Math.ceil(nb / m);
      for (let g = 0; g < groups; g++) {
        const end = nb - (groups - 1 - g) * m;
        const first = Math.max(0, end - m);
        const size = end - first;
        const gw = Math.pow(p.groupDecay, groups - 1 - g) / groups;
        for (let b = first; b < end; b++) {
          const w = (gw * Math.pow(p.withinDecay, end - 1 - b)) / size;
          const k = ranks[b];
          for (let r = bStart[k]; r < bStart[k + 1]; r++) {
            const i = bItems[r];
            if (!accMark[i]) {
              accMark[i] = 1;
              acc[i] = 0;
              touched[nt++] = i;
            }
            acc[i] += w;
          }
        }
      }
    }
    const mineItems = touched.subarray(0, nt).sort();
    let s2 = 0;
    for (let t = 0; t < nt; t++) {
      const i = mineItems[t];
      const w = acc[i];
      accMark[i] = 0;
      items.push(i);
      scores.push(w);
      s2 += w * w;
    }
    norms[c] = Math.sqrt(s2);
    ownPtr[c + 1] = items.length;
  }
  return { ownPtr, ownItems: items.done(), ownScores: scores.done(), norms };
}

/**
 * The largest number C of buyers kept per item such that the neighbour search visits at most `budget`
 * (customer, co-buyer) pairs: Σ_i buyers_i · min(buyers_i, C) ≤ budget. null when every list fits whole
 * (the exact search costs Σ_i buyers_i² ≤ budget). At least 1 (then the search visits one pair per
 * (customer, item)).
 */
export function buyerCap(buyers: ArrayLike<number>, budget: number): number | null {
  let exact = 0;
  let most = 0;
  for (let i = 0; i < buyers.length; i++) {
    exact += buyers[i] * buyers[i];
    most = Math.max(most, buyers[i]);
  }
  if (exact <= budget) return null;
  const cost = (cap: number) => {
    let s = 0;
    for (let i = 0; i < buyers.length; i++) s += buyers[i] * Math.min(buyers[i], cap);
    return s;
  };
  // cost is non-decreasing in the cap: the largest cap within the budget
  let lo = 1;
  let hi = most - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cost(mid) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** What the neighbour search did (for tests and logs). */
export interface TifuSearchStats {
  /** Buyers kept per item (null: every buyer, the exact search). */
  cap: number | null;
  /** (customer, co-buyer) pairs visited, the search's cost. */
  visited: number;
  /** Pairs the exact search would visit: Σ_i buyers_i². */
  exactVisited: number;
}

/**
 * Fits TIFU-KNN: own vectors and the neighbours' parts of every customer.
 *
 * The neighbour search walks, for each of a customer's items, the item's list of buyers (an inverted
 * index): Σ_i buyers_i² pairs in all, ~7·10¹⁰ at 20M lines. When that exceeds `searchBudget`, each item's
 * list keeps only its C most similar buyers — the largest own weight over own-vector norm, i.e. the
 * largest terms of a cosine through that item (ties: lower customer index) — C the largest that fits
 * the budget (`buyerCap`). Below the budget the search is exact.
 */
export function fitTifu(lines: BasketLines, customers: number, nItems: number, params: Partial<TifuParams> = {}, stats?: TifuSearchStats): TifuVectors {
  const p = { ...TIFU_DEFAULTS, ...params };
  if (!(p.groupSize >= 1) || !(p.neighbours >= 0) || !(p.keep >= 0) || !(p.searchBudget >= 0))
    throw new ModelFitError('tifu_knn: groupSize ≥ 1, neighbours ≥ 0, keep ≥ 0, searchBudget ≥ 0', { ...p });
  const { ownPtr, ownItems, ownScores, norms } = ownVectors(lines, customers, nItems, p);
  // inverted index: item → (customer, weight), customers ascending
  let colPtr = new Int32Array(nItems + 1);
  for (const i of ownItems) colPtr[i + 1]++;
  const buyers = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) buyers[i] = colPtr[i + 1];
  for (let i = 0; i < nItems; i++) colPtr[i + 1] += colPtr[i];
  let colCust = new Int32Array(ownItems.length);
  let colVal = new Float32Array(ownItems.length);
  const fill = colPtr.slice(0, nItems);
  for (let c = 0; c < customers; c++) {
    for (let q = ownPtr[c]; q < ownPtr[c + 1]; q++) {
      const at = fill[ownItems[q]]++;
      colCust[at] = c;
      colVal[at] = ownScores[q];
    }
  }
  const cap = buyerCap(buyers, p.searchBudget);
  let visited = 0;
  if (cap !== null) {
    // each list cut to its `cap` most similar buyers, kept in customer order
    const ptr = new Int32Array(nItems + 1);
    for (let i = 0; i < nItems; i++) ptr[i + 1] = ptr[i] + Math.min(buyers[i], cap);
    const cc = new Int32Array(ptr[nItems]);
    const cv = new Float32Array(ptr[nItems]);
    const sel = new TopSelect(cap);
    for (let i = 0; i < nItems; i++) {
      const a = colPtr[i];
      const b = colPtr[i + 1];
      let o = ptr[i];
      if (b - a <= cap) {
        cc.set(colCust.subarray(a, b), o);
        cv.set(colVal.subarray(a, b), o);
      } else {
        // TopSelect breaks ties towards the lower id: ids are positions in the list (customer order)
        for (let r = a; r < b; r++) {
          const v = colCust[r];
          sel.push(norms[v] > 0 ? colVal[r] / norms[v] : 0, r - a);
        }
        const kept = sel.heapIds().slice().sort();
        sel.clear();
        for (const r of kept) {
          cc[o] = colCust[a + r];
          cv[o++] = colVal[a + r];
        }
      }
    }
    colPtr = ptr;
    colCust = cc;
    colVal = cv;
  }
  const dot = new Float64Array(customers);
  const mark = new Uint8Array(customers);
  const touched = new Int32Array(customers);
  const acc = new Float64Array(nItems);
  const accMark = new Uint8Array(nItems);
  const accTouched: number[] = [];
  const nbrPtr = new Int32Array(customers + 1);
  const nItemsOut = new Grow(new Int32Array(1024), (k) => new Int32Array(k));
  const nScoresOut = new Grow(new Float32Array(1024), (k) => new Float32Array(k));
  const sel = new TopSelect(p.neighbours);
  const nbrs = new Int32Array(Math.max(1, p.neighbours));
  const keep = new TopSelect(p.keep);
  const keepIds = new Int32Array(Math.max(1, p.keep));
  for (let c = 0; c < customers; c++) {
    let nTouched = 0;
    for (let q = ownPtr[c]; q < ownPtr[c + 1]; q++) {
      const i = ownItems[q];
      const w = ownScores[q];
      visited += colPtr[i + 1] - colPtr[i];
      for (let r = colPtr[i]; r < colPtr[i + 1]; r++) {
        const v = colCust[r];
        if (v === c) continue;
        if (!mark[v]) {
          mark[v] = 1;
          touched[nTouched++] = v;
          dot[v] = 0;
        }
        dot[v] += w * colVal[r];
      }
    }
    sel.clear();
    // a candidate below the selection's floor cannot enter (one equal to it may, by index): the push is skipped
    let floor = sel.floor();
    for (let t = 0; t < nTouched; t++) {
      const v = touched[t];
      mark[v] = 0;
      const cos = norms[c] > 0 && norms[v] > 0 ? dot[v] / (norms[c] * norms[v]) : 0;
      if (cos > 0 && cos >= floor) {
        sel.push(cos, v);
        floor = sel.floor();
      }
    }
    // the neighbours best first
    const nn = sel.drainIds(nbrs);
    accTouched.length = 0;
    if (nn > 0) {
      const inv = 1 / p.neighbours;
      for (let x = 0; x < nn; x++) {
        const v = nbrs[x];
        for (let q = ownPtr[v]; q < ownPtr[v + 1]; q++) {
          const i = ownItems[q];
          if (!accMark[i]) {
            accMark[i] = 1;
            accTouched.push(i);
            acc[i] = 0;
          }
          acc[i] += inv * ownScores[q];
        }
      }
    }
    keep.clear();
    let keepFloor = keep.floor();
    for (const i of accTouched) {
      accMark[i] = 0;
      if (acc[i] >= keepFloor) {
        keep.push(acc[i], i);
        keepFloor = keep.floor();
      }
    }
    // the kept items ascending, each with its sum (what the selection holds: acc is final by now)
    const kept = keepIds.subarray(0, keep.size);
    kept.set(keep.heapIds());
    kept.sort();
    keep.clear();
    for (let x = 0; x < kept.length; x++) {
      nItemsOut.push(kept[x]);
      nScoresOut.push(acc[kept[x]]);
    }
    nbrPtr[c + 1] = nItemsOut.length;
  }
  if (stats) {
    stats.cap = cap;
    stats.visited = visited;
    stats.exactVisited = buyers.reduce((s, b) => s + b * b, 0);
  }
  return { ownPtr, ownItems, ownScores, nbrPtr, nbrItems: nItemsOut.done(), nbrScores: nScoresOut.done() };
}

/**
 * The own weights aligned with a customer's sorted item list (0 where TIFU has none), and the
 * neighbours' part, as a record carries them.
 */
export function tifuOfCustomer(t: TifuVectors, c: number, items: ArrayLike<number>): { own: Float32Array; nbrItems: Int32Array; nbrScores: Float32Array } {
  const own = new Float32Array(items.length);
  const map = new Map<number, number>();
  for (let q = t.ownPtr[c]; q < t.ownPtr[c + 1]; q++) map.set(t.ownItems[q], t.ownScores[q]);
  for (let q = 0; q < items.length; q++) own[q] = map.get(items[q]) ?? 0;
  return { own, nbrItems: t.nbrItems.slice(t.nbrPtr[c], t.nbrPtr[c + 1]), nbrScores: t.nbrScores.slice(t.nbrPtr[c], t.nbrPtr[c + 1]) };
}
