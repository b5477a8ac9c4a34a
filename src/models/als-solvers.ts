/**
 * The per-row least-squares solves of implicit ALS (Hu, Koren & Volinsky 2008), over typed arrays.
 * For row u with items i and confidences c_i = 1 + α·w_i (preference p_i = 1), the optimum is
 *   x_u = (YᵀY + λI + Σ_i (c_i − 1) y_i y_iᵀ)⁻¹ Σ_i c_i y_i           (HKV eq. 4)
 * `solveRowsCg` approximates it with a few conjugate-gradient steps warm-started from the
 * previous x_u (Takács, Pilászy & Tikk 2011, as implicit's least_squares_cg), never forming
 * the k × k matrix per row; `solveRowsExact` forms it and solves by Cholesky (the reference).
 */
import type { Csr } from '../core/csr.js';
import { choleskySolve } from '../core/fold-in.js';

/** x (rows × k, row-major) ← the solution for rows [from, to) of `m` given fixed factors y. `gramReg` = YᵀY + λI (k × k). */
export function solveRowsCg(
  m: Csr,
  y: Float32Array,
  x: Float32Array,
  k: number,
  gramReg: Float64Array,
  alpha: number,
  steps: number,
  from = 0,
  to = m.rows,
): void {
  const r = new Float64Array(k);
  const p = new Float64Array(k);
  const ap = new Float64Array(k);
  const xv = new Float64Array(k);
  for (let u = from; u < to; u++) {
    const s = m.indptr[u];
    const e = m.indptr[u + 1];
    const xo = u * k;
    if (s === e) {
      x.fill(0, xo, xo + k);
      continue;
    }
    for (let a = 0; a < k; a++) xv[a] = x[xo + a];
    // r = b − A x = Σ c_i y_i − (YᵀY + λI) x − Σ (c_i − 1)(y_i·x) y_i
    for (let a = 0; a < k; a++) r[a] = -dotRow(gramReg, a * k, xv, k);
    for (let q = s; q < e; q++) {
      const yo = m.indices[q] * k;
      const c = 1 + alpha * m.data[q];
      const d = dot(y, yo, xv, k);
      const f = c - (c - 1) * d;
      axpy(f, y, yo, r, k);
    }
    let rs = 0;
    for (let a = 0; a < k; a++) {
      p[a] = r[a];
      rs += r[a] * r[a];
    }
    if (!Number.isFinite(rs)) xv.fill(NaN); // reported by the caller's finiteness check
    for (let it = 0; it < steps && rs > 1e-20; it++) {
      // Ap = (YᵀY + λI) p + Σ (c_i − 1)(y_i·p) y_i
      for (let a = 0; a < k; a++) ap[a] = dotRow(gramReg, a * k, p, k);
      for (let q = s; q < e; q++) {
        const yo = m.indices[q] * k;
        const c1 = alpha * m.data[q];
        const d = dot(y, yo, p, k) * c1;
        axpy(d, y, yo, ap, k);
      }
      let pap = 0;
      for (let a = 0; a < k; a++) pap += p[a] * ap[a];
      if (!(pap > 0)) break;
      const step = rs / pap;
      let rsNew = 0;
      for (let a = 0; a < k; a++) {
        xv[a] += step * p[a];
        r[a] -= step * ap[a];
        rsNew += r[a] * r[a];
      }
      const beta = rsNew / rs;
      for (let a = 0; a < k; a++) p[a] = r[a] + beta * p[a];
      rs = rsNew;
    }
    for (let a = 0; a < k; a++) x[xo + a] = xv[a];
  }
}

/** The exact solve of every row (HKV eq. 4 by Cholesky): slow and obvious, the reference for the CG path. */
export function solveRowsExact(m: Csr, y: Float32Array, x: Float32Array, k: number, gramReg: Float64Array, alpha: number): void {
  const a = new Float64Array(k * k);
  const b = new Float64Array(k);
  for (let u = 0; u < m.rows; u++) {
    const s = m.indptr[u];
    const e = m.indptr[u + 1];
    if (s === e) {
      x.fill(0, u * k, u * k + k);
      continue;
    }
    a.set(gramReg);
    b.fill(0);
    for (let q = s; q < e; q++) {
      const yo = m.indices[q] * k;
      const c = 1 + alpha * m.data[q];
      for (let i = 0; i < k; i++) {
        const yi = y[yo + i];
        b[i] += c * yi;
        const f = (c - 1) * yi;
        for (let j = 0; j < k; j++) a[i * k + j] += f * y[yo + j];
      }
    }
    choleskySolve(a, b, k);
    for (let i = 0; i < k; i++) x[u * k + i] = b[i];
  }
}

/** Σ_a y[o + a] · v[a], four accumulators. */
function dot(y: Float32Array, o: number, v: Float64Array, k: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let a = 0;
  for (; a + 3 < k; a += 4) {
    s0 += y[o + a] * v[a];
    s1 += y[o + a + 1] * v[a + 1];
    s2 += y[o + a + 2] * v[a + 2];
    s3 += y[o + a + 3] * v[a + 3];
  }
  for (; a < k; a++) s0 += y[o + a] * v[a];
  return s0 + s1 + s2 + s3;
}

/** out[a] += f · y[o + a]. */
function axpy(f: number, y: Float32Array, o: number, out: Float64Array, k: number): void {
  let a = 0;
  for (; a + 3 < k; a += 4) {
    out[a] += f * y[o + a];
    out[a + 1] += f * y[o + a + 1];
    out[a + 2] += f * y[o + a + 2];
    out[a + 3] += f * y[o + a + 3];
  }
  for (; a < k; a++) out[a] += f * y[o + a];
}

/** Σ_b g[o + b] · v[b] (a row of a float64 matrix times a vector). */
function dotRow(g: Float64Array, o: number, v: Float64Array, k: number): number {
  let s0 = 0;
  let s1 = 0;
  for (let b = 0; b + 1 < k; b += 2) {
    s0 += g[o + b] * v[b];
    s1 += g[o + b + 1] * v[b + 1];
  }
  if (k % 2) s0 += g[o + k - 1] * v[k - 1];
  return s0 + s1;
}
