/**
 * The fast screening of prepared offer sets and the compact `considered` (src/core/offers/screen.ts) give exactly what
 * the plain definitions give: the same decisions, the same reasons, the same log after a round trip.
 */
import { describe, expect, it } from 'vitest';
import { decide, ineligibility, traceOf, unsuitability } from '../src/core/offers/decide.js';
import { decodeConsidered, encodeConsidered, prepareOffers, screenCodes, WHY } from '../src/core/offers/screen.js';
import type { ContactState, DecisionContext, DecisionSubject, Offer, OfferChannel } from '../src/core/offers/types.js';
import { offerPropensities } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { mulberry32 } from '../src/core/random.js';
import { SEGMENTS } from '../src/core/records.js';
import { context, DAY, offer, stats, subject, T0 } from './helpers/offers.js';

const CHANNELS: OfferChannel[] = ['web', 'app', 'store', 'email', 'sms', 'push'];

function randomOffers(r: () => number, n: number): Offer[] {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  return Array.from({ length: n }, (_, i) =>
    offer(`o${i}`, {
      value: 1 + Math.floor(r() * 40),
      weight: 0.5 + r(),
      targets: r() < 0.2 ? { skus: [], categories: [] } : r() < 0.5 ? { skus: [`s${Math.floor(r() * 15)}`], categories: [] } : { skus: [], categories: [`c${Math.floor(r() * 6)}`] },
      channels: r() < 0.5 ? [] : CHANNELS.filter(() => r() < 0.4),
      stores: r() < 0.2 ? [pick(['S1', 'S2'])] : [],
      startsAt: r() < 0.2 ? new Date(T0 + (r() < 0.5 ? -1 : 1) * Math.floor(r() * 5) * DAY).toISOString() : r() < 0.03 ? 'not a date' : null,
      endsAt: r() < 0.2 ? new Date(T0 + (r() < 0.3 ? -1 : 1) * Math.floor(1 + r() * 5) * DAY).toISOString() : null,
      eligibility: {
        ...(r() < 0.4 ? { segments: SEGMENTS.filter(() => r() < 0.3) } : {}),
        ...(r() < 0.2 ? { minOrders: Math.floor(r() * 4) } : {}),
        ...(r() < 0.1 ? { maxOrders: Math.floor(r() * 4) } : {}),
        ...(r() < 0.1 ? { minSpend: Math.floor(r() * 200) } : {}),
        ...(r() < 0.15 ? { minDaysSinceLastPurchase: Math.floor(r() * 60) } : {}),
        ...(r() < 0.1 ? { newCustomersOnly: true } : {}),
      },
      contact: {
        ...(r() < 0.6 ? { maxImpressions: Math.floor(r() * 3), perDays: r() < 0.7 ? 7 : null } : {}),
        ...(r() < 0.4 ? { suppressDaysAfterDecline: 1 + Math.floor(r() * 14) } : {}),
        ...(r() < 0.3 ? { maxAcceptances: Math.floor(r() * 5) } : {}),
      },
    }),
  );
}

