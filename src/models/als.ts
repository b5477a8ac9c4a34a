/**
 * Implicit matrix factorisation by alternating least squares (Hu, Koren & Volinsky 2008)
 * with confidence c = 1 + α·w. The fit's fast path (solver 'cg') runs on WebAssembly SIMD kernels built from
 * src/wasm/assembly/als.ts, on the calling thread and worker threads over one shared memory (als-wasm.ts); where
 * the kernels are unavailable it falls back to the same conjugate gradient in JavaScript (als-solvers.ts,
 * als-parallel.ts). 'cholesky' is the exact reference. Batch scoring U·Vᵀ with top-k (evaluation) runs on
 * TensorFlow.js. Deterministic for a seed, whatever the number of threads;
 * non-finite factors raise ModelFitError. New or anonymous customers fold in by the same
 * closed form (src/core/fold-in.ts).
 */
import type * as TF from '@tensorflow/tfjs';
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import { transpose, type Csr } from '../core/csr.js';
import { ModelFitError } from '../core/errors.js';
import { foldIn, type FoldInModel } from '../core/fold-in.js';
import { fillNormal } from '../core/random.js';
import { emptyBatch, excludedFor, TopK } from '../core/top-k.js';
import { tfBackend } from '../train/tf-backend.js';
import { DenseKernels } from './spd-inverse-wasm.js';
import { solveRowsExact } from './als-solvers.js';
import { CgPool } from './als-parallel.js';
import { WasmAls } from './als-wasm.js';
import { availableParallelism } from 'node:os';
import { checkHeader, savedArray, type SavedModel } from './saved-model.js';

export interface AlsParams {
  /** Latent factors k. Default 64. */
  factors: number;
  /** L2 regularisation λ. Default 1. */
  reg: number;
  /**
   * Confidence scale: c = 1 + α·w. Default 1: with the log weighting (w = ln(1 + lines)) it beats
   * α = 3, 10 and 20 on both Online Retail cutoffs tried (2011-10-01, 2011-11-09; BENCHMARKS.md, Models).
   */
  alpha: number;
  /** Alternations (customers then items). Default 15. */
  iterations: number;
  /** 'cg' (default, fast) or 'cholesky' (exact reference). */
  solver: 'cg' | 'cholesky';
  /** Conjugate-gradient steps per row and alternation. Default 3. */
  cgSteps: number;
  /** Seed of the N(0, initScale²) initialisation. Default 42. */
  seed: number;
  initScale: number;
  /** Confidence input: the training weights (default) or the line counts. */
  input: 'weights' | 'counts';
  /** Worker threads for the CG solves (0 = one per core, 1 = the calling thread). Results do not depend on it. */
  threads: number;
}

export const ALS_DEFAULTS: AlsParams = {
  factors: 64,
  reg: 1,
  alpha: 1,
  iterations: 15,
  solver: 'cg',
  cgSteps: 3,
  seed: 42,
  initScale: 0.01,
  input: 'weights',
  threads: 0,
};

/** YᵀY + λI (k × k, float64) of a row-major n × k matrix (exactly symmetric: each product is formed once). */
export function gramWithReg(y: Float32Array, k: number, reg: number): Float64Array {
  const n = y.length / k;
  const out = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    for (let a = 0; a < k; a++) {
      const ya = y[o + a];
      if (ya === 0) continue;
      for (let b = a; b < k; b++) out[a * k + b] += ya * y[o + b];
    }
  }
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < a; b++) out[a * k + b] = out[b * k + a];
    out[a * k + a] += reg;
  }
  return out;
}

function checkFinite(f: Float32Array, what: string, iteration: number): void {
  for (let i = 0; i < f.length; i++) {
    if (!Number.isFinite(f[i])) throw new ModelFitError(`als: non-finite ${what} factors at iteration ${iteration}`, { index: i, iteration });
  }
}

/** What a fit leaves in an AlsRecommender (moved between threads: src/models/background-fits.ts 'als'). */
export interface AlsFitted {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  itemGram: Float64Array;
  kernel: string;
  threadsUsed: number;
}

