/**
 * The next-best-offer decision: one pure, synchronous function (see types.ts for the pipeline and README
 * "Next best offer: decisions and learning" for the whole story).
 *
 *   eligible   window [startsAt, endsAt), channel, store, segments, order counts, spend, days since last purchase,
 *              new customers only, targets in stock
 *   suitable   consent for the channel, no personalisation → no segment-restricted offer, contact cap,
 *              decline suppression, acceptance cap
 *   priority   = propensity × value × weight; served ranking uses the Thompson-sampled propensity (./propensity.ts)
 *   top limit  greedy by priority, skipping an offer that shares a sku or category with one already chosen
 *   holdout    with probability ctx.holdoutShare, the offers are drawn uniformly from the suitable ones instead
 *   probability of each shown offer at its position under the policy:
 *              h·P_uniform + (1 − h)·P_thompson, P_uniform exact, P_thompson by Monte Carlo (see `decisionProbabilities`)
 */
import { mulberry32 } from '../random.js';
import { posteriorPool, type PosteriorPool } from './posterior-pool.js';
import { offerPropensities, PROPENSITY_DEFAULTS, type OfferPropensity, type PropensityParams } from './propensity.js';
import { consideredOf, type ConsideredTrace, eligibilityCode, FIRST_UNSUITABLE, preparedOf, screenCodes, suitabilityCode, WHY } from './screen.js';
import type {
  Decide,
  Decision,
  DecisionContext,
  DecisionSubject,
  Offer,
  OfferReason,
  ResponseStats,
  ScoredOffer,
} from './types.js';

const isSet = (x: number | null | undefined): x is number => x != null && Number.isFinite(x);

export interface DecideParams extends PropensityParams {
  /** `thompson` (served): rank by the sampled priority; `mean`: rank by the posterior-mean priority (no exploration). */
  ranking: 'thompson' | 'mean';
  /** Extra Thompson draws that estimate each shown offer's probability at its position. */
  probabilityDraws: number;
  /**
   * Thompson draws come from Beta(t·α, t·β): the posterior with its mean kept and its variance divided by about t
   * (t = 1: plain Thompson sampling; t > 1 explores less, a common practical tempering).
   */
  sharpening: number;
  /** Draws per posterior pool (Thompson samples come from a cached pool per Beta, see ./posterior-pool.ts). */
  poolSize: number;
  /** Budget (search nodes) of the exact uniform probability at positions > 1 when targets overlap; beyond: Monte Carlo. */
  uniformExactBudget: number;
}

export const DECIDE_DEFAULTS: DecideParams = {
  ...PROPENSITY_DEFAULTS,
  ranking: 'thompson',
  probabilityDraws: 200,
  poolSize: 256,
  // tempered Thompson sampling, with the hierarchical propensity model (HIERARCHICAL_DECIDE; offer-learn)
  sharpening: 2,
  uniformExactBudget: 20_000,
};

/** Why `offer` is not eligible for `subject` in `ctx` (a short code), or null when it is. */
export function ineligibility(offer: Offer, subject: DecisionSubject, ctx: DecisionContext): string | null {
  const c = eligibilityCode(offer, subject, ctx);
  return c === 0 ? null : WHY[c];
}

/** Why an eligible `offer` may not be made to `subject` now (a short code), or null when it may. */
export function unsuitability(offer: Offer, subject: DecisionSubject, ctx: DecisionContext): string | null {
  const c = suitabilityCode(offer, subject, ctx);
  return c === 0 ? null : WHY[c];
}

export interface Screening {
  suitable: Offer[];
  /** One entry per offer, in input order; outcome null for the suitable ones. */
  screened: { offerId: string; outcome: 'ineligible' | 'unsuitable' | null; why?: string }[];
}

/** The first two stages: which offers are eligible and suitable, and why the others are not. */
export function screenOffers(offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext): Screening {
  const s = screenCodes(offers, subject, ctx);
  const screened: Screening['screened'] = offers.map((o, i) => {
    const c = s.codes[i];
    return c === 0 ? { offerId: o.id, outcome: null } : { offerId: o.id, outcome: c < FIRST_UNSUITABLE ? 'ineligible' : 'unsuitable', why: WHY[c] };
  });
  return { suitable: s.suitable, screened };
}

