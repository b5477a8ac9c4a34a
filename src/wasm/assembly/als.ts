// AssemblyScript source of the implicit-ALS kernels (compiled to WebAssembly SIMD by scripts/build-wasm.mjs at
// `npm install`; loaded by src/models/als-wasm.ts). No runtime allocation: the JavaScript side lays every array
// out in the (shared) memory and passes byte offsets. Factor rows are padded to k4 = a multiple of 4 floats.
//
// Row solve (Hu, Koren & Volinsky 2008, eq. 4, by conjugate gradient as Takács, Pilászy & Tikk 2011): for row u with
// items i and confidences c_i = 1 + α·w_i, solve (G + Σ (c_i − 1) y_i y_iᵀ) x = Σ c_i y_i where G = YᵀY + λI,
// warm-started from the previous x_u, `steps` CG steps. A row's arithmetic depends on that row alone, so the
// factors do not depend on how rows are split across threads.

// out[0..k4) += f · v[0..k4)
@inline function axpy(f: f32, v: usize, out: usize, k4: i32): void {
  const fs = f32x4.splat(f);
  for (let d = 0; d < k4; d += 4) {
    const o = out + (<usize>d << 2);
    v128.store(o, f32x4.add(v128.load(o), f32x4.mul(fs, v128.load(v + (<usize>d << 2)))));
  }
}

// Σ a[d]·b[d] over d < k4 (a multiple of 4): four accumulators, so the adds of a 64-float dot are not one latency-bound
// chain; the blocks past the last multiple of 16 go to the first ones.
@inline function dot(a: usize, b: usize, k4: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  let o: usize = 0;
  const end = <usize>k4 << 2;
  for (; o + 64 <= end; o += 64) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o + 16), v128.load(b + o + 16)));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(a + o + 32), v128.load(b + o + 32)));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(a + o + 48), v128.load(b + o + 48)));
  }
  for (; o < end; o += 16) s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
  return (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
}

// out = G·v for a symmetric k4 × k4 matrix G (row-major): out[a..] = Σ_b v[b] · G[b, a..]. Thirty-two outputs at a
// time in eight accumulators held across the whole sum over b (eight independent add chains keep the SIMD units busy;
// no horizontal sums, no stores inside the loop), then four at a time.
@inline function symv(g: usize, v: usize, out: usize, k4: i32): void {
  const stride = <usize>k4 << 2;
  let a = 0;
  for (; a + 32 <= k4; a += 32) {
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    let s4 = f32x4.splat(0);
    let s5 = f32x4.splat(0);
    let s6 = f32x4.splat(0);
    let s7 = f32x4.splat(0);
    let row = g + (<usize>a << 2);
    for (let b = 0; b < k4; b++) {
      const vb = f32x4.splat(load<f32>(v + (<usize>b << 2)));
      s0 = f32x4.add(s0, f32x4.mul(vb, v128.load(row)));
      s1 = f32x4.add(s1, f32x4.mul(vb, v128.load(row + 16)));
      s2 = f32x4.add(s2, f32x4.mul(vb, v128.load(row + 32)));
      s3 = f32x4.add(s3, f32x4.mul(vb, v128.load(row + 48)));
      s4 = f32x4.add(s4, f32x4.mul(vb, v128.load(row + 64)));
      s5 = f32x4.add(s5, f32x4.mul(vb, v128.load(row + 80)));
      s6 = f32x4.add(s6, f32x4.mul(vb, v128.load(row + 96)));
      s7 = f32x4.add(s7, f32x4.mul(vb, v128.load(row + 112)));
      row += stride;
    }
    const o = out + (<usize>a << 2);
    v128.store(o, s0);
    v128.store(o + 16, s1);
    v128.store(o + 32, s2);
    v128.store(o + 48, s3);
    v128.store(o + 64, s4);
    v128.store(o + 80, s5);
    v128.store(o + 96, s6);
    v128.store(o + 112, s7);
  }
  for (; a < k4; a += 4) {
    let s0 = f32x4.splat(0);
    let row = g + (<usize>a << 2);
    for (let b = 0; b < k4; b++) {
      s0 = f32x4.add(s0, f32x4.mul(f32x4.splat(load<f32>(v + (<usize>b << 2))), v128.load(row)));
      row += stride;
    }
    v128.store(out + (<usize>a << 2), s0);
  }
}

/**
 * CG solves of the rows [0, rows) of a CSR matrix (indptr i32[rows + 1], indices i32[nnz], data f32[nnz] = weights w)
 * against fixed factors y (f32, cols × k4); x (f32, rows × k4) holds the warm start and receives the result.
 * gram: f32 k4 × k4 = YᵀY + λI (padding rows/columns zero but for λ on the diagonal). scratch: 3 · k4 f32 of the
 * calling thread's own. Shared by every thread that calls it at once: each takes the next chunk of
 * `chunk` rows from the counter (an i32 in shared memory, zeroed before the half-iteration) until none are left, so a
 * thread that is descheduled holds up no one. A row's result does not depend on which thread solved it.
 */
