/**
 * The probability with which the served policy chose each shown offer at its position, as a pure function of what
 * the decision logs (`ChoiceInputs`): computed when someone reads it — the decision log read back
 * (src/store/sql-offers.ts: `npm run evaluate:offers -- --from-store`, the store's CSV export), the simulator, a
 * `Decision`'s `probability` read in process — never on the request path. The service logs the inputs
 * (`encodeChoice`, a few hundred bytes) and `choiceProbabilities` of the decoded inputs gives exactly the number
 * `decide` would have given inline (same inputs, same seed: test/offers-choice.test.ts).
 *
 * The policy (decide.ts): with probability h (holdout share) the shown offers are drawn uniformly, position by
 * position, among the suitable offers not yet shown nor sharing a target with a shown one; otherwise the ranking
 * orders them, greedily by priority skipping those sharing a target with one already picked, where priority is
 *   thompson: min(1, θ·lift)·vw, θ one uniformly random element of the offer's pool of draws of its sampling
 *             distribution (`samplingPool`), lift the affinity lift, vw = value × weight
 *   mean:     the posterior-mean priority (deterministic: the log keeps its top `limit`, `greedy`)
 *   P(offer at position k) = h·P_uniform + (1 − h)·P_ranking
 * P_uniform is exact (a search over the earlier positions, see `uniformProbability`; Monte Carlo with 20 × draws
 * uniform picks only past the search budget). P_ranking for `mean` is 1 or 0. For `thompson` it is (c + s) / (N + t):
 * over N = draws extra draws of the whole Thompson ranking, c put the offer at that position; the draw that was
 * served counts too (t = 1, and s = 1 as it put the offer there; t = s = 0 when the decision was a holdout one), so a
 * shown offer never gets probability 0. Extra draw d takes element (o_i + d) mod poolSize of offer i's pool, with
 * offsets o_i drawn uniformly from a mulberry32 stream seeded by `seed` (the decision drew it from its random
 * source): each draw is distributed as a served draw.
 *
 * Pruning (exact): an offer whose best possible priority (pool maximum) is below the `limit`-th best worst possible
 * priority (pool minimum) of the offers that share no target with any other can never be ranked into the top
 * `limit`: its ranking probability is 0 and its draws change no ranking. The log leaves such offers' distributions
 * out (`offers[i] = null`); the uniform part needs only how many offers were suitable and their conflicts.
 *
 * Sampling distributions are tagged records so that the propensity model can change without changing the log:
 * `{kind: 'beta', a, b}` (the Beta posteriors of ./propensity.ts, sharpening applied) and
 * `{kind: 'logitnormal', mu, sigma}` (θ = logistic(mu + sigma·z), z standard normal). A pool is a pure function of
 * its distribution and size (seeded by the parameters' bits), so the reader rebuilds the very pools that served.
 */
import { mulberry32, sampleNormal } from '../random.js';
import { cachedPool, posteriorPool, type PosteriorPool } from './posterior-pool.js';

export type SamplingDistribution = { kind: 'beta'; a: number; b: number } | { kind: 'logitnormal'; mu: number; sigma: number };

/** One suitable offer as the ranking sees it: its rate's sampling distribution and the deterministic multipliers. */
export interface ChoiceOffer {
  dist: SamplingDistribution;
  /** Affinity lift g (sampled priority = min(1, θ·g)·vw). */
  lift: number;
  /** value × weight */
  vw: number;
}

/** Everything the choice distribution of one decision depends on (indices are among the suitable offers, in order). */
export interface ChoiceInputs {
  ranking: 'thompson' | 'mean';
  /** How this decision's offers were picked: a Thompson draw, the mean ranking, or a holdout (uniform) draw. */
  served: 'thompson' | 'mean' | 'holdout';
  /** Holdout share h in [0, 1]. */
  holdoutShare: number;
  limit: number;
  /** Number of suitable offers. */
  n: number;
  /** Per suitable offer: the suitable offers sharing a sku or a category with it (never two of those shown). */
  conflicts: readonly (readonly number[])[];
  /** The offers shown, best first. */
  shown: readonly number[];
  /** Per suitable offer, for a Thompson ranking: its distribution and multipliers; null where pruned (see above). */
  offers: readonly (ChoiceOffer | null)[];
  /** Mean ranking: its top `limit`. */
  greedy?: readonly number[];
  /** Seed (uint32) of the Monte Carlo stream. */
  seed: number;
  /** Extra Thompson draws of the estimate (N). */
  draws: number;
  poolSize: number;
  /** Search budget of the exact uniform probability at positions > 1 (nodes). */
  uniformExactBudget: number;
}