function randomCase(r: () => number, offers: Offer[], now: number): { s: DecisionSubject; ctx: Omit<DecisionContext, 'random'> } {
  const personalised = r() < 0.8;
  const contacts = new Map<string, ContactState>();
  for (const o of offers) {
    if (r() < 0.15) contacts.set(o.id, { impressions: Array.from({ length: Math.floor(r() * 3) }, () => now - Math.floor(r() * 10) * DAY), lastDeclineAt: r() < 0.5 ? now - Math.floor(r() * 20) * DAY : null });
  }
  const acceptances = new Map(offers.map((o) => [o.id, Math.floor(r() * 4)]));
  const outOfStock = new Set(offers.filter(() => r() < 0.2).map((o) => o.id));
  const channel = CHANNELS[Math.floor(r() * CHANNELS.length)];
  const s = subject({
    customerId: r() < 0.9 ? 'c1' : null,
    personalised,
    segment: r() < 0.9 ? SEGMENTS[Math.floor(r() * SEGMENTS.length)] : null,
    orders: Math.floor(r() * 5),
    spend: Math.floor(r() * 300),
    daysSinceLastPurchase: r() < 0.8 ? Math.floor(r() * 90) : null,
    consent: { personalisation: personalised, email: r() < 0.7, sms: r() < 0.5, push: r() < 0.7 },
    affinity: (o) => (o.targets.skus.length ? { score: (o.id.length * 0.37) % 1, sku: o.targets.skus[0] } : null),
  });
  return {
    s,
    ctx: {
      channel,
      store: channel === 'store' || r() < 0.2 ? (r() < 0.5 ? 'S1' : 'S2') : null,
      now,
      limit: 1 + Math.floor(r() * 3),
      inStock: (o) => !outOfStock.has(o.id),
      contacts: (id) => contacts.get(id),
      acceptances: (id) => acceptances.get(id) ?? 0,
      channelConsent: { email: 'email', sms: 'sms', push: 'push', app: 'push' },
      holdoutShare: r() < 0.5 ? 0 : 0.3,
    },
  };
}


/** The plain definitions (as decide.ts had them before the codes): the reference the codes are checked against. */
function plainWhy(offer: Offer, subject: DecisionSubject, ctx: DecisionContext): string | null {
  const isSet = (x: number | null | undefined): x is number => x != null && Number.isFinite(x);
  const time = (iso: string | null | undefined) => (iso == null || iso === '' ? null : Date.parse(iso));
  const start = time(offer.startsAt);
  const end = time(offer.endsAt);
  if (Number.isNaN(start) || Number.isNaN(end)) return 'bad_window';
  if (start !== null && ctx.now < start) return 'not_started';
  if (end !== null && ctx.now >= end) return 'ended';
  if (offer.channels.length > 0 && !offer.channels.includes(ctx.channel)) return `channel:${ctx.channel}`;
  if (offer.stores.length > 0 && (ctx.channel !== 'store' || ctx.store === null || !offer.stores.includes(ctx.store))) return 'store';
  const e = offer.eligibility ?? {};
  if (subject.personalised && e.segments && e.segments.length > 0 && (subject.segment === null || !e.segments.includes(subject.segment))) return 'segment';
  if (isSet(e.minOrders) && subject.orders < e.minOrders) return 'min_orders';
  if (isSet(e.maxOrders) && subject.orders > e.maxOrders) return 'max_orders';
  if (isSet(e.minSpend) && subject.spend < e.minSpend) return 'min_spend';
  if (isSet(e.minDaysSinceLastPurchase) && (subject.daysSinceLastPurchase === null || subject.daysSinceLastPurchase < e.minDaysSinceLastPurchase)) return 'min_days_since_last_purchase';
  if (e.newCustomersOnly && subject.orders > 1) return 'new_customers_only';
  if ((offer.targets.skus.length > 0 || offer.targets.categories.length > 0) && !ctx.inStock(offer)) return 'out_of_stock';
  const purpose = ctx.channelConsent[ctx.channel];
  if (purpose && subject.consent[purpose] !== true) return `no_consent:${purpose}`;
  const segs = offer.eligibility?.segments;
  if (!subject.personalised && segs && segs.length > 0) return 'non_personalised';
  const c = offer.contact ?? {};
  const state = subject.customerId === null ? undefined : ctx.contacts(offer.id);
  if (isSet(c.maxImpressions)) {
    const since = isSet(c.perDays) ? ctx.now - c.perDays * DAY : -Infinity;
    let n = 0;
    for (const t of state?.impressions ?? []) if (t > since && t <= ctx.now) n++;
    if (n >= c.maxImpressions) return 'contact_cap';
  }
  if (isSet(c.suppressDaysAfterDecline) && state?.lastDeclineAt != null && ctx.now - state.lastDeclineAt < c.suppressDaysAfterDecline * DAY) return 'declined_recently';
  if (isSet(c.maxAcceptances) && ctx.acceptances(offer.id) >= c.maxAcceptances) return 'acceptance_cap';
  return null;
}

