/**
 * EASE's SPD inverse (spd-inverse.ts, recursive 2×2 block elimination) on the project's WebAssembly SIMD matrix
 * product (src/wasm/assembly/dense.ts, built by `npm install`) instead of TensorFlow.js: the same recursion, the
 * same blocks, the same float64 Cholesky at the leaves, and every product the same f32 sequence TF.js's wasm
 * matMul computes (a running f32 sum over k in order), so the result is bit for bit `spdInverse`'s. The blocks are
 * addressed in place through strides (no slices, no concatenation) and nothing needs TF.js to start.
 *
 * @example
 * const p = spdInverseWasm(g, n); // null when dist/wasm/dense.wasm is not built: use spdInverse (TF.js)
 */
import { wasmApi, wasmModule } from '../core/wasm-modules.js';
import { spdInverseExact } from './spd-inverse.js';

interface DenseExports {
  gemm(a: number, lda: number, b: number, ldb: number, c: number, ldc: number, m: number, n: number, k: number, pack: number): void;
  gemmScratchBytes(n: number): number;
}

/** How spdInverse splits n rows: the first block's size (a multiple of 64 when that leaves a second block). */
export const splitAt = (n: number): number => (Math.ceil(n / 2 / 64) * 64 < n ? Math.ceil(n / 2 / 64) * 64 : n >> 1);

/** Floats of scratch the recursion on an n × n block allocates (stack-like) below its own level. */
function scratchFloats(n: number, base: number): number {
  if (n <= base) return 0;
  const h = splitAt(n);
  const m = n - h;
  // i11's recursion runs first with nothing held; S's with T, Tᵀ and S held; then T, Tᵀ and P2
  // (+ 16 floats of alignment per block)
  return Math.max(scratchFloats(h, base), 2 * h * m + m * m + 48 + scratchFloats(m, base), 2 * h * m + h * h + 48);
}

/** A wasm instance over one memory with C = A·B (strides in floats, offsets in bytes). */
export class DenseKernels {
  readonly f32: Float32Array;
  private readonly ex: DenseExports;
  private readonly packAt: number;
  private top: number;

  private constructor(mod: object, bytes: number, maxCols: number) {
    const probe = new wasmApi!.Instance(mod, { env: { memory: new wasmApi!.Memory({ initial: 1 }) } }).exports as DenseExports;
    const packBytes = probe.gemmScratchBytes(maxCols);
    const total = bytes + packBytes + 64;
    const mem = new wasmApi!.Memory({ initial: Math.ceil(total / 65536) + 1 });
    this.ex = new wasmApi!.Instance(mod, { env: { memory: mem } }).exports as DenseExports;
    this.f32 = new Float32Array(mem.buffer);
    this.packAt = 0;
    this.top = (packBytes + 63) & ~63;
  }

  /** Kernels with `floats` floats of room for matrices whose products have at most `maxCols` columns; null without the module. */
  static create(floats: number, maxCols: number): DenseKernels | null {
    const mod = wasmModule('dense');
    if (!mod || !wasmApi) return null;
    return new DenseKernels(mod, floats * 4 + 64 * 16, maxCols);
  }

  /** Byte offset of a new block of `floats` floats (16-byte aligned). */
  alloc(floats: number): number {
    const at = this.top;
    this.top = (at + floats * 4 + 63) & ~63;
    if (this.top > this.f32.length * 4) throw new RangeError('dense: out of the reserved memory');
    return at;
  }

  /** The allocation mark, for `release`. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /** C (m × n, stride ldc) = A (m × k, stride lda) · B (k × n, stride ldb); byte offsets. */
  gemm(a: number, lda: number, b: number, ldb: number, c: number, ldc: number, m: number, n: number, k: number): void {
    this.ex.gemm(a, lda, b, ldb, c, ldc, m, n, k, this.packAt);
  }
}

/**
 * A⁻¹ of an SPD matrix (row-major n × n float32), bit for bit what `spdInverse(tf, A, base)` returns on TF.js's wasm
 * backend; null when the wasm module is not available.
 */