export class AlsRecommender implements Recommender {
  readonly name: string;
  readonly params: AlsParams;
  /** customers × k and items × k, row-major. */
  userFactors: Float32Array = new Float32Array(0);
  itemFactors: Float32Array = new Float32Array(0);
  /** YᵀY of the item factors (without λ), for fold-in. */
  itemGram: Float64Array = new Float64Array(0);
  /** The kernel the last fit ran on ('wasm-simd', 'js' or 'cholesky'), and the threads it used. */
  kernel = '';
  threadsUsed = 1;

  constructor(params: Partial<AlsParams> = {}, name = 'als') {
    this.params = { ...ALS_DEFAULTS, ...params };
    this.name = name;
  }

  get k(): number {
    return this.params.factors;
  }
  get nItems(): number {
    return this.itemFactors.length / this.k;
  }

  async fit(data: TrainingData, progress?: (done: number, total: number) => void): Promise<void> {
    const { factors: k, reg, alpha, iterations, solver, cgSteps, seed, initScale } = this.params;
    const c: Csr = this.params.input === 'counts' ? data.counts : data.weights;
    if (c.indices.length === 0) throw new ModelFitError('als: no interactions');
    if (!(k >= 1 && reg >= 0 && alpha >= 0 && iterations >= 0 && Number.isFinite(reg) && Number.isFinite(alpha))) throw new ModelFitError('als: bad hyperparameters', { ...this.params });
    for (let p = 0; p < c.data.length; p++) {
      if (!Number.isFinite(c.data[p]) || c.data[p] < 0) throw new ModelFitError('als: weights must be finite and ≥ 0', { index: p });
    }
    const ct = transpose(c);
    const u = new Float32Array(c.rows * k);
    const v = new Float32Array(c.cols * k);
    fillNormal(u, initScale, seed);
    fillNormal(v, initScale, seed + 1);
    const threads = this.params.threads || availableParallelism();
    try {
      const w = solver === 'cg' ? await WasmAls.start(c, ct, k, threads) : null;
      if (w) {
        this.kernel = 'wasm-simd';
        this.threadsUsed = w.threads;
        try {
          w.setFactors('users', u);
          w.setFactors('items', v);
          for (let it = 0; it < iterations; it++) {
            await w.solve('users', reg, alpha, cgSteps);
            w.getFactors('users', u);
            checkFinite(u, 'customer', it);
            await w.solve('items', reg, alpha, cgSteps);
            w.getFactors('items', v);
            checkFinite(v, 'item', it);
            progress?.(it + 1, iterations);
          }
          // (fewer when a worker that stopped answering was stopped: src/models/als-wasm.ts)
          this.threadsUsed = w.threads;
          this.itemGram = w.gram('items');
        } finally {
          await w.close();
        }
      } else {
        const pool = solver === 'cg' ? await CgPool.start(threads) : null;
        this.kernel = pool ? 'js' : 'cholesky';
        this.threadsUsed = pool?.threads ?? 1;
        try {
          await this.alternate(c, ct, u, v, pool, progress);
          this.threadsUsed = pool?.threads ?? 1;
        } finally {
          await pool?.close();
        }
        this.itemGram = gramWithReg(v, k, 0);
      }
    } catch (e) {
      if (e instanceof RangeError) throw new ModelFitError(`als: ${e.message} (raise reg)`, { reg });
      throw e;
    }
    this.userFactors = u;
    this.itemFactors = v;
  }

  private async alternate(c: Csr, ct: Csr, u: Float32Array, v: Float32Array, pool: CgPool | null, progress?: (done: number, total: number) => void): Promise<void> {
    const { factors: k, reg, alpha, iterations, cgSteps } = this.params;
    for (let it = 0; it < iterations; it++) {
      const gv = gramWithReg(v, k, reg);
      if (pool) await pool.solve(c, v, u, k, gv, alpha, cgSteps);
      else solveRowsExact(c, v, u, k, gv, alpha);
      checkFinite(u, 'customer', it);
      const gu = gramWithReg(u, k, reg);
      if (pool) await pool.solve(ct, u, v, k, gu, alpha, cgSteps);
      else solveRowsExact(ct, u, v, k, gu, alpha);
      checkFinite(v, 'item', it);
      progress?.(it + 1, iterations);
    }
  }

