/**
 * The closed form of implicit ALS for one row (Hu, Koren, Volinsky 2008, eq. 4):
 *   x = (YᵀY + Yᵀ(Cᵘ − I)Y + λI)⁻¹ Yᵀ Cᵘ p(u)
 * with confidence c = 1 + α·w for each item the customer has (p = 1 there, 0 elsewhere).
 * Used by training's exact solver, by serving to fold in a new or anonymous customer
 * from a list of items, and by purchase events to refresh a customer's vector.
 */
export interface FoldInModel {
  /** items × k, row-major. */
  itemFactors: Float32Array;
  k: number;
  /** YᵀY, k × k row-major (precomputed once per model). */
  gram: Float64Array;
  reg: number;
  alpha: number;
}

/** YᵀY of a row-major n × k matrix. */
export function gramMatrix(y: Float32Array, k: number): Float64Array {
  const n = y.length / k;
  const g = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    for (let a = 0; a < k; a++) {
      const ya = y[o + a];
      if (ya === 0) continue;
      const ga = a * k;
      for (let b = a; b < k; b++) g[ga + b] += ya * y[o + b];
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) g[a * k + b] = g[b * k + a];
  return g;
}

/**
 * Solves A x = b in place for symmetric positive definite A (k × k, row-major, overwritten
 * by its Cholesky factor); b is overwritten by x. Throws if A is not positive definite.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, k: number): void {
  choleskyFactor(a, k);
  choleskySubstitute(a, b, k);
}

/** Overwrites the lower triangle of SPD `a` (k × k, row-major) with its Cholesky factor L. Throws if not positive definite. */
export function choleskyFactor(a: Float64Array, k: number): void {
  for (let j = 0; j < k; j++) {
    let d = a[j * k + j];
    for (let p = 0; p < j; p++) d -= a[j * k + p] * a[j * k + p];
    if (!(d > 0)) throw new RangeError('matrix is not positive definite');
    d = Math.sqrt(d);
    a[j * k + j] = d;
    for (let i = j + 1; i < k; i++) {
      let s = a[i * k + j];
      for (let p = 0; p < j; p++) s -= a[i * k + p] * a[j * k + p];
      a[i * k + j] = s / d;
    }
  }
}

/** Solves L Lᵀ x = b in place, given the factor from choleskyFactor (lower triangle of `l`). */
export function choleskySubstitute(l: Float64Array, b: Float64Array, k: number): void {
  for (let i = 0; i < k; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= l[i * k + p] * b[p];
    b[i] = s / l[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < k; p++) s -= l[p * k + i] * b[p];
    b[i] = s / l[i * k + i];
  }
}

/** A customer's factor vector from their items and interaction weights. */
export function foldIn(model: FoldInModel, items: ArrayLike<number>, weights: ArrayLike<number>): Float32Array {
  const { itemFactors: y, k, gram, reg, alpha } = model;
  const a = Float64Array.from(gram);
  const b = new Float64Array(k);
  for (let d = 0; d < k; d++) a[d * k + d] += reg;
  for (let n = 0; n < items.length; n++) {
    const o = items[n] * k;
    const c = 1 + alpha * weights[n];
    for (let p = 0; p < k; p++) {
      const yp = y[o + p];
      b[p] += c * yp;
      const cy = (c - 1) * yp;
      if (cy === 0) continue;
      for (let q = 0; q < k; q++) a[p * k + q] += cy * y[o + q];
    }
  }
  choleskySolve(a, b, k);
  return Float32Array.from(b);
}