// ---------- pools ----------

function logitNormalPool(mu: number, sigma: number, size: number): PosteriorPool {
  return cachedPool('logitnormal', mu, sigma, size, 0x9e3779b9, (random) => 1 / (1 + Math.exp(-(mu + sigma * sampleNormal(random)))));
}

/** The pool of `size` draws that stands for `dist` when sampling (a pure function of both; cached). */
export function samplingPool(dist: SamplingDistribution, size: number): PosteriorPool {
  switch (dist.kind) {
    case 'beta':
      return posteriorPool(dist.a, dist.b, size);
    case 'logitnormal':
      return logitNormalPool(dist.mu, dist.sigma, size);
    default:
      throw new Error(`unknown sampling distribution ${(dist as { kind: string }).kind}`);
  }
}

// ---------- conflicts ----------

const NO_CONFLICTS: readonly number[] = Object.freeze([]);

/**
 * The conflicts among a subset of an offer set (`index`: ascending indices into the set of `n` offers), renumbered
 * within the subset, from the conflicts of the whole set (the lists ascending, as `targetConflicts` gives them).
 */
export function suitableConflicts(all: readonly (readonly number[])[], index: readonly number[], n: number): readonly (readonly number[])[] {
  if (index.length === n) return all;
  const at = new Int32Array(n).fill(-1);
  for (let i = 0; i < index.length; i++) at[index[i]] = i;
  return index.map((f) => {
    const src = all[f];
    if (src.length === 0) return NO_CONFLICTS;
    const out: number[] = [];
    for (let k = 0; k < src.length; k++) {
      const q = at[src[k]];
      if (q >= 0) out.push(q);
    }
    return out;
  });
}

// ---------- greedy picks ----------

