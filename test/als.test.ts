/**
 * ALS: the fast conjugate-gradient path against the exact Cholesky reference, determinism for a
 * seed, loud failures on non-finite values, fold-in consistency, and the TensorFlow.js backend.
 */
import { describe, expect, it } from 'vitest';
import { csrFromCoo, transpose, type Csr } from '../src/core/csr.js';
import type { TrainingData } from '../src/core/recommender.js';
import { ModelFitError } from '../src/core/errors.js';
import { foldIn, gramMatrix } from '../src/core/fold-in.js';
import { fillNormal, mulberry32 } from '../src/core/random.js';
import { AlsRecommender, gramWithReg } from '../src/models/als.js';
import { wasmUnavailable } from '../src/core/wasm-modules.js';
import { solveRowsCg, solveRowsExact } from '../src/models/als-solvers.js';
import { spdInverse } from '../src/models/spd-inverse.js';
import { tfBackend } from '../src/train/tf-backend.js';

/** A random 60 × 40 matrix with ~15% density and weights in [0.5, 3). */
function randomData(seed = 7): TrainingData {
  const rnd = mulberry32(seed);
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  for (let u = 0; u < 60; u++) {
    for (let i = 0; i < 40; i++) {
      if (rnd() < 0.15 || i === u % 40) {
        r.push(u);
        c.push(i);
        v.push(0.5 + 2.5 * rnd());
      }
    }
  }
  const m = csrFromCoo(60, 40, r, c, v);
  return { weights: m, counts: m, baskets: m, items: [], customers: [] };
}

function scores(m: AlsRecommender): Float64Array {
  const k = m.k;
  const nu = m.userFactors.length / k;
  const ni = m.nItems;
  const out = new Float64Array(nu * ni);
  for (let u = 0; u < nu; u++)
    for (let i = 0; i < ni; i++) {
      let s = 0;
      for (let a = 0; a < k; a++) s += m.userFactors[u * k + a] * m.itemFactors[i * k + a];
      out[u * ni + i] = s;
    }
  return out;
}

describe('ALS solvers', () => {
  it('CG with k steps solves each row like the exact Cholesky solve', async () => {
    const data = randomData();
    const k = 8;
    const y = new Float32Array(40 * k);
    fillNormal(y, 0.3, 3);
    const g = gramWithReg(y, k, 0.5);
    const exact = new Float32Array(60 * k);
    solveRowsExact(data.weights, y, exact, k, g, 4);
    const cg = new Float32Array(60 * k); // cold start from 0
    solveRowsCg(data.weights, y, cg, k, g, 4, 3 * k);
    for (let p = 0; p < exact.length; p++) expect(Math.abs(cg[p] - exact[p])).toBeLessThan(1e-3 * (1 + Math.abs(exact[p])));
  });

  it('the exact row solve is the fold-in closed form of src/core/fold-in.ts', async () => {
    const data = randomData(11);
    const k = 6;
    const y = new Float32Array(40 * k);
    fillNormal(y, 0.3, 5);
    const x = new Float32Array(60 * k);
    solveRowsExact(data.weights, y, x, k, gramWithReg(y, k, 0.2), 3);
    const w: Csr = data.weights;
    for (const u of [0, 17, 59]) {
      const items = w.indices.subarray(w.indptr[u], w.indptr[u + 1]);
      const weights = w.data.subarray(w.indptr[u], w.indptr[u + 1]);
      const f = foldIn({ itemFactors: y, k, gram: gramMatrix(y, k), reg: 0.2, alpha: 3 }, items, weights);
      for (let a = 0; a < k; a++) expect(f[a]).toBeCloseTo(x[u * k + a], 4);
    }
  });

  it('a full fit with the fast CG path reaches the exact reference\'s loss and predictions', async () => {
    const data = randomData();
    const params = { factors: 8, reg: 0.5, alpha: 4, iterations: 25, seed: 1 };
    const fast = new AlsRecommender({ ...params, solver: 'cg', cgSteps: 3 });
    const slow = new AlsRecommender({ ...params, solver: 'cholesky' });
    await fast.fit(data);
    await slow.fit(data);
    const a = scores(fast);
    const b = scores(slow);
    // HKV eq. 3: Σ_ui c_ui (p_ui − x_u·y_i)² + λ (‖X‖² + ‖Y‖²)
    const loss = (m: AlsRecommender, s: Float64Array) => {
      const w = data.weights;
      let l = 0;
      for (let u = 0; u < 60; u++) {
        const own = new Map<number, number>();
        for (let p = w.indptr[u]; p < w.indptr[u + 1]; p++) own.set(w.indices[p], w.data[p]);
        for (let i = 0; i < 40; i++) {
          const c = 1 + 4 * (own.get(i) ?? 0);
          const pref = own.has(i) ? 1 : 0;
          l += c * (pref - s[u * 40 + i]) ** 2;
        }
      }
      for (const f of [m.userFactors, m.itemFactors]) for (const x of f) l += 0.5 * x * x;
      return l;
    };
    const la = loss(fast, a);
    const lb = loss(slow, b);
    expect(Math.abs(la - lb) / lb).toBeLessThan(0.01);
    let sq = 0;
    for (let p = 0; p < a.length; p++) sq += (a[p] - b[p]) ** 2;
    expect(Math.sqrt(sq / a.length)).toBeLessThan(0.05); // different local optima of a non-convex loss; a wrong solver is off by ~0.3
  });
});