  /** The fitted state (for another thread to adopt). */
  fitted(): AlsFitted {
    return { userFactors: this.userFactors, itemFactors: this.itemFactors, itemGram: this.itemGram, kernel: this.kernel, threadsUsed: this.threadsUsed };
  }

  /** Takes over a fit computed elsewhere with the same parameters on the same data (fitted() of that model). */
  adopt(f: AlsFitted): void {
    this.userFactors = f.userFactors;
    this.itemFactors = f.itemFactors;
    this.itemGram = f.itemGram;
    this.kernel = f.kernel;
    this.threadsUsed = f.threadsUsed;
  }

  /** What fold-in (serving, events) needs. */
  foldInModel(): FoldInModel {
    return { itemFactors: this.itemFactors, k: this.k, gram: this.itemGram, reg: this.params.reg, alpha: this.params.alpha };
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const f = this.k;
    const rows = new Float32Array(customers.length * f);
    for (let n = 0; n < customers.length; n++) rows.set(this.userFactors.subarray(customers[n] * f, customers[n] * f + f), n * f);
    return this.scoreVectors(rows, customers.length, k, (n) => excludedFor(options, n, customers[n]));
  }

  /**
   * Top-k of U·Vᵀ for a batch of vectors (rows × k), on TensorFlow.js: scores by matMul, excluded
   * items masked to −∞, then tf.topk. Batches keep rows × items under 4M floats.
   */
  async scoreVectors(vectors: Float32Array, rows: number, k: number, exclude: (n: number) => ArrayLike<number>): Promise<BatchResult> {
    return this.scoreVectorsWasm(vectors, rows, k, exclude) ?? this.scoreVectorsTf(vectors, rows, k, exclude);
  }

  /**
   * scoreVectors on the project's wasm SIMD matrix product (src/models/spd-inverse-wasm.ts DenseKernels): each score is
   * the f32 sum TF.js's matMul computes (bit for bit), excluded items −∞, and the top k with TF.js's topk order (score
   * descending, ties to the lower index; −∞ is padding): the same result as scoreVectorsTf without starting TF.js.
   * Null when the module is not built.
   */
  scoreVectorsWasm(vectors: Float32Array, rows: number, k: number, exclude: (n: number) => ArrayLike<number>): BatchResult | null {
    const f = this.k;
    const n = this.nItems;
    const batch = Math.max(1, Math.min(rows, 256));
    const dk = DenseKernels.create(f * n + batch * f + batch * n + 64, Math.max(n, 8));
    if (!dk) return null;
    const vtAt = dk.alloc(f * n);
    const aAt = dk.alloc(batch * f);
    const cAt = dk.alloc(batch * n);
    const mem = dk.f32;
    const VT = vtAt >> 2;
    const v = this.itemFactors;
    for (let i = 0; i < n; i++) for (let a = 0; a < f; a++) mem[VT + a * n + i] = v[i * f + a];
    const res = emptyBatch(rows, k);
    const kk = Math.min(k, n);
    const sel = new TopK(kk);
    const C = cAt >> 2;
    const row = new Float32Array(n);
    const topIds = new Int32Array(kk);
    const topScores = new Float32Array(kk);
    for (let s = 0; s < rows; s += batch) {
      const b = Math.min(batch, rows - s);
      mem.set(vectors.subarray(s * f, (s + b) * f), aAt >> 2);
      dk.gemm(aAt, f, vtAt, n, cAt, n, b, n, f);
      for (let r = 0; r < b; r++) {
        // + 0 as TF.js adds its mask (−0 becomes +0), −∞ on excluded items
        for (let j = 0; j < n; j++) row[j] = mem[C + r * n + j] + 0;
        const ex = exclude(s + r);
        for (let q = 0; q < ex.length; q++) row[ex[q]] = -Infinity;
        sel.pushAll(row);
        sel.drain(topIds, topScores, 0);
        const o = (s + r) * k;
        res.ids.set(topIds, o);
        res.scores.set(topScores, o);
        for (let j = kk; j < k; j++) {
          res.ids[o + j] = -1;
          res.scores[o + j] = -Infinity;
        }
      }
    }
    return res;
  }