/** Greedy top `limit` by score (ties: lower index), skipping any index that conflicts with one already picked. */
/** A zeroed scratch buffer of at least n bytes (synchronous users only, each leaves it zeroed). */
let scratch = new Uint8Array(256);
function zeroedScratch(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

export function pickTop(scores: Float64Array, conflicts: readonly (readonly number[])[], limit: number, include?: readonly number[]): number[] {
  const picked: number[] = [];
  const blocked = zeroedScratch(scores.length);
  try {
    pickInto(picked, blocked, scores, conflicts, limit, include);
  } finally {
    blocked.fill(0, 0, scores.length);
  }
  return picked;
}

function pickInto(picked: number[], blocked: Uint8Array, scores: Float64Array, conflicts: readonly (readonly number[])[], limit: number, include?: readonly number[]): void {
  const m = include ? include.length : scores.length;
  while (picked.length < limit) {
    let best = -1;
    for (let k = 0; k < m; k++) {
      const i = include ? include[k] : k;
      if (!blocked[i] && (best < 0 || scores[i] > scores[best] || (scores[i] === scores[best] && i < best))) best = i;
    }
    if (best < 0) break;
    picked.push(best);
    blocked[best] = 1;
    for (const j of conflicts[best]) blocked[j] = 1;
  }
}

// ---------- the uniform (holdout) part ----------

/**
 * Exact probability that the uniform policy puts `target` at `position` (0-based): 1/n when no targets overlap,
 * else a search over the earlier positions; null when the search would exceed `budget` nodes (one node per partial
 * pick sequence visited, the root included). The free offers are counted as picks block them, so a node costs its
 * picks' conflicts, not n; at position 1 and 2 the node count is known beforehand and a search past the budget is
 * not started.
 */
export function uniformProbability(n: number, conflicts: readonly (readonly number[])[], target: number, position: number, budget: number): number | null {
  if (position === 0 || conflicts.every((c) => c.length === 0)) return position < n ? 1 / n : 0;
  if (position <= 2 && uniformNodes(n, conflicts, target, position) > budget) return null;
  const blocked = new Int32Array(n);
  let free = n;
  let nodes = 0;
  const block = (i: number): void => {
    if (blocked[i]++ === 0) free--;
    const cs = conflicts[i];
    for (let k = 0; k < cs.length; k++) if (blocked[cs[k]]++ === 0) free--;
  };
  const unblock = (i: number): void => {
    if (--blocked[i] === 0) free++;
    const cs = conflicts[i];
    for (let k = 0; k < cs.length; k++) if (--blocked[cs[k]] === 0) free++;
  };
  const rec = (depth: number, p: number): number | null => {
    if (++nodes > budget) return null;
    if (free === 0) return 0;
    const f = free;
    if (depth === position) return blocked[target] === 0 ? p / f : 0;
    let sum = 0;
    if (depth + 1 === position) {
      // the children are leaves: their free counts from the picks' conflicts, without blocking
      const q = p / f;
      const targetFree = blocked[target] === 0;
      for (let c = 0; c < n; c++) {
        if (blocked[c] !== 0 || c === target) continue;
        if (++nodes > budget) return null;
        let fc = f - 1;
        let hit = !targetFree;
        const cs = conflicts[c];
        for (let k = 0; k < cs.length; k++) {
          const j = cs[k];
          if (blocked[j] === 0) fc--;
          if (j === target) hit = true;
        }
        if (fc !== 0 && !hit) sum += q / fc;
      }
      return sum;
    }
    for (let c = 0; c < n; c++) {
      if (blocked[c] !== 0 || c === target) continue;
      block(c);
      const r = rec(depth + 1, p / f);
      unblock(c);
      if (r === null) return null;
      sum += r;
    }
    return sum;
  };
  return rec(0, 1);
}

/** Nodes the search of `uniformProbability` visits for position 1 or 2 (conflict lists: distinct, without the offer itself). */
function uniformNodes(n: number, conflicts: readonly (readonly number[])[], target: number, position: number): number {
  // root, then one node per first pick c ≠ target (all n are free at the root)
  let nodes = 1 + (target < n ? n - 1 : n);
  if (position === 1) return nodes;
  for (let c = 0; c < n; c++) {
    if (c === target) continue;
    const free = n - 1 - conflicts[c].length;
    if (free > 0) nodes += free - (conflicts[c].includes(target) ? 0 : 1);
  }
  return nodes;
}

/**
 * Repeated uniform picks (decide.ts's holdout draw) with buffers kept between calls: the same picks from the same
 * random numbers (one per position while an offer is free), the i-th free offer found in a Fenwick tree of the free ones.
 */
function uniformSampler(n: number, conflicts: readonly (readonly number[])[], limit: number): (random: () => number, out: Int32Array) => number {
  const tree = new Int32Array(n + 1);
  for (let x = 1; x <= n; x++) tree[x] = x & -x;
  let top = 1;
  while (top * 2 <= n) top *= 2;
  const blocked = new Uint8Array(n);
  const touched = new Int32Array(n);
  const add = (i: number, d: number): void => {
    for (let x = i + 1; x <= n; x += x & -x) tree[x] += d;
  };
  return (random, out) => {
    let free = n;
    let nt = 0;
    const block = (i: number): void => {
      if (blocked[i] === 0) {
        blocked[i] = 1;
        add(i, -1);
        free--;
        touched[nt++] = i;
      }
    };
    let picked = 0;
    while (picked < limit && free > 0) {
      let rem = Math.min(free - 1, Math.floor(random() * free)) + 1;
      let pos = 0;
      for (let step = top; step > 0; step >>= 1) {
        const x = pos + step;
        if (x <= n && tree[x] < rem) {
          pos = x;
          rem -= tree[x];
        }
      }
      out[picked++] = pos;
      block(pos);
      const cs = conflicts[pos];
      for (let k = 0; k < cs.length; k++) block(cs[k]);
    }
    for (let k = 0; k < nt; k++) {
      blocked[touched[k]] = 0;
      add(touched[k], 1);
    }
    return picked;
  };
}

// ---------- the ranking part ----------

const clampedScore = (x: number, o: ChoiceOffer): number => Math.min(1, x * o.lift) * o.vw;

/**
 * The offers worth drawing for a Thompson ranking (see "Pruning" above), ascending; the shown ones always are.
 * `offers[i]` null: left out already (by the same rule, so the answer is the same with or without them).
 */
export function rankingContenders(
  offers: readonly (ChoiceOffer | null)[],
  pools: readonly (PosteriorPool | null)[],
  conflicts: readonly (readonly number[])[],
  limit: number,
  shown: readonly number[],
): number[] {
  const n = offers.length;
  const lo = new Float64Array(n).fill(Number.NaN);
  const hi = new Float64Array(n).fill(Number.NaN);
  for (let i = 0; i < n; i++) {
    const o = offers[i];
    if (o === null) continue;
    lo[i] = clampedScore(pools[i]!.min, o);
    hi[i] = clampedScore(pools[i]!.max, o);
  }
  return contendersByBounds(lo, hi, conflicts, limit, shown);
}

/**
 * `rankingContenders` from each offer's least and greatest possible priority (NaN: left out already): the shown
 * offers, and those whose greatest is at least the `limit`-th greatest least of the offers without conflicts.
 */
export function contendersByBounds(lo: Float64Array, hi: Float64Array, conflicts: readonly (readonly number[])[], limit: number, shown: readonly number[]): number[] {
  const n = lo.length;
  let threshold = -Infinity;
  if (limit > 0) {
    // the limit-th greatest floor among the offers without conflicts (a small sorted buffer of the greatest ones)
    const top = new Float64Array(limit).fill(-Infinity);
    let count = 0;
    for (let i = 0; i < n; i++) {
      const f = lo[i];
      if (Number.isNaN(f) || conflicts[i].length !== 0) continue;
      count++;
      if (f <= top[limit - 1]) continue;
      let at = limit - 1;
      while (at > 0 && top[at - 1] < f) {
        top[at] = top[at - 1];
        at--;
      }
      top[at] = f;
    }
    if (count >= limit) threshold = top[limit - 1];
  }
  const keep = zeroedScratch(n);
  for (const i of shown) keep[i] = 1;
  for (let i = 0; i < n; i++) if (hi[i] >= threshold) keep[i] = 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (keep[i] === 1) {
      out.push(i);
      keep[i] = 0;
    }
  }
  return out;
}