describe('ALS on the WebAssembly SIMD kernels', () => {
  it('are built by npm install and used by the CG fit', async () => {
    expect(wasmUnavailable('als')).toBeUndefined();
    const m = new AlsRecommender({ factors: 8, iterations: 2 });
    await m.fit(randomData());
    expect(m.kernel).toBe('wasm-simd');
  });

  it('give the same factors, bit for bit, on 1 and 2 threads (k not a multiple of 4: padded rows)', async () => {
    const data = randomData(3);
    const one = new AlsRecommender({ factors: 7, iterations: 4, threads: 1 });
    const two = new AlsRecommender({ factors: 7, iterations: 4, threads: 2 });
    await one.fit(data);
    await two.fit(data);
    expect(one.threadsUsed).toBe(1);
    expect(two.threadsUsed).toBe(2);
    expect(Buffer.from(one.userFactors.buffer).equals(Buffer.from(two.userFactors.buffer))).toBe(true);
    expect(Buffer.from(one.itemFactors.buffer).equals(Buffer.from(two.itemFactors.buffer))).toBe(true);
    expect(Array.from(one.itemGram)).toEqual(Array.from(two.itemGram));
  });

  it('leave no timer behind once their worker threads started (a pending start-up deadline held the CLI open)', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await new AlsRecommender({ factors: 7, iterations: 2, threads: 2 }).fit(randomData(4));
    const before = timers();
    const two = new AlsRecommender({ factors: 7, iterations: 2, threads: 2 });
    await two.fit(randomData(4));
    expect(two.threadsUsed).toBe(2);
    // each fit used to leave its worker's 10 s start-up timer pending: one more per fit
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('solve each row like the JavaScript CG (f32 against f64 arithmetic) and report YᵀY of the final item factors', async () => {
    const data = randomData(5);
    const params = { factors: 12, iterations: 6, reg: 0.3, alpha: 2, seed: 9 };
    const wasm = new AlsRecommender({ ...params, threads: 1 });
    await wasm.fit(data);
    // the JavaScript path, one iteration at a time from the same start, is what the kernels replace
    const k = 12;
    const c = data.weights;
    const u = new Float32Array(c.rows * k);
    const v = new Float32Array(c.cols * k);
    fillNormal(u, 0.01, 9);
    fillNormal(v, 0.01, 10);
    const ct = transpose(c);
    for (let it = 0; it < 6; it++) {
      solveRowsCg(c, v, u, k, gramWithReg(v, k, 0.3), 2, 3);
      solveRowsCg(ct, u, v, k, gramWithReg(u, k, 0.3), 2, 3);
    }
    let worst = 0;
    for (let p = 0; p < v.length; p++) worst = Math.max(worst, Math.abs(v[p] - wasm.itemFactors[p]) / (1e-3 + Math.abs(v[p])));
    expect(worst).toBeLessThan(1e-2);
    const g = gramWithReg(wasm.itemFactors, k, 0);
    for (let p = 0; p < g.length; p++) expect(wasm.itemGram[p]).toBeCloseTo(g[p], 6);
  });
});

describe('ALS model', () => {
  it('is deterministic for a seed and differs across seeds', async () => {
    const data = randomData();
    const fit = async (seed: number) => {
      const m = new AlsRecommender({ factors: 4, iterations: 3, seed });
      await m.fit(data);
      return m;
    };
    const [a, b, c] = [await fit(5), await fit(5), await fit(6)];
    expect(Buffer.from(a.itemFactors.buffer).equals(Buffer.from(b.itemFactors.buffer))).toBe(true);
    expect(Buffer.from(a.userFactors.buffer).equals(Buffer.from(b.userFactors.buffer))).toBe(true);
    expect(Buffer.from(a.itemFactors.buffer).equals(Buffer.from(c.itemFactors.buffer))).toBe(false);
  });

  it('throws ModelFitError on NaN weights and on diverging factors', async () => {
    const data = randomData();
    const bad = { ...data.weights, data: Float32Array.from(data.weights.data) };
    bad.data[3] = NaN;
    await expect(new AlsRecommender({ factors: 4, iterations: 2 }).fit({ ...data, weights: bad })).rejects.toBeInstanceOf(ModelFitError);
    await expect(new AlsRecommender({ factors: 4, iterations: 2, alpha: Infinity }).fit(data)).rejects.toBeInstanceOf(ModelFitError);
    // no regularisation and more factors than items: the exact solves meet a singular system
    await expect(new AlsRecommender({ factors: 50, iterations: 2, reg: 0, solver: 'cholesky' }).fit(data)).rejects.toBeInstanceOf(ModelFitError);
    // weights so large that the confidences overflow: the CG residual is not finite
    const huge = { ...data.weights, data: data.weights.data.map(() => 3e38) };
    await expect(new AlsRecommender({ factors: 4, iterations: 2, alpha: 1e300 }).fit({ ...data, weights: huge })).rejects.toBeInstanceOf(ModelFitError);
  });

  it('fold-in of a fitted customer from their history reproduces their recommendations', async () => {
    const data = randomData();
    const m = new AlsRecommender({ factors: 6, iterations: 10, solver: 'cholesky', reg: 0.5, alpha: 4 });
    await m.fit(data);
    const u = 12;
    const w = data.weights;
    const items = w.indices.subarray(w.indptr[u], w.indptr[u + 1]);
    const a = await m.recommend([u], 5, { exclude: w });
    const b = await m.recommendForItems(items, w.data.subarray(w.indptr[u], w.indptr[u + 1]), 5, items);
    // the stored vector was solved against the previous item factors; fold-in against the final ones: same top-3
    expect(new Set(b.ids.subarray(0, 3))).toEqual(new Set(a.ids.subarray(0, 3)));
  });
});

describe('TensorFlow.js', () => {
  it('falls back gracefully when tfjs-node is missing and names the backend', async () => {
    const h = await tfBackend();
    expect(['node', 'wasm', 'cpu']).toContain(h.backend);
    expect(h.tf.getBackend()).toBe(h.backend === 'node' ? 'tensorflow' : h.backend);
  });

  it('inverts an SPD matrix by recursive blocks (A·A⁻¹ = I)', async () => {
    const { tf } = await tfBackend();
    const n = 200;
    const x = new Float32Array(n * n);
    fillNormal(x, 1, 9);
    const a = tf.tidy(() => {
      const t = tf.tensor2d(x, [n, n]);
      return tf.add(tf.matMul(t.transpose(), t), tf.mul(tf.eye(n), 50)) as import('@tensorflow/tfjs').Tensor2D;
    });
    const inv = spdInverse(tf, a, 32); // several levels of recursion
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.matMul(a, inv), tf.eye(n)))).dataSync()[0]);
    tf.dispose([a, inv]);
    expect(err).toBeLessThan(1e-4);
  });
});
