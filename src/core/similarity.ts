/**
 * Sparse item-item co-occurrence and the re-weightings item-kNN can apply before it.
 * XᵀX is computed one item row at a time with a dense accumulator of length items
 * (never an items × items matrix): row i = Σ_{u ∋ i} x_ui · X[u, :], costing Σ_u nnz(u)².
 */
import type { Csr } from './csr.js';
import { mapValues, transpose } from './csr.js';
import type { TopKLists } from './bundle.js';
import { compactTopK, TopK } from './top-k.js';

/**
 * Walks the rows of XᵀX: for each item i, `visit(i, acc, touched, nTouched)` sees the co-occurrence
 * sums acc[j] = Σ_u x_ui · x_uj for the nTouched items j listed in touched (j = i included).
 * `acc` is zeroed again after each visit. `xt` is Xᵀ (items × customers) if already at hand.
 */
export function forEachCooccurrenceRow(
  x: Csr,
  visit: (item: number, acc: Float64Array, touched: Int32Array, nTouched: number) => void,
  xt: Csr = transpose(x),
  progress?: (done: number, total: number) => void,
): void {
  const n = x.cols;
  const acc = new Float64Array(n);
  const mark = new Uint8Array(n);
  const touched = new Int32Array(n);
  const step = Math.max(1, Math.floor(n / 100));
  for (let i = 0; i < n; i++) {
    let nt = 0;
    for (let p = xt.indptr[i]; p < xt.indptr[i + 1]; p++) {
      const u = xt.indices[p];
      const xui = xt.data[p];
      for (let q = x.indptr[u]; q < x.indptr[u + 1]; q++) {
        const j = x.indices[q];
        if (!mark[j]) {
          mark[j] = 1;
          touched[nt++] = j;
        }
        acc[j] += xui * x.data[q];
      }
    }
    visit(i, acc, touched, nt);
    for (let t = 0; t < nt; t++) {
      acc[touched[t]] = 0;
      mark[touched[t]] = 0;
    }
    if (progress && (i % step === 0 || i === n - 1)) progress(i + 1, n);
  }
}

/** Per-item inverse document frequency, idf(i) = log(N) − log(1 + df(i)) (implicit's convention). */
export function idf(x: Csr): Float64Array {
  const df = new Float64Array(x.cols);
  for (let p = 0; p < x.indices.length; p++) df[x.indices[p]]++;
  const logN = Math.log(x.rows);
  return df.map((d) => logN - Math.log1p(d));
}

/** TF-IDF re-weighting of a customers × items matrix: x' = √x · idf(i). */
export function tfidfWeight(x: Csr): Csr {
  const w = idf(x);
  return mapValues(x, (v, _r, c) => Math.sqrt(v) * w[c]);
}

/**
 * Okapi BM25 re-weighting (Robertson & Zaragoza 2009, as implicit's bm25_weight):
 *   x' = x · (K1 + 1) / (K1 · ((1 − B) + B · len(u)/avglen) + x) · idf(i),   len(u) = Σ_i x_ui.
 */
export function bm25Weight(x: Csr, k1 = 100, b = 0.8): Csr {
  const w = idf(x);
  const len = new Float64Array(x.rows);
  let total = 0;
  for (let r = 0; r < x.rows; r++) {
    for (let p = x.indptr[r]; p < x.indptr[r + 1]; p++) len[r] += x.data[p];
    total += len[r];
  }
  const avg = total / Math.max(1, x.rows);
  return mapValues(x, (v, r, c) => ((v * (k1 + 1)) / (k1 * (1 - b + (b * len[r]) / avg) + v)) * w[c]);
}

/** All values set to 1 (a binary purchase matrix). */
export const binarize = (x: Csr): Csr => mapValues(x, (v) => (v > 0 ? 1 : 0));

export type SimilarityKind = 'cosine' | 'jaccard';

/**
 * Top-k neighbours of every item by a similarity computed from XᵀX (diagonal excluded):
 *   cosine:  s(i,j) = G_ij / (√G_ii · √G_jj + shrink)          (shrinkage: Koren & Bell's damping)
 *   jaccard: s(i,j) = G_ij / (G_ii + G_jj − G_ij + shrink)      (meaningful on binary X)
 */
export function itemNeighbours(
  x: Csr,
  k: number,
  kind: SimilarityKind = 'cosine',
  shrink = 0,
  progress?: (done: number, total: number) => void,
): TopKLists {
  const xt = transpose(x);
  // G_ii = Σ_u x_ui²
  const diag = new Float64Array(x.cols);
  for (let p = 0; p < x.indices.length; p++) diag[x.indices[p]] += x.data[p] * x.data[p];
  const norm = diag.map(Math.sqrt);
  return cooccurrenceTopK(
    x,
    k,
    (i, j, g) => (kind === 'cosine' ? g / (norm[i] * norm[j] + shrink) : g / (diag[i] + diag[j] - g + shrink)),
    xt,
    progress,
  );
}

/**
 * Top-k lists of every column of X by a score of the co-occurrence G_ij = (XᵀX)_ij, computed one
 * row of G at a time (never dense): `score(i, j, G_ij)`; only positive scores are kept, the diagonal never.
 */
export function cooccurrenceTopK(
  x: Csr,
  k: number,
  score: (i: number, j: number, g: number) => number,
  xt?: Csr,
  progress?: (done: number, total: number) => void,
): TopKLists {
  const n = x.cols;
  const ids = new Int32Array(n * k);
  const sc = new Float32Array(n * k);
  const sel = new TopK(k);
  forEachCooccurrenceRow(
    x,
    (i, acc, touched, nt) => {
      for (let t = 0; t < nt; t++) {
        const j = touched[t];
        if (j === i) continue;
        const s = score(i, j, acc[j]);
        if (s > 0) sel.push(j, s);
      }
      sel.drain(ids, sc, i);
    },
    xt,
    progress,
  );
  return compactTopK(n, k, ids, sc);
}

/**
 * Scores of every item for a history through neighbour lists: out[j] += w_i · s(i, j)
 * over the history's items i and their listed neighbours j (out is not cleared).
 */
export function scoreFromLists(lists: TopKLists, items: ArrayLike<number>, weights: ArrayLike<number> | null, out: Float64Array): void {
  for (let n = 0; n < items.length; n++) {
    const i = items[n];
    if (i < 0 || i + 1 >= lists.indptr.length) continue;
    const w = weights ? weights[n] : 1;
    for (let p = lists.indptr[i]; p < lists.indptr[i + 1]; p++) out[lists.indices[p]] += w * lists.scores[p];
  }
}