/** For each offer, the indices of the others sharing a sku or a category with it ("the same target"). */
export function targetConflicts(offers: readonly Offer[]): number[][] {
  const byTarget = new Map<string, number[]>();
  const add = (key: string, i: number): void => {
    const group = byTarget.get(key);
    if (!group) byTarget.set(key, [i]);
    else if (group[group.length - 1] !== i) group.push(i);
  };
  offers.forEach((o, i) => {
    for (const s of o.targets.skus) add(`s\u0000${s}`, i);
    for (const c of o.targets.categories) add(`c\u0000${c}`, i);
  });
  const sets = offers.map(() => new Set<number>());
  for (const group of byTarget.values()) for (const i of group) for (const j of group) if (i !== j) sets[i].add(j);
  return sets.map((s) => [...s].sort((a, b) => a - b));
}

/**
 * `targetConflicts` of a whole offer list, cached per list (the service passes the same array until it reloads
 * offers): reused while the list holds the same offer objects with the same targets (compared by value, so an
 * offer or its targets changed in place are seen), else recomputed.
 */
interface OfferSetConflicts {
  offers: Offer[];
  skus: string[][];
  categories: string[][];
  conflicts: number[][];
  trusted?: boolean;
}
const offerSets = new WeakMap<readonly Offer[], OfferSetConflicts>();

const sameStrings = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

function sameTargets(c: OfferSetConflicts, offers: readonly Offer[]): boolean {
  if (c.offers.length !== offers.length) return false;
  for (let i = 0; i < offers.length; i++) {
    const o = offers[i];
    if (o !== c.offers[i] || !sameStrings(o.targets.skus, c.skus[i]) || !sameStrings(o.targets.categories, c.categories[i])) return false;
  }
  return true;
}

function cachedConflicts(offers: readonly Offer[]): number[][] {
  const c = offerSets.get(offers);
  if (c && (c.trusted || sameTargets(c, offers))) {
    // a prepared (deep-frozen) set cannot change: once found the same, it is not compared again
    if (preparedOf(offers) !== undefined) c.trusted = true;
    return c.conflicts;
  }
  const fresh: OfferSetConflicts = {
    offers: [...offers],
    skus: offers.map((o) => [...o.targets.skus]),
    categories: offers.map((o) => [...o.targets.categories]),
    conflicts: targetConflicts(offers),
  };
  offerSets.set(offers, fresh);
  return fresh.conflicts;
}

const NO_CONFLICTS: readonly number[] = Object.freeze([]);

/** `targetConflicts(suitable)` from the conflicts of all offers and the input index of each suitable one. */
function suitableConflicts(all: readonly number[][], index: readonly number[], n: number): readonly (readonly number[])[] {
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

/** Greedy top `limit` by score (ties: lower index), skipping any index that conflicts with one already picked. */
export function pickTop(scores: Float64Array, conflicts: readonly (readonly number[])[], limit: number, include?: readonly number[]): number[] {
  const picked: number[] = [];
  const blocked = new Uint8Array(scores.length);
  const idx = include ?? Array.from({ length: scores.length }, (_, i) => i);
  while (picked.length < limit) {
    let best = -1;
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k];
      if (!blocked[i] && (best < 0 || scores[i] > scores[best] || (scores[i] === scores[best] && i < best))) best = i;
    }
    if (best < 0) break;
    picked.push(best);
    blocked[best] = 1;
    for (const j of conflicts[best]) blocked[j] = 1;
  }
  return picked;
}

/** Uniformly random picks: at each position one of the offers not yet picked nor sharing a target with a picked one. */
function pickUniform(n: number, conflicts: readonly (readonly number[])[], limit: number, random: () => number): number[] {
  const picked: number[] = [];
  const blocked = new Uint8Array(n);
  while (picked.length < limit) {
    const free: number[] = [];
    for (let i = 0; i < n; i++) if (!blocked[i]) free.push(i);
    if (free.length === 0) break;
    const c = free[Math.min(free.length - 1, Math.floor(random() * free.length))];
    picked.push(c);
    blocked[c] = 1;
    for (const j of conflicts[c]) blocked[j] = 1;
  }
  return picked;
}

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
 * Repeated `pickUniform(n, conflicts, limit, random)` with buffers kept between calls: the same picks from the same
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

