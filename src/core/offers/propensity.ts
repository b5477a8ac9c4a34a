/**
 * Two models (PropensityParams.model). The default, `hierarchical`, is described at `hierarchicalPropensities`
 * below; this comment describes the earlier `pooled` one.
 *
 * Propensity of one subject to accept one offer: a prior from channel, segment and targeting, a Beta posterior per
 * offer × segment × channel shrunk toward the offer's overall rate (empirical Bayes), and a multiplicative lift from
 * the subject's affinity to the offer's targets.
 *
 *   p0        = clamp(base[channel] × lift[segment] × (targeted ? targetedLift : 1), minPrior, maxPrior)
 *   q         = (m0·p0 + A_offer) / (m0 + S_offer)                       overall rate of the offer, shrunk toward p0
 *   r         = (ms·q + A_seg) / (ms + Σ_ch S_seg,ch·e[ch])              offer × segment at channel effect 1, shrunk toward q
 *   c         = min(0.95, r·e[channel])                                   e: channel effects pooled over the offers (below)
 *   Beta(α,β) : α = m1·c + A_cell,  β = m1·(1 − c) + S_cell − A_cell      the cell offer × segment × channel
 *   μ         = α / (α + β)                                              posterior mean (rate at neutral affinity)
 *   g         = 1 + κ·(affinity − ½)  (1 without personalisation or without an affinity)
 *   propensity = min(1, μ·g);  Thompson sample: θ ~ Beta(α, β), sampled propensity = min(1, θ·g)
 *
 * (A, S: accepted and shown counts from `ResponseStats`; the segment's counts are the sum of its cells over the
 * offer's channels.) The hierarchy is over the rate of a subject of neutral
 * affinity; the affinity lift scales it per subject, so what is learned per cell does not wash the affinity out.
 */
import { SEGMENTS, type Segment } from '../records.js';
import { OFFER_CHANNELS, type DecisionSubject, type Offer, type OfferChannel, type ResponseStats, type StatsSegment } from './types.js';

export interface PropensityParams {
  /**
   * `hierarchical` (default): Gamma–Poisson hierarchy offer → offer × segment → cell with leave-one-out pooling and
   * the upper levels' uncertainty carried down (see `hierarchicalPropensities`), with decide's `sharpening: 4`;
   * `pooled`: the pooled Beta of the module comment, with `sharpening: 1` (POOLED_DECIDE). Chosen on the simulator's
   * validation seeds and population sizes (BENCHMARKS.md, "offer-learn").
   */
  model: 'hierarchical' | 'pooled';
  /** Log-scale spread of an offer's rate around its prior (τ0; prior shape 1/τ0²), hierarchical model. */
  offerSpread: number;
  /** Log-scale spread of an offer's rate in one segment around its rate in the others (τ1). */
  segmentSpread: number;
  /** Log-scale spread of a cell (offer × segment × channel) around its offer × segment rate (τ2). */
  cellSpread: number;
  /**
   * Pseudo-acceptances that hold an offer's channel effect η[offer, channel] (shared by its segments) at 1, hierarchical
   * model; Infinity: no offer × channel level (each cell learns its channel on its own, as before offer-learn3).
   */
  offerChannelStrength: number;
  /**
   * The prior learned across offers (hierarchical model; see `crossOfferPriors`): prior SD of the log level α shared by
   * the offers (their typical rate multiplier over b), and of the slope β of an offer's log rate on its log value.
   * 0 for both: off (every offer's prior is centred on b × m, as before offer-learn5).
   */
  crossOfferLevelSd: number;
  crossOfferValueSd: number;
  /** Estimate each offer's τ1 from its segments' data (`segmentDispersion`; never below segmentSpread). */
  segmentSpreadFromData: boolean;
  /**
   * Exploration floor per offer (hierarchical model; offer-learn7): decide's tempering of the Thompson draws
   * (`sharpening` t) applies in full only once the offer has this many acceptances overall; before, an offer with A
   * acceptances is sampled with t_A = 1 + (t − 1)·min(1, A / sharpeningRamp) (`sharpenWeight`), i.e. from its
   * untempered posterior when it has none, so an offer whose prior is far too low (a cheap, often-accepted one) is
   * still tried until its own responses speak. 0: off (t for every offer, as before offer-learn7); default 5.
   */
  sharpeningRamp: number;
  /**
   * Tempering scaled by the value at stake (hierarchical model; offer-learn8; 0: off; default 1): the sharpening weight w of an offer is
   * multiplied by (vw / v̄)^γ, vw its value × weight, v̄ the mean value × weight of the offer set decided over (all
   * offers, not only the suitable ones), so
   * a dear offer's draws (whose score spreads over more value) are tempered more and a cheap one's less; t_w =
   * 1 + (t − 1)·w stays ≥ 1 (never wider than the posterior).
   */
  valueTempering: number;
  /** Only ever more tempering from the value (the factor (vw / v̄)^γ floored at 1: cheap offers keep their weight). */
  valueTemperingUpOnly: boolean;
  /** Base acceptance rate per channel before anything is learned. */
  channelBase: Record<OfferChannel, number>;
  /** Multiplier of the base rate per stats segment ('unsegmented': a known customer decided on without a segment; 'guest': a session). */
  segmentLift: Record<StatsSegment, number>;
  /** Multiplier when the offer is restricted to segments and the subject is in one of them (the marketer's targeting). */
  targetedLift: number;
  /** Pseudo-trials of the prior p0 in the offer's overall Beta (m0). */
  overallStrength: number;
  /** Pseudo-trials of the overall rate q in the offer × segment rate r (ms). */
  segmentStrength: number;
  /** Pseudo-trials of the offer × segment rate r in each cell's Beta (m1). */
  cellStrength: number;
  /** Least pseudo-acceptances of the segment and cell priors (their pseudo-trials grow to reach it: see `strength`). */
  minPriorAcceptances: number;
  /** Thompson-sample from the cell's marginal posterior (moment-matched Beta including the uncertainty of q and r). */
  propagateUncertainty: boolean;
  /** Pseudo-acceptances that hold each channel effect e[ch] at 1 until data says otherwise (k). */
  channelStrength: number;
  /** Slope κ of the affinity lift g = 1 + κ·(affinity − ½), so g ∈ [1 − κ/2, 1 + κ/2]. */
  affinitySlope: number;
  minPrior: number;
  maxPrior: number;
}

export const PROPENSITY_DEFAULTS: PropensityParams = {
  model: 'hierarchical',
  offerSpread: 0.7,
  segmentSpread: 0.5,
  cellSpread: 0.3,
  // offer-learn3: validation seeds 101–120 and 1,500 / 10,000 customers (BENCHMARKS.md, "offer-learn3")
  offerChannelStrength: 10,
  crossOfferLevelSd: 0,
  crossOfferValueSd: 0,
  segmentSpreadFromData: false,
  // offer-learn7: chosen on validation seeds 101–120, confirmed on 121–140 (BENCHMARKS.md, "offer-learn7")
  sharpeningRamp: 5,
  // offer-learn8: chosen on validation seeds 101–120, confirmed on 121–140 (BENCHMARKS.md, "offer-learn8")
  valueTempering: 1,
  valueTemperingUpOnly: false,
  channelBase: { store: 0.06, app: 0.05, web: 0.035, email: 0.025, push: 0.02, sms: 0.02 },
  segmentLift: { vip: 1.5, loyal: 1.3, high_aov: 1.2, repeat: 1, new: 0.9, at_risk: 0.8, lapsed: 0.6, guest: 0.8, unsegmented: 1 },
  targetedLift: 1.25,
  overallStrength: 10,
  segmentStrength: 20,
  cellStrength: 40,
  channelStrength: 5,
  propagateUncertainty: false,
  minPriorAcceptances: 16,
  affinitySlope: 1.5,
  minPrior: 0.005,
  maxPrior: 0.5,
};

