/**
 * Dense factor scores x·yᵢ for every item with WebAssembly SIMD (4 f32 lanes), several times faster than a scalar
 * JavaScript loop. Source: src/wasm/assembly/scorer.ts (AssemblyScript), built into dist/wasm/scorer.wasm by
 * `npm install`: rows four at a time with four independent accumulators, each row's arithmetic the same sequence
 * as a one-row loop, so a row's score does not depend on where it falls.
 *
 * Item factors are copied once per model into the instance's memory, rows padded with zeros to a
 * multiple of 4 (padding adds nothing to a dot product). Sums are in f32 (ranking-equivalent to the
 * f64 loop up to rounding in the last bits). Without the module (not built, or no SIMD) `create` answers null
 * and callers score in JavaScript.
 */
import { wasmApi, type WasmMemory, wasmModule } from '../core/wasm-modules.js';

export class SimdScorer {
  private readonly exports: {
    scores: (y: number, x: number, out: number, n: number, k: number) => void;
    scoresMany?: (y: number, xs: number, out: number, n: number, k: number, b: number) => void;
  };
  private readonly k4: number;
  private readonly xOff: number;
  private readonly outOff: number;
  private x: Float32Array;
  private out: Float32Array;
  private readonly mem: WasmMemory;
  /** Vectors scoresMany takes at once (its room after `out`, grown on first use). */
  private batch = 0;

  private constructor(mod: object, itemFactors: Float32Array, readonly k: number, readonly n: number) {
    const bytesNeeded = (n * ((k + 3) & ~3) + ((k + 3) & ~3) + n) * 4;
    const mem = (this.mem = new wasmApi!.Memory({ initial: Math.max(1, Math.ceil(bytesNeeded / 65536)) }));
    this.exports = new wasmApi!.Instance(mod, { env: { memory: mem } }).exports as SimdScorer['exports'];
    this.k4 = (k + 3) & ~3;
    this.xOff = n * this.k4 * 4;
    this.outOff = this.xOff + this.k4 * 4;
    const y = new Float32Array(mem.buffer, 0, n * this.k4);
    if (this.k4 === k) y.set(itemFactors.subarray(0, n * k));
    else for (let i = 0; i < n; i++) y.set(itemFactors.subarray(i * k, i * k + k), i * this.k4);
    this.x = new Float32Array(mem.buffer, this.xOff, this.k4);
    this.out = new Float32Array(mem.buffer, this.outOff, n);
  }

  /** A scorer over these item factors, or null when WebAssembly SIMD is not available. */
  static create(itemFactors: Float32Array, k: number, n: number): SimdScorer | null {
    const mod = wasmModule('scorer');
    return mod ? new SimdScorer(mod, itemFactors, k, n) : null;
  }

  /** Whether scoresMany is available (a module built before it had `scores` only). */
  get many(): boolean {
    return typeof this.exports.scoresMany === 'function';
  }

  /**
   * x·yᵢ for every item for `count` vectors (xs: count × k, row-major): row v of the result (at v · n) is bit for
   * bit `scores(x_v)`, each item row read once for all of them (large catalogues: the one-vector loop is
   * memory-bound). A view into the instance's memory, valid until the next call.
   */
  scoresMany(xs: Float32Array, count: number): Float32Array {
    const { k, k4, n } = this;
    if (count > this.batch) {
      // room after `out`: count vectors of k4, then count × n scores (growing detaches the views: made again)
      const need = this.outOff + n * 4 + count * (k4 + n) * 4;
      const have = this.mem.buffer.byteLength;
      if (need > have) this.mem.grow(Math.ceil((need - have) / 65536));
      this.batch = count;
      this.x = new Float32Array(this.mem.buffer, this.xOff, k4);
      this.out = new Float32Array(this.mem.buffer, this.outOff, n);
    }
    const xsOff = this.outOff + n * 4;
    const resOff = xsOff + this.batch * k4 * 4;
    const xv = new Float32Array(this.mem.buffer, xsOff, count * k4);
    if (k4 === k) xv.set(xs.subarray(0, count * k));
    else {
      xv.fill(0);
      for (let v = 0; v < count; v++) xv.set(xs.subarray(v * k, v * k + k), v * k4);
    }
    this.exports.scoresMany!(0, xsOff, resOff, n, k4, count);
    return new Float32Array(this.mem.buffer, resOff, count * n);
  }

  /** x·yᵢ for every item: a view into the instance's memory, valid until the next call. */
  scores(x: ArrayLike<number>): Float32Array {
    for (let d = 0; d < this.k; d++) this.x[d] = x[d];
    this.exports.scores(0, this.xOff, this.outOff, this.n, this.k4);
    return this.out;
  }
}
