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

/** Standard normal draw from a uniform source (Box–Muller, cosine branch; two uniforms per draw). */
export function sampleNormal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Gamma(shape, 1) from a uniform source: Marsaglia & Tsang, "A simple method for generating gamma variables"
 * (ACM TOMS 26(3), 2000), with the boost Gamma(a) = Gamma(a + 1)·U^(1/a) for shape < 1.
 */
export function sampleGamma(random: () => number, shape: number): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) return sampleGamma(random, shape + 1) * Math.pow(1 - random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Beta(a, b) from a uniform source: X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(random: () => number, a: number, b: number): number {
  const x = sampleGamma(random, a);
  const y = sampleGamma(random, b);
  const s = x + y;
  return s > 0 ? x / s : a / (a + b);
}
