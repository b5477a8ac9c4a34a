/**
 * The simulated retail world of `npm run simulate:offers`: a seeded population of customers, a realistic offer set,
 * and each customer's TRUE probability of accepting each offer through each channel (which no policy but the oracle
 * sees). Pure: everything follows from the seed.
 *
 * Population (4,000 customers + 10 % guest sessions): segments new 24 %, repeat 26 %, loyal 12 %, vip 7 %,
 * high_aov 9 %, at_risk 11 %, lapsed 11 %, with order counts, spend and days since the last purchase that fit the
 * segment (at_risk 91–180 days, lapsed 181–400). 85 % allow personalisation, 55 % email, 40 % push. Each customer has a
 * home store (S1–S5) and a true affinity a ∈ [0, 1] to each of five categories (Beta(0.8, 1.6), mean ⅓); the service
 * sees it only with noise (a + N(0, 0.15), clipped), as an affinity computed from vectors would be.
 *
 * Decisions: a random customer (or guest) through web 35 %, store 28 %, app 22 %, email 15 % (guests web/app only),
 * 300 decisions a day from 2026-03-01, so 20,000 rounds span about 67 days and contact caps, decline suppression and
 * the one acceptance budget bind.
 *
 * True acceptance probability:
 *   p = clamp(base[offer][segment] × channelEffect[offer][channel] × affinityEffect, 0.002, 0.35)
 *   affinityEffect = 0.3 + 1.6·a(category) for an offer targeting a category, else 1
 * `base` (table below) is 1–20 %; values range from 3 to 45, so the offer with the highest expected value differs by
 * segment, channel and taste: second-purchase for new customers, the VIP perk for VIPs, win-back for at-risk ones,
 * a category bundle for high-AOV customers who like kitchenware, and the premium upgrade (value 45, ≈ 1 %) is a trap
 * for a policy that looks at value alone.
 */
import type { OfferChannel, Offer } from '../core/offers/types.js';
import { mulberry32, sampleBeta, sampleGamma, sampleNormal } from '../core/random.js';
import type { Segment } from '../core/records.js';

export const WORLD_START = Date.parse('2026-03-01T08:00:00Z');
export const WORLD_DECISIONS_PER_DAY = 300;
export const WORLD_CATEGORIES = ['Candles', 'Kitchen', 'Garden', 'Christmas', 'Bags'] as const;
const STORES = ['S1', 'S2', 'S3', 'S4', 'S5'];

type SegmentOrGuest = Segment | 'guest';

export interface SimCustomer {
  id: string | null;
  segment: Segment | null;
  personalised: boolean;
  consent: { personalisation: boolean; email: boolean; push: boolean; sms: boolean };
  orders: number;
  spend: number;
  daysSinceLastPurchase: number | null;
  homeStore: string;
  /** True affinity per category (index of WORLD_CATEGORIES). */
  taste: number[];
  /** What the service sees of it. */
  observedTaste: number[];
}

const offer = (o: Partial<Offer> & Pick<Offer, 'id' | 'title' | 'kind' | 'value'>): Offer => ({
  description: null,
  cost: null,
  targets: { skus: [], categories: [] },
  channels: [],
  stores: [],
  startsAt: '2026-01-01T00:00:00Z',
  endsAt: null,
  eligibility: {},
  contact: { maxImpressions: 4, perDays: 30, suppressDaysAfterDecline: 14 },
  weight: 1,
  ...o,
});

