/**
 * A small seeded PRNG for the generator: mulberry32 (Tommy Ettinger's 32-bit generator),
 * seeded through splitmix32 so that nearby seeds give unrelated streams. Deterministic on
 * every platform (integer arithmetic with Math.imul only).
 */
import { sampleGamma, sampleNormal } from '../core/random.js';

/** splitmix32 finaliser: a well-mixed 32-bit hash of x. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A seed for stream `index` under `seed` (e.g. one stream per customer). */
export const deriveSeed = (seed: number, index: number, salt = 0): number => mix32(mix32(seed ^ mix32(salt)) ^ mix32(index + 1));

export class Rng {
  private s: number;
  /** `next` as a free function (for the shared samplers). */
  readonly uniform: () => number = () => this.next();
  constructor(seed: number) {
    this.s = mix32(seed) | 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    return sampleNormal(this.uniform);
  }

  /** Exponential with mean 1. */
  exp(): number {
    return -Math.log(1 - this.next());
  }

  /** Gamma(shape, 1) — Marsaglia & Tsang (2000), see sampleGamma in src/core/random.ts. */
  gamma(shape: number): number {
    return sampleGamma(this.uniform, shape);
  }

  /** Poisson(lambda): Knuth's product method for small lambda, a rounded normal above 30. */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.next();
    } while (p > l);
    return k - 1;
  }

  /**
   * Index drawn from cumulative weights: cum[from..to) ascending, starting afresh at `from`
   * (weight of `from` is cum[from], of i > from is cum[i] − cum[i−1]).
   */
  pickCumulative(cum: ArrayLike<number>, from = 0, to = cum.length): number {
    const x = this.next() * cum[to - 1];
    let lo = from;
    let hi = to - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