/**
 * The probability of each shown offer at its position (see the module comment). `uniformMemo`: a memo of exact
 * uniform probabilities for this decision's suitable set (same n and conflicts), by position × (n + 1) + offer.
 */
export function choiceProbabilities(c: ChoiceInputs, uniformMemo?: () => Map<number, number | null>): number[] {
  const shown = c.shown;
  if (shown.length === 0) return [];
  const h = Math.min(1, Math.max(0, c.holdoutShare));
  const n = c.n;
  const limit = c.limit;
  const conflicts = c.conflicts;
  const uniform = shown.map(() => 0);
  let mc: (() => number) | null = null;
  const rng = (): (() => number) => (mc ??= mulberry32(c.seed));
  if (h > 0) {
    let sample: ReturnType<typeof uniformSampler> | null = null;
    const picks = new Int32Array(Math.max(0, limit));
    shown.forEach((j, k) => {
      let exact: number | null;
      if (k === 0 || uniformMemo === undefined) exact = uniformProbability(n, conflicts, j, k, c.uniformExactBudget);
      else {
        // the same suitable offers (same conflicts) give the same answer: remembered per suitable set
        const memo = uniformMemo();
        const key = k * (n + 1) + j;
        const known = memo.get(key);
        if (known !== undefined) exact = known;
        else memo.set(key, (exact = uniformProbability(n, conflicts, j, k, c.uniformExactBudget)));
      }
      if (exact !== null) uniform[k] = exact;
      else {
        sample ??= uniformSampler(n, conflicts, limit);
        const draws = 20 * c.draws;
        let hits = 0;
        for (let d = 0; d < draws; d++) if (sample(rng(), picks) > k && picks[k] === j) hits++;
        uniform[k] = hits / draws;
      }
    });
  }
  if (h >= 1) return uniform;
  const ranked = shown.map(() => 0);
  if (c.ranking === 'mean') {
    const top = c.greedy ?? [];
    shown.forEach((j, k) => (ranked[k] = top[k] === j ? 1 : 0));
  } else {
    const pools = c.offers.map((o) => (o === null ? null : samplingPool(o.dist, c.poolSize)));
    const include = rankingContenders(c.offers, pools, conflicts, limit, shown);
    const r = rng();
    const m = include.length;
    const size = c.poolSize;
    const offsets = new Int32Array(m);
    for (let k = 0; k < m; k++) offsets[k] = Math.floor(r() * size);
    const draws: Float64Array[] = new Array<Float64Array>(m);
    const lift = new Float64Array(m);
    const vw = new Float64Array(m);
    const bound = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      const o = c.offers[include[k]];
      if (o === null) throw new Error(`choice inputs: shown offer ${include[k]} has no sampling distribution`);
      const pool = pools[include[k]]!;
      draws[k] = pool.draws;
      lift[k] = o.lift;
      vw[k] = o.vw;
      bound[k] = Math.min(1, pool.max * o.lift) * o.vw;
    }
    const nShown = shown.length;
    const counts = new Int32Array(nShown);
    if (limit === 1) {
      // the top offer only: does the shown one beat every other in draw d? The others are tried in order of their
      // best possible score, and a draw stops at the first that beats it (ties: lower index, as in pickTop)
      const j = include.indexOf(shown[0]);
      const others = Int32Array.from(
        include
          .map((_, k) => k)
          .filter((k) => k !== j)
          .sort((x, y) => bound[y] - bound[x] || x - y),
      );
      const dj = draws[j];
      const oj = offsets[j];
      const lj = lift[j];
      const vj = vw[j];
      const ij = include[j];
      for (let d = 0; d < c.draws; d++) {
        // element (o + d) mod size, without a division per element: o < size and dm = d mod size
        const dm = d % size;
        const xj = dj[oj + dm < size ? oj + dm : oj + dm - size] * lj;
        const sj = (xj < 1 ? xj : 1) * vj;
        let beaten = false;
        for (let q = 0; q < others.length; q++) {
          const k = others[q];
          if (bound[k] < sj) break; // no later one can beat it either
          const e = offsets[k] + dm;
          const x = draws[k][e < size ? e : e - size] * lift[k];
          const sk = (x < 1 ? x : 1) * vw[k];
          if (sk > sj || (sk === sj && include[k] < ij)) {
            beaten = true;
            break;
          }
        }
        if (!beaten) counts[0]++;
      }
    } else {
      // pickTop over the contenders, positions up to the last shown one, with its buffers kept between draws
      // The best `cap` contenders of a draw are kept in order (score descending, then index): the greedy pick is the
      // first of them not blocked, and only when all of them are blocked is every contender scored and scanned.
      // Contenders are scored in order of their best possible score, and a draw stops scoring at the first that
      // cannot enter the kept ones.
      const scores = new Float64Array(m);
      const blocked = new Uint8Array(n);
      const touched = new Int32Array(n);
      const cap = Math.min(m, nShown + 1);
      const topK = new Int32Array(cap);
      const topS = new Float64Array(cap);
      const order = Int32Array.from(
        include.map((_, k) => k).sort((x, y) => bound[y] - bound[x] || x - y),
      );
      for (let d = 0; d < c.draws; d++) {
        const dm = d % size;
        let nTop = 0;
        for (let q = 0; q < m; q++) {
          const k = order[q];
          if (nTop === cap && bound[k] < topS[cap - 1]) break;
          const e = offsets[k] + dm;
          const x = draws[k][e < size ? e : e - size] * lift[k];
          const sk = (x < 1 ? x : 1) * vw[k];
          if (nTop === cap && !(sk > topS[cap - 1] || (sk === topS[cap - 1] && k < topK[cap - 1]))) continue;
          let at = nTop < cap ? nTop++ : cap - 1;
          while (at > 0 && (topS[at - 1] < sk || (topS[at - 1] === sk && topK[at - 1] > k))) {
            topS[at] = topS[at - 1];
            topK[at] = topK[at - 1];
            at--;
          }
          topS[at] = sk;
          topK[at] = k;
        }
        let scored = false;
        let nt = 0;
        for (let pos = 0; pos < nShown; pos++) {
          let best = -1;
          for (let q = 0; q < nTop; q++) {
            if (blocked[include[topK[q]]] === 0) {
              best = topK[q];
              break;
            }
          }
          if (best < 0 && nTop < m) {
            if (!scored) {
              for (let k = 0; k < m; k++) {
                const e = offsets[k] + dm;
                const x = draws[k][e < size ? e : e - size] * lift[k];
                scores[k] = (x < 1 ? x : 1) * vw[k];
              }
              scored = true;
            }
            for (let k = 0; k < m; k++) if (blocked[include[k]] === 0 && (best < 0 || scores[k] > scores[best])) best = k;
          }
          if (best < 0) break;
          const bi = include[best];
          if (bi === shown[pos]) counts[pos]++;
          blocked[bi] = 1;
          touched[nt++] = bi;
          const cs = conflicts[bi];
          for (let q = 0; q < cs.length; q++) {
            if (blocked[cs[q]] === 0) {
              blocked[cs[q]] = 1;
              touched[nt++] = cs[q];
            }
          }
        }
        for (let q = 0; q < nt; q++) blocked[touched[q]] = 0;
      }
    }
    const t = c.served === 'thompson' ? 1 : 0;
    shown.forEach((_, k) => (ranked[k] = (counts[k] + t) / (c.draws + t)));
  }
  return shown.map((_, k) => h * uniform[k] + (1 - h) * ranked[k]);
}

