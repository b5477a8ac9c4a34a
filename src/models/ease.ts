/**
 * EASE, the shallow linear autoencoder of Steck 2019 ("Embarrassingly Shallow Autoencoders
 * for Sparse Data", eq. 8): with G = XᵀX over binary purchases and P = (G + λI)⁻¹,
 *   B_ij = −P_ij / P_jj (i ≠ j),  B_ii = 0;   score(u, j) = Σ_{i ∈ u} B_ij.
 * The items × items inverse is dense (spd-inverse-wasm.ts: WebAssembly SIMD, the same figures as spd-inverse.ts on
 * TensorFlow.js, which is the fallback), so this model is for
 * small catalogues (maxItems, default 12,000); item-kNN covers large ones.
 */
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import type { Csr } from '../core/csr.js';
import type { TopKLists } from '../core/bundle.js';
import { ModelFitError, NotSupportedError } from '../core/errors.js';
import { binarize, forEachCooccurrenceRow } from '../core/similarity.js';
import { buildTopKLists, emptyBatch, recommendDense, recommendDenseMany, TopK } from '../core/top-k.js';
import { mapValues, transpose } from '../core/csr.js';
import { tfBackend } from '../train/tf-backend.js';
import { spdInverse } from './spd-inverse.js';
import { spdInverseWasm } from './spd-inverse-wasm.js';
import { checkHeader, savedArray, type SavedModel } from './saved-model.js';

export interface EaseParams {
  /** L2 regularisation λ. Default 250 (tuned on Online Retail; Steck uses 200–1000). */
  lambda: number;
  /** Each customer's row of X is scaled by n_u^(−p) before G = XᵀX (0 = plain EASE). Default 0. */
  userWeightPower: number;
  /** Refuse catalogues larger than this (B is items² floats). Default 12,000. */
  maxItems: number;
}

export const EASE_DEFAULTS: EaseParams = { lambda: 250, userWeightPower: 0, maxItems: 12_000 };

/**
 * B of EASE for a customers × items count matrix (binarized here): G = XᵀX + λI, P = G⁻¹,
 * B_ij = −P_ij / P_jj, B_ii = 0 (row-major n × n). A pure function of its arguments, so that it can
 * run in a worker thread (src/models/background-fits.ts) with the same result.
 */
export async function easeWeights(counts: Csr, params: Partial<EaseParams>, progress?: (done: number, total: number) => void): Promise<Float32Array> {
  const { lambda, userWeightPower, maxItems } = { ...EASE_DEFAULTS, ...params };
  const n = counts.cols;
  if (n === 0 || counts.indices.length === 0) throw new ModelFitError('ease: no interactions');
  if (n > maxItems) throw new ModelFitError(`ease: ${n} items exceed maxItems ${maxItems} (use item_knn)`, { items: n, maxItems });
  if (!(lambda > 0)) throw new ModelFitError('ease: lambda must be > 0', { lambda });
  let x = binarize(counts);
  if (userWeightPower !== 0) {
    const len = new Float64Array(x.rows);
    for (let r = 0; r < x.rows; r++) len[r] = x.indptr[r + 1] - x.indptr[r];
    x = mapValues(x, (v, r) => v * Math.pow(len[r], -userWeightPower));
  }
  const g = new Float32Array(n * n);
  if (userWeightPower === 0 && x.rows < 1 << 24 && rowsAscending(x)) {
    // binary X: G's entries are co-occurrence counts (integers below 2²⁴, exact in f32 in any order of the sum), so G
    // is exactly symmetric: its upper triangle summed row by row (each customer's items from item i on: a cursor per
    // customer, items ascending), then mirrored
    const xt = transpose(x);
    const cursor = x.indptr.slice(0, x.rows);
    for (let i = 0; i < n; i++) {
      const o = i * n;
      for (let p = xt.indptr[i]; p < xt.indptr[i + 1]; p++) {
        const u = xt.indices[p];
        const xui = xt.data[p];
        // the customer's items before i were all walked already: the cursor is at i
        const from = cursor[u]++;
        for (let q = from; q < x.indptr[u + 1]; q++) g[o + x.indices[q]] += xui * x.data[q];
      }
      g[o + i] += lambda;
    }
    // lower triangle = upper, in tiles (both sides stay in the caches)
    const T = 64;
    for (let i0 = 0; i0 < n; i0 += T) {
      for (let j0 = i0; j0 < n; j0 += T) {
        const ie = Math.min(n, i0 + T);
        const je = Math.min(n, j0 + T);
        for (let i = i0; i < ie; i++) for (let j = Math.max(j0, i + 1); j < je; j++) g[j * n + i] = g[i * n + j];
      }
    }
  } else if (userWeightPower === 0 && x.rows < 1 << 24) {
    // binary X: G's entries are co-occurrence counts (integers below 2²⁴, exact in f32), summed straight into G's row
    const xt = transpose(x);
    for (let i = 0; i < n; i++) {
      const o = i * n;
      for (let p = xt.indptr[i]; p < xt.indptr[i + 1]; p++) {
        const u = xt.indices[p];
        const xui = xt.data[p];
        for (let q = x.indptr[u]; q < x.indptr[u + 1]; q++) g[o + x.indices[q]] += xui * x.data[q];
      }
      g[o + i] += lambda;
    }
  } else {
    forEachCooccurrenceRow(x, (i, acc, touched, nt) => {
      for (let t = 0; t < nt; t++) g[i * n + touched[t]] = acc[touched[t]];
      g[i * n + i] += lambda;
    });
  }
  progress?.(1, 3);
  // the project's wasm SIMD kernels (bit for bit the TF.js inverse, without starting TF.js); TF.js where they are not built
  let p = spdInverseWasm(g, n);
  if (!p) {
    const { tf } = await tfBackend();
    const gt = tf.tensor2d(g, [n, n]);
    const pt = spdInverse(tf, gt);
    gt.dispose();
    p = pt.dataSync() as Float32Array;
    pt.dispose();
  }
  progress?.(2, 3);
  const b = new Float32Array(n * n);
  // P's diagonal read once (not a column walk of P per row)
  const diag = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const d = p[j * n + j];
    if (!(d > 0) || !Number.isFinite(d)) throw new ModelFitError('ease: inverse is not positive definite', { item: j });
    diag[j] = d;
  }
  for (let i = 0; i < n; i++) {
    const o = i * n;
    for (let j = 0; j < n; j++) b[o + j] = -p[o + j] / diag[j];
    b[o + i] = 0;
  }
  return b;
}