interface Candidate {
  offer: Offer;
  prop: OfferPropensity;
  /** value × weight */
  vw: number;
  /** Thompson draws of the rate (set when a Thompson ranking needs them). */
  pool: PosteriorPool | null;
}

const weightOf = (o: Offer): number => (Number.isFinite(o.weight) ? o.weight : 1);
const valueOf = (o: Offer): number => (Number.isFinite(o.value) ? o.value : 0);

/**
 * Probability of each shown offer at its position under the policy that served it:
 *   P = h·P_uniform + (1 − h)·P_ranking
 * P_uniform is exact (see `uniformProbability`; Monte Carlo with 20 × draws uniform picks only past the search budget).
 * P_ranking for `mean` is 1 or 0 (deterministic). For `thompson` it is (c + s) / (N + t): over N = probabilityDraws
 * extra draws of the whole Thompson ranking, c put the offer at that position; the draw that was served counts too
 * (t = 1, and s = 1 as it put the offer there; t = s = 0 when the decision was a holdout one), so a shown offer never
 * gets probability 0. Extra draw d takes element (o_i + d) mod poolSize of offer i's pool, with offsets o_i drawn
 * uniformly (a private mulberry32 stream seeded from ctx.random): each draw is distributed as a served draw.
 * Offers that cannot reach the top (pool maximum below the pool minimum of `limit` offers sharing no target with any
 * other) are skipped: exact, as pools bound their draws.
 */
const thompsonPool = (prop: OfferPropensity, p: DecideParams): PosteriorPool =>
  posteriorPool(prop.alpha * p.sharpening, prop.beta * p.sharpening, p.poolSize);