/**
 * The key under which responses of this subject are counted (StatsSegment): its segment when personalised, else
 * 'unsegmented' for a known customer (a customer id) and 'guest' for a session.
 */
export function statsSegment(subject: Pick<DecisionSubject, 'personalised' | 'segment' | 'customerId'>): StatsSegment {
  if (subject.personalised && subject.segment) return subject.segment;
  return subject.customerId != null ? 'unsegmented' : 'guest';
}

/**
 * What one impression of `offer` to `subject` adds to the trials of its response cell (its `shown` count): the
 * affinity lift g the propensity model applies to the subject (1 without personalisation or an affinity). The cell
 * then counts acceptances against the acceptances a subject of neutral affinity would be expected to give, so its
 * rate is the neutral-affinity rate μ that the model multiplies by g again (propensity = μ·g), instead of a mix of
 * high- and low-affinity impressions. The service computes it when an impression is recorded (offer-service.ts),
 * the simulator when its learned policy's offer is shown (offer-simulation.ts), with the same function.
 */
export function impressionExposure(offer: Offer, subject: Pick<DecisionSubject, 'personalised' | 'affinity'>, p: Pick<PropensityParams, 'affinitySlope'> = PROPENSITY_DEFAULTS): number {
  // the lift of the propensity models below (affinityLift), without the affinity record they keep
  const aff = subject.personalised ? subject.affinity(offer) : null;
  const g = aff && Number.isFinite(aff.score) ? 1 + p.affinitySlope * (Math.min(1, Math.max(0, aff.score)) - 0.5) : 1;
  // a slope above 2 can make g 0 at affinity 0: such an impression still counts a little
  return Number.isFinite(g) ? Math.max(0.01, g) : 1;
}

export interface OfferPropensity {
  /** p0: the prior rate at neutral affinity. */
  prior: number;
  /** q: the offer's overall rate shrunk toward p0. */
  overall: number;
  /** r: the offer's rate in the subject's segment at channel effect 1, shrunk toward q. */
  segmentRate: number;
  /** e[channel]: this channel's effect for the subject's segment, pooled over the offers decided on. */
  channelEffect: number;
  alpha: number;
  beta: number;
  /** μ = α / (α + β). */
  posteriorMean: number;
  /** g: multiplicative lift from affinity (1 when none is used). */
  affinityLift: number;
  /** min(1, μ·g). */
  propensity: number;
  /** The affinity used (null: none or not personalised). */
  affinity: { score: number; sku?: string; category?: string } | null;
  /** Whether the offer is restricted to segments and the subject matched (a targeted offer). */
  targeted: boolean;
  /**
   * w ∈ [0, 1]: how much of decide's sharpening t its Thompson draws get, t_w = 1 + (t − 1)·w (`sharpeningRamp`; 1
   * when off; see `temperedSharpening`).
   */
  sharpenWeight: number;
}

/** The sharpening a Thompson draw gets: t itself at weight 1 (exactly), else 1 + (t − 1)·w (see sharpeningRamp). */
export function temperedSharpening(t: number, w: number): number {
  return w === 1 ? t : 1 + (t - 1) * w;
}

/** The weight of the sharpening for an offer with `accepted` acceptances overall (see sharpeningRamp). */
function sharpenWeightOf(accepted: number, p: PropensityParams): number {
  return p.sharpeningRamp > 0 && accepted < p.sharpeningRamp ? accepted / p.sharpeningRamp : 1;
}

const nonNegative = (x: number): number => (Number.isFinite(x) && x > 0 ? x : 0);

function counts(c: { accepted: number; shown: number } | undefined): { a: number; s: number } {
  const s = nonNegative(c?.shown ?? 0);
  return { a: Math.min(nonNegative(c?.accepted ?? 0), s), s };
}

/**
 * Pseudo-trials of a level's prior: its strength, or more when the centre is so low that the prior would hold fewer
 * than `minPriorAcceptances` pseudo-acceptances (a Beta(m·c, m·(1 − c)) with m·c ≪ 1 spreads a low rate over orders
 * of magnitude, and Thompson sampling would keep trying a high-value, low-rate offer long after its rate is known),
 * but never more than the trials behind the centre (`support`): a new offer's prior stays as wide as its data.
 */
function strength(base: number, centre: number, support: number, p: PropensityParams): number {
  return centre > 0 ? Math.max(base, Math.min(support, p.minPriorAcceptances / centre)) : base;
}

/** Accepted and shown counts of one offer in one segment, per channel (index of OFFER_CHANNELS). */
interface SegmentCells {
  a: Float64Array;
  s: Float64Array;
  /** Sums over the offer's channels. */
  sumA: number;
  sumS: number;
}

function segmentCells(offer: Offer, seg: StatsSegment, stats: ResponseStats): SegmentCells {
  const a = new Float64Array(OFFER_CHANNELS.length);
  const s = new Float64Array(OFFER_CHANNELS.length);
  const only = offer.channels.length > 0 ? offer.channels : null;
  let sumA = 0;
  let sumS = 0;
  if (stats.segmentRow) {
    // the same numbers in one lookup
    const row = stats.segmentRow(offer.id, seg);
    if (row === undefined) return { a, s, sumA, sumS };
    for (let i = 0; i < OFFER_CHANNELS.length; i++) {
      if (only !== null && !only.includes(OFFER_CHANNELS[i])) continue;
      const shown = nonNegative(row.shown[i]);
      const accepted = Math.min(nonNegative(row.accepted[i]), shown);
      a[i] = accepted;
      s[i] = shown;
      sumA += accepted;
      sumS += shown;
    }
    return { a, s, sumA, sumS };
  }
  for (let i = 0; i < OFFER_CHANNELS.length; i++) {
    const ch = OFFER_CHANNELS[i];
    if (only !== null && !only.includes(ch)) continue;
    const c = stats.cell(offer.id, seg, ch);
    // counts(c), without the object
    const shown = nonNegative(c?.shown ?? 0);
    const accepted = Math.min(nonNegative(c?.accepted ?? 0), shown);
    a[i] = accepted;
    s[i] = shown;
    sumA += accepted;
    sumS += shown;
  }
  return { a, s, sumA, sumS };
}

/**
 * Propensities of `subject` for each of `offers` through `channel` (see the module comment), with one more level of
 * pooling ACROSS the offers: a multiplicative channel effect e[ch] for the subject's segment, observed over expected
 * acceptances of these offers in that channel, smoothed toward 1 by `channelStrength` pseudo-acceptances:
 *   e[ch] = (Σ_o A[o,ch] + k) / (Σ_o S[o,ch]·ρ_o + k),   ρ_o = (ms·q_o + A_seg,o) / (ms + S_seg,o)
 * and then r = (ms·q + A_seg) / (ms + Σ_ch S[ch]·e[ch]) is the offer × segment rate at channel effect 1,
 * the cell's Beta centred on min(0.95, r·e[channel]).
 */