export function solveCgShared(
  indptr: usize, indices: usize, data: usize, y: usize, x: usize, gram: usize,
  k4: i32, alpha: f32, steps: i32, rows: i32, chunk: i32, counter: usize, scratch: usize,
): void {
  while (true) {
    const from = atomic.add<i32>(counter, 1) * chunk;
    if (from >= rows) break;
    const to = from + chunk < rows ? from + chunk : rows;
    solveRange(indptr, indices, data, y, x, gram, k4, alpha, steps, from, to, scratch);
  }
}

function solveRange(
  indptr: usize, indices: usize, data: usize, y: usize, x: usize, gram: usize,
  k4: i32, alpha: f32, steps: i32, from: i32, to: i32, scratch: usize,
): void {
  const bytes = <usize>k4 << 2;
  const r = scratch;
  const p = scratch + bytes;
  const ap = scratch + 2 * bytes;
  for (let u = from; u < to; u++) {
    const s = load<i32>(indptr + (<usize>u << 2));
    const e = load<i32>(indptr + (<usize>(u + 1) << 2));
    const xv = x + <usize>u * bytes;
    if (s == e) {
      memory.fill(xv, 0, bytes);
      continue;
    }
    // r = b − A x = Σ c_i y_i − G x − Σ (c_i − 1)(y_i·x) y_i
    symv(gram, xv, r, k4);
    for (let d = 0; d < k4; d += 4) v128.store(r + (<usize>d << 2), f32x4.neg(v128.load(r + (<usize>d << 2))));
    for (let q = s; q < e; q++) {
      const yi = y + <usize>load<i32>(indices + (<usize>q << 2)) * bytes;
      const c = <f32>1 + alpha * load<f32>(data + (<usize>q << 2));
      axpy(c - (c - 1) * dot(yi, xv, k4), yi, r, k4);
    }
    memory.copy(p, r, bytes);
    let rs = dot(r, r, k4);
    if (!isFinite(rs)) {
      for (let d = 0; d < k4; d++) store<f32>(xv + (<usize>d << 2), NaN);
      continue;
    }
    for (let it = 0; it < steps && rs > <f32>1e-20; it++) {
      // Ap = G p + Σ (c_i − 1)(y_i·p) y_i
      symv(gram, p, ap, k4);
      for (let q = s; q < e; q++) {
        const yi = y + <usize>load<i32>(indices + (<usize>q << 2)) * bytes;
        axpy(alpha * load<f32>(data + (<usize>q << 2)) * dot(yi, p, k4), yi, ap, k4);
      }
      const pap = dot(p, ap, k4);
      if (!(pap > 0)) break;
      const step = rs / pap;
      axpy(step, p, xv, k4);
      axpy(-step, ap, r, k4);
      const rsNew = dot(r, r, k4);
      const beta = f32x4.splat(rsNew / rs);
      for (let d = 0; d < k4; d += 4) {
        const o = <usize>d << 2;
        v128.store(p + o, f32x4.add(v128.load(r + o), f32x4.mul(beta, v128.load(p + o))));
      }
      rs = rsNew;
    }
  }
}

/**
 * out (f64, k4 × k4, row-major, full symmetric) = Σ_i y_i y_iᵀ over rows [from, to) of y (f32, rows × k4),
 * accumulated in f64 (added to what out holds, so ranges can be summed in a fixed order).
 */
export function gramAdd(y: usize, from: i32, to: i32, k4: i32, out: usize): void {
  const bytes = <usize>k4 << 2;
  for (let i = from; i < to; i++) {
    const yi = y + <usize>i * bytes;
    for (let a = 0; a < k4; a++) {
      const ya = <f64>load<f32>(yi + (<usize>a << 2));
      if (ya == 0) continue;
      const fa = f64x2.splat(ya);
      const row = out + (<usize>(a * k4) << 3);
      for (let b = 0; b < k4; b += 4) {
        const v = v128.load(yi + (<usize>b << 2));
        const o = row + (<usize>b << 3);
        v128.store(o, f64x2.add(v128.load(o), f64x2.mul(fa, f64x2.promote_low_f32x4(v))));
        const hi = i32x4.shuffle(v, v, 2, 3, 0, 1);
        v128.store(o + 16, f64x2.add(v128.load(o + 16), f64x2.mul(fa, f64x2.promote_low_f32x4(hi))));
      }
    }
  }
}
