import { describe, expect, it, vi } from 'vitest';
import { decide, makeDecide, topOfferDistribution, uniformProbability, targetConflicts } from '../src/core/offers/decide.js';
import type { Offer } from '../src/core/offers/types.js';
import { context, DAY, offer, stats, subject, T0 } from './helpers/offers.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const outcome = (offers: Offer[], s = subject(), c = context()) => decide(offers, s, c, stats()).considered;
const why = (o: Offer, s = subject(), c = context()): string | undefined => {
  const r = outcome([o], s, c)[0];
  return r.outcome === 'shown' ? 'shown' : `${r.outcome}:${r.why}`;
};

describe('decide: eligibility', () => {
  it('window is [startsAt, endsAt): exact bounds', () => {
    expect(why(offer('a', { startsAt: iso(T0) }))).toBe('shown');
    expect(why(offer('a', { startsAt: iso(T0 + 1) }))).toBe('ineligible:not_started');
    expect(why(offer('a', { endsAt: iso(T0) }))).toBe('ineligible:ended');
    expect(why(offer('a', { endsAt: iso(T0 + 1) }))).toBe('shown');
    expect(why(offer('a', { startsAt: 'not a date' }))).toBe('ineligible:bad_window');
  });

  it('channels and stores', () => {
    expect(why(offer('a', { channels: ['store', 'app'] }))).toBe('ineligible:channel:web');
    expect(why(offer('a', { channels: ['web'] }))).toBe('shown');
    const inStore = offer('a', { stores: ['S1', 'S2'] });
    expect(why(inStore, subject(), context({ channel: 'store', store: 'S2' }))).toBe('shown');
    expect(why(inStore, subject(), context({ channel: 'store', store: 'S3' }))).toBe('ineligible:store');
    expect(why(inStore, subject(), context({ channel: 'store', store: null }))).toBe('ineligible:store');
    expect(why(inStore, subject(), context({ channel: 'web' }))).toBe('ineligible:store');
    expect(why(offer('a'), subject(), context({ channel: 'store', store: 'S9' }))).toBe('shown');
  });

  it('segments', () => {
    const o = offer('a', { eligibility: { segments: ['lapsed', 'at_risk'] } });
    expect(why(o, subject({ segment: 'lapsed' }))).toBe('shown');
    expect(why(o, subject({ segment: 'vip' }))).toBe('ineligible:segment');
    expect(why(o, subject({ segment: null }))).toBe('ineligible:segment');
    expect(why(offer('a', { eligibility: { segments: [] } }), subject({ segment: null }))).toBe('shown');
  });

  it('order counts, spend, days since last purchase, new customers only: exact bounds', () => {
    const s = subject({ orders: 3, spend: 100, daysSinceLastPurchase: 60 });
    expect(why(offer('a', { eligibility: { minOrders: 3 } }), s)).toBe('shown');
    expect(why(offer('a', { eligibility: { minOrders: 4 } }), s)).toBe('ineligible:min_orders');
    expect(why(offer('a', { eligibility: { maxOrders: 3 } }), s)).toBe('shown');
    expect(why(offer('a', { eligibility: { maxOrders: 2 } }), s)).toBe('ineligible:max_orders');
    expect(why(offer('a', { eligibility: { minSpend: 100 } }), s)).toBe('shown');
    expect(why(offer('a', { eligibility: { minSpend: 100.01 } }), s)).toBe('ineligible:min_spend');
    expect(why(offer('a', { eligibility: { minDaysSinceLastPurchase: 60 } }), s)).toBe('shown');
    expect(why(offer('a', { eligibility: { minDaysSinceLastPurchase: 61 } }), s)).toBe('ineligible:min_days_since_last_purchase');
    expect(why(offer('a', { eligibility: { minDaysSinceLastPurchase: 1 } }), subject({ daysSinceLastPurchase: null }))).toBe(
      'ineligible:min_days_since_last_purchase',
    );
    const fresh = offer('a', { eligibility: { newCustomersOnly: true } });
    expect(why(fresh, subject({ orders: 0 }))).toBe('shown');
    expect(why(fresh, subject({ orders: 1 }))).toBe('shown');
    expect(why(fresh, subject({ orders: 2 }))).toBe('ineligible:new_customers_only');
    expect(why(offer('a', { eligibility: { minOrders: null, maxOrders: null, newCustomersOnly: false } }), s)).toBe('shown');
  });

  it('targets must be in stock (in the decision store); offers without targets are not checked', () => {
    const inStock = vi.fn((o: Offer) => o.id === 'in');
    const c = context({ channel: 'store', store: 'S1', inStock, limit: 5 });
    const r = decide(
      [offer('in', { targets: { skus: ['A'], categories: [] } }), offer('out', { targets: { skus: [], categories: ['Candles'] } }), offer('none')],
      subject(),
      c,
      stats(),
    );
    expect(r.considered.find((x) => x.offerId === 'out')).toEqual({ offerId: 'out', outcome: 'ineligible', why: 'out_of_stock' });
    expect(r.offers.map((o) => o.offerId).sort()).toEqual(['in', 'none']);
    expect(inStock.mock.calls.map((a) => a[0].id).sort()).toEqual(['in', 'out']);
  });
});

