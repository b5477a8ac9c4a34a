/** Builders of offers, subjects, contexts and response stats for the decision-core tests. */
import { mulberry32 } from '../../src/core/random.js';
import type { DecisionContext, DecisionSubject, Offer, ResponseStats } from '../../src/core/offers/types.js';

export const T0 = Date.parse('2026-03-01T12:00:00Z');
export const DAY = 86_400_000;

export function offer(id: string, over: Partial<Offer> = {}): Offer {
  return {
    id,
    title: `Offer ${id}`,
    kind: 'percent_off',
    value: 10,
    targets: { skus: [], categories: [] },
    channels: [],
    stores: [],
    startsAt: null,
    endsAt: null,
    eligibility: {},
    contact: {},
    weight: 1,
    ...over,
  };
}

export function subject(over: Partial<DecisionSubject> = {}): DecisionSubject {
  return {
    customerId: 'c1',
    personalised: true,
    consent: { personalisation: true, email: true, sms: true, push: true },
    segment: 'repeat',
    orders: 3,
    spend: 120,
    daysSinceLastPurchase: 20,
    affinity: () => null,
    ...over,
  };
}

export function context(over: Partial<DecisionContext> = {}, seed = 1): DecisionContext {
  return {
    channel: 'web',
    store: null,
    now: T0,
    limit: 1,
    inStock: () => true,
    contacts: () => undefined,
    acceptances: () => 0,
    channelConsent: { email: 'email', sms: 'sms', push: 'push' },
    holdoutShare: 0,
    random: mulberry32(seed),
    ...over,
  };
}

/** Stats from plain tables keyed `offer|segment|channel` and `offer`. */
export function stats(cells: Record<string, [number, number]> = {}, overall: Record<string, [number, number]> = {}): ResponseStats {
  return {
    cell: (o, s, c) => {
      const v = cells[`${o}|${s}|${c}`];
      return { accepted: v?.[0] ?? 0, shown: v?.[1] ?? 0 };
    },
    overall: (o) => {
      const v = overall[o];
      return { accepted: v?.[0] ?? 0, shown: v?.[1] ?? 0 };
    },
  };
}
