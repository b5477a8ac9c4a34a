/**
 * Top-k selection over typed arrays: a bounded min-heap, O(n log k) per row,
 * no allocation per call beyond the caller's buffers. Ties go to the lower index
 * (so results are deterministic). -Infinity and NaN scores are never selected;
 * rows with fewer than k selectable entries are padded with id -1 and score -Infinity.
 */
import type { BatchResult, RecommendOptions } from './recommender.js';
import type { Csr } from './csr.js';
import { TopSelect } from './top-select.js';

/** A reusable top-k selector (one per batch, not shared across concurrent calls). */
export class TopK {
  private readonly heap: TopSelect;
  constructor(readonly k: number) {
    this.heap = new TopSelect(k);
  }
  /** Offers one candidate. */
  push(id: number, score: number): void {
    this.heap.push(score, id);
  }
  /** The score a candidate must at least reach to enter (−Infinity until full): one below it cannot. */
  floor(): number {
    return this.heap.floor();
  }
  /** Selects from a dense score array (every index a candidate). */
  pushAll(scores: ArrayLike<number>): void {
    const h = this.heap;
    // a score below the current floor cannot enter (one equal to it may, by index): skip the call
    let floor = h.floor();
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s >= floor && s > -Infinity) {
        h.push(s, i);
        floor = h.floor();
      }
    }
  }
  /** Writes the selection best first at row `row` of a k-wide output, padded with -1. */
  drain(ids: Int32Array, scores: Float32Array, row: number): void {
    this.heap.drainInto(ids, scores, row * this.k);
  }
}

/** Indices of the k largest entries of `scores`, best first (ties: lower index first). */
export function topK(scores: ArrayLike<number>, k: number): { ids: Int32Array; scores: Float32Array } {
  const t = new TopK(k);
  t.pushAll(scores);
  const ids = new Int32Array(k);
  const out = new Float32Array(k);
  t.drain(ids, out, 0);
  return { ids, scores: out };
}

/** An empty k-wide batch result for `rows` rows. */
export function emptyBatch(rows: number, k: number): BatchResult {
  return { k, ids: new Int32Array(rows * k), scores: new Float32Array(rows * k) };
}

/** The items to exclude for the n-th requested customer (an empty view when none). */
export function excludedFor(options: RecommendOptions | undefined, n: number, customer: number): Int32Array {
  const ex = options?.exclude;
  if (!ex) return EMPTY;
  const row = options.excludeRows ? options.excludeRows[n] : customer;
  if (row < 0 || row >= ex.rows) return EMPTY;
  return ex.indices.subarray(ex.indptr[row], ex.indptr[row + 1]);
}
const EMPTY = new Int32Array(0);

/**
 * The common batch loop of dense-scoring models: for each requested customer, `score`
 * fills a dense row of item scores, the excluded items are masked, and the top k are kept.
 */
export function recommendDense(
  customers: ArrayLike<number>,
  k: number,
  nItems: number,
  options: RecommendOptions | undefined,
  score: (customer: number, out: Float64Array) => void,
): BatchResult {
  const res = emptyBatch(customers.length, k);
  const row = new Float64Array(nItems);
  const sel = new TopK(k);
  for (let n = 0; n < customers.length; n++) {
    row.fill(0);
    score(customers[n], row);
    const ex = excludedFor(options, n, customers[n]);
    for (let p = 0; p < ex.length; p++) row[ex[p]] = -Infinity;
    sel.pushAll(row);
    sel.drain(res.ids, res.scores, n);
  }
  return res;
}

/**
 * recommendDense for several customer lists at once: the results are those of one recommendDense(users, k, nItems,
 * options, score) per list, but a customer in several lists (e.g. both evaluation protocols) is scored once.
 */
export function recommendDenseMany(
  lists: { users: ArrayLike<number>; options?: RecommendOptions }[],
  k: number,
  nItems: number,
  score: (customer: number, out: Float64Array) => void,
): BatchResult[] {
  const out = lists.map((l) => emptyBatch(l.users.length, k));
  // (customer, list, position) in customer order
  const refs: number[] = [];
  lists.forEach((l, li) => {
    for (let r = 0; r < l.users.length; r++) refs.push(l.users[r], li, r);
  });
  const order = Int32Array.from({ length: refs.length / 3 }, (_, i) => i).sort((a, b) => refs[3 * a] - refs[3 * b] || a - b);
  const row = new Float64Array(nItems);
  const tmp = new Float64Array(nItems);
  const sel = new TopK(k);
  let last = -1;
  for (const x of order) {
    const u = refs[3 * x];
    const li = refs[3 * x + 1];
    const r = refs[3 * x + 2];
    if (u !== last) {
      row.fill(0);
      score(u, row);
      last = u;
    }
    const ex = excludedFor(lists[li].options, r, u);
    let use = row;
    if (ex.length > 0) {
      tmp.set(row);
      for (let p = 0; p < ex.length; p++) tmp[ex[p]] = -Infinity;
      use = tmp;
    }
    sel.pushAll(use);
    sel.drain(out[li].ids, out[li].scores, r);
  }
  return out;
}

/** Builds per-row top-k lists in CSR layout from a row callback that offers candidates to a selector. */
export function buildTopKLists(
  rows: number,
  k: number,
  fill: (row: number, sel: TopK) => void,
): { indptr: Int32Array; indices: Int32Array; scores: Float32Array } {
  const ids = new Int32Array(rows * k);
  const sc = new Float32Array(rows * k);
  const sel = new TopK(k);
  for (let r = 0; r < rows; r++) {
    fill(r, sel);
    sel.drain(ids, sc, r);
  }
  return compactTopK(rows, k, ids, sc);
}

/** Drops the -1 padding of a k-wide result into CSR-layout lists. */
export function compactTopK(
  rows: number,
  k: number,
  ids: Int32Array,
  scores: Float32Array,
): { indptr: Int32Array; indices: Int32Array; scores: Float32Array } {
  const indptr = new Int32Array(rows + 1);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) if (ids[r * k + j] >= 0) n++;
    indptr[r + 1] = n;
  }
  const indices = new Int32Array(n);
  const out = new Float32Array(n);
  let p = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const i = ids[r * k + j];
      if (i < 0) continue;
      indices[p] = i;
      out[p++] = scores[r * k + j];
    }
  }
  return { indptr, indices, scores: out };
}

/** Row `r` of a CSR matrix as (indices, data) views. */
export function csrRow(m: Csr, r: number): { indices: Int32Array; data: Float32Array } {
  const s = m.indptr[r];
  const e = m.indptr[r + 1];
  return { indices: m.indices.subarray(s, e), data: m.data.subarray(s, e) };
}