export function offerPropensities(
  offers: readonly Offer[],
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
  pool: readonly Offer[] = offers,
): OfferPropensity[] {
  if (p.model !== 'pooled') return hierarchicalPropensities(offers, subject, channel, stats, p, pool);
  return pooledPropensities(offers, subject, channel, stats, p);
}

/** The earlier model (`model: 'pooled'`): see the module comment. */
export function pooledPropensities(
  offers: readonly Offer[],
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
): OfferPropensity[] {
  const seg = statsSegment(subject);
  const ci = OFFER_CHANNELS.indexOf(channel);
  const base = offers.map((offer) => {
    const segs = offer.eligibility?.segments;
    const targeted = subject.personalised && subject.segment != null && !!segs && segs.length > 0 && segs.includes(subject.segment);
    const raw = p.channelBase[channel] * p.segmentLift[seg] * (targeted ? p.targetedLift : 1);
    const prior = Math.min(p.maxPrior, Math.max(p.minPrior, raw));
    const o = counts(stats.overall(offer.id));
    const overall = (p.overallStrength * prior + o.a) / (p.overallStrength + o.s);
    const cells = segmentCells(offer, seg, stats);
    const ms = strength(p.segmentStrength, overall, p.overallStrength + o.s, p);
    return { targeted, prior, overall, shown: o.s, cells, ms, rho: (ms * overall + cells.sumA) / (ms + cells.sumS) };
  });
  const effect = OFFER_CHANNELS.map((_, i) => {
    let acc = 0;
    let expected = 0;
    for (const b of base) {
      acc += b.cells.a[i];
      expected += b.cells.s[i] * b.rho;
    }
    return (acc + p.channelStrength) / (expected + p.channelStrength);
  });
  return offers.map((offer, k) => {
    const { targeted, prior, overall, cells, ms } = base[k];
    let exposure = 0;
    for (let i = 0; i < OFFER_CHANNELS.length; i++) exposure += cells.s[i] * effect[i];
    const segmentRate = (ms * overall + cells.sumA) / (ms + exposure);
    const centre = Math.min(0.95, segmentRate * effect[ci]);
    const m1 = strength(p.cellStrength, centre, ms + exposure, p);
    const cellA = cells.a[ci];
    const cellS = cells.s[ci];
    const posteriorMean = (m1 * centre + cellA) / (m1 + cellS);
    let alpha: number;
    let beta: number;
    if (p.propagateUncertainty) {
      // moment-matched marginal posterior: the uncertainty of q and r widens the cell's Beta
      const varQ = (overall * (1 - overall)) / (p.overallStrength + base[k].shown + 1);
      const wR = ms / (ms + exposure);
      const varR = (segmentRate * (1 - segmentRate)) / (ms + exposure + 1) + wR * wR * varQ;
      const wC = (m1 * effect[ci]) / (m1 + cellS);
      const m = posteriorMean;
      const v = (m * (1 - m)) / (m1 + cellS + 1) + wC * wC * varR;
      const strength = Math.max(1e-3, (m * (1 - m)) / v - 1);
      alpha = Math.max(1e-3, m * strength);
      beta = Math.max(1e-3, (1 - m) * strength);
    } else {
      alpha = m1 * centre + cellA;
      beta = m1 * (1 - centre) + (cellS - cellA);
    }
    const aff = subject.personalised ? subject.affinity(offer) : null;
    const affinity = aff && Number.isFinite(aff.score) ? { ...aff, score: Math.min(1, Math.max(0, aff.score)) } : null;
    const affinityLift = affinity ? 1 + p.affinitySlope * (affinity.score - 0.5) : 1;
    return {
      prior,
      overall,
      segmentRate,
      channelEffect: effect[ci],
      alpha,
      beta,
      posteriorMean,
      affinityLift,
      propensity: Math.min(1, posteriorMean * affinityLift),
      affinity,
      targeted,
      sharpenWeight: 1,
    };
  });
}

/**
 * The hierarchical model as validated (spreads 0.7 / 0.5 / 0.3; Thompson draws tempered ×4 since offer-lift, where
 * impressions count as their affinity lift: ×2 before; the offer × channel level with 10 pseudo-acceptances since
 * offer-learn3): the defaults.
 */
export const HIERARCHICAL_DECIDE = { model: 'hierarchical', offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, offerChannelStrength: 10, sharpening: 4 } as const;
/** The earlier pooled model as it was served until offer-learn (plain Thompson sampling): `makeDecide(POOLED_DECIDE)`. */
export const POOLED_DECIDE = { model: 'pooled', sharpening: 1 } as const;

const STATS_SEGMENTS: readonly StatsSegment[] = [...SEGMENTS, 'guest', 'unsegmented'];

/** The prior's rate of a typical offer in segment × channel: b(s, c) = channelBase[c] × segmentLift[s]. */
const baseRate = (p: PropensityParams, seg: StatsSegment, ch: OfferChannel): number =>
  Math.min(p.maxPrior, Math.max(p.minPrior, p.channelBase[ch] * p.segmentLift[seg]));

/**
 * One offer's counts by segment (index of STATS_SEGMENTS): acceptances A, and exposure X = Σ_ch shown·b(s, ch),
 * i.e. the acceptances a typical offer would have had. Cached per stats object and offer, recomputed when the
 * offer's overall counts change (every response changes them), so a decision reads the 8 × 6 cells of an offer only
 * after a response to it.
 */
interface OfferExposure {
  shown: number;
  accepted: number;
  params: PropensityParams;
  channels: readonly OfferChannel[];
  a: Float64Array;
  x: Float64Array;
  sumA: number;
  sumX: number;
  /** Trials in the cells (the overall count may hold more: trials of no known segment or channel). */
  sumS: number;
  /**
   * Each cell's accepted and shown counts (`segmentCells`), at segment × OFFER_CHANNELS.length + channel; null when
   * the offer was never shown. Read with the rest, so a decision reads no cell of an offer between its responses.
   */
  cellA: Float64Array | null;
  cellS: Float64Array | null;
  /**
   * The offer × channel level (null when off or the offer was never shown): η[s, ch] at segment × channels + channel,
   * the offer's effect of channel ch estimated from the OTHER segments' cells (leave-one-segment-out, so a cell's
   * responses do not count twice); xEta[s] = Σ_ch X[s, ch]·η[s, ch] (this segment's exposure at channel effect 1),
   * xEtaOther[s] = Σ_{s' ≠ s} Σ_ch X[s', ch]·η[s, ch] (the other segments', for the offer level).
   */
  eta: Float64Array | null;
  xEta: Float64Array | null;
  xEtaOther: Float64Array | null;
  /** τ1² of this offer (segmentSpread², or more when its segments' rates differ more: `segmentSpreadFromData`). */
  t1: number;
}
const exposures = new WeakMap<ResponseStats, Map<string, OfferExposure>>();

function exposuresOf(stats: ResponseStats): Map<string, OfferExposure> {
  let byOffer = exposures.get(stats);
  if (!byOffer) exposures.set(stats, (byOffer = new Map()));
  return byOffer;
}

