/**
 * A small seeded PRNG (mulberry32, Tommy Ettinger 2017) and normal draws (Box–Muller),
 * so that model initialisation is deterministic for a seed on every platform.
 */

/** Uniform floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills `out` with N(0, σ²) draws (Box–Muller on a mulberry32 stream). */
export function fillNormal(out: Float32Array | Float64Array, sigma: number, seed: number): void {
  const u = mulberry32(seed);
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u())) * sigma;
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(th);
  }
}
