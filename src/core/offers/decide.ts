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
 *              h·P_uniform + (1 − h)·P_thompson, P_uniform exact, P_thompson by Monte Carlo (./choice.ts). Not
 *              computed on the request path: the decision keeps what determines it (`ChoiceInputs`: per suitable
 *              offer its sampling distribution, lift and value × weight, the holdout share, limit, conflicts, what
 *              was shown, a seed), the log stores that (`traceOf(d).choice`), and a shown offer's `probability` is
 *              `choiceProbabilities` of it, computed when first read (the simulator reads it, the service does not).
 */
import { mulberry32 } from '../random.js';
import { type PosteriorPool, posteriorPool } from './posterior-pool.js';
import { type ChoiceInputs, type ChoiceOffer, choiceProbabilities, contendersByBounds, pickTop, type SamplingDistribution, samplingPool, suitableConflicts } from './choice.js';
import { offerPropensities, PROPENSITY_DEFAULTS, temperedSharpening, type OfferPropensity, propensityAt, type PropensityColumns, propensityColumns, propensityColumnsOf, propensityColumnsHold, type PropensityParams, scratchColumns, isStableAffinity } from './propensity.js';
import { acceptanceCapsHold, consideredOf, type ConsideredTrace, eligibilityCode, FIRST_UNSUITABLE, preparedOf, type ScreenCodes, screenCodes, type ScreenValidity, suitabilityCode, WHY } from './screen.js';
import type {
  Decide,
  Decision,
  DecisionMemo,
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
  /** Extra Thompson draws that estimate each shown offer's probability at its position (when it is read). */
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
  // tempered Thompson sampling, with the hierarchical propensity model (HIERARCHICAL_DECIDE; offer-learn: 2, offer-lift
  // with impressions counted by their affinity lift: 4)
  sharpening: 4,
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

/**
 * `suitableConflicts` of a prepared set's subset, remembered per subset (the suitable offers of a decision repeat
 * across customers and requests); computed afresh for other arrays.
 */
const subsetConflicts = new WeakMap<readonly Offer[], { size: number; byHash: Map<number, { index: readonly number[]; conflicts: readonly (readonly number[])[] }[]> }>();
const MAX_SUBSETS = 4096;

/** A 32-bit hash of a list of indices (FNV-1a over the numbers). */
function subsetHash(index: readonly number[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < index.length; i++) h = Math.imul(h ^ index[i], 0x01000193);
  return h >>> 0;
}

function sameIndex(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function conflictsOfSubset(offers: readonly Offer[], index: readonly number[]): readonly (readonly number[])[] {
  const all = cachedConflicts(offers);
  if (preparedOf(offers) === undefined || index.length === offers.length) return suitableConflicts(all, index, offers.length);
  let known = subsetConflicts.get(offers);
  if (!known) subsetConflicts.set(offers, (known = { size: 0, byHash: new Map() }));
  // by a hash of the subset, compared in full (no key string per decision)
  const h = subsetHash(index);
  let bucket = known.byHash.get(h);
  if (bucket !== undefined) for (const e of bucket) if (sameIndex(e.index, index)) return e.conflicts;
  if (known.size >= MAX_SUBSETS) {
    known.byHash.clear();
    known.size = 0;
    bucket = undefined;
  }
  const c = suitableConflicts(all, index, offers.length);
  if (bucket === undefined) known.byHash.set(h, (bucket = []));
  bucket.push({ index: [...index], conflicts: c });
  known.size++;
  return c;
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

/** One shown offer, for its reasons. */
interface Candidate {
  offer: Offer;
  prop: OfferPropensity;
}

const weightOf = (o: Offer): number => (Number.isFinite(o.weight) ? o.weight : 1);

/**
 * The distribution a Thompson draw of this offer's rate comes from (the one place that maps the propensity model's
 * posterior to a sampling distribution: a Beta posterior, its pseudo-counts multiplied by the sharpening). Its
 * parameters are rounded to single precision (a relative change below 1e-7), so that the decision log keeps them
 * exactly in 4 bytes each.
 */
export function samplingOf(prop: OfferPropensity, p: Pick<DecideParams, 'sharpening'>): SamplingDistribution {
  const t = temperedSharpening(p.sharpening, prop.sharpenWeight ?? 1);
  return { kind: 'beta', a: Math.fround(prop.alpha * t), b: Math.fround(prop.beta * t) };
}

/** The affinity lift a sampled priority uses: single precision, as the decision log keeps it (see `samplingOf`). */
const sampledLift = (prop: OfferPropensity): number => Math.fround(prop.affinityLift);

/** value × weight of every offer of a set, in order (kept per prepared set: its offers cannot change). */
const setValues = new WeakMap<readonly Offer[], Float64Array>();
function valueWeights(offers: readonly Offer[]): Float64Array {
  const known = setValues.get(offers);
  if (known) return known;
  const vw = Float64Array.from(offers, (o) => valueOf(o) * weightOf(o));
  if (preparedOf(offers) !== undefined) setValues.set(offers, vw);
  return vw;
}
const valueOf = (o: Offer): number => (Number.isFinite(o.value) ? o.value : 0);

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
      // (keys in this order: type, affinity, category, sku; added, not spread)
      const r: { type: 'affinity'; category?: string; sku?: string; affinity: number } = { type: 'affinity', affinity: a.score };
      if (a.category !== undefined) r.category = a.category;
      if (a.sku !== undefined) r.sku = a.sku;
      out.push(r);
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

/** Scratch propensity columns by number of suitable offers (decideWith's, read within one call only). */
const scratch = new Map<number, PropensityColumns>();
function scratchOf(n: number): PropensityColumns {
  let c = scratch.get(n);
  if (c === undefined) {
    if (scratch.size >= 1024) scratch.clear();
    scratch.set(n, (c = scratchColumns(n)));
  }
  return c;
}

/**
 * What a decision derives for its subject and context before anything random: screening, propensity columns, value ×
 * weight, conflicts, the mean ranking (and, once asked for, each suitable offer's score bounds). Kept in ctx.memo while
 * it holds (see DecisionContext.memo and `basisKept`).
 */
interface Basis {
  sc: ScreenCodes;
  cols: PropensityColumns;
  vw: Float64Array;
  conflicts: readonly (readonly number[])[];
  means: Float64Array;
  byMean: number[];
  /** lo then hi of each suitable offer's sampled score (choiceInputs), once computed when kept; null until then. */
  bounds: Float64Array | null;
  /** Kept in a memo (its bounds are then kept too). */
  kept: boolean;
  /**
   * Kept bases, Thompson ranking: the offers whose greatest sampled score reaches the limit-th greatest floor (the
   * contenders before the shown ones are added, see contendersByBounds), as a mask, and their choice records
   * (frozen, shared by the decisions whose shown offers are all among them); null until first needed.
   */
  contenders: { mask: Uint8Array; offers: readonly (ChoiceOffer | null)[] } | null;
  /**
   * Kept bases whose columns have a table: each suitable offer's Thompson pool draws (its table row's pool, see
   * RowSampling) and its affinity lift in single precision, made once, so that a decision on the basis draws from them
   * without checking the rows (a held basis read the rows' current α, β and weight: its pools are theirs); null until then.
   */
  draws: Float64Array[] | null;
  liftF: Float64Array | null;
  /** The Thompson pools of the columns' table's rows (rowSamplingsOf), once looked up; null until then. */
  rows: RowSampling | null;
  /** Kept bases: the shown offers' reasons, per suitable offer × variant (plain, explored, holdout), made when first shown. */
  pieces: (ReasonPiece | null)[] | null;
}

/** A basis kept in a memo, with what it was derived from. */
interface KeptBasis {
  basis: Basis;
  offers: readonly Offer[];
  stats: ResponseStats;
  version: number;
  p: DecideParams;
  channel: DecisionContext['channel'];
  store: string | null;
  limit: number;
  channelConsent: DecisionContext['channelConsent'];
  personalised: boolean;
  guest: boolean;
  segment: DecisionSubject['segment'];
  orders: number;
  spend: number;
  days: number | null;
  consent: boolean | undefined;
  affinity: DecisionSubject['affinity'];
  /** The clock range it holds for: from the time it was derived until the first bound or contact-rule time after it. */
  from: number;
  until: number;
}

/** The consent answer screening reads for this subject and context (the channel's purpose). */
function channelConsentOf(subject: DecisionSubject, ctx: DecisionContext): boolean | undefined {
  const purpose = ctx.channelConsent[ctx.channel];
  return purpose ? subject.consent[purpose] : undefined;
}

/** The memo's basis when it was derived from the same inputs (see DecisionContext.memo), else null. */
function basisKept(memo: DecisionMemo, offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext, stats: ResponseStats, p: DecideParams, limit: number): Basis | null {
  const k = memo.state as KeptBasis | undefined;
  if (k === undefined) return null;
  const now = ctx.now;
  const held =
    k.offers === offers &&
    k.stats === stats &&
    k.p === p &&
    now >= k.from &&
    now < k.until &&
    k.channel === ctx.channel &&
    k.store === ctx.store &&
    k.limit === limit &&
    k.channelConsent === ctx.channelConsent &&
    k.personalised === subject.personalised &&
    k.guest === (subject.customerId === null) &&
    k.segment === subject.segment &&
    Object.is(k.orders, subject.orders) &&
    Object.is(k.spend, subject.spend) &&
    Object.is(k.days, subject.daysSinceLastPurchase) &&
    k.consent === channelConsentOf(subject, ctx) &&
    k.affinity === subject.affinity;
  if (!held) return null;
  if (k.version === stats.version) return k.basis;
  // responses were counted since (another version of the same stats): the basis holds when what it read of the counts
  // is the same now, the propensity rows of its suitable offers (a response to an offer it did not consider changes
  // none of them, unless through the cross-offer prior) and the acceptance caps screened; derived afresh otherwise
  if (stats.version === undefined || !propensityColumnsHold(offers, k.basis.cols, subject, ctx.channel, stats, p) || !acceptanceCapsHold(offers, k.basis.sc.codes, ctx)) {
    return null;
  }
  k.version = stats.version;
  return k.basis;
}

function deriveBasis(p: DecideParams, offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext, stats: ResponseStats, limit: number): Basis {
  const immutable = preparedOf(offers) !== undefined;
  // a basis may be kept when the set is immutable, the stats say their version, and the affinity answers cannot change
  const memo = ctx.memo;
  const keep = memo !== undefined && immutable && stats.version !== undefined && p.model !== 'pooled' && (!subject.personalised || isStableAffinity(subject.affinity));
  const validity: ScreenValidity | undefined = keep ? { from: -Infinity, until: Infinity } : undefined;
  const sc = screenCodes(offers, subject, ctx, validity);
  const suitable = sc.suitable;
  // one column per quantity, not an object per suitable offer: only the shown ones become objects; for an immutable
  // set, what does not depend on the subject is read from the set's tables (propensityColumnsOf, valueWeights);
  // columns not kept are read within this call only (shown offers' propensities are copied out): a scratch per size
  const cols = immutable
    ? propensityColumnsOf(offers, sc.index, subject, ctx.channel, stats, p, keep ? undefined : scratchOf(sc.index.length))
    : propensityColumns(suitable, subject, ctx.channel, stats, p, offers);
  const n = suitable.length;
  // vw and means in one buffer
  const buf = new Float64Array(2 * n);
  const vw = buf.subarray(0, n);
  if (immutable) {
    const all = valueWeights(offers);
    for (let i = 0; i < n; i++) vw[i] = all[sc.index[i]];
  } else for (let i = 0; i < n; i++) vw[i] = valueOf(suitable[i]) * weightOf(suitable[i]);
  const conflicts = n === 0 ? [] : conflictsOfSubset(offers, sc.index);
  const means = buf.subarray(n, 2 * n);
  for (let i = 0; i < n; i++) means[i] = cols.propensity[i] * vw[i];
  const byMean = pickTop(means, conflicts, limit);
  const basis: Basis = { sc, cols, vw, conflicts, means, byMean, bounds: null, kept: false, contenders: null, draws: null, liftF: null, rows: null, pieces: null };
  if (keep && validity!.until > ctx.now) {
    const kept: KeptBasis = {
      basis,
      offers,
      stats,
      version: stats.version!,
      p,
      channel: ctx.channel,
      store: ctx.store,
      limit,
      channelConsent: ctx.channelConsent,
      personalised: subject.personalised,
      guest: subject.customerId === null,
      segment: subject.segment,
      orders: subject.orders,
      spend: subject.spend,
      days: subject.daysSinceLastPurchase,
      consent: channelConsentOf(subject, ctx),
      affinity: subject.affinity,
      from: ctx.now,
      until: validity!.until,
    };
    memo!.state = kept;
    basis.kept = true;
  } else if (memo !== undefined) memo.state = undefined;
  return basis;
}

/**
 * A decision's own buffer of `length` numbers (zeroed), carved from a shared slab: a typed array of its own is a
 * separate allocation outside the JavaScript heap each, its memory taken and freed per decision. A slab's parts are
 * never handed out twice (a decision's trace keeps its scores): a full slab is left to the decisions holding its parts.
 */
let slab = new Float64Array(0);
let slabAt = 0;
const SLAB = 16_384;
function decisionBuffer(length: number): Float64Array {
  if (length > SLAB / 8) return new Float64Array(length);
  if (slabAt + length > slab.length) {
    slab = new Float64Array(SLAB);
    slabAt = 0;
  }
  const b = slab.subarray(slabAt, slabAt + length);
  slabAt += length;
  return b;
}

function decideWith(p: DecideParams, offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext, stats: ResponseStats): Decision {
  const limit = Math.max(0, Math.floor(ctx.limit));
  const kept = ctx.memo === undefined ? null : basisKept(ctx.memo, offers, subject, ctx, stats, p, limit);
  const basis = kept ?? deriveBasis(p, offers, subject, ctx, stats, limit);
  const { sc, cols, vw, conflicts, means } = basis;
  // a kept ranking is shared by the decisions of the memo: a decision that keeps it (as shown, or as the mean
  // ranking's greedy choice) has its own array; a Thompson or holdout decision only reads it
  const byMean = kept === null || (p.ranking !== 'mean' && limit !== 0) ? basis.byMean : basis.byMean.slice();
  const suitable = sc.suitable;
  const n = suitable.length;
  // samples and scores in one buffer
  const buf = decisionBuffer(2 * n);
  const cands: Candidates = { offers: suitable, cols, vw, pools: cols.table === undefined ? new Array<PosteriorPool | null>(n).fill(null) : null, rows: cols.table === undefined ? null : (basis.rows ??= rowSamplingsOf(cols.table)) };
  const h = Math.min(1, Math.max(0, ctx.holdoutShare));
  const holdout = n > 0 && limit > 0 && h > 0 && ctx.random() < h;
  let shown: number[];
  let samples: Float64Array | null = null;
  let scores = means;
  if (holdout) shown = pickUniform(n, conflicts, limit, ctx.random);
  else if (p.ranking === 'mean' || limit === 0) shown = byMean;
  else {
    samples = buf.subarray(0, n);
    scores = buf.subarray(n, 2 * n);
    const rows = cands.rows;
    const size = p.poolSize;
    if (rows !== null && basis.kept) {
      // a held basis: its offers' pools and lifts made once (the same pools rowSampling gives for the rows it read)
      const draws = basis.draws ?? keptDraws(basis, rows, p);
      const liftF = basis.liftF!;
      for (let i = 0; i < n; i++) {
        const x = draws[i][Math.min(size - 1, Math.floor(ctx.random() * size))];
        samples[i] = x;
        scores[i] = Math.min(1, x * liftF[i]) * vw[i];
      }
    } else if (rows !== null) {
      // from the rows' pools themselves: a pool is shared by every row (of every table) of its grid parameters, so the
      // draws a decision reads stay few and in cache (a copy per table row would spread them over megabytes)
      const t = cols.table!;
      const index = cols.index!;
      const pools = rows.pools;
      for (let i = 0; i < n; i++) {
        const g = index[i];
        if (rows.alpha[g] !== t.alpha[g] || rows.beta[g] !== t.beta[g] || rows.weight[g] !== t.sharpenWeight[g] || pools[g] === null) rowSampling(rows, t, g, p);
        samples[i] = pools[g]!.draws[Math.min(size - 1, Math.floor(ctx.random() * size))];
        scores[i] = Math.min(1, samples[i] * Math.fround(cols.affinityLift[i])) * vw[i];
      }
    } else {
      for (let i = 0; i < n; i++) {
        const pool = poolOf(cands, i, p);
        samples[i] = pool.draws[Math.min(size - 1, Math.floor(ctx.random() * size))];
        scores[i] = Math.min(1, samples[i] * Math.fround(cols.affinityLift[i])) * vw[i];
      }
    }
    shown = pickTop(scores, conflicts, limit);
  }
  const choice = shown.length > 0 ? choiceInputs(cands, conflicts, shown, holdout ? 'holdout' : samples !== null ? 'thompson' : 'mean', byMean, h, limit, ctx, p, basis) : null;
  let probabilities: number[] | null = null;
  const memo = choice ? uniformMemoOf(offers, sc.index, p.uniformExactBudget) : undefined;
  const probabilityAt = (k: number): number => (probabilities ??= choiceProbabilities(choice!, memo))[k];

  if (basis.kept && shown.length > 0) return keptScored(basis, subject, shown, holdout, samples, scores, byMean, probabilityAt, offers, trace(basis, offers, shown, holdout, scores, choice), n);
  const scored: ScoredOffer[] = shown.map((i, k) => {
    const c: Candidate = { offer: suitable[i], prop: propensityAt(cols, i) };
    const explored = !holdout && samples !== null && byMean[k] !== i;
    const details = reasonsFor(c, subject, holdout, explored);
    const parts: Record<string, number> = {
      propensity: c.prop.propensity,
      value: valueOf(c.offer),
      weight: weightOf(c.offer),
      prior: c.prop.prior,
      posteriorMean: c.prop.posteriorMean,
      affinityLift: c.prop.affinityLift,
    };
    if (samples !== null) parts.sample = samples[i];
    return new Shown(c.offer, scores[i], c.prop.propensity, valueOf(c.offer), { type: details[0].type, details, parts: parts as ScoredOffer['reason']['parts'] }, k, probabilityAt);
  });
  return withTrace(scored, holdout, trace(basis, offers, shown, holdout, scores, choice));
}

/** The decision's trace (what `considered` and the log are made from). */
function trace(basis: Basis, offers: readonly Offer[], shown: number[], holdout: boolean, scores: Float64Array, choice: ChoiceInputs | null): ConsideredTrace {
  const t: ConsideredTrace = {
    ids: preparedOf(offers)?.ids ?? offers.map((o) => o.id),
    codes: basis.sc.codes,
    scores,
    conflicts: basis.conflicts,
    shown,
    holdout,
  };
  if (choice) {
    t.choice = choice;
    t.setConflicts = cachedConflicts(offers);
    t.setValueWeights = valueWeights(offers);
  }
  return t;
}

/** A kept basis's pool draws and single-precision lifts per suitable offer (Basis.draws), made now. */
function keptDraws(basis: Basis, rows: RowSampling, p: DecideParams): Float64Array[] {
  const cols = basis.cols;
  const t = cols.table!;
  const index = cols.index!;
  const n = index.length;
  const draws = new Array<Float64Array>(n);
  const liftF = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = index[i];
    draws[i] = rowSampling(rows, t, g, p).pools[g]!.draws;
    liftF[i] = Math.fround(cols.affinityLift[i]);
  }
  basis.liftF = liftF;
  basis.draws = draws;
  holdDraws(basis, draws);
  return draws;
}

// ---------- what kept bases' draws hold, bounded in bytes ----------
//
// A kept basis's draws are its offers' pools, which stay reachable through it after the pool cache (posterior-pool.ts,
// 8,192 pools) and the rows' samplings have let them go: a memo not decided on again since its rows' counts changed
// holds pools nothing else does (up to its suitable offers × 2 KB; the service keeps 4,096 memos). Every basis's draws
// are therefore registered here, oldest first, with the distinct bytes they hold (a pool counted once however many
// bases hold it, plus each basis's own arrays); past the budget the oldest bases' draws are dropped (Basis.draws and
// liftF null: remade from the rows by the next decision on the basis, the same pools: a cost, never another
// decision). A collected basis's entry goes with it (FinalizationRegistry), so dead memos do not push live ones out.

/** One basis's kept draws as registered: the basis (not kept alive by this), the arrays, their own bytes. */
interface HeldDraws {
  basis: WeakRef<Basis>;
  draws: Float64Array[];
  own: number;
}
/** Bytes counted per entry beyond its arrays' (the entry, the basis's draws array and lifts: 16 bytes per offer). */
const ENTRY_BYTES = 128;
let drawsBudget = 32 * 1024 * 1024;
const heldDraws = new Set<HeldDraws>();
/** How many entries hold each pool's draws (a pool's bytes are counted while one does). */
const poolHolders = new Map<Float64Array, number>();
let heldBytes = 0;
/** Bases whose draws were dropped for the budget (keptDrawsHeld). */
let heldDrops = 0;
const heldOf = new WeakMap<Basis, HeldDraws>();
const heldFinal = new FinalizationRegistry<HeldDraws>((h) => releaseDraws(h));

function holdDraws(basis: Basis, draws: Float64Array[]): void {
  const before = heldOf.get(basis);
  if (before !== undefined) dropDraws(before);
  const h: HeldDraws = { basis: new WeakRef(basis), draws, own: ENTRY_BYTES + 16 * draws.length };
  for (const a of draws) {
    const c = poolHolders.get(a) ?? 0;
    if (c === 0) heldBytes += a.byteLength;
    poolHolders.set(a, c + 1);
  }
  heldBytes += h.own;
  heldDraws.add(h);
  heldOf.set(basis, h);
  heldFinal.register(basis, h, h);
  // the oldest first, never the one just kept (the decision being made reads it): over the budget by one basis at most
  for (const old of heldDraws) {
    if (heldBytes <= drawsBudget || old === h) break;
    dropDraws(old);
    heldDrops++;
  }
}

/** An entry's draws let go by its basis (which remakes them when decided on again), and the entry released. */
function dropDraws(h: HeldDraws): void {
  const basis = h.basis.deref();
  if (basis !== undefined && basis.draws === h.draws) {
    basis.draws = null;
    basis.liftF = null;
  }
  if (basis !== undefined) {
    heldFinal.unregister(h);
    if (heldOf.get(basis) === h) heldOf.delete(basis);
  }
  releaseDraws(h);
}

function releaseDraws(h: HeldDraws): void {
  if (!heldDraws.delete(h)) return;
  for (const a of h.draws) {
    const c = poolHolders.get(a)!;
    if (c === 1) {
      poolHolders.delete(a);
      heldBytes -= a.byteLength;
    } else poolHolders.set(a, c - 1);
  }
  heldBytes -= h.own;
}

/**
 * The bytes kept bases' draws hold (distinct pools and each basis's own arrays), how many bases hold draws, how many
 * had them dropped for the budget so far; with
 * `budget`, the budget set from then on (default 32 MiB; for tests), the oldest dropped to fit.
 */
export function keptDrawsHeld(budget?: number): { bytes: number; bases: number; budget: number; drops: number } {
  if (budget !== undefined) {
    drawsBudget = budget;
    for (const old of heldDraws) {
      if (heldBytes <= drawsBudget) break;
      dropDraws(old);
      heldDrops++;
    }
  }
  return { bytes: heldBytes, bases: heldDraws.size, budget: drawsBudget, drops: heldDrops };
}

/**
 * The reason of a shown offer on a kept basis, in one of three variants (plain, explored, holdout): its details
 * (frozen, shared by the basis's decisions), type and parts but the sample, made once from what the basis holds —
 * the columns, the offer, the subject's facts the basis was derived for — and, once asked for (`keptReasonText`),
 * its JSON up to the sample. `why` is the one input reasonsFor reads that the basis is not derived from.
 */
interface ReasonPiece extends KeptReason {
  type: OfferReason['type'];
  details: OfferReason[];
  why: string | null;
  propensity: number;
  value: number;
  weight: number;
  prior: number;
  posteriorMean: number;
  affinityLift: number;
  /** JSON.stringify of the reason without the sample, less its closing `}}`; null until asked for. */
  head: string | null;
}

/** A shown offer's kept reason piece, as its writers see it (keptReason). */
export interface KeptReason {
  /** The shown offer's propensity and value (those of its ScoredOffer when decide made it). */
  readonly propensity: number;
  readonly value: number;
  /** Text its one writer (the service's answer) derives from this piece alone, kept with it; null until then. */
  writerText: string | null;
}

function reasonPiece(basis: Basis, i: number, subject: DecisionSubject, holdout: boolean, explored: boolean): ReasonPiece {
  const cols = basis.cols;
  const offer = basis.sc.suitable[i];
  const details = reasonsFor({ offer, prop: propensityAt(cols, i) }, subject, holdout, explored);
  for (const d of details) Object.freeze(d);
  return {
    type: details[0].type,
    details: Object.freeze(details) as OfferReason[],
    why: whyOf(subject),
    propensity: cols.propensity[i],
    value: valueOf(offer),
    weight: weightOf(offer),
    prior: cols.prior[i],
    posteriorMean: cols.posteriorMean[i],
    affinityLift: cols.affinityLift[i],
    head: null,
    writerText: null,
  };
}

/**
 * The reasons of the last decision made on a kept basis, by position, and their pieces: `keptReasonText` writes a
 * reason found here (the same object, frozen with its parts) from its piece. Older entries stay true of their reasons.
 */
const lastReasons: object[] = [];
const lastPieces: ReasonPiece[] = [];

/** What reasonsFor reads of the subject that a basis is not derived from (their non-personalised why, when so). */
const whyOf = (subject: DecisionSubject): string | null => (subject.personalised ? null : nonPersonalisedWhy(subject));

/** decideWith's shown offers on a kept basis: their reasons from the basis's pieces, frozen. */
function keptScored(
  basis: Basis,
  subject: DecisionSubject,
  shown: number[],
  holdout: boolean,
  samples: Float64Array | null,
  scores: Float64Array,
  byMean: readonly number[],
  probabilityAt: (k: number) => number,
  offers: readonly Offer[],
  t: ConsideredTrace,
  n: number,
): Decision {
  const pieces = (basis.pieces ??= new Array<ReasonPiece | null>(3 * n).fill(null));
  const why = whyOf(subject);
  const suitable = basis.sc.suitable;
  const scored = new Array<ScoredOffer>(shown.length);
  for (let k = 0; k < shown.length; k++) {
    const i = shown[k];
    const explored = !holdout && samples !== null && byMean[k] !== i;
    const at = 3 * i + (holdout ? 2 : explored ? 1 : 0);
    let piece = pieces[at];
    if (piece === null || piece.why !== why) pieces[at] = piece = reasonPiece(basis, i, subject, holdout, explored);
    // (two literals: the same keys in the same order as decideWith's parts)
    const parts =
      samples !== null
        ? { propensity: piece.propensity, value: piece.value, weight: piece.weight, prior: piece.prior, posteriorMean: piece.posteriorMean, affinityLift: piece.affinityLift, sample: samples[i] }
        : { propensity: piece.propensity, value: piece.value, weight: piece.weight, prior: piece.prior, posteriorMean: piece.posteriorMean, affinityLift: piece.affinityLift };
    const reason = Object.freeze({ type: piece.type, details: piece.details, parts: Object.freeze(parts) });
    scored[k] = new Shown(suitable[i], scores[i], piece.propensity, piece.value, reason, k, probabilityAt);
    lastReasons[k] = reason;
    lastPieces[k] = piece;
  }
  return withTrace(scored, holdout, t);
}

/**
 * The kept piece of the `k`-th shown offer's reason of the last decision made on a kept basis (a decision memo's),
 * when `reason` is that reason (the object decide made, frozen with its parts and details: what it says cannot have
 * changed); undefined for any other reason. Its JSON: `keptReasonHead(piece)`, then the sample when the parts have one.
 */
export function keptReason(reason: unknown, k: number): KeptReason | undefined {
  return k < lastReasons.length && lastReasons[k] === reason ? lastPieces[k] : undefined;
}

/** JSON.stringify of a kept reason without its sample, less the closing `}}` (made once per piece). */
export function keptReasonHead(piece: KeptReason): string {
  const p = piece as ReasonPiece;
  if (p.head === null) {
    const whole = JSON.stringify({
      type: p.type,
      details: p.details,
      parts: { propensity: p.propensity, value: p.value, weight: p.weight, prior: p.prior, posteriorMean: p.posteriorMean, affinityLift: p.affinityLift },
    });
    p.head = whole.slice(0, whole.length - 2);
  }
  return p.head;
}

/** The suitable offers of a decision: their propensities, value × weight, and Thompson pools once asked for. */
interface Candidates {
  offers: readonly Offer[];
  cols: PropensityColumns;
  vw: Float64Array;
  /** Pools once asked for, per candidate (columns without a table), or per row of the columns' table (`rows`). */
  pools: (PosteriorPool | null)[] | null;
  rows: RowSampling | null;
}

/** The pool of the i-th candidate's sampling distribution (`samplingOf` of its propensity: a Beta). */
function poolOf(c: Candidates, i: number, p: DecideParams): PosteriorPool {
  if (c.rows !== null) return rowSampling(c.rows, c.cols.table!, c.cols.index![i], p).pools[c.cols.index![i]]!;
  let pool = c.pools![i];
  if (pool === null) {
    const t = temperedSharpening(p.sharpening, c.cols.sharpenWeight[i]);
    c.pools![i] = pool = posteriorPool(Math.fround(c.cols.alpha[i] * t), Math.fround(c.cols.beta[i] * t), p.poolSize);
  }
  return pool;
}

/** The sampling distribution (and its pool) of the i-th candidate: kept per table row when the columns have a table. */
function distOf(c: Candidates, i: number, p: DecideParams): SamplingDistribution {
  if (c.rows === null) {
    const t = temperedSharpening(p.sharpening, c.cols.sharpenWeight[i]);
    return { kind: 'beta', a: Math.fround(c.cols.alpha[i] * t), b: Math.fround(c.cols.beta[i] * t) };
  }
  const g = c.cols.index![i];
  return rowSampling(c.rows, c.cols.table!, g, p).dists[g]!;
}

/**
 * Per row of an offer set's propensity table (propensity.ts `propensityColumnsOf`): its sampling distribution and
 * pool, for the α and β they were made from (a row recomputed with other counts gets new ones). The table is per
 * parameters object, so sharpening and pool size are those of its decide.
 */
interface RowSampling {
  alpha: Float64Array;
  beta: Float64Array;
  /** The sharpening weight each row's distribution was made with. */
  weight: Float64Array;
  pools: (PosteriorPool | null)[];
  dists: (SamplingDistribution | null)[];
  /** Each row's pool's least and greatest draw. */
  min: Float64Array;
  max: Float64Array;
}
const rowSamplings = new WeakMap<PropensityColumns, RowSampling>();

function rowSamplingsOf(t: PropensityColumns): RowSampling {
  let r = rowSamplings.get(t);
  if (r === undefined) {
    r = {
      alpha: new Float64Array(t.n).fill(Number.NaN),
      beta: new Float64Array(t.n).fill(Number.NaN),
      weight: new Float64Array(t.n).fill(Number.NaN),
      pools: new Array(t.n).fill(null),
      dists: new Array(t.n).fill(null),
      min: new Float64Array(t.n),
      max: new Float64Array(t.n),
    };
    rowSamplings.set(t, r);
  }
  return r;
}

/** `r` with row g's distribution and pool made for the table's current α and β of that row. */
function rowSampling(r: RowSampling, t: PropensityColumns, g: number, p: DecideParams): RowSampling {
  if (r.alpha[g] !== t.alpha[g] || r.beta[g] !== t.beta[g] || r.weight[g] !== t.sharpenWeight[g] || r.pools[g] === null) {
    const s = temperedSharpening(p.sharpening, t.sharpenWeight[g]);
    const dist = Object.freeze({ kind: 'beta' as const, a: Math.fround(t.alpha[g] * s), b: Math.fround(t.beta[g] * s) });
    r.dists[g] = dist;
    const pool = posteriorPool(dist.a, dist.b, p.poolSize);
    r.pools[g] = pool;
    r.min[g] = pool.min;
    r.max[g] = pool.max;
    r.alpha[g] = t.alpha[g];
    r.beta[g] = t.beta[g];
    r.weight[g] = t.sharpenWeight[g];
  }
  return r;
}

/** lo and hi of choiceInputs (read within it only). */
let boundsScratch = new Float64Array(512);

/**
 * What the choice distribution of a decision depends on (./choice.ts). Draws the seed of the estimate's Monte Carlo
 * stream from ctx.random when the estimate may need one (a Thompson ranking, or a holdout share). For a Thompson
 * ranking, offers that cannot reach the top `limit` in any draw are left out (`rankingContenders`: exact).
 */
function choiceInputs(
  cands: Candidates,
  conflicts: readonly (readonly number[])[],
  shown: readonly number[],
  served: ChoiceInputs['served'],
  byMean: readonly number[],
  h: number,
  limit: number,
  ctx: DecisionContext,
  p: DecideParams,
  basis: Basis,
): ChoiceInputs {
  const thompson = p.ranking === 'thompson' && h < 1;
  const seed = thompson || h > 0 ? Math.floor(ctx.random() * 4294967296) : 0;
  const n = cands.vw.length;
  let offers: (ChoiceOffer | null)[] = [];
  if (thompson) {
    let bounds = basis.bounds;
    if (bounds === null) {
      // kept with the basis (they depend on nothing random), else in scratch
      if (basis.kept) bounds = basis.bounds = new Float64Array(2 * n);
      else {
        if (boundsScratch.length < 2 * n) boundsScratch = new Float64Array(Math.max(2 * n, 2 * boundsScratch.length));
        bounds = boundsScratch;
      }
      const lo = bounds.subarray(0, n);
      const hi = bounds.subarray(n, 2 * n);
      const lift = cands.cols.affinityLift;
      for (let i = 0; i < n; i++) {
        let pmin: number;
        let pmax: number;
        if (cands.rows !== null) {
          const row = cands.cols.index![i];
          rowSampling(cands.rows, cands.cols.table!, row, p);
          pmin = cands.rows.min[row];
          pmax = cands.rows.max[row];
        } else {
          const pool = poolOf(cands, i, p);
          pmin = pool.min;
          pmax = pool.max;
        }
        const g = Math.fround(lift[i]);
        lo[i] = Math.min(1, pmin * g) * cands.vw[i];
        hi[i] = Math.min(1, pmax * g) * cands.vw[i];
      }
    }
    const lo = bounds.subarray(0, n);
    const hi = bounds.subarray(n, 2 * n);
    if (basis.kept) {
      // the contenders without the shown ones depend on the bounds alone: found once, their records shared
      let c = basis.contenders;
      if (c === null) {
        const mask = new Uint8Array(n);
        for (const i of contendersByBounds(lo, hi, conflicts, limit, [])) mask[i] = 1;
        // frozen with its records (encodeChoice then encodes the list once)
        c = basis.contenders = { mask, offers: Object.freeze(choiceOffers(cands, p, mask, n).map((o) => (o === null ? null : Object.isFrozen(o) ? o : Object.freeze(o)))) };
      }
      let within = true;
      for (const i of shown) if (c.mask[i] !== 1) within = false;
      if (within) offers = c.offers as (ChoiceOffer | null)[];
      else {
        const mask = c.mask.slice();
        for (const i of shown) mask[i] = 1;
        offers = choiceOffers(cands, p, mask, n);
      }
    } else {
      const mask = new Uint8Array(n);
      for (const i of contendersByBounds(lo, hi, conflicts, limit, shown)) mask[i] = 1;
      offers = choiceOffers(cands, p, mask, n);
    }
  }
  // (two literals, not a spread: the same keys in the same order)
  if (p.ranking === 'mean') {
    return {
      ranking: p.ranking,
      served,
      holdoutShare: h,
      limit,
      n,
      conflicts,
      shown,
      offers,
      greedy: byMean,
      seed,
      draws: p.probabilityDraws,
      poolSize: p.poolSize,
      uniformExactBudget: p.uniformExactBudget,
    };
  }
  return {
    ranking: p.ranking,
    served,
    holdoutShare: h,
    limit,
    n,
    conflicts,
    shown,
    offers,
    seed,
    draws: p.probabilityDraws,
    poolSize: p.poolSize,
    uniformExactBudget: p.uniformExactBudget,
  };
}

/**
 * The choice records of the offers in `mask` (null for the others). A customer's contenders repeat from one decision
 * to the next: their (immutable) records are kept in the columns' memo slots (a stable affinity) while distribution,
 * lift and value × weight stay the same.
 */
function choiceOffers(cands: Candidates, p: DecideParams, mask: Uint8Array, n: number): (ChoiceOffer | null)[] {
  const offers = new Array<ChoiceOffer | null>(n).fill(null);
  const lift = cands.cols.affinityLift;
  const memo = cands.cols.memo;
  const index = cands.cols.index;
  for (let i = 0; i < n; i++) {
    if (mask[i] !== 1) continue;
    const dist = distOf(cands, i, p);
    const g = Math.fround(lift[i]);
    const vw = cands.vw[i];
    if (memo !== undefined && index !== undefined) {
      const known = memo[index[i]] as ChoiceOffer | undefined;
      if (known !== undefined && known.dist === dist && Object.is(known.lift, g) && Object.is(known.vw, vw)) offers[i] = known;
      else offers[i] = memo[index[i]] = Object.freeze({ dist, lift: g, vw });
    } else offers[i] = { dist, lift: g, vw };
  }
  return offers;
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


/**
 * A shown offer of a decision made by decide (a ScoredOffer): `probability` is computed when first read (./choice.ts:
 * the service logs `choice` instead), an own enumerable accessor defined last with shared functions (an object
 * literal's accessors would be new functions per object and leave it in dictionary mode: slow to make and to read).
 */
class Shown {
  offerId: string;
  title: string;
  kind: Offer['kind'];
  score: number;
  propensity: number;
  value: number;
  reason: ScoredOffer['reason'];
  declare probability: number;
  readonly #k: number;
  readonly #at: (k: number) => number;
  constructor(offer: Offer, score: number, propensity: number, value: number, reason: ScoredOffer['reason'], k: number, at: (k: number) => number) {
    this.offerId = offer.id;
    this.title = offer.title;
    this.kind = offer.kind;
    this.score = score;
    this.propensity = propensity;
    this.value = value;
    this.reason = reason;
    this.#k = k;
    this.#at = at;
    Object.defineProperty(this, 'probability', Shown.probability);
  }
  static readonly probability: PropertyDescriptor = {
    get(this: Shown): number {
      return this.#at(this.#k);
    },
    set(this: Shown, v: number): void {
      Object.defineProperty(this, 'probability', { value: v, enumerable: true, writable: true, configurable: true });
    },
    enumerable: true,
    configurable: true,
  };
}

/**
 * A decision made by decide: `considered` made from its trace when first read (the service logs the trace: `traceOf`),
 * an own enumerable accessor defined with shared functions (as Shown's `probability`).
 */
class Decided {
  offers: Decision['offers'];
  holdout: boolean;
  declare considered: Decision['considered'];
  readonly #trace: ConsideredTrace;
  #considered: Decision['considered'] | undefined = undefined;
  constructor(offers: Decision['offers'], holdout: boolean, trace: ConsideredTrace) {
    this.offers = offers;
    this.holdout = holdout;
    this.#trace = trace;
    Object.defineProperty(this, 'considered', Decided.considered);
  }
  static readonly considered: PropertyDescriptor = {
    get(this: Decided): Decision['considered'] {
      return (this.#considered ??= consideredOf(this.#trace));
    },
    set(this: Decided, v: Decision['considered']): void {
      this.#considered = v;
    },
    enumerable: true,
    configurable: true,
  };
  static traceOf(d: object): ConsideredTrace | undefined {
    return #trace in d ? (d as Decided).#trace : undefined;
  }
}

function withTrace(offers: Decision['offers'], holdout: boolean, trace: ConsideredTrace): Decision {
  return new Decided(offers, holdout, trace);
}

/** What `considered` of a decision made by `decide` is made from (compact: the decision log keeps this). */
export function traceOf(decision: Decision): ConsideredTrace | undefined {
  return Decided.traceOf(decision);
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
  const props = offerPropensities(suitable, subject, ctx.channel, stats, p, offers);
  const h = Math.min(1, Math.max(0, ctx.holdoutShare));
  const ranked = new Float64Array(n);
  const vw = Float64Array.from(suitable, (o) => valueOf(o) * weightOf(o));
  if (p.ranking === 'mean') {
    let best = 0;
    for (let i = 1; i < n; i++) if (props[i].propensity * vw[i] > props[best].propensity * vw[best]) best = i;
    ranked[best] = 1;
  } else {
    const pools = props.map((pr) => samplingPool(samplingOf(pr, p), p.poolSize));
    const r = mulberry32(Math.floor(ctx.random() * 4294967296));
    const at = Int32Array.from(pools, () => Math.floor(r() * p.poolSize));
    for (let d = 0; d < draws; d++) {
      // fresh offsets every poolSize draws: a rotation alone pairs the pools' elements in only poolSize ways
      if (d > 0 && d % p.poolSize === 0) for (let k = 0; k < n; k++) at[k] = Math.floor(r() * p.poolSize);
      let best = -1;
      let bestScore = -Infinity;
      for (let k = 0; k < n; k++) {
        const x = pools[k].draws[at[k]] * sampledLift(props[k]);
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
export { choiceProbabilities, pickTop, uniformProbability, type ChoiceInputs, type SamplingDistribution } from './choice.js';
