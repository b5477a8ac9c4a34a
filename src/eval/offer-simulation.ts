/**
 * Runs offer policies against the simulated world of ./offer-world.ts: every policy sees the same stream of
 * decisions (customer, channel, store, time) and the same response draws (accepted iff u < true rate), each keeps
 * its own contact counters, acceptance counts and learned statistics.
 *
 * Policies:
 *   learned       the service's own `decide` (Thompson sampling on Beta posteriors, holdout share as given),
 *                 learning from its own responses, each impression counted as the service counts it (its affinity
 *                 lift: `impressionExposure`)
 *   random        uniform among the suitable offers
 *   value_greedy  the suitable offer of highest value × weight, no learning
 *   oracle        the suitable offer of highest TRUE acceptance probability × value × weight
 * All of them make offers through the same eligibility and suitability stages (`screenOffers`).
 *
 * acceptRate = acceptances / decisions; valuePerDecision = value of the acceptances / decisions (a decision with no
 * suitable offer counts as one with nothing accepted, for every policy alike).
 */
import { decide, screenOffers } from '../core/offers/decide.js';
import { impressionExposure, statsSegment } from '../core/offers/propensity.js';
import { ResponseCounts } from '../core/offers/response-counts.js';
import type { ContactState, Decide, DecisionContext, DecisionSubject, Offer } from '../core/offers/types.js';
import { mulberry32 } from '../core/random.js';
import { decisionStream, makePopulation, observedAffinity, trueAcceptRate, WORLD_OFFERS, type SimCustomer, type SimDecision } from './offer-world.js';

export const SIM_POLICIES = ['learned', 'random', 'value_greedy', 'oracle'] as const;
export type SimPolicy = (typeof SIM_POLICIES)[number];

export interface SimOptions {
  rounds: number;
  seed: number;
  /** Holdout share of the learned policy. */
  holdoutShare: number;
  /** Number of windows of the learning curve. */
  windows?: number;
  customers?: number;
  /**
   * Count each impression of the learned policy as its affinity lift (`impressionExposure`, as the service records
   * impressions: default true); false counts each as 1 (the service before offer-lift).
   */
  exposure?: boolean;
  /** The exposure of an impression when `exposure` is on (default `impressionExposure` with the default slope). */
  exposureOf?: (offer: Offer, subject: DecisionSubject) => number;
  /** Where the learned policy keeps its response counts (default: a fresh one). */
  learnedStats?: ResponseCounts;
  /** The learned policy's decision function (default: the service's `decide`). */
  decide?: Decide;
  /** Called with every decision the learned policy makes (e.g. to write a decision log). */
  onLearnedDecision?: (d: SimDecision, shown: { offerId: string; probability: number; exposure: number } | null, reward: number, accepted: boolean, candidates: string[]) => void;
}

export interface PolicyFigures {
  acceptRate: number;
  valuePerDecision: number;
}

export interface PolicyDetails {
  /** Share of decisions in which an offer was made. */
  offerRate: number;
  accepted: number;
  value: number;
}

export interface SimResult {
  rounds: number;
  seed: number;
  policies: Record<SimPolicy, PolicyFigures>;
  ratios: { learnedToOracle: number; learnedToRandom: number };
  details: Record<SimPolicy, PolicyDetails>;
  /** The learned policy over time: value per decision and how often it made the truly best offer. */
  learning: { fromRound: number; toRound: number; valuePerDecision: number; bestOfferShare: number }[];
  holdoutShare: number;
}

/** Where the simulated stock is missing: garden goods in the two smaller stores. */
const inStockAt = (o: Offer, store: string | null): boolean => !(store !== null && (store === 'S4' || store === 'S5') && o.targets.categories.includes('Garden'));

export function toSubject(c: SimCustomer): DecisionSubject {
  return {
    customerId: c.id,
    personalised: c.personalised,
    consent: c.consent,
    segment: c.segment,
    orders: c.orders,
    spend: c.spend,
    daysSinceLastPurchase: c.daysSinceLastPurchase,
    affinity: (o) => observedAffinity(o, c),
  };
}

class PolicyState {
  constructor(readonly stats = new ResponseCounts()) {}
  readonly contacts = new Map<string, Map<string, ContactState>>();
  readonly acceptances = new Map<string, number>();
  accepted = 0;
  value = 0;
  offered = 0;

  context(d: SimDecision, holdoutShare: number, random: () => number): DecisionContext {
    const mine = d.customer.id === null ? undefined : this.contacts.get(d.customer.id);
    return {
      channel: d.channel,
      store: d.store,
      now: d.now,
      limit: 1,
      inStock: (o) => inStockAt(o, d.store),
      contacts: (id) => mine?.get(id),
      acceptances: (id) => this.acceptances.get(id) ?? 0,
      channelConsent: { email: 'email', push: 'push', sms: 'sms' },
      holdoutShare,
      random,
    };
  }

