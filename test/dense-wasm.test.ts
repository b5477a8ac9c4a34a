/**
 * The WebAssembly SIMD matrix product (src/wasm/assembly/dense.ts) and EASE's SPD inverse on it
 * (src/models/spd-inverse-wasm.ts): every product element must be the sequential f32 sum over k (the order
 * TF.js's wasm matMul uses), and the inverse must be bit for bit the TF.js one. Compared with Object.is, so any
 * change in the order of the sums (or a wrong tile, panel or block edge) fails.
 */
import { describe, expect, it } from 'vitest';
import { DenseKernels, spdInverseWasm } from '../src/models/spd-inverse-wasm.js';
import { spdInverse } from '../src/models/spd-inverse.js';
import { easeWeights } from '../src/models/ease.js';
import { tfBackend } from '../src/train/tf-backend.js';
import { wasmUnavailable } from '../src/core/wasm-modules.js';
import type { Csr } from '../src/core/csr.js';
import { AlsRecommender } from '../src/models/als.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** The reference: one element at a time, k in order, each product and each sum rounded to f32. */
function gemmReference(a: Float32Array, lda: number, b: Float32Array, ldb: number, m: number, n: number, k: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s = Math.fround(s + Math.fround(a[i * lda + q] * b[q * ldb + j]));
      c[i * n + j] = s;
    }
  }
  return c;
}

/** A co-occurrence-like SPD matrix (integer counts + λ on the diagonal), as EASE's G. */
function gramLike(n: number, users: number, seed: number): Float32Array {
  const r = rng(seed);
  const g = new Float32Array(n * n);
  for (let u = 0; u < users; u++) {
    const items = new Set<number>();
    const len = 1 + Math.floor(r() * 25);
    for (let q = 0; q < len; q++) items.add(Math.floor(r() ** 2 * n));
    for (const i of items) for (const j of items) g[i * n + j] += 1;
  }
  for (let i = 0; i < n; i++) g[i * n + i] += 250;
  return g;
}

const same = (x: Float32Array, y: Float32Array) => {
  let bad = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) bad++;
  return bad;
};

