/**
 * Propensity of one subject to accept one offer: a prior from channel, segment and targeting, a Beta posterior per
 * offer × segment × channel shrunk toward the offer's overall rate (empirical Bayes), and a multiplicative lift from
 * the subject's affinity to the offer's targets.
 *
 *   p0        = clamp(base[channel] × lift[segment] × (targeted ? targetedLift : 1), minPrior, maxPrior)
 *   q         = (m0·p0 + A_offer) / (m0 + S_offer)                       overall rate of the offer, shrunk toward p0
 *   Beta(α,β) : α = m1·q + A_cell,  β = m1·(1 − q) + S_cell − A_cell      the cell offer × segment × channel
 *   μ         = α / (α + β)                                              posterior mean (rate at neutral affinity)
 *   g         = 1 + κ·(affinity − ½)  (1 without personalisation or without an affinity)
 *   propensity = min(1, μ·g);  Thompson sample: θ ~ Beta(α, β), sampled propensity = min(1, θ·g)
 *
 * (A, S: accepted and shown counts from `ResponseStats`.) The hierarchy is over the rate of a subject of neutral
 * affinity; the affinity lift scales it per subject, so what is learned per cell does not wash the affinity out.
 */
import type { Segment } from '../records.js';
import type { DecisionSubject, Offer, OfferChannel, ResponseStats } from './types.js';

export interface PropensityParams {
  /** Base acceptance rate per channel before anything is learned. */
  channelBase: Record<OfferChannel, number>;
  /** Multiplier of the base rate per segment ('guest': no segment or no personalisation). */
  segmentLift: Record<Segment | 'guest', number>;
  /** Multiplier when the offer is restricted to segments and the subject is in one of them (the marketer's targeting). */
  targetedLift: number;
  /** Pseudo-trials of the prior p0 in the offer's overall Beta (m0). */
  overallStrength: number;
  /** Pseudo-trials of the overall rate q in each cell's Beta (m1). */
  cellStrength: number;
  /** Slope κ of the affinity lift g = 1 + κ·(affinity − ½), so g ∈ [1 − κ/2, 1 + κ/2]. */
  affinitySlope: number;
  minPrior: number;
  maxPrior: number;
}

export const PROPENSITY_DEFAULTS: PropensityParams = {
  channelBase: { store: 0.06, app: 0.05, web: 0.035, email: 0.025, push: 0.02, sms: 0.02 },
  segmentLift: { vip: 1.5, loyal: 1.3, high_aov: 1.2, repeat: 1, new: 0.9, at_risk: 0.8, lapsed: 0.6, guest: 0.8 },
  targetedLift: 1.25,
  overallStrength: 10,
  cellStrength: 20,
  affinitySlope: 1,
  minPrior: 0.005,
  maxPrior: 0.5,
};

/** The key under which responses of this subject are counted: its segment when personalised, else 'guest'. */
export function statsSegment(subject: Pick<DecisionSubject, 'personalised' | 'segment'>): Segment | 'guest' {
  return subject.personalised && subject.segment ? subject.segment : 'guest';
}

export interface OfferPropensity {
  /** p0: the prior rate at neutral affinity. */
  prior: number;
  /** q: the offer's overall rate shrunk toward p0. */
  overall: number;
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
}

const nonNegative = (x: number): number => (Number.isFinite(x) && x > 0 ? x : 0);

function counts(c: { accepted: number; shown: number } | undefined): { a: number; s: number } {
  const s = nonNegative(c?.shown ?? 0);
  return { a: Math.min(nonNegative(c?.accepted ?? 0), s), s };
}

/** Propensity of `subject` for `offer` through `channel` (see the module comment for the formula). */
export function offerPropensity(
  offer: Offer,
  subject: DecisionSubject,
  channel: OfferChannel,
  stats: ResponseStats,
  p: PropensityParams = PROPENSITY_DEFAULTS,
): OfferPropensity {
  const seg = statsSegment(subject);
  const segs = offer.eligibility?.segments;
  const targeted = subject.personalised && subject.segment != null && !!segs && segs.length > 0 && segs.includes(subject.segment);
  const raw = p.channelBase[channel] * p.segmentLift[seg] * (targeted ? p.targetedLift : 1);
  const prior = Math.min(p.maxPrior, Math.max(p.minPrior, raw));
  const o = counts(stats.overall(offer.id));
  const overall = (p.overallStrength * prior + o.a) / (p.overallStrength + o.s);
  const c = counts(stats.cell(offer.id, seg, channel));
  const alpha = p.cellStrength * overall + c.a;
  const beta = p.cellStrength * (1 - overall) + (c.s - c.a);
  const posteriorMean = alpha / (alpha + beta);
  const aff = subject.personalised ? subject.affinity(offer) : null;
  const affinity = aff && Number.isFinite(aff.score) ? { ...aff, score: Math.min(1, Math.max(0, aff.score)) } : null;
  const affinityLift = affinity ? 1 + p.affinitySlope * (affinity.score - 0.5) : 1;
  return {
    prior,
    overall,
    alpha,
    beta,
    posteriorMean,
    affinityLift,
    propensity: Math.min(1, posteriorMean * affinityLift),
    affinity,
    targeted,
  };
}
