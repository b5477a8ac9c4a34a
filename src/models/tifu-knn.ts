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
}

export const TIFU_DEFAULTS: TifuParams = { groupSize: 7, withinDecay: 0.9, groupDecay: 0.7, neighbours: 100, keep: 200 };

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

/** Fits TIFU-KNN: own vectors and the neighbours' parts of every customer. */
export function fitTifu(lines: BasketLines, customers: number, nItems: number, params: Partial<TifuParams> = {}): TifuVectors {
  const p = { ...TIFU_DEFAULTS, ...params };
  if (!(p.groupSize >= 1) || !(p.neighbours >= 0) || !(p.keep >= 0)) throw new ModelFitError('tifu_knn: groupSize ≥ 1, neighbours ≥ 0, keep ≥ 0', { ...p });
  const baskets = customerBaskets(lines, customers);
  const ownPtr = new Int32Array(customers + 1);
  const items: number[] = [];
  const scores: number[] = [];
  const norms = new Float64Array(customers);
  for (let c = 0; c < customers; c++) {
    const v = [...ownVector(baskets[c], p)].sort((a, b) => a[0] - b[0]);
    let s2 = 0;
    for (const [i, w] of v) {
      items.push(i);
      scores.push(w);
      s2 += w * w;
    }
    norms[c] = Math.sqrt(s2);
    ownPtr[c + 1] = items.length;
  }
  const ownItems = Int32Array.from(items);
  const ownScores = Float32Array.from(scores);
  // inverted index: item → (customer, weight)
  const colPtr = new Int32Array(nItems + 1);
  for (const i of ownItems) colPtr[i + 1]++;
  for (let i = 0; i < nItems; i++) colPtr[i + 1] += colPtr[i];
  const colCust = new Int32Array(ownItems.length);
  const colVal = new Float32Array(ownItems.length);
  const fill = colPtr.slice(0, nItems);
  for (let c = 0; c < customers; c++) {
    for (let q = ownPtr[c]; q < ownPtr[c + 1]; q++) {
      const at = fill[ownItems[q]]++;
      colCust[at] = c;
      colVal[at] = ownScores[q];
    }
  }
  const dot = new Float64Array(customers);
  const mark = new Uint8Array(customers);
  const touched = new Int32Array(customers);
  const sel = new TopSelect(p.neighbours);
  const keep = new TopSelect(p.keep);
  const acc = new Float64Array(nItems);
  const accMark = new Uint8Array(nItems);
  const accTouched: number[] = [];
  const nbrPtr = new Int32Array(customers + 1);
  const nItemsOut: number[] = [];
  const nScoresOut: number[] = [];
  for (let c = 0; c < customers; c++) {
    let nTouched = 0;
    for (let q = ownPtr[c]; q < ownPtr[c + 1]; q++) {
      const i = ownItems[q];
      const w = ownScores[q];
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
    const nbrs = sel.drain();
    accTouched.length = 0;
    if (nbrs.length > 0) {
      const inv = 1 / p.neighbours;
      for (const { id: v } of nbrs) {
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
    for (const { id, score } of keep.drain().sort((a, b) => a.id - b.id)) {
      nItemsOut.push(id);
      nScoresOut.push(score);
    }
    nbrPtr[c + 1] = nItemsOut.length;
  }
  return { ownPtr, ownItems, ownScores, nbrPtr, nbrItems: Int32Array.from(nItemsOut), nbrScores: Float32Array.from(nScoresOut) };
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
