/**
 * Inverse of a symmetric positive definite matrix by recursive 2×2 block elimination
 * (Schur complement; e.g. Golub & Van Loan, Matrix Computations, §3.2.11):
 *   A = [A11 A12; A21 A22],  T = A11⁻¹ A12,  S = A22 − A21 T,
 *   A⁻¹ = [A11⁻¹ + T S⁻¹ Tᵀ, −T S⁻¹; −S⁻¹ Tᵀ, S⁻¹].
 * All the work is three matrix products per level (≈ n³ flops in all) on TensorFlow.js;
 * blocks of `base` or fewer rows are inverted exactly in float64 (Cholesky).
 */
import type * as TF from '@tensorflow/tfjs';
import { choleskyFactor, choleskySubstitute } from '../core/fold-in.js';

/** Exact inverse of a small SPD matrix (row-major, n × n) in float64, column by column. */
export function spdInverseExact(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  const l = Float64Array.from(a);
  choleskyFactor(l, n);
  const e = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    e.fill(0);
    e[c] = 1;
    choleskySubstitute(l, e, n);
    for (let r = 0; r < n; r++) out[r * n + c] = e[r];
  }
  return out;
}

/** A⁻¹ for SPD A (n × n tensor); the result is a new float32 tensor, A is not disposed. */
export function spdInverse(tf: typeof TF, a: TF.Tensor2D, base = 128): TF.Tensor2D {
  const n = a.shape[0];
  if (n <= base) {
    const inv = spdInverseExact(Float64Array.from(a.dataSync()), n);
    return tf.tensor2d(Float32Array.from(inv), [n, n]);
  }
  const h = Math.ceil(n / 2 / 64) * 64 < n ? Math.ceil(n / 2 / 64) * 64 : n >> 1;
  const m = n - h;
  // wasm's matMul is an order of magnitude slower with transpose flags: transpose explicitly
  // (A is symmetric, so A21 = A12ᵀ is a plain slice)
  const i11 = tf.tidy(() => spdInverse(tf, a.slice([0, 0], [h, h]), base));
  const t = tf.tidy(() => tf.matMul(i11, a.slice([0, h], [h, m])));
  const s = tf.tidy(() => {
    const sc = tf.sub(a.slice([h, h], [m, m]), tf.matMul(a.slice([h, 0], [m, h]), t));
    return tf.mul(tf.add(sc, sc.transpose()), 0.5) as TF.Tensor2D;
  });
  const si = spdInverse(tf, s, base);
  s.dispose();
  const out = tf.tidy(() => {
    const b12 = tf.neg(tf.matMul(t, si));
    const b11 = tf.sub(i11, tf.matMul(b12, t.transpose()));
    return tf.concat([tf.concat([b11, b12], 1), tf.concat([b12.transpose(), si], 1)], 0) as TF.Tensor2D;
  });
  tf.dispose([i11, t, si]);
  return out;
}