export function spdInverseWasm(a: Float32Array, n: number, base = 128): Float32Array | null {
  if (a.length !== n * n) throw new RangeError(`spdInverseWasm: ${a.length} values for ${n} × ${n}`);
  const k = DenseKernels.create(2 * n * n + scratchFloats(n, base), n);
  if (!k) return null;
  const aAt = k.alloc(n * n);
  const oAt = k.alloc(n * n);
  k.f32.set(a, aAt >> 2);
  invert(k, aAt, n, oAt, n, n, base);
  return k.f32.slice(oAt >> 2, (oAt >> 2) + n * n);
}

/** The inverse of the n × n block at aAt (stride lda) into the block at oAt (stride ldo); byte offsets, strides in floats. */
function invert(k: DenseKernels, aAt: number, lda: number, oAt: number, ldo: number, n: number, base: number): void {
  const f = k.f32;
  const A = aAt >> 2;
  const O = oAt >> 2;
  if (n <= base) {
    const blk = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) blk[i * n + j] = f[A + i * lda + j];
    const inv = spdInverseExact(blk, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) f[O + i * ldo + j] = inv[i * n + j];
    return;
  }
  const h = splitAt(n);
  const m = n - h;
  const mark = k.mark();
  // i11 = A11⁻¹ into the output's top-left block
  invert(k, aAt, lda, oAt, ldo, h, base);
  // T = i11 · A12 (h × m)
  const tAt = k.alloc(h * m);
  k.gemm(oAt, ldo, aAt + h * 4, lda, tAt, m, h, m, h);
  // Tᵀ (m × h), for B11 below
  const ttAt = k.alloc(m * h);
  const T = tAt >> 2;
  const TT = ttAt >> 2;
  for (let i = 0; i < h; i++) for (let j = 0; j < m; j++) f[TT + j * h + i] = f[T + i * m + j];
  // S = A22 − A21 · T, then (S + Sᵀ) · 0.5 (each step rounded to f32 as TF.js's sub, add and mul)
  const sMark = k.mark();
  const sAt = k.alloc(m * m);
  k.gemm(aAt + h * lda * 4, lda, tAt, m, sAt, m, m, m, h);
  const S = sAt >> 2;
  const A22 = A + h * lda + h;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) f[S + i * m + j] = f[A22 + i * lda + j] - f[S + i * m + j];
  for (let i = 0; i < m; i++) {
    f[S + i * m + i] = Math.fround(f[S + i * m + i] + f[S + i * m + i]) * 0.5;
    for (let j = i + 1; j < m; j++) {
      const v = Math.fround(f[S + i * m + j] + f[S + j * m + i]) * 0.5;
      f[S + i * m + j] = v;
      f[S + j * m + i] = v;
    }
  }
  // si = S⁻¹ into the bottom-right block
  const siAt = oAt + (h * ldo + h) * 4;
  invert(k, sAt, m, siAt, ldo, m, base);
  // B12 = −T · si (top-right block)
  const b12At = oAt + h * 4;
  k.gemm(tAt, m, siAt, ldo, b12At, ldo, h, m, m);
  const B12 = b12At >> 2;
  for (let i = 0; i < h; i++) for (let j = 0; j < m; j++) f[B12 + i * ldo + j] = -f[B12 + i * ldo + j];
  // B11 = i11 − B12 · Tᵀ
  k.release(sMark);
  const pAt = k.alloc(h * h);
  k.gemm(b12At, ldo, ttAt, h, pAt, h, h, h, m);
  const P = pAt >> 2;
  for (let i = 0; i < h; i++) for (let j = 0; j < h; j++) f[O + i * ldo + j] = f[O + i * ldo + j] - f[P + i * h + j];
  // bottom-left = B12ᵀ
  for (let i = 0; i < h; i++) for (let j = 0; j < m; j++) f[O + (h + j) * ldo + i] = f[B12 + i * ldo + j];
  k.release(mark);
}