// ---------- the log's form ----------

/**
 * `ChoiceInputs` as the decision log stores it (JSON, exact), without what the log holds elsewhere: the number of
 * suitable offers, their conflicts and their value × weight come from the decision's `considered` (which offers were
 * suitable) and its offer set (conflicts and value × weight of every offer, stored once per set).
 *   shown      indices among the suitable offers, best first
 *   at         Thompson ranking: which suitable offers were kept (not pruned), a bit mask in base64 (bit i of byte i >> 3)
 *   d          their distributions when all are Beta: distinct (a, b) pairs in base64, `di` the index of each kept
 *              offer's pair (uint8, or uint16 past 256 pairs); else `dists`, one record per kept offer
 *   lift       per kept offer: its lift, base64
 *   greedy     mean ranking: its top `limit`
 * Numbers in base64 are little-endian float32 when every one of them is a float32 (decide.ts rounds the distribution
 * parameters and lifts it samples with to single precision), else float64 (`f64: true`).
 */
export interface EncodedChoice {
  v: 1;
  ranking: ChoiceInputs['ranking'];
  served: ChoiceInputs['served'];
  h: number;
  limit: number;
  seed: number;
  draws: number;
  pool: number;
  budget: number;
  shown: number[];
  at?: string;
  d?: string;
  di?: string;
  dists?: SamplingDistribution[];
  lift?: string;
  f64?: true;
  greedy?: number[];
}