/**
 * out_j += Σ_{i ∈ items} b[i·n + j] for j < n, in the items' order (each out_j the same sequence of f64 additions as
 * `for (const i of items) for (j…) out[j] += b[i·n + j]`): rows summed eight, then four, then one at a time.
 */
export function scoreRowsInto(b: Float32Array, n: number, items: ArrayLike<number>, out: Float64Array): void {
  let q = 0;
  for (; q + 8 <= items.length; q += 8) {
    const o0 = items[q] * n;
    const o1 = items[q + 1] * n;
    const o2 = items[q + 2] * n;
    const o3 = items[q + 3] * n;
    const o4 = items[q + 4] * n;
    const o5 = items[q + 5] * n;
    const o6 = items[q + 6] * n;
    const o7 = items[q + 7] * n;
    // left to right: ((((out_j + b0) + b1) + …) + b7), the order of eight single-row passes
    for (let j = 0; j < n; j++) out[j] = out[j] + b[o0 + j] + b[o1 + j] + b[o2 + j] + b[o3 + j] + b[o4 + j] + b[o5 + j] + b[o6 + j] + b[o7 + j];
  }
  for (; q + 4 <= items.length; q += 4) {
    const o0 = items[q] * n;
    const o1 = items[q + 1] * n;
    const o2 = items[q + 2] * n;
    const o3 = items[q + 3] * n;
    for (let j = 0; j < n; j++) out[j] = out[j] + b[o0 + j] + b[o1 + j] + b[o2 + j] + b[o3 + j];
  }
  for (; q < items.length; q++) {
    const o = items[q] * n;
    for (let j = 0; j < n; j++) out[j] += b[o + j];
  }
}

/** Whether every row's column indices are strictly ascending. */
function rowsAscending(x: Csr): boolean {
  for (let r = 0; r < x.rows; r++) for (let q = x.indptr[r] + 1; q < x.indptr[r + 1]; q++) if (x.indices[q] <= x.indices[q - 1]) return false;
  return true;
}

export class EaseRecommender implements Recommender {
  readonly name: string;
  readonly params: EaseParams;
  /** items × items weights, row-major (B_ij: how much owning i raises j). */
  b: Float32Array = new Float32Array(0);
  n = 0;
  private history: Csr | null = null;
  /** neighbourLists computed elsewhere (the background worker) for these weights, by length. */
  private listsOf: { k: number; lists: TopKLists } | null = null;