  /** scoreVectors on TensorFlow.js (the fallback where the wasm kernels are not built). */
  async scoreVectorsTf(vectors: Float32Array, rows: number, k: number, exclude: (n: number) => ArrayLike<number>): Promise<BatchResult> {
    const { tf } = await tfBackend();
    const f = this.k;
    const n = this.nItems;
    const res = emptyBatch(rows, k);
    const kk = Math.min(k, n);
    const batch = Math.max(1, Math.floor((1 << 22) / Math.max(1, n)));
    const vt = tf.tidy(() => tf.tensor2d(this.itemFactors, [n, f]).transpose());
    try {
      for (let s = 0; s < rows; s += batch) {
        const b = Math.min(batch, rows - s);
        const mask = new Float32Array(b * n);
        for (let r = 0; r < b; r++) {
          const ex = exclude(s + r);
          for (let q = 0; q < ex.length; q++) mask[r * n + ex[q]] = -Infinity;
        }
        const [vals, idx] = tf.tidy(() => {
          const sc = tf.add(tf.matMul(tf.tensor2d(vectors.subarray(s * f, (s + b) * f), [b, f]), vt), tf.tensor2d(mask, [b, n]));
          const t = tf.topk(sc, kk, true);
          return [t.values, t.indices];
        });
        const vs = (await vals.data()) as Float32Array;
        const is = (await idx.data()) as Int32Array;
        tf.dispose([vals, idx]);
        for (let r = 0; r < b; r++) {
          for (let j = 0; j < k; j++) {
            const o = (s + r) * k + j;
            const sc = j < kk ? vs[r * kk + j] : -Infinity;
            res.ids[o] = sc > -Infinity ? is[r * kk + j] : -1;
            res.scores[o] = sc;
          }
        }
      }
    } finally {
      vt.dispose();
    }
    return res;
  }

  /** Cosine similarity of item factors. */
  async similarItems(items: ArrayLike<number>, k: number): Promise<BatchResult> {
    const f = this.k;
    const n = this.nItems;
    const v = this.itemFactors;
    const norm = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let a = 0; a < f; a++) s += v[i * f + a] * v[i * f + a];
      norm[i] = Math.sqrt(s) || 1;
    }
    const res = emptyBatch(items.length, k);
    const sel = new TopK(k);
    for (let q = 0; q < items.length; q++) {
      const i = items[q];
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        let s = 0;
        for (let a = 0; a < f; a++) s += v[i * f + a] * v[j * f + a];
        sel.push(j, s / (norm[i] * norm[j]));
      }
      sel.drain(res.ids, res.scores, q);
    }
    return res;
  }

  /** Folds the history in (HKV eq. 4 with the item factors fixed) and scores every item. */
  async recommendForItems(items: ArrayLike<number>, weights: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    const x = foldIn(this.foldInModel(), items, weights);
    return this.scoreVectors(x, 1, k, () => exclude ?? []);
  }

  save(): SavedModel {
    return {
      header: { model: this.name, params: { ...this.params } },
      arrays: { userFactors: this.userFactors, itemFactors: this.itemFactors, itemGram: this.itemGram },
    };
  }

  load(saved: SavedModel): void {
    checkHeader(saved, this.name);
    const p = saved.header.params as Partial<AlsParams> | undefined;
    if (p) Object.assign(this.params, p);
    this.userFactors = savedArray(saved, 'userFactors', Float32Array);
    this.itemFactors = savedArray(saved, 'itemFactors', Float32Array);
    this.itemGram = savedArray(saved, 'itemGram', Float64Array);
  }
}