describe('dense wasm kernels', () => {
  it('is built by npm install', () => {
    expect(wasmUnavailable('dense')).toBeUndefined();
  });

  it('gemm: each element is the sequential f32 sum over k (ragged shapes, k across blocks, strided blocks)', () => {
    const r = rng(7);
    // m not a multiple of 4, n not a multiple of 8, k above the kernel's k-block (256): every edge path
    for (const [m, n, k] of [
      [1, 1, 1],
      [3, 5, 7],
      [9, 17, 300],
      [37, 64, 513],
      [130, 131, 257],
    ]) {
      const lda = k + 3;
      const ldb = n + 5;
      const ldc = n + 2;
      const dk = DenseKernels.create(m * lda + k * ldb + m * ldc + 64, Math.max(n, 8))!;
      const aAt = dk.alloc(m * lda);
      const bAt = dk.alloc(k * ldb);
      const cAt = dk.alloc(m * ldc);
      const a = dk.f32.subarray(aAt >> 2, (aAt >> 2) + m * lda);
      const b = dk.f32.subarray(bAt >> 2, (bAt >> 2) + k * ldb);
      const c = dk.f32.subarray(cAt >> 2, (cAt >> 2) + m * ldc);
      for (let i = 0; i < a.length; i++) a[i] = r() * 2 - 1;
      for (let i = 0; i < b.length; i++) b[i] = r() * 2 - 1;
      c.fill(12345); // the padding columns must stay untouched
      dk.gemm(aAt, lda, bAt, ldb, cAt, ldc, m, n, k);
      const ref = gemmReference(a, lda, b, ldb, m, n, k);
      let bad = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) if (!Object.is(c[i * ldc + j], ref[i * n + j])) bad++;
        for (let j = n; j < ldc; j++) if (c[i * ldc + j] !== 12345) bad++;
      }
      expect(bad, `${m}×${k}·${k}×${n}`).toBe(0);
      // a sum in another order (f64 here) differs somewhere: the comparison can see a wrong kernel
      if (k > 100) {
        let other = 0;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) s += a[q] * b[q * ldb + j];
          if (!Object.is(Math.fround(s), c[j])) other++;
        }
        expect(other).toBeGreaterThan(0);
      }
    }
  });

  it('spdInverseWasm is bit for bit the TF.js spdInverse (several recursion levels)', async () => {
    const { tf, backend } = await tfBackend();
    // the claim is about TF.js's wasm backend (the one evaluation runs on here)
    expect(backend).toBe('wasm');
    for (const [n, base, seed] of [
      [150, 32, 1],
      [301, 64, 2],
      [700, 128, 3],
    ]) {
      const g = gramLike(n, n * 3, seed);
      const gt = tf.tensor2d(g, [n, n]);
      const pt = spdInverse(tf, gt, base);
      const ref = pt.dataSync() as Float32Array;
      tf.dispose([gt, pt]);
      const p = spdInverseWasm(g, n, base)!;
      expect(p).not.toBeNull();
      expect(same(p, ref), `n=${n}`).toBe(0);
      // and it is an inverse: (G·P)_ii ≈ 1
      for (const i of [0, n >> 1, n - 1]) {
        let s = 0;
        for (let q = 0; q < n; q++) s += g[i * n + q] * p[q * n + i];
        expect(Math.abs(s - 1)).toBeLessThan(1e-3);
      }
    }
  });

  it("EASE's weights do not depend on which inverse ran", async () => {
    const r = rng(11);
    const rows = 400;
    const cols = 260;
    const indptr = new Int32Array(rows + 1);
    const indices: number[] = [];
    for (let u = 0; u < rows; u++) {
      const items = new Set<number>();
      for (let q = 0; q < 1 + Math.floor(r() * 12); q++) items.add(Math.floor(r() ** 1.5 * cols));
      indices.push(...[...items].sort((x, y) => x - y));
      indptr[u + 1] = indices.length;
    }
    const counts: Csr = { rows, cols, indptr, indices: Int32Array.from(indices), data: new Float32Array(indices.length).fill(1) };
    const b = await easeWeights(counts, { lambda: 50 });
    // the TF.js path, by hand: G, spdInverse (base 128 as easeWeights), B
    const { tf } = await tfBackend();
    const g = new Float32Array(cols * cols);
    for (let u = 0; u < rows; u++) {
      for (let p = indptr[u]; p < indptr[u + 1]; p++) for (let q = indptr[u]; q < indptr[u + 1]; q++) g[indices[p] * cols + indices[q]] += 1;
    }
    for (let i = 0; i < cols; i++) g[i * cols + i] += 50;
    const gt = tf.tensor2d(g, [cols, cols]);
    const pt = spdInverse(tf, gt);
    const p = pt.dataSync() as Float32Array;
    tf.dispose([gt, pt]);
    const ref = new Float32Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) ref[i * cols + j] = i === j ? 0 : -p[i * cols + j] / p[j * cols + j];
    expect(same(b, ref)).toBe(0);
  });

  it("ALS's top-k scoring on the wasm product equals the TF.js one (ids and f32 scores; ties, exclusions, k > items)", async () => {
    const r = rng(5);
    for (const [n, f, rows, k] of [
      [300, 16, 70, 20],
      [13, 5, 9, 20],
      [1000, 64, 300, 10],
    ]) {
      const m = new AlsRecommender({ factors: f });
      // quantised factors: many exactly tied scores, decided by the item index
      m.itemFactors = Float32Array.from({ length: n * f }, () => Math.round(r() * 4) / 4);
      const vectors = Float32Array.from({ length: rows * f }, () => Math.round((r() * 2 - 1) * 8) / 8);
      const exclude = (q: number) => Int32Array.from({ length: q % 7 }, (_, t) => (q * 31 + t * 17) % n);
      const w = m.scoreVectorsWasm(vectors, rows, k, exclude)!;
      const t = await m.scoreVectorsTf(vectors, rows, k, exclude);
      expect(w).not.toBeNull();
      expect(Array.from(w.ids)).toEqual(Array.from(t.ids));
      expect(same(w.scores, t.scores), `n=${n}`).toBe(0);
    }
  });
});