describe('decide: suitability', () => {
  it('consent per channel: email needs email consent (missing counts as not granted); web needs none', () => {
    const offers = [offer('a'), offer('b')];
    const email = context({ channel: 'email' });
    const refused = decide(offers, subject({ consent: { personalisation: true, email: false } }), email, stats());
    expect(refused.offers).toEqual([]);
    expect(refused.considered.every((c) => c.outcome === 'unsuitable' && c.why === 'no_consent:email')).toBe(true);
    expect(decide(offers, subject({ consent: { personalisation: true } }), email, stats()).offers).toEqual([]);
    expect(decide(offers, subject({ consent: { email: true } }), email, stats()).offers).toHaveLength(1);
    expect(decide(offers, subject({ consent: { email: false, push: false } }), context({ channel: 'web' }), stats()).offers).toHaveLength(1);
    const app = context({ channel: 'app', channelConsent: { app: 'push' } });
    expect(decide(offers, subject({ consent: { push: false } }), app, stats()).considered[0].why).toBe('no_consent:push');
    expect(decide(offers, subject({ consent: { push: true } }), app, stats()).offers).toHaveLength(1);
  });

  it('without personalisation: no segment-restricted offer, no affinity, reason says non_personalised', () => {
    const affinity = vi.fn(() => ({ score: 1, category: 'Candles' }));
    const s = subject({ personalised: false, consent: { personalisation: false }, segment: 'vip', affinity });
    const r = decide([offer('vip', { eligibility: { segments: ['vip'] } }), offer('all')], s, context({ limit: 3 }), stats());
    expect(r.considered[0]).toEqual({ offerId: 'vip', outcome: 'unsuitable', why: 'non_personalised' });
    expect(r.offers.map((o) => o.offerId)).toEqual(['all']);
    expect(r.offers[0].reason.type).toBe('non_personalised');
    expect(r.offers[0].reason.details[0]).toEqual({ type: 'non_personalised', why: 'no_consent' });
    expect(r.offers[0].reason.parts.affinityLift).toBe(1);
    expect(affinity).not.toHaveBeenCalled();
    const guest = decide([offer('all')], subject({ customerId: null, personalised: false, segment: null, affinity }), context(), stats());
    expect(guest.offers[0].reason.details[0]).toEqual({ type: 'non_personalised', why: 'guest' });
    const unknown = decide([offer('all')], subject({ customerId: null, personalised: false, nonPersonalisedWhy: 'unknown_customer' }), context(), stats());
    expect(unknown.offers[0].reason.details[0]).toEqual({ type: 'non_personalised', why: 'unknown_customer' });
  });

  it('contact cap: maxImpressions within perDays (an impression exactly perDays ago no longer counts)', () => {
    const o = offer('a', { contact: { maxImpressions: 3, perDays: 30 } });
    const at = (impressions: number[]) => context({ contacts: (id) => (id === 'a' ? { impressions, lastDeclineAt: null } : undefined) });
    expect(why(o, subject(), at([T0 - DAY, T0 - 2 * DAY, T0 - 29 * DAY]))).toBe('unsuitable:contact_cap');
    expect(why(o, subject(), at([T0 - DAY, T0 - 2 * DAY, T0 - 30 * DAY]))).toBe('shown');
    expect(why(o, subject(), at([T0 - DAY, T0 - 2 * DAY]))).toBe('shown');
    // without perDays the cap is over every impression the counters keep
    expect(why(offer('a', { contact: { maxImpressions: 2 } }), subject(), at([T0 - 400 * DAY, T0 - 300 * DAY]))).toBe('unsuitable:contact_cap');
  });

  it('decline suppression: suppressed for suppressDaysAfterDecline days after the decline, not after', () => {
    const o = offer('a', { contact: { suppressDaysAfterDecline: 14 } });
    const declined = (t: number) => context({ contacts: () => ({ impressions: [], lastDeclineAt: t }) });
    expect(why(o, subject(), declined(T0 - 14 * DAY + 1))).toBe('unsuitable:declined_recently');
    expect(why(o, subject(), declined(T0 - 14 * DAY))).toBe('shown');
    expect(why(o, subject(), context({ contacts: () => ({ impressions: [], lastDeclineAt: null }) }))).toBe('shown');
  });

  it('acceptance cap', () => {
    const o = offer('a', { contact: { maxAcceptances: 1000 } });
    expect(why(o, subject(), context({ acceptances: () => 1000 }))).toBe('unsuitable:acceptance_cap');
    expect(why(o, subject(), context({ acceptances: () => 999 }))).toBe('shown');
  });
});

