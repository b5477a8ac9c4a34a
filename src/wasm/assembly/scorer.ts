// AssemblyScript source of the serving scorer (src/serve/simd-scorer.ts): dense factor scores x·y_i for every item
// with WebAssembly SIMD (4 f32 lanes). Built by scripts/build-wasm.mjs at `npm install`.
// Rows four at a time with four independent accumulators (one accumulator was latency-bound), then the remaining
// rows one at a time. Every row's arithmetic is the same sequence as the one-row loop (a running f32x4 sum over the
// row's blocks of 4, then (lane0 + lane1) + (lane2 + lane3)), so a row's score does not depend on its position.
// y: f32 rows × k4 (rows padded with zeros to k4, a multiple of 4), x: f32 k4, out: f32 n.

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

export function scores(y: usize, x: usize, out: usize, n: i32, k4: i32): void {
  scoresMany(y, x, out, n, k4, 1);
}

// x·y_i for `b` vectors at once (xs: b × k4, out: b × n, row-major): each item row is read from memory once for
// all b vectors (the one-vector loop streams every item row per vector: memory-bound on large catalogues). Each
// (vector, row) score is the same arithmetic sequence as `scores` (a running f32x4 sum over the row's blocks of 4,
// then (lane0 + lane1) + (lane2 + lane3)), so the results are bit for bit those of b calls of `scores`.
export function scoresMany(y: usize, xs: usize, out: usize, n: i32, k4: i32, b: i32): void {
  const stride = <usize>k4 << 2;
  const outStride = <usize>n << 2;
  let row = 0;
  for (; row + 4 <= n; row += 4) {
    const y0 = y + <usize>row * stride;
    for (let v = 0; v < b; v++) {
      const x = xs + <usize>v * stride;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      for (let o: usize = 0; o < stride; o += 16) {
        const xv = v128.load(x + o);
        a0 = f32x4.add(a0, f32x4.mul(v128.load(y0 + o), xv));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(y0 + stride + o), xv));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(y0 + 2 * stride + o), xv));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(y0 + 3 * stride + o), xv));
      }
      const po = out + <usize>v * outStride + (<usize>row << 2);
      store<f32>(po, hsum(a0));
      store<f32>(po + 4, hsum(a1));
      store<f32>(po + 8, hsum(a2));
      store<f32>(po + 12, hsum(a3));
    }
  }
  for (; row < n; row++) {
    const yr = y + <usize>row * stride;
    for (let v = 0; v < b; v++) {
      const x = xs + <usize>v * stride;
      let a = f32x4.splat(0);
      for (let o: usize = 0; o < stride; o += 16) a = f32x4.add(a, f32x4.mul(v128.load(yr + o), v128.load(x + o)));
      store<f32>(out + <usize>v * outStride + (<usize>row << 2), hsum(a));
    }
  }
}