describe('screening of prepared offer sets', () => {
  it('gives the codes of ineligibility and unsuitability, and decide gives the same decisions, on prepared and plain arrays', () => {
    const r = mulberry32(99);
    for (let round = 0; round < 8; round++) {
      const offers = randomOffers(r, 40);
      const frozen = prepareOffers(structuredClone(offers));
      expect(Object.isFrozen(frozen[0].targets.skus)).toBe(true);
      for (let k = 0; k < 60; k++) {
        // the clock moves across window bounds: the prepared buckets follow
        const now = T0 + Math.floor((r() - 0.5) * 12) * DAY + Math.floor(r() * DAY);
        const { s, ctx } = randomCase(r, offers, now);
        const c = context({ ...ctx });
        const expected = offers.map((o) => plainWhy(o, s, c));
        expect(offers.map((o) => ineligibility(o, s, c) ?? unsuitability(o, s, c))).toEqual(expected);
        const got = screenCodes(frozen, s, c);
        expect(Array.from(got.codes, (x) => (x === 0 ? null : WHY[x]))).toEqual(expected);
        expect(screenCodes(offers, s, c).codes).toEqual(got.codes);
        const seed = Math.floor(r() * 1e9);
        const a = decide(offers, s, { ...ctx, random: mulberry32(seed) }, stats());
        const b = decide(frozen, s, { ...ctx, random: mulberry32(seed) }, stats());
        expect(b.offers).toEqual(a.offers);
        expect(b.considered).toEqual(a.considered);
        expect(b.holdout).toBe(a.holdout);
        // again: what the prepared set remembered (uniform probabilities per suitable subset) changes nothing
        const again = decide(frozen, s, { ...ctx, random: mulberry32(seed) }, stats());
        expect(again.offers).toEqual(a.offers);
      }
    }
  });

  it('the encoded considered of a decision decodes to its considered', () => {
    const r = mulberry32(7);
    let ranked = 0;
    for (let round = 0; round < 40; round++) {
      const offers = prepareOffers(randomOffers(r, 30));
      const { s, ctx } = randomCase(r, offers, T0);
      const d = decide(offers, s, { ...ctx, random: mulberry32(round) }, stats());
      const t = traceOf(d)!;
      const e = encodeConsidered(t, 'set-key');
      const back = decodeConsidered(JSON.parse(JSON.stringify(e)), t.ids, d.offers.map((o) => o.offerId));
      expect(back).toEqual(d.considered);
      ranked += d.considered.filter((c) => c.outcome === 'ranked_lower').length;
    }
    expect(ranked).toBeGreaterThan(20);
  });
});

describe('response stats by segment row', () => {
  it('propensities from segmentRow equal those from cell lookups', () => {
    const r = mulberry32(3);
    const offers = randomOffers(r, 30);
    const counts = new ResponseCounts();
    for (let i = 0; i < 3000; i++) {
      counts.record(offers[Math.floor(r() * offers.length)].id, SEGMENTS[Math.floor(r() * SEGMENTS.length)], CHANNELS[Math.floor(r() * CHANNELS.length)], r() < 0.1, r() < 0.5 ? 1 : 0.7);
    }
    const plain = { cell: counts.cell.bind(counts), overall: counts.overall.bind(counts) };
    for (const segment of [...SEGMENTS, null]) {
      for (const channel of CHANNELS) {
        const s = subject({ segment, personalised: segment !== null });
        expect(offerPropensities(offers, s, channel, counts)).toEqual(offerPropensities(offers, s, channel, plain));
      }
    }
  });
});