const b64 = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function bytesOf(s: string): ArrayBuffer {
  const bytes = Buffer.from(s, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}


/** The log's form of `c` (see `EncodedChoice`); the kept offers' value × weight are left to the offer set. */
export function encodeChoice(c: ChoiceInputs): EncodedChoice {
  const out: EncodedChoice = {
    v: 1,
    ranking: c.ranking,
    served: c.served,
    h: c.holdoutShare,
    limit: c.limit,
    seed: c.seed,
    draws: c.draws,
    pool: c.poolSize,
    budget: c.uniformExactBudget,
    shown: [...c.shown],
  };
  if (c.greedy) out.greedy = [...c.greedy];
  // the kept offers' part depends on `offers` alone: for a list that cannot change (frozen, with its records and their
  // distributions: decide shares such a list between the decisions of a customer's memo) made once
  const offers = c.offers;
  let part: KeptPart | null | undefined = keptParts.get(offers);
  if (part === undefined) {
    part = keptPart(offers);
    if (deeplyFrozen(offers)) keptParts.set(offers, part);
  }
  if (part === null) return out;
  out.at = part.at;
  if (part.dists !== undefined) out.dists = part.dists.map((d) => ({ ...d }));
  out.lift = part.lift;
  if (part.d !== undefined) {
    out.d = part.d;
    out.di = part.di;
  }
  if (part.f64) out.f64 = true;
  return out;
}

const jsonNumber = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');
function jsonNumbers(xs: readonly number[]): string {
  let out = '[';
  for (let k = 0; k < xs.length; k++) out += k === 0 ? jsonNumber(xs[k]) : `,${jsonNumber(xs[k])}`;
  return out + ']';
}

/** The kept part's fields as JSON text (`,"at":…` to the end), kept on the part (a part shared by a memo's decisions is written once). */
function keptJson(part: KeptPart): string {
  let s = part.json;
  if (s !== undefined) return s;
  s = `,"at":${JSON.stringify(part.at)}`;
  if (part.dists !== undefined) s += `,"dists":${JSON.stringify(part.dists)}`;
  s += `,"lift":${JSON.stringify(part.lift)}`;
  if (part.d !== undefined) {
    s += `,"d":${JSON.stringify(part.d)}`;
    if (part.di !== undefined) s += `,"di":${JSON.stringify(part.di)}`;
  }
  if (part.f64) s += ',"f64":true';
  part.json = s;
  return s;
}

/**
 * `JSON.stringify(encodeChoice(c))` in two parts, `head + kept + '}'` (exactly that text: test/decision-log-row.test.ts),
 * for the decision log's row to be written as bytes on the request path: `kept`, the kept offers' fields (the long
 * ones), is one string per frozen list (a customer's memo shares it between its decisions), '' when none is kept.
 */
export function choiceParts(c: ChoiceInputs): { head: string; kept: string } {
  if (
    typeof c.holdoutShare !== 'number' || typeof c.limit !== 'number' || typeof c.seed !== 'number' || typeof c.draws !== 'number' ||
    typeof c.poolSize !== 'number' || typeof c.uniformExactBudget !== 'number' || typeof c.ranking !== 'string' || typeof c.served !== 'string'
  ) {
    const all = JSON.stringify(encodeChoice(c));
    return { head: all.slice(0, -1), kept: '' };
  }
  let head = `{"v":1,"ranking":${JSON.stringify(c.ranking)},"served":${JSON.stringify(c.served)},"h":${jsonNumber(c.holdoutShare)},"limit":${jsonNumber(c.limit)},"seed":${jsonNumber(c.seed)},"draws":${jsonNumber(c.draws)},"pool":${jsonNumber(c.poolSize)},"budget":${jsonNumber(c.uniformExactBudget)},"shown":${jsonNumbers(c.shown)}`;
  if (c.greedy) head += `,"greedy":${jsonNumbers(c.greedy)}`;
  const offers = c.offers;
  let part: KeptPart | null | undefined = keptParts.get(offers);
  if (part === undefined) {
    part = keptPart(offers);
    if (deeplyFrozen(offers)) keptParts.set(offers, part);
  }
  return { head, kept: part === null ? '' : keptJson(part) };
}

/** The kept offers' fields of an encoded choice (see EncodedChoice); null: no offer kept. */
interface KeptPart {
  /** Its fields as JSON text (keptJson), once asked for. */
  json?: string;
  at: string;
  dists?: SamplingDistribution[];
  lift: string;
  d?: string;
  di?: string;
  f64: boolean;
}
const keptParts = new WeakMap<readonly (ChoiceOffer | null)[], KeptPart | null>();

function deeplyFrozen(offers: readonly (ChoiceOffer | null)[]): boolean {
  if (!Object.isFrozen(offers)) return false;
  for (const o of offers) if (o !== null && (!Object.isFrozen(o) || !Object.isFrozen(o.dist))) return false;
  return true;
}

function keptPart(offers: readonly (ChoiceOffer | null)[]): KeptPart | null {
  const m = offers.length;
  let kept = 0;
  let allBeta = true;
  for (let i = 0; i < m; i++) {
    const o = offers[i];
    if (o === null) continue;
    kept++;
    if (o.dist.kind !== 'beta') allBeta = false;
  }
  if (kept === 0) return null;
  // one pass over the kept offers into scratch buffers (no object per offer): the mask, the lifts, the distinct
  // (a, b) pairs in order of first appearance and each offer's pair index; float32 unless a number is not one
  const s = encodeScratchFor(m, kept);
  const mask = s.mask.subarray(0, (m + 7) >> 3).fill(0);
  const lift64 = s.lift64;
  const pairs64 = s.pairs64;
  const idx = s.idx;
  let nPairs = 0;
  let f32 = true;
  let k = 0;
  // pairs found through a hash table of their slots (open addressing over the scratch, cleared per call)
  const table = allBeta ? s.table.subarray(0, pairTableSize(kept)).fill(-1) : s.table;
  const tmask = table.length - 1;
  for (let i = 0; i < m; i++) {
    const o = offers[i];
    if (o === null) continue;
    mask[i >> 3] |= 1 << (i & 7);
    const lift = o.lift;
    lift64[k] = lift;
    if (f32 && Math.fround(lift) !== lift) f32 = false;
    if (allBeta) {
      const d = o.dist as { a: number; b: number };
      const a = d.a;
      const b = d.b;
      let h = pairHash(a, b) & tmask;
      let slot = table[h];
      // the same pair as a Map keyed by a then b finds (SameValueZero)
      while (slot >= 0 && !(sameValueZero(pairs64[2 * slot], a) && sameValueZero(pairs64[2 * slot + 1], b))) {
        h = (h + 1) & tmask;
        slot = table[h];
      }
      if (slot < 0) {
        slot = nPairs++;
        table[h] = slot;
        pairs64[2 * slot] = a;
        pairs64[2 * slot + 1] = b;
        if (f32 && (Math.fround(a) !== a || Math.fround(b) !== b)) f32 = false;
      }
      idx[k] = slot;
    }
    k++;
  }
  const floats = (xs: Float64Array, len: number): string => {
    if (!f32) return b64(xs.subarray(0, len));
    const f = s.f32;
    for (let j = 0; j < len; j++) f[j] = xs[j];
    return b64(f.subarray(0, len));
  };
  const indices = (into: Uint8Array | Uint16Array): string => {
    for (let j = 0; j < kept; j++) into[j] = idx[j];
    return b64(into.subarray(0, kept));
  };
  const part: KeptPart = { at: b64(mask), lift: '', f64: !f32 };
  if (!allBeta) part.dists = offers.filter((o): o is ChoiceOffer => o !== null).map((o) => ({ ...o.dist }));
  part.lift = floats(lift64, kept);
  if (allBeta) {
    part.d = floats(pairs64, 2 * nPairs);
    part.di = indices(nPairs <= 256 ? s.di8 : s.di16);
  }
  return part;
}

const sameValueZero = (x: number, y: number): boolean => x === y || (x !== x && y !== y);

/** A power of two at least twice `kept` (the pair table's size: at most half full). */
function pairTableSize(kept: number): number {
  let size = 16;
  while (size < 2 * kept) size *= 2;
  return size;
}

const hashFloats = new Float64Array(2);
const hashWords = new Uint32Array(hashFloats.buffer);
/** A hash of (a, b) equal for pairs SameValueZero calls equal (0 and −0 alike, every NaN alike). */
function pairHash(a: number, b: number): number {
  hashFloats[0] = a === 0 ? 0 : a !== a ? Number.NaN : a;
  hashFloats[1] = b === 0 ? 0 : b !== b ? Number.NaN : b;
  let h = Math.imul(hashWords[0] ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ hashWords[1] ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ hashWords[2] ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ hashWords[3] ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 15)) >>> 0;
}