  constructor(params: Partial<EaseParams> = {}, name = 'ease') {
    this.params = { ...EASE_DEFAULTS, ...params };
    this.name = name;
  }

  async fit(data: TrainingData, progress?: (done: number, total: number) => void): Promise<void> {
    this.adopt(await easeWeights(data.counts, this.params, progress), data);
    progress?.(3, 3);
  }

  /** Takes weights computed by easeWeights on `data.counts` with this model's parameters (e.g. in a worker thread). */
  adopt(b: Float32Array, data: TrainingData): void {
    const n = data.counts.cols;
    if (b.length !== n * n) throw new ModelFitError('ease: weights do not match the catalogue', { n, length: b.length });
    this.b = b;
    this.n = n;
    this.history = binarize(data.counts);
    this.listsOf = null;
  }

  /** Keeps `neighbourLists(k)` as computed from these weights elsewhere (e.g. in the background worker, by the same method). */
  keepNeighbourLists(k: number, lists: TopKLists): void {
    this.listsOf = { k, lists };
  }

  /**
   * out_j += Σ_{i ∈ items} B_ij, in the items' order. Eight (then four) rows at a time: each out_j is read and written
   * once per group and its sum is the same sequence of f64 additions as one row at a time
   * (((out_j + B_1j) + B_2j) + …), so the scores are bit for bit the same, in about half the time (out is re-read and
   * re-written per row otherwise).
   */
  private scoreInto(items: ArrayLike<number>, out: Float64Array): void {
    scoreRowsInto(this.b, this.n, items, out);
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const h = this.history;
    if (!h) throw new NotSupportedError('ease: not fitted on customer histories (use recommendForItems)');
    return recommendDense(customers, k, this.n, options, (u, out) => this.scoreInto(h.indices.subarray(h.indptr[u], h.indptr[u + 1]), out));
  }

  /**
   * `recommend` for several customer lists at once: the results are those of one `recommend(users, k, options)` per
   * list, but a customer in several lists (e.g. both evaluation protocols) has its scores summed once.
   */
  recommendMany(lists: { users: ArrayLike<number>; options?: RecommendOptions }[], k: number): BatchResult[] {
    const h = this.history;
    if (!h) throw new NotSupportedError('ease: not fitted on customer histories (use recommendForItems)');
    return recommendDenseMany(lists, k, this.n, (u, row) => this.scoreInto(h.indices.subarray(h.indptr[u], h.indptr[u + 1]), row));
  }

  async similarItems(items: ArrayLike<number>, k: number): Promise<BatchResult> {
    const res = emptyBatch(items.length, k);
    const sel = new TopK(k);
    for (let q = 0; q < items.length; q++) {
      const i = items[q];
      for (let j = 0; j < this.n; j++) if (j !== i) sel.push(j, this.b[i * this.n + j]);
      sel.drain(res.ids, res.scores, q);
    }
    return res;
  }

  /** Weights are ignored: EASE scores binary histories. */
  async recommendForItems(items: ArrayLike<number>, _w: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    return recommendDense([0], k, this.n, undefined, (_u, out) => {
      this.scoreInto(items, out);
      if (exclude) for (let q = 0; q < exclude.length; q++) out[exclude[q]] = -Infinity;
    });
  }

  /** The k largest positive weights of each row, as neighbour lists for the bundle. */
  neighbourLists(k: number): TopKLists {
    if (this.listsOf?.k === k) return this.listsOf.lists;
    const { b, n } = this;
    return buildTopKLists(n, k, (i, sel) => {
      // a weight below the selection's floor cannot enter (one equal to it may, by index): the push is skipped
      const o = i * n;
      let floor = sel.floor();
      for (let j = 0; j < n; j++) {
        const v = b[o + j];
        if (v > 0 && v >= floor) {
          sel.push(j, v);
          floor = sel.floor();
        }
      }
    });
  }

  save(): SavedModel {
    return { header: { model: this.name, n: this.n, params: { ...this.params } }, arrays: { b: this.b } };
  }

  load(saved: SavedModel): void {
    checkHeader(saved, this.name);
    const b = savedArray(saved, 'b', Float32Array);
    const n = Number(saved.header.n);
    if (b.length !== n * n) throw new ModelFitError('ease: saved weights do not match n²', { n, length: b.length });
    this.b = b;
    this.n = n;
    this.history = null;
    this.listsOf = null;
  }
}