/** The offer set (the demo's kinds of offer: win-back, VIP perks, second purchase, category promotions, in-store). */
export const WORLD_OFFERS: Offer[] = [
  offer({ id: 'winback-15', title: '15% off to welcome you back', kind: 'percent_off', value: 18, channels: ['store', 'app', 'email', 'web'],
    eligibility: { segments: ['lapsed', 'at_risk'], minDaysSinceLastPurchase: 60, minOrders: 1 } }),
  offer({ id: 'vip-early-access', title: 'Early access to the new collection', kind: 'service', value: 25, eligibility: { segments: ['vip'] } }),
  offer({ id: 'double-points', title: 'Double loyalty points this week', kind: 'loyalty_points', value: 7,
    eligibility: { segments: ['loyal', 'vip', 'repeat'] } }),
  offer({ id: 'second-purchase-5', title: '£5 off your second order', kind: 'amount_off', value: 12, eligibility: { newCustomersOnly: true } }),
  offer({ id: 'candles-20', title: '20% off candles', kind: 'percent_off', value: 10, targets: { skus: [], categories: ['Candles'] } }),
  offer({ id: 'kitchen-bundle', title: 'Kitchen starter bundle', kind: 'bundle', value: 22, targets: { skus: [], categories: ['Kitchen'] } }),
  offer({ id: 'garden-10', title: '10% off garden', kind: 'percent_off', value: 9, targets: { skus: [], categories: ['Garden'] } }),
  offer({ id: 'christmas-3for2', title: '3 for 2 on Christmas decorations', kind: 'bundle', value: 11, targets: { skus: [], categories: ['Christmas'] } }),
  offer({ id: 'free-shipping', title: 'Free shipping on your next order', kind: 'free_shipping', value: 4, channels: ['web', 'app', 'email'] }),
  offer({ id: 'premium-upgrade', title: 'Upgrade to the premium range', kind: 'product', value: 45 }),
  offer({ id: 'gift-wrap', title: 'Free gift wrapping', kind: 'service', value: 3 }),
  offer({ id: 'store-workshop', title: 'Free workshop in store', kind: 'service', value: 16, channels: ['store'], stores: ['S1', 'S2', 'S3'],
    contact: { maxImpressions: 2, perDays: 30, suppressDaysAfterDecline: 30, maxAcceptances: 250 } }),
];

//                               new    repeat loyal  vip    high_aov at_risk lapsed guest
const SEG_ORDER: SegmentOrGuest[] = ['new', 'repeat', 'loyal', 'vip', 'high_aov', 'at_risk', 'lapsed', 'guest'];
const BASE: Record<string, number[]> = {
  'winback-15':       [0,     0,     0,     0,     0,     0.10,  0.06,  0],
  'vip-early-access': [0,     0,     0,     0.09,  0,     0,     0,     0],
  'double-points':    [0,     0.09,  0.17,  0.11,  0,     0,     0,     0],
  'second-purchase-5':[0.11,  0.05,  0,     0,     0.05,  0.04,  0.03,  0.06],
  'candles-20':       [0.05,  0.06,  0.06,  0.05,  0.05,  0.04,  0.02,  0.04],
  'kitchen-bundle':   [0.02,  0.04,  0.05,  0.05,  0.07,  0.02,  0.01,  0.02],
  'garden-10':        [0.06,  0.06,  0.07,  0.05,  0.05,  0.05,  0.03,  0.05],
  'christmas-3for2':  [0.05,  0.07,  0.08,  0.06,  0.06,  0.05,  0.04,  0.05],
  'free-shipping':    [0.20,  0.14,  0.10,  0.05,  0.10,  0.12,  0.08,  0.18],
  'premium-upgrade':  [0.005, 0.01,  0.015, 0.03,  0.025, 0.008, 0.005, 0.004],
  'gift-wrap':        [0.16,  0.18,  0.20,  0.15,  0.15,  0.12,  0.08,  0.14],
  'store-workshop':   [0.05,  0.07,  0.10,  0.08,  0.06,  0.05,  0.03,  0.04],
};
/** Offer-specific channel effects (default 1 per channel, times the general channel effect). */
const CHANNEL: Record<OfferChannel, number> = { store: 1.25, app: 1, web: 0.8, email: 0.6, push: 0.5, sms: 0.5 };
const OFFER_CHANNEL: Partial<Record<string, Partial<Record<OfferChannel, number>>>> = {
  'free-shipping': { web: 1.4, app: 1.2, email: 1 },
  'gift-wrap': { store: 1.5, web: 0.7 },
  'winback-15': { email: 1.6 },
  'premium-upgrade': { store: 1.6 },
};

const SEGMENT_SHARES: [Segment, number][] = [
  ['new', 0.24], ['repeat', 0.26], ['loyal', 0.12], ['vip', 0.07], ['high_aov', 0.09], ['at_risk', 0.11], ['lapsed', 0.11],
];
const CHANNEL_SHARES: [OfferChannel, number][] = [['web', 0.35], ['store', 0.28], ['app', 0.22], ['email', 0.15]];

