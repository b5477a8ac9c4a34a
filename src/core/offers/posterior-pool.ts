/**
 * Thompson sampling from cached pools of posterior draws.
 *
 * Each posterior Beta(α, β) (on a grid, see `gridParameters`) gets a pool of `size` independent draws (Marsaglia–Tsang gammas on a mulberry32
 * stream seeded by the bits of α and β, so a pool is a pure function of its parameters). A Thompson draw takes a
 * uniformly random element of the pool: the served policy samples each offer's rate from this `size`-point empirical
 * posterior, and the probability of a decision under that policy can be estimated cheaply by rotating through the
 * pools (see decide.ts) instead of drawing hundreds of fresh Betas per request. A pool's minimum and maximum bound
 * every draw exactly, so offers that cannot reach the top can be skipped without approximation.
 *
 * The cache holds at most `MAX_POOLS` pools (first in, first out); it changes speed only, never a result.
 */
import { mulberry32, sampleBeta } from '../random.js';

export interface PosteriorPool {
  draws: Float64Array;
  min: number;
  max: number;
}

const MAX_POOLS = 8192;
const pools = new Map<string, PosteriorPool>();
const bits = new Float64Array(2);
const words = new Uint32Array(bits.buffer);

/** A 32-bit seed from the bit patterns of two parameters (FNV-1a over the four 32-bit words, from `basis`). */
function seedOf(x: number, y: number, basis: number): number {
  bits[0] = x;
  bits[1] = y;
  let h = basis;
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

/**
 * The cached pool of `size` draws of the distribution `kind` with parameters (x, y): `draw` takes one draw from the
 * mulberry32 stream seeded by the parameters' bits (from `basis`, one per kind), so a pool is a pure function of
 * kind, parameters and size. Kept first in, first out, at most MAX_POOLS.
 */
export function cachedPool(kind: string, x: number, y: number, size: number, basis: number, draw: (random: () => number) => number): PosteriorPool {
  const key = `${kind}|${x}|${y}|${size}`;
  let pool = pools.get(key);
  if (pool) return pool;
  const random = mulberry32(seedOf(x, y, basis));
  const draws = new Float64Array(size);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < size; i++) {
    const v = draw(random);
    draws[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  pool = { draws, min, max };
  if (pools.size >= MAX_POOLS) pools.delete(pools.keys().next().value!);
  pools.set(key, pool);
  return pool;
}

/**
 * α and β on a logarithmic grid whose step is (the power of two at or below) a tenth of the posterior's relative standard deviation
 * sd/mean = √(β / (α(α + β + 1))), so that a pool stands for its posterior to within a tenth of its spread while
 * responses, which change the counts all the time, move a posterior to another pool only every few events.
 */
export function gridParameters(alpha: number, beta: number): [number, number] {
  // the step is a power of two, so that neighbouring posteriors share one grid
  const step = 2 ** Math.floor(Math.log2(Math.max(1e-4, 0.1 * Math.sqrt(beta / (alpha * (alpha + beta + 1))))));
  const snap = (x: number): number => Math.exp(Math.round(Math.log(x) / step) * step);
  return [snap(alpha), snap(beta)];
}

/**
 * The pools by the parameters they were asked for (size → α → β), so that a posterior asked again (every decision
 * asks for each offer's, whose counts change only with responses) skips the grid and the key string. Cleared when
 * it holds MAX_POOLS entries; like the cache, it changes speed only.
 */
const asked = new Map<number, Map<number, Map<number, PosteriorPool>>>();
let askedEntries = 0;

/** The pool of `size` draws of Beta(α', β'), (α', β') = gridParameters(α, β) (α, β > 0). */
export function posteriorPool(alphaIn: number, betaIn: number, size: number): PosteriorPool {
  let bySize = asked.get(size);
  if (!bySize) asked.set(size, (bySize = new Map()));
  let byAlpha = bySize.get(alphaIn);
  if (!byAlpha) bySize.set(alphaIn, (byAlpha = new Map()));
  let pool = byAlpha.get(betaIn);
  if (pool) return pool;
  pool = gridPool(alphaIn, betaIn, size);
  if (askedEntries >= MAX_POOLS) {
    asked.clear();
    askedEntries = 0;
    asked.set(size, (bySize = new Map()));
    bySize.set(alphaIn, (byAlpha = new Map()));
  }
  byAlpha.set(betaIn, pool);
  askedEntries++;
  return pool;
}

function gridPool(alphaIn: number, betaIn: number, size: number): PosteriorPool {
  const [alpha, beta] = gridParameters(alphaIn, betaIn);
  return cachedPool('beta', alpha, beta, size, 0x811c9dc5, (random) => sampleBeta(random, alpha, beta));
}