describe('decide: ranking', () => {
  it('never two offers on the same target (sku or category)', () => {
    const offers = [
      offer('candles1', { value: 30, targets: { skus: [], categories: ['Candles'] } }),
      offer('candles2', { value: 20, targets: { skus: ['X'], categories: ['Candles'] } }),
      offer('sku', { value: 25, targets: { skus: ['X'], categories: [] } }),
      offer('mugs', { value: 5, targets: { skus: [], categories: ['Mugs'] } }),
    ];
    for (let seed = 1; seed <= 30; seed++) {
      const r = decide(offers, subject(), context({ limit: 4, holdoutShare: seed % 2 ? 0.5 : 0 }, seed), stats());
      const targets = r.offers.flatMap((s) => {
        const o = offers.find((x) => x.id === s.offerId)!;
        return [...o.targets.skus.map((k) => `s:${k}`), ...o.targets.categories.map((k) => `c:${k}`)];
      });
      expect(new Set(targets).size).toBe(targets.length);
      expect(r.considered.map((c) => c.offerId)).toEqual(offers.map((o) => o.id));
      for (const c of r.considered.filter((c) => c.outcome === 'ranked_lower')) expect(c.why).toMatch(/^same_target_as:|^score |^holdout_draw/);
    }
  });

  it('priority = propensity × value × weight; the mean ranking prefers the higher expected value', () => {
    const mean = makeDecide({ ranking: 'mean' });
    const offers = [offer('low', { value: 5 }), offer('high', { value: 50 }), offer('weighted', { value: 5, weight: 20 })];
    const r = mean(offers, subject(), context({ limit: 3 }), stats());
    expect(r.offers.map((o) => o.offerId)).toEqual(['weighted', 'high', 'low']);
    for (const o of r.offers) {
      const { propensity, value, weight } = o.reason.parts;
      expect(o.score).toBeCloseTo(propensity * value * weight, 12);
      expect(o.probability).toBe(1);
    }
  });

  it('learning: a new offer gets tried, a bad one fades, the posterior mean follows the data', () => {
    const offers = [offer('known'), offer('fresh')];
    const learned = stats({ 'known|repeat|web': [60, 1000] }, { known: [60, 1000] });
    let fresh = 0;
    for (let seed = 1; seed <= 400; seed++) if (decide(offers, subject(), context({}, seed), learned).offers[0].offerId === 'fresh') fresh++;
    expect(fresh).toBeGreaterThan(20); // explored (over 5 % of decisions) although nothing is known of it
    const bad = stats({ 'known|repeat|web': [60, 1000], 'fresh|repeat|web': [2, 1000] }, { known: [60, 1000], fresh: [2, 1000] });
    let faded = 0;
    for (let seed = 1; seed <= 400; seed++) if (decide(offers, subject(), context({}, seed), bad).offers[0].offerId === 'fresh') faded++;
    expect(faded).toBeLessThan(4);
    const r = decide(offers, subject(), context({ limit: 2 }), bad);
    const known = r.offers.find((o) => o.offerId === 'known')!;
    expect(known.propensity).toBeGreaterThan(0.055);
    expect(known.propensity).toBeLessThan(0.062);
  });

  it('cells shrink toward the offer overall rate (empirical Bayes)', () => {
    const s = stats({}, { a: [200, 1000] }); // the offer does well overall, nothing yet in this cell
    const r = decide([offer('a')], subject(), context(), s);
    expect(r.offers[0].reason.parts.posteriorMean).toBeGreaterThan(0.18);
    expect(r.offers[0].reason.parts.prior).toBeLessThan(0.05);
  });

  it('same seed, same decision', () => {
    const offers = Array.from({ length: 12 }, (_, i) => offer(`o${i}`, { value: 5 + i }));
    const a = decide(offers, subject(), context({ limit: 3, holdoutShare: 0.2 }, 7), stats());
    const b = decide(offers, subject(), context({ limit: 3, holdoutShare: 0.2 }, 7), stats());
    expect(a).toEqual(b);
  });

  it('reasons carry the parts of the score', () => {
    const s = subject({ segment: 'lapsed', daysSinceLastPurchase: 94, orders: 4, affinity: () => ({ score: 0.9, category: 'Candles', sku: '85123A' }) });
    const winback = offer('wb', { eligibility: { segments: ['lapsed', 'at_risk'], minDaysSinceLastPurchase: 60 }, targets: { skus: [], categories: ['Candles'] } });
    const r = decide([winback], s, context(), stats());
    expect(r.offers[0].reason.type).toBe('win_back');
    expect(r.offers[0].reason.details).toContainEqual({ type: 'win_back', daysSinceLastPurchase: 94 });
    expect(r.offers[0].reason.details).toContainEqual({ type: 'affinity', affinity: 0.9, category: 'Candles', sku: '85123A' });
    expect(r.offers[0].reason.parts.affinityLift).toBeCloseTo(1 + 1.5 * (0.9 - 0.5), 12);
    const vip = decide([offer('v', { eligibility: { segments: ['vip'] } })], subject({ segment: 'vip' }), context(), stats());
    expect(vip.offers[0].reason.type).toBe('vip');
    const second = decide([offer('n', { eligibility: { newCustomersOnly: true } })], subject({ segment: 'new', orders: 1 }), context(), stats());
    expect(second.offers[0].reason.type).toBe('second_purchase');
    const seg = decide([offer('h', { eligibility: { segments: ['high_aov'] } })], subject({ segment: 'high_aov' }), context(), stats());
    expect(seg.offers[0].reason.details[0]).toEqual({ type: 'segment', segment: 'high_aov' });
  });
});

