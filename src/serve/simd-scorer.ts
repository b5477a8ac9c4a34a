/**
 * Dense factor scores x·yᵢ for every item with WebAssembly SIMD (4 f32 lanes), several times
 * faster than a scalar JavaScript loop. The module is 536 bytes, hand-assembled (opcodes of the WebAssembly
 * SIMD proposal) from this text format, embedded below as base64:
 *
 *   (func (export "scores") (param $y i32) (param $x i32) (param $out i32) (param $n i32) (param $k i32)
 *     ;; rows four at a time: acc_r = Σ_d f32x4.add(acc_r, f32x4.mul(y[row+r][d..d+4], x[d..d+4])) for r = 0..3,
 *     ;; four independent dependency chains (one accumulator was latency-bound: 47 → 27 µs for 3.8k × 64);
 *     ;; then the remaining rows one at a time; out[row] = (lane0 + lane1) + (lane2 + lane3) of its acc.
 *   Each row's arithmetic is the same sequence as a one-row loop, so the scores are bit-identical to it.
 *
 * Item factors are copied once per model into the instance's memory, rows padded with zeros to a
 * multiple of 4 (padding adds nothing to a dot product). Sums are in f32 (ranking-equivalent to the
 * f64 loop up to rounding in the last bits).
 */
const WASM = 'AGFzbQEAAAABCQFgBX9/f39/AAMCAQAFAwEAAQcQAgNtZW0CAAZzY29yZXMAAArnAwHkAwIHfwV7IARBAnQhCAJAA0AgBUEEaiADSw0BQwAAAAD9EyEMQwAAAAD9EyENQwAAAAD9EyEOQwAAAAD9EyEPIAEhBiAAIAhqIQcgByEJIAkgCGohCiAKIAhqIQsCQANAIAAgB08NASAG/QAEACEQIAwgAP0ABAAgEP3mAf3kASEMIA0gCf0ABAAgEP3mAf3kASENIA4gCv0ABAAgEP3mAf3kASEOIA8gC/0ABAAgEP3mAf3kASEPIABBEGohACAJQRBqIQkgCkEQaiEKIAtBEGohCyAGQRBqIQYMAAsLIAshACACIAz9HwAgDP0fAZIgDP0fAiAM/R8DkpI4AgAgAiAN/R8AIA39HwGSIA39HwIgDf0fA5KSOAIEIAIgDv0fACAO/R8BkiAO/R8CIA79HwOSkjgCCCACIA/9HwAgD/0fAZIgD/0fAiAP/R8DkpI4AgwgAkEQaiECIAVBBGohBQwACwsCQANAIAUgA08NAUMAAAAA/RMhDCABIQYgACAIaiEHAkADQCAAIAdPDQEgDCAA/QAEACAG/QAEAP3mAf3kASEMIABBEGohACAGQRBqIQYMAAsLIAIgDP0fACAM/R8BkiAM/R8CIAz9HwOSkjgCACACQQRqIQIgBUEBaiEFDAALCws=';

/** The slice of the WebAssembly API used here (the project's lib settings do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;
function wasmModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(Buffer.from(WASM, 'base64')) : null;
    } catch {
      compiled = null; // no SIMD in this runtime: callers fall back to JavaScript
    }
  }
  return compiled;
}

export class SimdScorer {
  private readonly exports: { mem: WasmMemory; scores: (y: number, x: number, out: number, n: number, k: number) => void };
  private readonly k4: number;
  private readonly xOff: number;
  private readonly outOff: number;
  private readonly x: Float32Array;
  private readonly out: Float32Array;

  private constructor(mod: object, itemFactors: Float32Array, readonly k: number, readonly n: number) {
    this.exports = new wasm!.Instance(mod).exports as SimdScorer['exports'];
    this.k4 = (k + 3) & ~3;
    this.xOff = n * this.k4 * 4;
    this.outOff = this.xOff + this.k4 * 4;
    const bytes = this.outOff + n * 4;
    const mem = this.exports.mem;
    const pages = Math.ceil(bytes / 65536) - mem.buffer.byteLength / 65536;
    if (pages > 0) mem.grow(pages);
    const y = new Float32Array(mem.buffer, 0, n * this.k4);
    if (this.k4 === k) y.set(itemFactors.subarray(0, n * k));
    else for (let i = 0; i < n; i++) y.set(itemFactors.subarray(i * k, i * k + k), i * this.k4);
    this.x = new Float32Array(mem.buffer, this.xOff, this.k4);
    this.out = new Float32Array(mem.buffer, this.outOff, n);
  }

  /** A scorer over these item factors, or null when WebAssembly SIMD is not available. */
  static create(itemFactors: Float32Array, k: number, n: number): SimdScorer | null {
    const mod = wasmModule();
    return mod ? new SimdScorer(mod, itemFactors, k, n) : null;
  }

  /** x·yᵢ for every item: a view into the instance's memory, valid until the next call. */
  scores(x: ArrayLike<number>): Float32Array {
    for (let d = 0; d < this.k; d++) this.x[d] = x[d];
    this.exports.scores(0, this.xOff, this.outOff, this.n, this.k4);
    return this.out;
  }
}
