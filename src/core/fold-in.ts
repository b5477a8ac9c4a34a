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

/**
 * The same fold-in as `foldIn`, from the Cholesky factor L of YᵀY + λI computed once per model
 * (Woodbury identity): with U = [y_i] over the m history items and D = diag(α · w_i),
 *   x = A₀⁻¹b − A₀⁻¹U (D⁻¹ + UᵀA₀⁻¹U)⁻¹ UᵀA₀⁻¹b,   A₀ = YᵀY + λI,  b = Σ (1 + α w_i) y_i,
 * which costs m + 1 triangular solves (k² each) and an m × m factorisation instead of a k × k one.
 * Histories longer than k / 4 items take `foldIn` (then cheaper). Equal to `foldIn` up to rounding.
 */
export function foldInFactored(
  model: FoldInModel,
  chol: Float64Array,
  items: ArrayLike<number>,
  weights: ArrayLike<number>,
  /** A₀⁻¹ y_i for item i (e.g. memoised per model); default: solved here from `chol`. */
  solved?: (item: number) => ArrayLike<number>,
): Float32Array {
  const { itemFactors: y, k, alpha } = model;
  const m = items.length;
  if (m > Math.max(1, k >> 2)) return foldIn(model, items, weights);
  const solve =
    solved ??
    ((i: number) => {
      const v = Float64Array.from(y.subarray(i * k, i * k + k));
      choleskySubstitute(chol, v, k);
      return v;
    });
  // z = A₀⁻¹b = Σ c_i A₀⁻¹y_i; the columns of Z = A₀⁻¹U are the A₀⁻¹y_i of items with a positive extra confidence
  const z = new Float64Array(k);
  const cols: ArrayLike<number>[] = [];
  const colItems: number[] = [];
  const colW: number[] = [];
  for (let n = 0; n < m; n++) {
    const u = solve(items[n]);
    const c = 1 + alpha * weights[n];
    for (let p = 0; p < k; p++) z[p] += c * u[p];
    if (alpha * weights[n] > 0) {
      cols.push(u);
      colItems.push(items[n]);
      colW.push(alpha * weights[n]);
    }
  }
  const r = cols.length;
  if (r === 0) return Float32Array.from(z);
  // S = D⁻¹ + UᵀZ (r × r, SPD), t = Uᵀz
  const sm = new Float64Array(r * r);
  const t = new Float64Array(r);
  for (let a = 0; a < r; a++) {
    const oa = colItems[a] * k;
    for (let c = 0; c < r; c++) {
      const col = cols[c];
      let v = 0;
      for (let p = 0; p < k; p++) v += y[oa + p] * col[p];
      sm[a * r + c] = v;
    }
    sm[a * r + a] += 1 / colW[a];
    let v = 0;
    for (let p = 0; p < k; p++) v += y[oa + p] * z[p];
    t[a] = v;
  }
  choleskySolve(sm, t, r);
  for (let c = 0; c < r; c++) {
    const col = cols[c];
    for (let p = 0; p < k; p++) z[p] -= col[p] * t[c];
  }
  return Float32Array.from(z);
}