describe('decide: holdout and probabilities', () => {
  it('holdout share is honoured and holdout decisions say so', () => {
    const offers = Array.from({ length: 5 }, (_, i) => offer(`o${i}`, { value: 10 * (i + 1) }));
    let holdouts = 0;
    const n = 4000;
    for (let seed = 1; seed <= n; seed++) {
      const r = decide(offers, subject(), context({ holdoutShare: 0.25 }, seed), stats());
      if (r.holdout) {
        holdouts++;
        expect(r.offers[0].reason.type).toBe('holdout');
      }
    }
    expect(holdouts / n).toBeGreaterThan(0.22);
    expect(holdouts / n).toBeLessThan(0.28);
  });

  it('holdout share 1: exactly uniform probability', () => {
    const offers = Array.from({ length: 4 }, (_, i) => offer(`o${i}`));
    const r = decide(offers, subject(), context({ holdoutShare: 1, limit: 2 }), stats());
    expect(r.offers.map((o) => o.probability)).toEqual([0.25, 0.25]);
  });

  it('exact uniform probabilities at later positions when targets overlap', () => {
    const offers = [
      offer('a', { targets: { skus: [], categories: ['C'] } }),
      offer('b', { targets: { skus: [], categories: ['C'] } }),
      offer('c'),
      offer('d'),
    ];
    const conflicts = targetConflicts(offers);
    const second = [0, 1, 2, 3].map((j) => uniformProbability(4, conflicts, j, 1, 1e6)!);
    expect(second[0]).toBeCloseTo(1 / 6, 12);
    expect(second[1]).toBeCloseTo(1 / 6, 12);
    expect(second[2]).toBeCloseTo(1 / 3, 12);
    expect(second[3]).toBeCloseTo(1 / 3, 12);
    expect(uniformProbability(4, conflicts, 0, 1, 2)).toBeNull();
  });

  it('logged probabilities match how often each offer is shown, and sum to about 1', () => {
    const offers = [offer('a', { value: 10 }), offer('b', { value: 12 }), offer('c', { value: 8 })];
    const s = stats({ 'a|repeat|web': [8, 100], 'b|repeat|web': [5, 100], 'c|repeat|web': [3, 20] }, { a: [8, 100], b: [5, 100], c: [3, 20] });
    const n = 3000;
    const shown = new Map<string, number>();
    const prob = new Map<string, number[]>();
    for (let seed = 1; seed <= n; seed++) {
      const r = decide(offers, subject(), context({ holdoutShare: 0.1 }, seed), s);
      const o = r.offers[0];
      shown.set(o.offerId, (shown.get(o.offerId) ?? 0) + 1);
      prob.set(o.offerId, [...(prob.get(o.offerId) ?? []), o.probability]);
      expect(o.probability).toBeGreaterThan(0);
      expect(o.probability).toBeLessThanOrEqual(1);
    }
    let total = 0;
    for (const id of ['a', 'b', 'c']) {
      const ps = prob.get(id)!;
      const mean = ps.reduce((x, y) => x + y, 0) / ps.length;
      total += mean;
      expect(Math.abs(mean - shown.get(id)! / n)).toBeLessThan(0.04);
    }
    expect(Math.abs(total - 1)).toBeLessThan(0.05);
  });

  it('topOfferDistribution (the evaluator\'s view of the policy) sums to 1 and matches how often decide puts each offer first', () => {
    const offers = [offer('a', { value: 10 }), offer('b', { value: 12 }), offer('c', { value: 8 }), offer('x', { channels: ['store'] })];
    const s = stats({ 'a|repeat|web': [8, 100], 'b|repeat|web': [5, 100], 'c|repeat|web': [3, 20] }, { a: [8, 100], b: [5, 100], c: [3, 20] });
    const dist = topOfferDistribution(offers, subject(), context({ holdoutShare: 0.2 }), s, {}, 4000);
    expect([...dist.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect([...dist.values()].reduce((x, y) => x + y, 0)).toBeCloseTo(1, 9);
    const n = 3000;
    const freq = new Map<string, number>();
    for (let seed = 1; seed <= n; seed++) {
      const id = decide(offers, subject(), context({ holdoutShare: 0.2 }, seed), s).offers[0].offerId;
      freq.set(id, (freq.get(id) ?? 0) + 1 / n);
    }
    for (const [id, p] of dist) expect(Math.abs(p - (freq.get(id) ?? 0)), id).toBeLessThan(0.035);
  });
});