function offerExposure(offer: Offer, stats: ResponseStats, p: PropensityParams, byOffer: Map<string, OfferExposure>): OfferExposure {
  const o = stats.overall(offer.id);
  const shown = nonNegative(o?.shown ?? 0);
  const accepted = nonNegative(o?.accepted ?? 0);
  const known = byOffer.get(offer.id);
  if (known && known.shown === shown && known.accepted === accepted && known.params === p && known.channels === offer.channels) return known;
  const a = new Float64Array(STATS_SEGMENTS.length);
  const x = new Float64Array(STATS_SEGMENTS.length);
  let sumA = 0;
  let sumX = 0;
  let sumS = 0;
  const nc = OFFER_CHANNELS.length;
  const cellA = shown > 0 ? new Float64Array(STATS_SEGMENTS.length * nc) : null;
  const cellS = shown > 0 ? new Float64Array(STATS_SEGMENTS.length * nc) : null;
  if (shown > 0) {
    STATS_SEGMENTS.forEach((seg, k) => {
      const cells = segmentCells(offer, seg, stats);
      cellA!.set(cells.a, k * nc);
      cellS!.set(cells.s, k * nc);
      let xs = 0;
      for (let i = 0; i < OFFER_CHANNELS.length; i++) if (cells.s[i] > 0) xs += cells.s[i] * baseRate(p, seg, OFFER_CHANNELS[i]);
      a[k] = cells.sumA;
      x[k] = xs;
      sumA += cells.sumA;
      sumX += xs;
      sumS += cells.sumS;
    });
  }
  const lvl = shown > 0 && Number.isFinite(p.offerChannelStrength) ? offerChannelLevel(a, x, cellA!, cellS!, p) : null;
  const e: OfferExposure = {
    shown, accepted, params: p, channels: offer.channels, a, x, sumA, sumX, sumS, cellA, cellS,
    eta: lvl?.eta ?? null, xEta: lvl?.xEta ?? null, xEtaOther: lvl?.xEtaOther ?? null,
    t1: p.segmentSpreadFromData ? segmentDispersion(a, x, p) : p.segmentSpread * p.segmentSpread,
  };
  if (byOffer.size >= 65_536) byOffer.clear();
  byOffer.set(offer.id, e);
  return e;
}

/**
 * Empirical Bayes (offer-learn5, `segmentSpreadFromData`): τ1² of one offer from how much its segments' rates differ
 * (DerSimonian–Laird on the log rate multipliers y_s = log((A_s + ½)/(X_s·λ + ½)), λ = (A + 1)/(X + 1), within-segment
 * variance 1/(A_s + ½)), never below segmentSpread² (the data may only widen the segments' spread, so an offer whose
 * rate differs a lot by segment, e.g. one that only some segments take up, is shrunk less toward its overall rate).
 */
function segmentDispersion(a: Float64Array, x: Float64Array, p: PropensityParams): number {
  const floor = p.segmentSpread * p.segmentSpread;
  let totA = 0;
  let totX = 0;
  for (let s = 0; s < a.length; s++) {
    totA += a[s];
    totX += x[s];
  }
  const lam = (totA + 1) / (totX + 1);
  let k = 0, sw = 0, sww = 0, swy = 0, swyy = 0;
  for (let s = 0; s < a.length; s++) {
    if (!(x[s] > 0)) continue;
    const y = Math.log((a[s] + 0.5) / (x[s] * lam + 0.5));
    const w = a[s] + 0.5;
    k++;
    sw += w;
    sww += w * w;
    swy += w * y;
    swyy += w * y * y;
  }
  if (k < 2) return floor;
  const q = swyy - (swy * swy) / sw;
  const tau2 = (q - (k - 1)) / (sw - sww / sw);
  return Number.isFinite(tau2) ? Math.max(floor, Math.min(4, tau2)) : floor;
}

/**
 * The offer × channel level of one offer (see OfferExposure.eta), from its cells' acceptances A[s, ch] and exposures
 * X[s, ch] = shown·b(s, ch): each segment's rate multiplier λ[s] (Gamma prior of shape 1/τ1² around the offer's
 * overall multiplier) and the channel effects η[ch] = (Σ_s A[s, ch] + k) / (Σ_s λ[s]·X[s, ch] + k), alternated a few
 * times; then, for each segment s, η[s, ch] is the same ratio without segment s's cells. Computed when the offer's
 * counts change (with its exposure), not per decision.
 */
function offerChannelLevel(a: Float64Array, x: Float64Array, cellA: Float64Array, cellS: Float64Array, p: PropensityParams): { eta: Float64Array; xEta: Float64Array; xEtaOther: Float64Array } {
  const ns = STATS_SEGMENTS.length;
  const nc = OFFER_CHANNELS.length;
  const k = p.offerChannelStrength;
  const ks = 1 / (p.segmentSpread * p.segmentSpread);
  // scratch (module-level: recomputed per offer when its counts change, on the decision path)
  const { cx, lam, full, colA, colE } = levelScratch;
  let totA = 0;
  let totX = 0;
  for (let s = 0; s < ns; s++) {
    totA += a[s];
    totX += x[s];
    for (let c = 0; c < nc; c++) cx[s * nc + c] = cellS[s * nc + c] * baseRate(p, STATS_SEGMENTS[s], OFFER_CHANNELS[c]);
  }
  const lamAll = (totA + 1) / (totX + 1);
  full.fill(1);
  for (let it = 0; it < 3; it++) {
    for (let s = 0; s < ns; s++) {
      let xe = 0;
      for (let c = 0; c < nc; c++) xe += cx[s * nc + c] * full[c];
      lam[s] = (ks + a[s]) / (ks / lamAll + xe);
    }
    for (let c = 0; c < nc; c++) {
      let ac = 0;
      let ec = 0;
      for (let s = 0; s < ns; s++) {
        ac += cellA[s * nc + c];
        ec += lam[s] * cx[s * nc + c];
      }
      full[c] = (ac + k) / (ec + k);
    }
  }
  colA.fill(0);
  colE.fill(0);
  for (let c = 0; c < nc; c++) {
    for (let s = 0; s < ns; s++) {
      colA[c] += cellA[s * nc + c];
      colE[c] += lam[s] * cx[s * nc + c];
    }
  }
  // one allocation for the three (kept with the offer's exposure)
  const out = new Float64Array(ns * nc + 2 * ns);
  const eta = out.subarray(0, ns * nc);
  const xEta = out.subarray(ns * nc, ns * nc + ns);
  const xEtaOther = out.subarray(ns * nc + ns);
  for (let s = 0; s < ns; s++) {
    for (let c = 0; c < nc; c++) {
      const at = s * nc + c;
      const e = (Math.max(0, colA[c] - cellA[at]) + k) / (Math.max(0, colE[c] - lam[s] * cx[at]) + k);
      eta[at] = e;
      xEta[s] += cx[at] * e;
      let colX = 0;
      for (let s2 = 0; s2 < ns; s2++) if (s2 !== s) colX += cx[s2 * nc + c];
      xEtaOther[s] += colX * e;
    }
  }
  return { eta, xEta, xEtaOther };
}
const levelScratch = {
  cx: new Float64Array(STATS_SEGMENTS.length * OFFER_CHANNELS.length),
  lam: new Float64Array(STATS_SEGMENTS.length),
  full: new Float64Array(OFFER_CHANNELS.length),
  colA: new Float64Array(OFFER_CHANNELS.length),
  colE: new Float64Array(OFFER_CHANNELS.length),
};