function decisionProbabilities(
  cands: readonly Candidate[],
  conflicts: readonly (readonly number[])[],
  shown: readonly number[],
  servedByThompson: boolean,
  ctx: DecisionContext,
  limit: number,
  p: DecideParams,
  uniformMemo?: () => Map<number, number | null>,
): number[] {
  const h = Math.min(1, Math.max(0, ctx.holdoutShare));
  const n = cands.length;
  const uniform = shown.map(() => 0);
  let mc: (() => number) | null = null;
  const rng = (): (() => number) => (mc ??= mulberry32(Math.floor(ctx.random() * 4294967296)));
  if (h > 0) {
    let sample: ReturnType<typeof uniformSampler> | null = null;
    const picks = new Int32Array(Math.max(0, limit));
    shown.forEach((j, k) => {
      let exact: number | null;
      if (k === 0 || uniformMemo === undefined) exact = uniformProbability(n, conflicts, j, k, p.uniformExactBudget);
      else {
        // the same suitable offers (same conflicts) give the same answer: remembered per suitable set
        const memo = uniformMemo();
        const key = k * (n + 1) + j;
        const known = memo.get(key);
        if (known !== undefined) exact = known;
        else memo.set(key, (exact = uniformProbability(n, conflicts, j, k, p.uniformExactBudget)));
      }
      if (exact !== null) uniform[k] = exact;
      else {
        sample ??= uniformSampler(n, conflicts, limit);
        const draws = 20 * p.probabilityDraws;
        let c = 0;
        for (let d = 0; d < draws; d++) if (sample(rng(), picks) > k && picks[k] === j) c++;
        uniform[k] = c / draws;
      }
    });
  }
  if (h >= 1) return uniform;
  const ranked = shown.map(() => 0);
  if (p.ranking === 'mean') {
    const top = pickTop(
      Float64Array.from(cands, (c) => c.prop.propensity * c.vw),
      conflicts,
      limit,
    );
    shown.forEach((j, k) => (ranked[k] = top[k] === j ? 1 : 0));
  } else {
    for (const c of cands) c.pool ??= thompsonPool(c.prop, p);
    const include = contenders(cands, conflicts, limit, shown);
    const r = rng();
    const m = include.length;
    const size = p.poolSize;
    const offsets = new Int32Array(m);
    for (let k = 0; k < m; k++) offsets[k] = Math.floor(r() * size);
    const draws: Float64Array[] = new Array<Float64Array>(m);
    const lift = new Float64Array(m);
    const vw = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      const c = cands[include[k]];
      draws[k] = c.pool!.draws;
      lift[k] = c.prop.affinityLift;
      vw[k] = c.vw;
    }
    const nShown = shown.length;
    const counts = new Int32Array(nShown);
    if (limit === 1) {
      // the top offer only: does the shown one beat every other in draw d? The others are tried in order of their
      // best possible score, and a draw stops at the first that beats it (ties: lower index, as in pickTop)
      const j = include.indexOf(shown[0]);
      const best = include.map((i, k) => Math.min(1, cands[i].pool!.max * lift[k]) * vw[k]);
      const others = Int32Array.from(
        include
          .map((_, k) => k)
          .filter((k) => k !== j)
          .sort((x, y) => best[y] - best[x] || x - y),
      );
      const dj = draws[j];
      const oj = offsets[j];
      const lj = lift[j];
      const vj = vw[j];
      const ij = include[j];
      for (let d = 0; d < p.probabilityDraws; d++) {
        // element (o + d) mod size, without a division per element: o < size and dm = d mod size
        const dm = d % size;
        const xj = dj[oj + dm < size ? oj + dm : oj + dm - size] * lj;
        const sj = (xj < 1 ? xj : 1) * vj;
        let beaten = false;
        for (let q = 0; q < others.length; q++) {
          const k = others[q];
          if (best[k] < sj) break; // no later one can beat it either
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
      const bound = include.map((i, k) => Math.min(1, cands[i].pool!.max * lift[k]) * vw[k]);
      const order = Int32Array.from(
        include.map((_, k) => k).sort((x, y) => bound[y] - bound[x] || x - y),
      );
      for (let d = 0; d < p.probabilityDraws; d++) {
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
    const t = servedByThompson ? 1 : 0;
    shown.forEach((_, k) => (ranked[k] = (counts[k] + t) / (p.probabilityDraws + t)));
  }
  return shown.map((_, k) => h * uniform[k] + (1 - h) * ranked[k]);
}

/** Indices worth drawing in the extra draws (see `decisionProbabilities`); the shown ones always are. */
function contenders(cands: readonly Candidate[], conflicts: readonly (readonly number[])[], limit: number, shown: readonly number[]): number[] {
  const score = (c: Candidate, x: number): number => Math.min(1, x * c.prop.affinityLift) * c.vw;
  const floors = cands.map((c, i) => (conflicts[i].length === 0 ? score(c, c.pool!.min) : -Infinity)).sort((x, y) => y - x);
  const threshold = limit > 0 && floors.length >= limit ? floors[limit - 1] : -Infinity;
  const keep = new Set(shown);
  cands.forEach((c, i) => {
    if (score(c, c.pool!.max) >= threshold) keep.add(i);
  });
  return [...keep].sort((x, y) => x - y);
}

function nonPersonalisedWhy(subject: DecisionSubject): 'no_consent' | 'guest' | 'unknown_customer' {
  return subject.nonPersonalisedWhy ?? (subject.customerId === null ? 'guest' : 'no_consent');
}

/** The readable reasons of one shown offer, most specific first (the first is `reason.type`). */
function reasonsFor(c: Candidate, subject: DecisionSubject, holdout: boolean, explored: boolean): OfferReason[] {
  const out: OfferReason[] = [];
  if (holdout) out.push({ type: 'holdout' });
  if (!subject.personalised) {
    out.push({ type: 'non_personalised', why: nonPersonalisedWhy(subject) });
  } else {
    const e = c.offer.eligibility ?? {};
    const segs = e.segments ?? [];
    const seg = subject.segment;
    const days = subject.daysSinceLastPurchase;
    const lapsing = seg === 'lapsed' || seg === 'at_risk';
    const before = out.length;
    if (days !== null && (isSet(e.minDaysSinceLastPurchase) || (lapsing && segs.includes(seg)))) {
      out.push({ type: 'win_back', daysSinceLastPurchase: Math.floor(days) });
    }
    if (seg === 'vip' && segs.includes('vip')) out.push({ type: 'vip' });
    if (seg === 'loyal' && segs.includes('loyal')) out.push({ type: 'loyal' });
    if (subject.orders === 1 && (e.newCustomersOnly || e.maxOrders === 1 || segs.includes('new'))) out.push({ type: 'second_purchase' });
    if (c.prop.targeted && seg !== null && out.length === before) out.push({ type: 'segment', segment: seg });
    const a = c.prop.affinity;
    if (a && a.score > 0.5) {
      out.push({ type: 'affinity', affinity: a.score, ...(a.category !== undefined ? { category: a.category } : {}), ...(a.sku !== undefined ? { sku: a.sku } : {}) });
    }
  }
  if (explored) out.push({ type: 'exploration' });
  if (out.length === 0) out.push({ type: 'popular_offer' });
  return out;
}

/**
 * A `Decide` with its own parameters (the service and the simulator use `decide`, i.e. the defaults; the evaluator
 * also builds a `ranking: 'mean'` variant).
 */
export function makeDecide(params: Partial<DecideParams> = {}): Decide {
  const p: DecideParams = { ...DECIDE_DEFAULTS, ...params };
  return (offers, subject, ctx, stats) => decideWith(p, offers, subject, ctx, stats);
}

function decideWith(p: DecideParams, offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext, stats: ResponseStats): Decision {
  const sc = screenCodes(offers, subject, ctx);
  const suitable = sc.suitable;
  const limit = Math.max(0, Math.floor(ctx.limit));
  const props = offerPropensities(suitable, subject, ctx.channel, stats, p);
  const cands: Candidate[] = suitable.map((offer, i) => ({
    offer,
    prop: props[i],
    vw: valueOf(offer) * weightOf(offer),
    pool: null,
  }));
  const conflicts = suitable.length === 0 ? [] : suitableConflicts(cachedConflicts(offers), sc.index, offers.length);
  const h = Math.min(1, Math.max(0, ctx.holdoutShare));
  const holdout = cands.length > 0 && limit > 0 && h > 0 && ctx.random() < h;
  const means = Float64Array.from(cands, (c) => c.prop.propensity * c.vw);
  const byMean = pickTop(means, conflicts, limit);
  let shown: number[];
  let samples: Float64Array | null = null;
  let scores = means;
  if (holdout) shown = pickUniform(cands.length, conflicts, limit, ctx.random);
  else if (p.ranking === 'mean' || limit === 0) shown = byMean;
  else {
    const n = cands.length;
    samples = new Float64Array(n);
    scores = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const c = cands[i];
      c.pool = thompsonPool(c.prop, p);
      samples[i] = c.pool.draws[Math.min(p.poolSize - 1, Math.floor(ctx.random() * p.poolSize))];
      scores[i] = Math.min(1, samples[i] * c.prop.affinityLift) * c.vw;
    }
    shown = pickTop(scores, conflicts, limit);
  }
  const probabilities =
    shown.length > 0 ? decisionProbabilities(cands, conflicts, shown, !holdout && samples !== null, ctx, limit, p, uniformMemoOf(offers, sc.index, p.uniformExactBudget)) : [];

  const scored: ScoredOffer[] = shown.map((i, k) => {
    const c = cands[i];
    const explored = !holdout && samples !== null && byMean[k] !== i;
    const details = reasonsFor(c, subject, holdout, explored);
    return {
      offerId: c.offer.id,
      title: c.offer.title,
      kind: c.offer.kind,
      score: scores[i],
      propensity: c.prop.propensity,
      value: valueOf(c.offer),
      reason: {
        type: details[0].type,
        details,
        parts: {
          propensity: c.prop.propensity,
          value: valueOf(c.offer),
          weight: weightOf(c.offer),
          prior: c.prop.prior,
          posteriorMean: c.prop.posteriorMean,
          affinityLift: c.prop.affinityLift,
          ...(samples !== null ? { sample: samples[i] } : {}),
        },
      },
      probability: probabilities[k],
    };
  });

  const trace: ConsideredTrace = {
    ids: preparedOf(offers)?.ids ?? offers.map((o) => o.id),
    codes: sc.codes,
    scores,
    conflicts,
    shown,
    holdout,
  };
  return withTrace({ offers: scored, holdout }, trace);
}

/**
 * Exact uniform probabilities (`uniformProbability`, a search) per prepared offer set × suitable subset × budget, by
 * target × position: a pure function of the subset's conflicts, which the offers of a prepared set cannot change.
 */
const uniformMemos = new WeakMap<readonly Offer[], Map<string, Map<number, number | null>>>();
const MAX_UNIFORM_MEMOS = 4096;

function uniformMemoOf(offers: readonly Offer[], index: readonly number[], budget: number): (() => Map<number, number | null>) | undefined {
  if (preparedOf(offers) === undefined || index.length >= 1 << 20) return undefined;
  let memo: Map<number, number | null> | undefined;
  return () => {
    if (memo) return memo;
    let bySubset = uniformMemos.get(offers);
    if (!bySubset) uniformMemos.set(offers, (bySubset = new Map()));
    const key = `${budget}|${index.join(',')}`;
    memo = bySubset.get(key);
    if (!memo) {
      if (bySubset.size >= MAX_UNIFORM_MEMOS) bySubset.clear();
      bySubset.set(key, (memo = new Map()));
    }
    return memo;
  };
}

const traces = new WeakMap<Decision, ConsideredTrace>();

/** The decision with `considered` made from its trace when first read (the service logs the trace: `traceOf`). */
function withTrace(d: Omit<Decision, 'considered'>, trace: ConsideredTrace): Decision {
  let considered: Decision['considered'] | undefined;
  const decision = Object.defineProperty(d, 'considered', {
    enumerable: true,
    configurable: true,
    get: () => (considered ??= consideredOf(trace)),
    set: (v: Decision['considered']) => (considered = v),
  }) as Decision;
  traces.set(decision, trace);
  return decision;
}

/** What `considered` of a decision made by `decide` is made from (compact: the decision log keeps this). */
export function traceOf(decision: Decision): ConsideredTrace | undefined {
  return traces.get(decision);
}

/**
 * The policy's distribution of the TOP offer for this subject and context: for each suitable offer, the probability
 * that `decide` with these parameters puts it first, h/n + (1 − h)·P_ranking, P_ranking estimated over `draws`
 * rotated pool draws as in `decisionProbabilities`, with fresh random offsets every poolSize draws (exact 0/1 for a
 * `mean` ranking). Used by the off-policy
 * evaluator to weigh logged decisions by the learned policy. Consumes one value of ctx.random.
 */
export function topOfferDistribution(
  offers: readonly Offer[],
  subject: DecisionSubject,
  ctx: DecisionContext,
  stats: ResponseStats,
  params: Partial<DecideParams> = {},
  draws = 1000,
): Map<string, number> {
  const p: DecideParams = { ...DECIDE_DEFAULTS, ...params };
  const { suitable } = screenOffers(offers, subject, ctx);
  const out = new Map<string, number>();
  const n = suitable.length;
  if (n === 0) return out;
  const props = offerPropensities(suitable, subject, ctx.channel, stats, p);
  const h = Math.min(1, Math.max(0, ctx.holdoutShare));
  const ranked = new Float64Array(n);
  const vw = Float64Array.from(suitable, (o) => valueOf(o) * weightOf(o));
  if (p.ranking === 'mean') {
    let best = 0;
    for (let i = 1; i < n; i++) if (props[i].propensity * vw[i] > props[best].propensity * vw[best]) best = i;
    ranked[best] = 1;
  } else {
    const pools = props.map((pr) => thompsonPool(pr, p));
    const r = mulberry32(Math.floor(ctx.random() * 4294967296));
    const at = Int32Array.from(pools, () => Math.floor(r() * p.poolSize));
    for (let d = 0; d < draws; d++) {
      // fresh offsets every poolSize draws: a rotation alone pairs the pools' elements in only poolSize ways
      if (d > 0 && d % p.poolSize === 0) for (let k = 0; k < n; k++) at[k] = Math.floor(r() * p.poolSize);
      let best = -1;
      let bestScore = -Infinity;
      for (let k = 0; k < n; k++) {
        const x = pools[k].draws[at[k]] * props[k].affinityLift;
        const sc = (x < 1 ? x : 1) * vw[k];
        if (sc > bestScore) {
          bestScore = sc;
          best = k;
        }
        if (++at[k] === p.poolSize) at[k] = 0;
      }
      ranked[best] += 1 / draws;
    }
  }
  suitable.forEach((o, i) => out.set(o.id, h / n + (1 - h) * ranked[i]));
  return out;
}

/** The service's decision (Thompson ranking, DECIDE_DEFAULTS). */
export const decide: Decide = makeDecide();

export type { Decide } from './types.js';