  /** Applies the response to `o` and returns its value (0 unless accepted). */
  respond(d: SimDecision, subject: DecisionSubject, o: Offer, exposure = 1): { accepted: boolean; reward: number } {
    const accepted = d.u < trueAcceptRate(o, d.customer, d.channel);
    this.offered++;
    if (d.customer.id !== null) {
      let mine = this.contacts.get(d.customer.id);
      if (!mine) this.contacts.set(d.customer.id, (mine = new Map()));
      let st = mine.get(o.id);
      if (!st) mine.set(o.id, (st = { impressions: [], lastDeclineAt: null }));
      st.impressions.push(d.now);
      if (!accepted && d.v < 0.3) st.lastDeclineAt = d.now;
    }
    this.stats.record(o.id, statsSegment(subject), d.channel, accepted, exposure);
    if (!accepted) return { accepted, reward: 0 };
    this.acceptances.set(o.id, (this.acceptances.get(o.id) ?? 0) + 1);
    this.accepted++;
    this.value += o.value;
    return { accepted, reward: o.value };
  }

  figures(rounds: number): PolicyFigures {
    return { acceptRate: this.accepted / rounds, valuePerDecision: this.value / rounds };
  }

  details(rounds: number): PolicyDetails {
    return { offerRate: this.offered / rounds, accepted: this.accepted, value: this.value };
  }
}

const argmax = (offers: Offer[], f: (o: Offer) => number): Offer | null => {
  let best: Offer | null = null;
  let bestV = -Infinity;
  for (const o of offers) {
    const v = f(o);
    if (v > bestV) {
      bestV = v;
      best = o;
    }
  }
  return best;
};

export function simulateOffers(opts: SimOptions): SimResult {
  const population = makePopulation(opts.seed, opts.customers ?? 4000);
  const states = Object.fromEntries(SIM_POLICIES.map((p) => [p, new PolicyState(p === 'learned' ? opts.learnedStats : undefined)])) as Record<SimPolicy, PolicyState>;
  const rngs = Object.fromEntries(SIM_POLICIES.map((p, i) => [p, mulberry32((opts.seed * 31 + i + 1) >>> 0)])) as Record<SimPolicy, () => number>;
  const nWindows = Math.max(1, opts.windows ?? 10);
  const windowSize = Math.max(1, Math.ceil(opts.rounds / nWindows));
  const curve: SimResult['learning'] = [];
  let wValue = 0;
  let wBest = 0;
  let wCount = 0;
  let wStart = 0;
  for (const d of decisionStream(opts.seed, population, opts.rounds)) {
    const subject = toSubject(d.customer);
    for (const policy of SIM_POLICIES) {
      const st = states[policy];
      const ctx = st.context(d, policy === 'learned' ? opts.holdoutShare : 0, rngs[policy]);
      let chosen: Offer | null;
      let probability = 1;
      let exposure = 1;
      let candidates: string[] = [];
      if (policy === 'learned') {
        const decision = (opts.decide ?? decide)(WORLD_OFFERS, subject, ctx, st.stats);
        const top = decision.offers[0];
        chosen = top ? WORLD_OFFERS.find((o) => o.id === top.offerId)! : null;
        probability = top?.probability ?? 1;
        if (opts.exposure !== false && chosen) exposure = (opts.exposureOf ?? impressionExposure)(chosen, subject);
        const suitable = screenOffers(WORLD_OFFERS, subject, ctx).suitable;
        candidates = suitable.map((o) => o.id);
        const best = argmax(suitable, (o) => trueAcceptRate(o, d.customer, d.channel) * o.value * o.weight);
        if (best && chosen === best) wBest++;
      } else {
        const suitable = screenOffers(WORLD_OFFERS, subject, ctx).suitable;
        if (policy === 'random') chosen = suitable.length ? suitable[Math.floor(rngs.random() * suitable.length)] : null;
        else if (policy === 'value_greedy') chosen = argmax(suitable, (o) => o.value * o.weight);
        else chosen = argmax(suitable, (o) => trueAcceptRate(o, d.customer, d.channel) * o.value * o.weight);
      }
      const res = chosen ? st.respond(d, subject, chosen, exposure) : { accepted: false, reward: 0 };
      if (policy === 'learned') {
        wValue += res.reward;
        opts.onLearnedDecision?.(d, chosen ? { offerId: chosen.id, probability, exposure } : null, res.reward, res.accepted, candidates);
      }
    }
    wCount++;
    if (wCount === windowSize || d.round === opts.rounds - 1) {
      curve.push({ fromRound: wStart, toRound: d.round + 1, valuePerDecision: wValue / wCount, bestOfferShare: wBest / wCount });
      wStart = d.round + 1;
      wValue = wBest = wCount = 0;
    }
  }
  const policies = Object.fromEntries(SIM_POLICIES.map((p) => [p, states[p].figures(opts.rounds)])) as Record<SimPolicy, PolicyFigures>;
  return {
    rounds: opts.rounds,
    seed: opts.seed,
    policies,
    ratios: {
      learnedToOracle: policies.learned.valuePerDecision / policies.oracle.valuePerDecision,
      learnedToRandom: policies.learned.valuePerDecision / policies.random.valuePerDecision,
    },
    details: Object.fromEntries(SIM_POLICIES.map((p) => [p, states[p].details(opts.rounds)])) as Record<SimPolicy, PolicyDetails>,
    learning: curve,
    holdoutShare: opts.holdoutShare,
  };
}