/**
 * The hierarchical model (`model: 'hierarchical'`, the default). Rates are multipliers λ of the prior's typical rate
 * b(s, c) = channelBase[c] × segmentLift[s], counts are acceptances A against exposure X = Σ shown·b (what a typical
 * offer would have had), and each level is a Gamma–Poisson posterior whose prior is the level above, computed
 * WITHOUT the data of the level below (leave-one-out), so no response counts twice, and with the level above's
 * uncertainty carried down (a Gamma of shape K has log-variance ≈ 1/K; a level's prior shape is 1/(1/K_above + τ²)):
 *
 *   offer      λo ~ Gamma(K0, K0/λo):  K0 = 1/τ0² + A_o,−s,  λo = K0 / (1/(τ0²·m) + X_o,−s)   (other segments' data;
 *              m = targetedLift for a segment-restricted offer, else 1)
 *   segment    κs = 1/(1/K0 + τ1²),  Ks = κs + A_s,−c,  λs = Ks / (κs/λo + X_s,−c)            (this segment, other channels)
 *   cell       κc = 1/(1/Ks + τ2²),  K = κc + A_c,  R = κc/(λs·η) + X_c                        (this cell)
 *
 * with the offer × channel level (`offerChannelStrength` k finite, the default since offer-learn3): η = η[s, c], the
 * offer's effect of channel c learned from the OTHER segments (`offerChannelLevel`), and the exposures X of the offer
 * and segment levels taken at channel effect 1 (Σ X·η), so an offer's channel effect seen in some segments carries to
 * a segment that has not seen that channel; k = Infinity: η = 1 (the model before offer-learn3).
 *   rate θ = λ·b(s, c),  λ ~ Gamma(K, R), so θ ~ Gamma(K, R/b) ≈ Beta(K, R/b − K) (rates are small)
 *
 * A new offer's rate is spread over a factor e^τ0 around its prior, so one whose rate is many times the prior still
 * gets sampled high now and then and tried (Thompson sampling), and a bad one's K grows and its draws stay low. A
 * sparse cell sits at its offer × segment rate, a sparse segment at the offer's rate in the others. The affinity lift
 * g scales the sampled rate per subject as in the pooled model.
 */
export function hierarchicalPropensities(
  offers: readonly Offer[],
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
  pool: readonly Offer[] = offers,
): OfferPropensity[] {
  const cols = hierarchicalColumns(offers, subject, channel, stats, p, pool);
  return offers.map((_, i) => propensityAt(cols, i));
}

/**
 * Propensities as columns, one entry per offer (what `decide` reads for every suitable offer, without an object per
 * offer): `propensityAt(cols, i)` is the i-th OfferPropensity exactly as `offerPropensities` gives it.
 */
export interface PropensityColumns {
  n: number;
  prior: Float64Array;
  overall: Float64Array;
  segmentRate: Float64Array;
  channelEffect: Float64Array;
  alpha: Float64Array;
  beta: Float64Array;
  posteriorMean: Float64Array;
  affinityLift: Float64Array;
  propensity: Float64Array;
  /** The affinity as the subject gave it (null: none, not finite, or not personalised); `propensityAt` clamps its score. */
  affinity: ({ score: number; sku?: string; category?: string } | null)[];
  targeted: Uint8Array;
  /** OfferPropensity.sharpenWeight per offer. */
  sharpenWeight: Float64Array;
  /** `propensityColumnsOf`: the set's table the subject-independent columns were read from, and the rows read. */
  table?: PropensityColumns;
  index?: readonly number[];
  /**
   * `propensityColumnsOf` with a stable affinity function: a slot per offer of the set, kept with the subject's
   * affinity answers, where the caller may keep an immutable object derived from them (decide: a ChoiceOffer).
   */
  memo?: unknown[];
}

