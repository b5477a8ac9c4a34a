// AssemblyScript source of the dense matrix product used by EASE's SPD inverse (src/models/spd-inverse-wasm.ts),
// compiled to WebAssembly SIMD by scripts/build-wasm.mjs at `npm install`. No runtime allocation: the JavaScript
// side lays the matrices out in the memory and passes byte offsets.
//
// C = A·B (row-major; strides in floats). Every element of C is the same f32 sequence as the one-element loop
//   s = 0; for q in 0..k: s = s + a[i][q] · b[q][j]    (each product rounded to f32, then each sum)
// which is also what TensorFlow.js's wasm matMul (XNNPACK) computes: the inverse is bit for bit the TF.js one.
// Blocked for the caches (Goto & van de Geijn): k in blocks of KC (C is stored in f32 between blocks, so the
// running sum goes on exactly), B's block packed into panels of 8 columns, A's rows in blocks of MC; the micro
// tile is 4 rows × 8 columns (eight f32x4 accumulators).

const KC: i32 = 512;
const MC: i32 = 128;

// packs rows [p0, p0 + kc) of B (all n columns) into panels of 8 columns: panel jp, row p at pack + (jp·kc + p)·32;
// the last panel's missing columns are zeros
function packB(b: usize, ldb: i32, n: i32, p0: i32, kc: i32, pack: usize): void {
  const panels = (n + 7) >> 3;
  for (let jp = 0; jp < panels; jp++) {
    const j0 = jp << 3;
    const w = min(8, n - j0);
    let dst = pack + (<usize>(jp * kc) << 5);
    let src = b + ((<usize>p0 * <usize>ldb + <usize>j0) << 2);
    const step = <usize>ldb << 2;
    if (w == 8) {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst + 16, v128.load(src + 16));
        dst += 32;
        src += step;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        v128.store(dst, f32x4.splat(0));
        v128.store(dst + 16, f32x4.splat(0));
        for (let q = 0; q < w; q++) store<f32>(dst + (<usize>q << 2), load<f32>(src + (<usize>q << 2)));
        dst += 32;
        src += step;
      }
    }
  }
}

// 4 × 8 tile: c[r][0..8) (stride ldc floats) = (first ? 0 : c) + Σ_p a[r][p] · panel[p]
@inline function tile4(a: usize, lda: i32, panel: usize, kc: i32, c: usize, ldc: i32, first: bool): void {
  const sa = <usize>lda << 2;
  const sc = <usize>ldc << 2;
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (!first) {
    c00 = v128.load(c); c01 = v128.load(c + 16);
    c10 = v128.load(c + sc); c11 = v128.load(c + sc + 16);
    c20 = v128.load(c + 2 * sc); c21 = v128.load(c + 2 * sc + 16);
    c30 = v128.load(c + 3 * sc); c31 = v128.load(c + 3 * sc + 16);
  }
  let a0 = a;
  let bp = panel;
  const end = panel + (<usize>kc << 5);
  while (bp < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp + 16);
    let av = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(a0 + sa);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(a0 + 2 * sa);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(a0 + 3 * sa);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    a0 += 4;
    bp += 32;
  }
  v128.store(c, c00); v128.store(c + 16, c01);
  v128.store(c + sc, c10); v128.store(c + sc + 16, c11);
  v128.store(c + 2 * sc, c20); v128.store(c + 2 * sc + 16, c21);
  v128.store(c + 3 * sc, c30); v128.store(c + 3 * sc + 16, c31);
}

// 1 × 8 tile (the rows past the last multiple of 4)
@inline function tile1(a: usize, panel: usize, kc: i32, c: usize, first: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  if (!first) {
    c0 = v128.load(c);
    c1 = v128.load(c + 16);
  }
  let a0 = a;
  let bp = panel;
  const end = panel + (<usize>kc << 5);
  while (bp < end) {
    const av = v128.load32_splat(a0);
    c0 = f32x4.add(c0, f32x4.mul(av, v128.load(bp)));
    c1 = f32x4.add(c1, f32x4.mul(av, v128.load(bp + 16)));
    a0 += 4;
    bp += 32;
  }
  v128.store(c, c0);
  v128.store(c + 16, c1);
}

// C (m × n, stride ldc) = A (m × k, stride lda) · B (k × n, stride ldb). `pack`: scratch of KC · (n + 7 & ~7) floats
// plus 4 · 8 floats (the tile of the last, partial panel).
export function gemm(a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, m: i32, n: i32, k: i32, pack: usize): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (let i = 0; i < m; i++) memory.fill(c + ((<usize>i * <usize>ldc) << 2), 0, <usize>n << 2);
    return;
  }
  const panels = (n + 7) >> 3;
  const full = n >> 3;
  const tmp = pack + (<usize>(KC * panels) << 5);
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    const first = p0 == 0;
    packB(b, ldb, n, p0, kc, pack);
    for (let i0 = 0; i0 < m; i0 += MC) {
      const mc = min(MC, m - i0);
      for (let jp = 0; jp < panels; jp++) {
        const panel = pack + (<usize>(jp * kc) << 5);
        const j0 = jp << 3;
        let i = i0;
        if (jp < full) {
          for (; i + 4 <= i0 + mc; i += 4) {
            tile4(a + ((<usize>i * <usize>lda + <usize>p0) << 2), lda, panel, kc, c + ((<usize>i * <usize>ldc + <usize>j0) << 2), ldc, first);
          }
          for (; i < i0 + mc; i++) tile1(a + ((<usize>i * <usize>lda + <usize>p0) << 2), panel, kc, c + ((<usize>i * <usize>ldc + <usize>j0) << 2), first);
        } else {
          // the partial panel: through the 8-wide tile in `tmp`, only the n − j0 real columns copied in and out
          const w = n - j0;
          for (; i < i0 + mc; i++) {
            const ci = c + ((<usize>i * <usize>ldc + <usize>j0) << 2);
            if (!first) for (let q = 0; q < w; q++) store<f32>(tmp + (<usize>q << 2), load<f32>(ci + (<usize>q << 2)));
            tile1(a + ((<usize>i * <usize>lda + <usize>p0) << 2), panel, kc, tmp, first);
            for (let q = 0; q < w; q++) store<f32>(ci + (<usize>q << 2), load<f32>(tmp + (<usize>q << 2)));
          }
        }
      }
    }
  }
}

// The scratch `gemm` needs for n columns, in bytes.
export function gemmScratchBytes(n: i32): i32 {
  return (KC * ((n + 7) & ~7) + 32) << 2;
}
