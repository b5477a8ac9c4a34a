/**
 * Next best offer: the value types shared by the decision core (src/core/offers/, pure),
 * the store and API (src/store, src/api) and the simulator / off-policy evaluator (scripts, src/eval).
 *
 * Pipeline (one pure function, `decide` in ./decide.ts):
 *   eligible (window, channel, store, segment, order counts, spend, targets in stock)
 *   → suitable (consent for the channel, contact limits, decline suppression, acceptance cap)
 *   → propensity (prior from affinity/segment/channel, Beta posterior per offer × segment × channel,
 *     Thompson sample, holdout share picks uniformly)
 *   → priority = propensity × value × weight → top `limit`, never two offers on the same target.
 *
 * The field names of `Offer` are a contract (issue "Next best offer"): the admin API returns them as written here.
 */
import type { Segment } from '../records.js';

/** Channels an offer can be made through: the three sales channels plus direct marketing ones. */
export const OFFER_CHANNELS = ['web', 'app', 'store', 'email', 'sms', 'push'] as const;
export type OfferChannel = (typeof OFFER_CHANNELS)[number];

export const OFFER_KINDS = ['percent_off', 'amount_off', 'bundle', 'loyalty_points', 'free_shipping', 'service', 'product'] as const;
export type OfferKind = (typeof OFFER_KINDS)[number];

export interface OfferEligibility {
  segments?: Segment[] | null;
  minOrders?: number | null;
  maxOrders?: number | null;
  minSpend?: number | null;
  minDaysSinceLastPurchase?: number | null;
  newCustomersOnly?: boolean | null;
}

export interface OfferContactPolicy {
  /** At most this many impressions per customer within `perDays` days (across channels). */
  maxImpressions?: number | null;
  perDays?: number | null;
  /** After a decline, not shown to that customer for this many days. */
  suppressDaysAfterDecline?: number | null;
  /** The offer stops being made once accepted this many times in all (a budget). */
  maxAcceptances?: number | null;
}

export interface Offer {
  id: string;
  title: string;
  description?: string | null;
  kind: OfferKind;
  /** What an acceptance is worth to the retailer. */
  value: number;
  /** What an acceptance costs (reported; priority uses `value`). */
  cost?: number | null;
  targets: { skus: string[]; categories: string[] };
  /** Empty: every channel. */
  channels: OfferChannel[];
  /** Empty: every store (and non-store channels). Non-empty: only in-store decisions at these stores. */
  stores: string[];
  /** ISO 8601; null: no bound. */
  startsAt: string | null;
  endsAt: string | null;
  eligibility: OfferEligibility;
  contact: OfferContactPolicy;
  /** Business lever, multiplies priority. Default 1. */
  weight: number;
}

/** What the decision knows about the person (or guest session) it decides for. */
export interface DecisionSubject {
  /** Unified customer id; null for a guest. */
  customerId: string | null;
  /** Whether personalised decisions are allowed (personalisation consent). */
  personalised: boolean;
  /** Marketing consent per purpose as resolved by the caller (`true` granted, `false` refused). */
  consent: Partial<Record<'personalisation' | 'email' | 'sms' | 'push', boolean>>;
  segment: Segment | null;
  orders: number;
  spend: number;
  /** Days since the last purchase; null when unknown (guest, no history). */
  daysSinceLastPurchase: number | null;
  /** Affinity in [0, 1] of this subject to each candidate offer's targets (computed by the caller from vectors / history). */
  affinity: (offer: Offer) => { score: number; sku?: string; category?: string } | null;
  /** Why decisions for this subject are not personalised, when the caller knows better than `decide` can tell
   *  (default: `guest` without a customer id, else `no_consent`); e.g. `unknown_customer` for a fallback. */
  nonPersonalisedWhy?: 'no_consent' | 'guest' | 'unknown_customer';
}

/** Contact history of one customer with one offer (all channels), as the counters keep it. */
export interface ContactState {
  /** Impression times (epoch ms) within the longest window any offer asks for. */
  impressions: number[];
  /** Last decline time (epoch ms), or null. */
  lastDeclineAt: number | null;
}