function columns(n: number): PropensityColumns {
  // one buffer for the ten (a typed array of more than a few elements is a separate allocation each)
  const buf = new Float64Array(10 * n);
  const f = (k: number) => buf.subarray(k * n, (k + 1) * n);
  return {
    n,
    prior: f(0),
    overall: f(1),
    segmentRate: f(2),
    channelEffect: f(3),
    alpha: f(4),
    beta: f(5),
    posteriorMean: f(6),
    affinityLift: f(7),
    propensity: f(8),
    affinity: new Array(n).fill(null),
    targeted: new Uint8Array(n),
    sharpenWeight: f(9).fill(1),
  };
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/** The i-th propensity of `cols` as an object (the one `offerPropensities` gives). */
export function propensityAt(cols: PropensityColumns, i: number): OfferPropensity {
  const aff = cols.affinity[i];
  return {
    prior: cols.prior[i],
    overall: cols.overall[i],
    segmentRate: cols.segmentRate[i],
    channelEffect: cols.channelEffect[i],
    alpha: cols.alpha[i],
    beta: cols.beta[i],
    posteriorMean: cols.posteriorMean[i],
    affinityLift: cols.affinityLift[i],
    propensity: cols.propensity[i],
    affinity: aff ? { ...aff, score: clamp01(aff.score) } : null,
    targeted: cols.targeted[i] === 1,
    sharpenWeight: cols.sharpenWeight[i],
  };
}

/** `offerPropensities` as columns (see PropensityColumns). */
export function propensityColumns(
  offers: readonly Offer[],
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
  pool: readonly Offer[] = offers,
): PropensityColumns {
  if (p.model !== 'pooled') return hierarchicalColumns(offers, subject, channel, stats, p, pool);
  const props = pooledPropensities(offers, subject, channel, stats, p);
  const cols = columns(props.length);
  props.forEach((x, i) => {
    cols.prior[i] = x.prior;
    cols.overall[i] = x.overall;
    cols.segmentRate[i] = x.segmentRate;
    cols.channelEffect[i] = x.channelEffect;
    cols.alpha[i] = x.alpha;
    cols.beta[i] = x.beta;
    cols.posteriorMean[i] = x.posteriorMean;
    cols.affinityLift[i] = x.affinityLift;
    cols.propensity[i] = x.propensity;
    cols.affinity[i] = x.affinity;
    cols.targeted[i] = x.targeted ? 1 : 0;
    cols.sharpenWeight[i] = x.sharpenWeight;
  });
  return cols;
}

function hierarchicalColumns(
  offers: readonly Offer[],
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams,
  pool: readonly Offer[],
): PropensityColumns {
  const seg = statsSegment(subject);
  const cache = exposuresOf(stats);
  const n = offers.length;
  const out = columns(n);
  const fit = crossOfferOn(p) ? crossOfferPriors(pool, stats, p, cache) : null;
  const valueRef = p.valueTempering !== 0 ? meanValueWeight(pool) : 0;
  for (let i = 0; i < n; i++) {
    hierarchicalRow(offers[i], seg, channel, stats, p, cache, out, i, fit === null ? 1 : fit.factorOf(offers[i]), valueRef);
    affinityColumns(offers[i], subject, p, out, i);
  }
  return out;
}

/** The affinity columns of `out` at i (affinity, its lift, the propensity: needs posteriorMean at i). */
function affinityColumns(offer: Offer, subject: DecisionSubject, p: PropensityParams, out: PropensityColumns, i: number): void {
  const aff = subject.personalised ? subject.affinity(offer) : null;
  const affinity = aff && Number.isFinite(aff.score) ? aff : null;
  const affinityLift = affinity ? 1 + p.affinitySlope * (clamp01(affinity.score) - 0.5) : 1;
  out.affinityLift[i] = affinityLift;
  out.propensity[i] = Math.min(1, out.posteriorMean[i] * affinityLift);
  out.affinity[i] = affinity;
}

/**
 * The columns of `out` at i that depend on the subject only through its stats segment `seg` (`statsSegment`: a
 * personalised subject's segment, else 'unsegmented' or 'guest'): all but the affinity ones. The hierarchical model's arithmetic.
 */
function hierarchicalRow(
  offer: Offer,
  seg: StatsSegment,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams,
  cache: Map<string, OfferExposure>,
  out: PropensityColumns,
  i: number,
  /** The offer's prior factor learned across offers (`crossOfferPriors`; 1: none). */
  factor = 1,
  /** The mean value × weight of the offer set (`valueTempering`; read only when that is on). */
  valueRef = 0,
): void {
  const si = STATS_SEGMENTS.indexOf(seg);
  const ci = OFFER_CHANNELS.indexOf(channel);
  const b = baseRate(p, seg, channel);
  const k0 = 1 / (p.offerSpread * p.offerSpread);
  const t2 = p.cellSpread * p.cellSpread;
  const segs = offer.eligibility?.segments;
  const restricted = !!segs && segs.length > 0;
  // personalised with a segment (statsSegment is 'guest' or 'unsegmented' otherwise) and in one of the offer's
  const targeted = seg !== 'guest' && seg !== 'unsegmented' && restricted && segs.includes(seg);
  const m = (restricted ? p.targetedLift : 1) * factor;
  const ex = offerExposure(offer, stats, p, cache);
  // the cell's counts as the exposure read them (segmentCells of this segment: see OfferExposure)
  const at = si * OFFER_CHANNELS.length + ci;
  // offer level, from the other segments
  const aSeg = ex.a[si];
  const xSeg = ex.x[si];
  // trials counted overall but in no cell (no known segment or channel) weigh as this context's typical rate
  const otherA = Math.max(0, Math.min(ex.accepted, ex.shown) - ex.sumA) + Math.max(0, ex.sumA - aSeg);
  // with the offer × channel level, exposures are at channel effect 1 (X·η) and the cell's prior is centred on λs·η
  const eta = ex.eta ? ex.eta[at] : 1;
  const otherX = Math.max(0, ex.shown - ex.sumS) * b + (ex.xEtaOther ? ex.xEtaOther[si] : Math.max(0, ex.sumX - xSeg));
  const K0 = k0 + otherA;
  const lamO = K0 / (k0 / m + otherX);
  // segment level, from this segment's other channels
  const cellA = ex.cellA ? ex.cellA[at] : 0;
  const cellX = ex.cellS ? ex.cellS[at] * b : 0;
  const ks = 1 / (1 / K0 + ex.t1);
  const Ks = ks + Math.max(0, aSeg - cellA);
  const lamS = Ks / (ks / lamO + Math.max(0, (ex.xEta ? ex.xEta[si] : xSeg) - cellX * eta));
  // the cell
  const kc = 1 / (1 / Ks + t2);
  const K = kc + cellA;
  const R = kc / (lamS * eta) + cellX;
  const rate = R / b;
  const posteriorMean = Math.min(0.95, K / rate);
  out.prior[i] = Math.min(p.maxPrior, b * m);
  out.overall[i] = lamO * b;
  out.segmentRate[i] = lamS * b;
  out.channelEffect[i] = eta;
  out.alpha[i] = K;
  out.beta[i] = Math.max(1e-3, rate - K, (K * 0.05) / 0.95);
  out.posteriorMean[i] = posteriorMean;
  out.targeted[i] = targeted ? 1 : 0;
  let w = sharpenWeightOf(Math.min(ex.accepted, ex.shown), p);
  if (p.valueTempering !== 0 && w > 0 && valueRef > 0) {
    const f = Math.pow(Math.max(0, valueWeightOf(offer)) / valueRef, p.valueTempering);
    w *= p.valueTemperingUpOnly ? Math.max(1, f) : f;
  }
  out.sharpenWeight[i] = w;
}

/** value × weight of an offer (0 / 1 where not finite, as decide reads them). */
const valueWeightOf = (o: Offer): number => (Number.isFinite(o.value) ? o.value : 0) * (Number.isFinite(o.weight) ? o.weight : 1);

/** The mean value × weight of an offer set (`valueTempering`'s v̄). */
function meanValueWeight(set: readonly Offer[]): number {
  let s = 0;
  for (const o of set) s += Math.max(0, valueWeightOf(o));
  return set.length > 0 ? s / set.length : 0;
}


// ---------- the prior learned across offers ----------

const crossOfferOn = (p: PropensityParams): boolean => p.model !== 'pooled' && (p.crossOfferLevelSd > 0 || p.crossOfferValueSd > 0);

/** Quantum of a prior factor's log (so a factor, and the rows computed from it, change only by a step of ≈ 3 %). */
const FACTOR_STEP = 1 / 32;

export interface CrossOfferFit {
  /** Per offer of the pool (in order): its prior factor, fitted WITHOUT its own responses. */
  factor: Float64Array;
  /** The factor of an offer (of the pool by id; otherwise fitted on the whole pool). */
  factorOf(offer: Offer): number;
}

/**
 * The prior learned across offers (offer-learn5). Before an offer has data of its own, what the OTHER offers' responses
 * say about offers like it is a better prior than one guess for all: a cheap offer is typically accepted far more
 * often than a dear one. Over the pool (the offers decided on), each offer's observed log rate multiplier
 *   y_o = log((A_o + ½) / (X_o·m_o + ½)),  weight w_o = 1 / (τ0² + 1/(A_o + ½))
 * (A, X: its acceptances and exposure over all cells, see OfferExposure; m_o: the targeted lift of a segment-restricted
 * offer) is regressed on its log value, centred over the pool: y = α + β·z, z_o = log(max(value, 0.01)) − mean z,
 * a weighted ridge regression with priors α ~ N(0, σα²), β ~ N(0, σβ²) (σα = crossOfferLevelSd, σβ =
 * crossOfferValueSd; an SD of 0 holds that coefficient at 0). For offer o the regression is fitted without o
 * (leave-one-out, so no response counts twice), and its offer level's prior mean is b × m_o × f_o,
 *   f_o = exp(α₋o + β₋o·z_o), clamped to [1/20, 20] and rounded to a step of 1/32 in log.
 * Offers never shown weigh nothing; with no data on other offers f = 1 (the prior without it).
 */
export function crossOfferPriors(pool: readonly Offer[], stats: ResponseStats, p: PropensityParams, cache: Map<string, OfferExposure> = exposuresOf(stats)): CrossOfferFit {
  const n = pool.length;
  const st = poolStatic(pool, p);
  const { z, w, y, seen } = st;
  let sw = 0, swz = 0, swzz = 0, swy = 0, swzy = 0;
  for (let i = 0; i < n; i++) {
    const ex = offerExposure(pool[i], stats, p, cache);
    if (seen[i] !== ex) {
      // this offer's term, recomputed only when its counts changed (its exposure object is new then)
      seen[i] = ex;
      if (ex.sumX > 0) {
        w[i] = 1 / (st.t0 + 1 / (ex.sumA + 0.5));
        y[i] = Math.log((ex.sumA + 0.5) / (ex.sumX * st.m[i] + 0.5));
      } else w[i] = y[i] = 0;
    }
    const wi = w[i];
    if (wi === 0) continue;
    sw += wi;
    swz += wi * z[i];
    swzz += wi * z[i] * z[i];
    swy += wi * y[i];
    swzy += wi * z[i] * y[i];
  }
  const pa = p.crossOfferLevelSd > 0 ? 1 / (p.crossOfferLevelSd * p.crossOfferLevelSd) : Infinity;
  const pb = p.crossOfferValueSd > 0 ? 1 / (p.crossOfferValueSd * p.crossOfferValueSd) : Infinity;
  const solve = (Sw: number, Swz: number, Swzz: number, Swy: number, Swzy: number, zi: number): number => {
    let a = 0;
    let b = 0;
    if (pa === Infinity && pb !== Infinity) b = Swzy / (Swzz + pb);
    else if (pb === Infinity && pa !== Infinity) a = Swy / (Sw + pa);
    else if (pa !== Infinity) {
      const a11 = Sw + pa, a12 = Swz, a22 = Swzz + pb;
      const det = a11 * a22 - a12 * a12;
      if (det > 0) {
        a = (a22 * Swy - a12 * Swzy) / det;
        b = (a11 * Swzy - a12 * Swy) / det;
      }
    }
    const lf = Math.min(Math.log(20), Math.max(-Math.log(20), a + b * zi));
    return Math.exp(Math.round(lf / FACTOR_STEP) * FACTOR_STEP);
  };
  const factor = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const wi = w[i];
    factor[i] = solve(sw - wi, swz - wi * z[i], swzz - wi * z[i] * z[i], swy - wi * y[i], swzy - wi * z[i] * y[i], z[i]);
  }
  return {
    factor,
    factorOf(offer: Offer): number {
      const i = st.index.get(offer.id);
      if (i !== undefined && pool[i] === offer) return factor[i];
      const v = offer.value;
      return solve(sw, swz, swzz, swy, swzy, Math.log(Math.max(0.01, Number.isFinite(v) ? v : 0.01)) - st.zMean);
    },
  };
}