/** encodeChoice's buffers (read within one call only), grown as needed. */
let encodeScratch = {
  mask: new Uint8Array(64),
  lift64: new Float64Array(256),
  pairs64: new Float64Array(512),
  idx: new Int32Array(256),
  f32: new Float32Array(512),
  di8: new Uint8Array(256),
  di16: new Uint16Array(256),
  table: new Int32Array(512),
};
function encodeScratchFor(m: number, kept: number): typeof encodeScratch {
  const s = encodeScratch;
  if (s.mask.length >= (m + 7) >> 3 && s.lift64.length >= kept) return s;
  const n = Math.max(kept, 2 * s.lift64.length);
  encodeScratch = {
    mask: new Uint8Array(Math.max((m + 7) >> 3, 2 * s.mask.length)),
    lift64: new Float64Array(n),
    pairs64: new Float64Array(2 * n),
    idx: new Int32Array(n),
    f32: new Float32Array(2 * n),
    di8: new Uint8Array(n),
    di16: new Uint16Array(n),
    table: new Int32Array(pairTableSize(n)),
  };
  return encodeScratch;
}

/**
 * `ChoiceInputs` from the log's form, the conflicts among the decision's suitable offers (their number is the
 * number of suitable offers) and each suitable offer's value × weight. Throws on a malformed record.
 */