/** True probability that `customer` accepts `o` through `channel`. */
export function trueAcceptRate(o: Offer, customer: SimCustomer, channel: OfferChannel): number {
  const base = BASE[o.id]?.[SEG_ORDER.indexOf(customer.segment ?? 'guest')] ?? 0;
  const ch = CHANNEL[channel] * (OFFER_CHANNEL[o.id]?.[channel] ?? 1);
  const cat = o.targets.categories[0];
  const k = cat === undefined ? -1 : WORLD_CATEGORIES.indexOf(cat as (typeof WORLD_CATEGORIES)[number]);
  const aff = k < 0 ? 1 : 0.3 + 1.6 * customer.taste[k];
  return Math.min(0.35, Math.max(0.002, base * ch * aff));
}

/** The service's (noisy) affinity of `customer` to the targets of `o`, as `DecisionSubject.affinity` returns it. */
export function observedAffinity(o: Offer, customer: SimCustomer): { score: number; category: string } | null {
  const cat = o.targets.categories[0];
  const k = cat === undefined ? -1 : WORLD_CATEGORIES.indexOf(cat as (typeof WORLD_CATEGORIES)[number]);
  return k < 0 ? null : { score: customer.observedTaste[k], category: cat };
}

const pick = <T>(shares: [T, number][], u: number): T => {
  let acc = 0;
  for (const [v, s] of shares) if (u < (acc += s)) return v;
  return shares[shares.length - 1][0];
};

const between = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** A seeded population of `n` customers (guests are drawn per decision, see `drawDecision`). */
export function makePopulation(seed: number, n = 4000): SimCustomer[] {
  const r = mulberry32(seed ^ 0x5eed);
  const out: SimCustomer[] = [];
  for (let i = 0; i < n; i++) {
    const segment = pick(SEGMENT_SHARES, r());
    const orders = { new: 1, repeat: between(r, 2, 4), loyal: between(r, 5, 12), vip: between(r, 6, 20), high_aov: between(r, 2, 5), at_risk: between(r, 2, 6), lapsed: between(r, 1, 6) }[segment];
    const days = { new: between(r, 3, 80), repeat: between(r, 3, 80), loyal: between(r, 2, 40), vip: between(r, 2, 40), high_aov: between(r, 5, 80), at_risk: between(r, 91, 180), lapsed: between(r, 181, 400) }[segment];
    const aov = (segment === 'high_aov' || segment === 'vip' ? 90 : 35) * (sampleGamma(r, 4) / 4);
    const taste = WORLD_CATEGORIES.map(() => sampleBeta(r, 0.8, 1.6));
    const personalised = r() < 0.85;
    out.push({
      id: `sim-${i}`,
      segment,
      personalised,
      consent: { personalisation: personalised, email: r() < 0.55, push: r() < 0.4, sms: false },
      orders,
      spend: Math.round(orders * aov * 100) / 100,
      daysSinceLastPurchase: days,
      homeStore: STORES[Math.floor(r() * STORES.length)],
      taste,
      observedTaste: taste.map((t) => Math.min(1, Math.max(0, t + 0.15 * sampleNormal(r)))),
    });
  }
  return out;
}

export interface SimDecision {
  round: number;
  now: number;
  customer: SimCustomer;
  channel: OfferChannel;
  store: string | null;
  /** Uniform draw that decides the response (common to every policy: accepted iff u < true rate). */
  u: number;
  /** Second uniform: a non-accepting customer declines when v < 0.3, else ignores. */
  v: number;
}

/** The stream of decision contexts (the same for every policy, for a fair comparison). */
export function* decisionStream(seed: number, population: SimCustomer[], rounds: number): Generator<SimDecision> {
  const r = mulberry32(seed ^ 0xdec1);
  for (let round = 0; round < rounds; round++) {
    const guest = r() < 0.1;
    const customer: SimCustomer = guest
      ? { id: null, segment: null, personalised: false, consent: { personalisation: false, email: false, push: false, sms: false }, orders: 0, spend: 0,
          daysSinceLastPurchase: null, homeStore: STORES[0], taste: WORLD_CATEGORIES.map(() => 1 / 3), observedTaste: WORLD_CATEGORIES.map(() => 1 / 3) }
      : population[Math.floor(r() * population.length)];
    let channel = pick(CHANNEL_SHARES, r());
    if (guest && (channel === 'store' || channel === 'email')) channel = r() < 0.6 ? 'web' : 'app';
    const store = channel === 'store' ? customer.homeStore : null;
    yield { round, now: WORLD_START + Math.floor((round * 86_400_000) / WORLD_DECISIONS_PER_DAY), customer, channel, store, u: r(), v: r() };
  }
}