/**
 * What `crossOfferPriors` keeps per pool (an array, by identity) and parameters: each offer's centred log value z, its
 * targeted lift m, its index by id, and its last term (weight w, log rate y) with the exposure it came from.
 */
interface PoolStatic {
  z: Float64Array;
  m: Float64Array;
  zMean: number;
  t0: number;
  index: Map<string, number>;
  w: Float64Array;
  y: Float64Array;
  seen: (OfferExposure | undefined)[];
  /** The offers z and m were read from (a plain array may change between calls: then all is rebuilt). */
  offers: Offer[];
  ids: string[];
  values: Float64Array;
  restricted: Uint8Array;
}
const poolStatics = new WeakMap<readonly Offer[], WeakMap<PropensityParams, PoolStatic>>();

function poolStatic(pool: readonly Offer[], p: PropensityParams): PoolStatic {
  let byParams = poolStatics.get(pool);
  if (!byParams) poolStatics.set(pool, (byParams = new WeakMap()));
  const known = byParams.get(p);
  if (known !== undefined && known.offers.length === pool.length && (Object.isFrozen(pool) || sameOffers(known, pool))) return known;
  const n = pool.length;
  const z = new Float64Array(n);
  const m = new Float64Array(n);
  const values = new Float64Array(n);
  const restricted = new Uint8Array(n);
  const index = new Map<string, number>();
  let zMean = 0;
  for (let i = 0; i < n; i++) {
    const o = pool[i];
    const v = o.value;
    values[i] = v;
    z[i] = Math.log(Math.max(0.01, Number.isFinite(v) ? v : 0.01));
    zMean += z[i] / n;
    const segs = o.eligibility?.segments;
    restricted[i] = segs && segs.length > 0 ? 1 : 0;
    m[i] = restricted[i] === 1 ? p.targetedLift : 1;
    index.set(o.id, i);
  }
  for (let i = 0; i < n; i++) z[i] -= zMean;
  const st: PoolStatic = {
    z, m, zMean, t0: p.offerSpread * p.offerSpread, index, w: new Float64Array(n), y: new Float64Array(n), seen: new Array(n).fill(undefined), offers: [...pool], ids: pool.map((o) => o.id), values, restricted,
  };
  byParams.set(p, st);
  return st;
}

/** Whether a plain pool still holds the offers (ids, values, restriction to segments) `st` was built from. */
function sameOffers(st: PoolStatic, pool: readonly Offer[]): boolean {
  for (let i = 0; i < pool.length; i++) {
    const o = pool[i];
    if (o !== st.offers[i] || o.id !== st.ids[i] || !Object.is(o.value, st.values[i])) return false;
    const segs = o.eligibility?.segments;
    if ((segs && segs.length > 0 ? 1 : 0) !== st.restricted[i]) return false;
  }
  return true;
}

/** `crossOfferPriors` of an immutable offer set, kept per stats object × set × parameters and stats.version. */
const setFits = new WeakMap<ResponseStats, WeakMap<readonly Offer[], WeakMap<PropensityParams, { version: number | undefined; fit: CrossOfferFit }>>>();
function setPriors(set: readonly Offer[], stats: ResponseStats, p: PropensityParams, cache: Map<string, OfferExposure>): CrossOfferFit {
  let bySet = setFits.get(stats);
  if (!bySet) setFits.set(stats, (bySet = new WeakMap()));
  let byParams = bySet.get(set);
  if (!byParams) bySet.set(set, (byParams = new WeakMap()));
  const known = byParams.get(p);
  const version = stats.version;
  if (known !== undefined && version !== undefined && known.version === version) return known.fit;
  const fit = crossOfferPriors(set, stats, p, cache);
  byParams.set(p, { version, fit });
  return fit;
}

// ---------- per offer set: what does not depend on the subject ----------

/**
 * The subject-independent columns (`hierarchicalRow`) of EVERY offer of an immutable offer set for one stats segment ×
 * channel (`table`), and the overall counts each row was computed from. Kept per stats object × offer set ×
 * parameters × segment × channel: a row is recomputed when its offer's overall counts change (every response counted
 * changes them, see ResponseStats), checked once per `stats.version` when the stats have one, else at every call.
 */
interface ContextTable {
  table: PropensityColumns;
  accepted: Float64Array;
  shown: Float64Array;
  /** The cross-offer prior factor each row was computed with. */
  factor: Float64Array;
  /** stats.version when last checked (undefined: the stats have none: check every time). */
  version: number | undefined;
}
const contextTables = new WeakMap<ResponseStats, WeakMap<readonly Offer[], WeakMap<PropensityParams, Map<number, ContextTable>>>>();

