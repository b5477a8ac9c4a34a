/**
 * Top-k selection over typed arrays: a bounded min-heap, O(n log k) per row,
 * no allocation per call beyond the caller's buffers. Ties go to the lower index
 * (so results are deterministic). -Infinity and NaN scores are never selected;
 * rows with fewer than k selectable entries are padded with id -1 and score -Infinity.
 */
import type { BatchResult, RecommendOptions } from './recommender.js';
import type { Csr } from './csr.js';

/** A min-heap of (score, id) pairs of capacity k, worst on top. */
class Heap {
  readonly ids: Int32Array;
  readonly scores: Float64Array;
  size = 0;
  constructor(readonly capacity: number) {
    this.ids = new Int32Array(Math.max(capacity, 1));
    this.scores = new Float64Array(Math.max(capacity, 1));
  }
  /** true when (s, i) ranks below (t, j): lower score, or same score and higher id. */
  private static worse(s: number, i: number, t: number, j: number): boolean {
    return s < t || (s === t && i > j);
  }
  push(score: number, id: number): void {
    const { ids, scores } = this;
    if (this.size < this.capacity) {
      let c = this.size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!Heap.worse(score, id, scores[p], ids[p])) break;
        ids[c] = ids[p];
        scores[c] = scores[p];
        c = p;
      }
      ids[c] = id;
      scores[c] = score;
      return;
    }
    if (this.capacity === 0 || !Heap.worse(scores[0], ids[0], score, id)) return;
    // replace the root and sift down
    let c = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && Heap.worse(scores[r], ids[r], scores[l], ids[l]) ? r : l;
      if (!Heap.worse(scores[m], ids[m], score, id)) break;
      ids[c] = ids[m];
      scores[c] = scores[m];
      c = m;
    }
    ids[c] = id;
    scores[c] = score;
  }
  /** Writes the heap best first into out arrays at offset, padding to capacity; empties the heap. */
  drain(outIds: Int32Array, outScores: Float32Array, offset: number): void {
    const { ids, scores } = this;
    for (let p = this.size; p < this.capacity; p++) {
      outIds[offset + p] = -1;
      outScores[offset + p] = -Infinity;
    }
    while (this.size > 0) {
      const last = --this.size;
      outIds[offset + last] = ids[0];
      outScores[offset + last] = scores[0];
      const id = ids[last];
      const score = scores[last];
      let c = 0;
      const n = last;
      for (;;) {
        const l = 2 * c + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && Heap.worse(scores[r], ids[r], scores[l], ids[l]) ? r : l;
        if (!Heap.worse(scores[m], ids[m], score, id)) break;
        ids[c] = ids[m];
        scores[c] = scores[m];
        c = m;
      }
      ids[c] = id;
      scores[c] = score;
    }
  }
}

/** A reusable top-k selector (one per batch, not shared across concurrent calls). */
export class TopK {
  private readonly heap: Heap;
  constructor(readonly k: number) {
    this.heap = new Heap(k);
  }
  /** Offers one candidate. */
  push(id: number, score: number): void {
    if (score > -Infinity) this.heap.push(score, id);
  }
  /** Selects from a dense score array (every index a candidate). */
  pushAll(scores: ArrayLike<number>): void {
    const h = this.heap;
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s > -Infinity) h.push(s, i);
    }
  }
  /** Writes the selection best first at row `row` of a k-wide output, padded with -1. */
  drain(ids: Int32Array, scores: Float32Array, row: number): void {
    this.heap.drain(ids, scores, row * this.k);
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