export function decodeChoice(e: EncodedChoice, conflicts: readonly (readonly number[])[], valueWeights: ArrayLike<number>): ChoiceInputs {
  if (e.v !== 1) throw new Error(`choice record version ${String(e.v)} not known`);
  const n = conflicts.length;
  if (valueWeights.length !== n) throw new Error('choice record: suitable offers and their values differ in number');
  const offers: (ChoiceOffer | null)[] = new Array<ChoiceOffer | null>(e.at === undefined ? 0 : n).fill(null);
  if (e.at !== undefined) {
    const mask = Buffer.from(e.at, 'base64');
    const kept: number[] = [];
    for (let i = 0; i < n; i++) if ((mask[i >> 3] >> (i & 7)) & 1) kept.push(i);
    const floats = (s: string | undefined): Float32Array | Float64Array => (e.f64 ? new Float64Array(bytesOf(s ?? '')) : new Float32Array(bytesOf(s ?? '')));
    const lifts = floats(e.lift);
    const pairs = e.d === undefined ? null : floats(e.d);
    const di = e.di === undefined ? null : pairs !== null && pairs.length / 2 <= 256 ? new Uint8Array(bytesOf(e.di)) : new Uint16Array(bytesOf(e.di));
    if (lifts.length !== kept.length || (e.dists ? e.dists.length !== kept.length : !pairs || !di || di.length !== kept.length)) {
      throw new Error('choice record: kept offers and their parameters differ in number');
    }
    kept.forEach((i, k) => {
      const dist: SamplingDistribution = e.dists ? e.dists[k] : { kind: 'beta', a: pairs![2 * di![k]], b: pairs![2 * di![k] + 1] };
      offers[i] = { dist, lift: lifts[k], vw: valueWeights[i] };
    });
  }
  return {
    ranking: e.ranking,
    served: e.served,
    holdoutShare: e.h,
    limit: e.limit,
    n,
    conflicts,
    shown: e.shown,
    offers,
    ...(e.greedy ? { greedy: e.greedy } : {}),
    seed: e.seed,
    draws: e.draws,
    poolSize: e.pool,
    uniformExactBudget: e.budget,
  };
}