function contextTable(set: readonly Offer[], seg: StatsSegment, channel: OfferChannel, stats: ResponseStats, p: PropensityParams): PropensityColumns {
  let bySet = contextTables.get(stats);
  if (!bySet) contextTables.set(stats, (bySet = new WeakMap()));
  let byParams = bySet.get(set);
  if (!byParams) bySet.set(set, (byParams = new WeakMap()));
  let byContext = byParams.get(p);
  if (!byContext) byParams.set(p, (byContext = new Map()));
  const key = STATS_SEGMENTS.indexOf(seg) * OFFER_CHANNELS.length + OFFER_CHANNELS.indexOf(channel);
  let t = byContext.get(key);
  const version = stats.version;
  if (t !== undefined && version !== undefined && t.version === version) return t.table;
  if (t === undefined) {
    const n = set.length;
    t = { table: columns(n), accepted: new Float64Array(n).fill(Number.NaN), shown: new Float64Array(n).fill(Number.NaN), factor: new Float64Array(n).fill(Number.NaN), version };
    byContext.set(key, t);
  }
  t.version = version;
  const cache = exposuresOf(stats);
  const fit = crossOfferOn(p) ? setPriors(set, stats, p, cache) : null;
  const valueRef = p.valueTempering !== 0 ? meanValueWeight(set) : 0;
  for (let g = 0; g < set.length; g++) {
    const offer = set[g];
    const o = stats.overall(offer.id);
    const shown = nonNegative(o?.shown ?? 0);
    const accepted = nonNegative(o?.accepted ?? 0);
    const factor = fit === null ? 1 : fit.factor[g];
    if (shown === t.shown[g] && accepted === t.accepted[g] && factor === t.factor[g]) continue;
    hierarchicalRow(offer, seg, channel, stats, p, cache, t.table, g, factor, valueRef);
    t.shown[g] = shown;
    t.accepted[g] = accepted;
    t.factor[g] = factor;
  }
  return t.table;
}

/**
 * `propensityColumns` of the offers `index` (ascending) of an immutable offer set (`prepareOffers`: nothing in it can
 * change), the same numbers: the subject-independent columns are read from the set's table for the subject's stats
 * segment × channel (`contextTable`), only the affinity ones are computed per subject. The columns say which table
 * and rows they came from (`table`, `index`: decide keeps its Thompson pools per table row).
 */
export function propensityColumnsOf(
  set: readonly Offer[],
  index: readonly number[],
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
  into?: PropensityColumns,
): PropensityColumns {
  if (p.model === 'pooled') return propensityColumns(index.map((g) => set[g]), subject, channel, stats, p);
  const table = contextTable(set, statsSegment(subject), channel, stats, p);
  const n = index.length;
  const out = into !== undefined && into.n === n ? into : columns(n);
  // a stable affinity function (stableAffinity) answers the same for an offer every time: its answers and lifts over
  // the set are kept (per set and parameters), read here by index instead of asked offer by offer
  const row = subject.personalised && stableAffinities.has(subject.affinity) ? affinityRowOf(subject.affinity, set, p) : null;
  for (let i = 0; i < n; i++) {
    const g = index[i];
    out.prior[i] = table.prior[g];
    out.overall[i] = table.overall[g];
    out.segmentRate[i] = table.segmentRate[g];
    out.channelEffect[i] = table.channelEffect[g];
    out.alpha[i] = table.alpha[g];
    out.beta[i] = table.beta[g];
    const mean = table.posteriorMean[g];
    out.posteriorMean[i] = mean;
    out.targeted[i] = table.targeted[g];
    out.sharpenWeight[i] = table.sharpenWeight[g];
    if (row === null) affinityColumns(set[g], subject, p, out, i);
    else {
      if (row.known[g] === 0) affinityRowAt(row, set[g], subject, p, g);
      // affinityColumns' numbers: the lift as it computes it, the propensity from this row's posterior mean
      const lift = row.lift[g];
      out.affinityLift[i] = lift;
      out.propensity[i] = Math.min(1, mean * lift);
      out.affinity[i] = row.affinity[g];
    }
  }
  out.table = table;
  out.index = index;
  out.memo = row === null ? undefined : row.memo;
  return out;
}

/**
 * Whether `cols` (propensityColumnsOf of the set's offers `cols.index` for this subject and channel, made earlier)
 * still give the numbers propensityColumnsOf would give now: the set's table for the subject's stats segment × channel
 * brought up to the stats' current counts (as propensityColumnsOf does) is the one they were read from, and its rows
 * they read have the numbers they copied (the affinity columns depend on the subject's affinity and these alone).
 * False for columns made otherwise.
 */
export function propensityColumnsHold(
  set: readonly Offer[],
  cols: PropensityColumns,
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
): boolean {
  const index = cols.index;
  if (p.model === 'pooled' || index === undefined || cols.table === undefined) return false;
  const t = contextTable(set, statsSegment(subject), channel, stats, p);
  if (t !== cols.table) return false;
  for (let i = 0; i < index.length; i++) {
    const g = index[i];
    if (
      !Object.is(cols.prior[i], t.prior[g]) ||
      !Object.is(cols.overall[i], t.overall[g]) ||
      !Object.is(cols.segmentRate[i], t.segmentRate[g]) ||
      !Object.is(cols.channelEffect[i], t.channelEffect[g]) ||
      !Object.is(cols.alpha[i], t.alpha[g]) ||
      !Object.is(cols.beta[i], t.beta[g]) ||
      !Object.is(cols.posteriorMean[i], t.posteriorMean[g]) ||
      !Object.is(cols.sharpenWeight[i], t.sharpenWeight[g]) ||
      cols.targeted[i] !== t.targeted[g]
    )
      return false;
  }
  return true;
}

/**
 * Affinity functions known to answer the same for an offer every time they are asked (a memoised function of the
 * subject, as the service's TargetIndex.affinityOf makes): `propensityColumnsOf` keeps their answers per offer set.
 */
const stableAffinities = new WeakSet<DecisionSubject['affinity']>();

/** Whether `f` was marked stable (stableAffinity). */
export function isStableAffinity(f: DecisionSubject['affinity']): boolean {
  return stableAffinities.has(f);
}

/** Marks `f` as stable (see stableAffinities): it must answer the same (the same object) for an offer every time. */
export function stableAffinity<F extends DecisionSubject['affinity']>(f: F): F {
  stableAffinities.add(f);
  return f;
}

/** A stable affinity function's answers over one offer set (by the set's index), filled as offers are asked for. */
interface AffinityRow {
  set: readonly Offer[];
  p: PropensityParams;
  known: Uint8Array;
  lift: Float64Array;
  affinity: ({ score: number; sku?: string; category?: string } | null)[];
  memo: unknown[];
}
const affinityRows = new WeakMap<DecisionSubject['affinity'], AffinityRow>();

function affinityRowOf(f: DecisionSubject['affinity'], set: readonly Offer[], p: PropensityParams): AffinityRow {
  let row = affinityRows.get(f);
  if (row === undefined || row.set !== set || row.p !== p) {
    const n = set.length;
    row = { set, p, known: new Uint8Array(n), lift: new Float64Array(n), affinity: new Array(n).fill(null), memo: new Array(n).fill(undefined) };
    affinityRows.set(f, row);
  }
  return row;
}

function affinityRowAt(row: AffinityRow, offer: Offer, subject: DecisionSubject, p: PropensityParams, g: number): void {
  const aff = subject.affinity(offer);
  const affinity = aff && Number.isFinite(aff.score) ? aff : null;
  row.lift[g] = affinity ? 1 + p.affinitySlope * (clamp01(affinity.score) - 0.5) : 1;
  row.affinity[g] = affinity;
  row.known[g] = 1;
}

/** Columns for `n` offers, to be filled by `propensityColumnsOf(…, into)` (a caller's scratch, reused). */
export function scratchColumns(n: number): PropensityColumns {
  return columns(n);
}