export interface DecisionContext {
  channel: OfferChannel;
  store: string | null;
  now: number;
  limit: number;
  /** Whether an offer's targets are in stock for this context (store given: that store; else anywhere). */
  inStock: (offer: Offer) => boolean;
  /** Per offer id: contact state of this subject. Missing: never contacted. */
  contacts: (offerId: string) => ContactState | undefined;
  /** Per offer id: acceptances so far (all customers). */
  acceptances: (offerId: string) => number;
  /** Which consent purpose each channel needs (null: none needed to contact; personalisation still governs personalising). */
  channelConsent: Partial<Record<OfferChannel, 'email' | 'sms' | 'push' | null>>;
  /** Share of decisions (0..1) that pick uniformly at random among suitable offers (holdout, for uplift). */
  holdoutShare: number;
  /** Random source in [0, 1) (seeded in tests and the simulator). */
  random: () => number;
  /**
   * Optional: an object the caller keeps for one subject in one context (e.g. per customer's facts × channel × store ×
   * stock), initially `{}`, in which `decide` keeps what it derived for them that does not change between decisions
   * (screening, propensities, values, conflicts, the mean ranking), reused while the offer set, the response stats and
   * their version, the parameters, the subject's facts (segment, orders, spend, days since the last purchase, consent
   * for the channel, affinity function), channel, store, limit and consent rules are the same and the clock has not
   * crossed an offer window's bound or a contact-rule time of the subject. By passing it the caller vouches that
   * `inStock`, `contacts` and `acceptances` answer the same for every decision made with this memo while the stats'
   * version is unchanged. Decisions with and without it are the same.
   */
  memo?: DecisionMemo;
}

/** See DecisionContext.memo (its contents are decide's). */
export interface DecisionMemo {
  state?: unknown;
}

/**
 * The response-stats cell a decision's responses count in: the subject's segment when the decision used it; else
 * 'unsegmented' for a known customer (no personalisation consent, or no segment) and 'guest' for a guest session
 * (no customer id): known customers without consent are a different population from anonymous sessions (offer-learn4).
 */
export type StatsSegment = Segment | 'guest' | 'unsegmented';

/**
 * Beta posterior counts per offer × segment × channel, and per offer overall. Every response counted in a cell is
 * counted in its offer's overall counts too: what is derived from an offer's counts (propensity.ts, its cells
 * included) is kept per stats object until the offer's overall counts change.
 */
export interface ResponseStats {
  /** successes (accepted) and trials (impressions with a response or timeout) for `offerId|segment|channel`. */
  cell: (offerId: string, segment: StatsSegment, channel: OfferChannel) => { accepted: number; shown: number };
  overall: (offerId: string) => { accepted: number; shown: number };
  /**
   * Optional, for speed: the cells of `offerId` × `segment` in one lookup, per channel (index in OFFER_CHANNELS), the
   * same numbers `cell` gives; undefined when they are all 0.
   */
  segmentRow?: (offerId: string, segment: StatsSegment) => { accepted: ArrayLike<number>; shown: ArrayLike<number> } | undefined;
  /**
   * Optional, for speed: a number that changes whenever any count changes (a counter bumped per response). With it,
   * what decide derives from the counts of an immutable offer set is re-checked once per version instead of per
   * decision; without it, per decision (each offer's overall counts).
   */
  readonly version?: number;
}

export type OfferReason =
  | { type: 'win_back'; daysSinceLastPurchase: number }
  | { type: 'affinity'; category?: string; sku?: string; affinity: number }
  | { type: 'vip' }
  | { type: 'loyal' }
  | { type: 'second_purchase' }
  | { type: 'segment'; segment: Segment }
  | { type: 'popular_offer' }
  | { type: 'exploration' }
  | { type: 'holdout' }
  | { type: 'non_personalised'; why: 'no_consent' | 'guest' | 'unknown_customer' };

export interface ScoredOffer {
  offerId: string;
  title: string;
  kind: OfferKind;
  /** priority = propensity × value × weight */
  score: number;
  propensity: number;
  value: number;
  /** A reason a person can read, with the parts of the score. */
  reason: { type: OfferReason['type']; details: OfferReason[]; parts: {
      propensity: number;
      value: number;
      weight: number;
      prior: number;
      posteriorMean: number;
      /** Multiplicative lift from affinity (propensity = min(1, posteriorMean × affinityLift)). */
      affinityLift?: number;
      /** The Thompson sample of the rate behind `score` (absent in a holdout decision). */
      sample?: number;
    };
  };
  /**
   * The probability with which this offer was chosen at its position (for off-policy evaluation). From `decide`:
   * computed when first read, from the inputs the decision keeps (src/core/offers/choice.ts); the service logs those
   * inputs and never reads it on the request path.
   */
  probability: number;
}

export interface Decision {
  offers: ScoredOffer[];
  /** Every offer considered, and why each that was dropped was dropped. */
  considered: { offerId: string; outcome: 'shown' | 'ranked_lower' | 'ineligible' | 'unsuitable'; why?: string }[];
  holdout: boolean;
}

/**
 * The decision core's one entry point (implemented in ./decide.ts):
 *   decide(offers: Offer[], subject: DecisionSubject, ctx: DecisionContext, stats: ResponseStats): Decision
 * Pure and synchronous: everything it needs is passed in, so the service, the simulator and the tests run the same code.
 */
export type Decide = (offers: readonly Offer[], subject: DecisionSubject, ctx: DecisionContext, stats: ResponseStats) => Decision;
