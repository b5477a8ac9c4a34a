/**
 * DecisionContext.memo: decide keeps what it derives for a subject in a context before anything random (screening,
 * propensities, conflicts, the mean ranking, score bounds, contenders) and reuses it. Decisions with a memo must be
 * the decisions without one, as the clock crosses offer windows and the subject's contact-rule times, as responses
 * change the counts, and as the subject's facts change; and the memo must actually spare the work.
 */
import { describe, expect, it } from 'vitest';
import { decide, traceOf } from '../src/core/offers/decide.js';
import { stableAffinity } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import type { ContactState, Decision, DecisionContext, DecisionMemo, DecisionSubject, Offer } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { DAY, offer, subject, T0 } from './helpers/offers.js';

const HOUR = 3_600_000;
/** One object, as a service's configuration is (the memo holds while the rules are the same object). */
const CONSENT: DecisionContext['channelConsent'] = { email: 'email', sms: 'sms', push: 'push' };
const iso = (t: number) => new Date(t).toISOString();

function offerSet(): Offer[] {
  const r = mulberry32(3);
  const out: Offer[] = [];
  for (let i = 0; i < 40; i++) {
    out.push(
      offer(`o${i}`, {
        value: 5 + Math.floor(r() * 30),
        weight: 0.5 + r(),
        targets: i % 3 === 0 ? { skus: [], categories: [] } : { skus: [], categories: [`cat-${i % 7}`] },
        channels: i % 5 === 0 ? ['app'] : [],
        eligibility: i % 4 === 0 ? { segments: ['repeat', 'vip'] } : i % 6 === 0 ? { minOrders: 4 } : {},
        // a window that starts and one that ends during the run
        startsAt: i === 1 ? iso(T0 + 5 * HOUR) : null,
        endsAt: i === 2 ? iso(T0 + 9 * HOUR) : null,
        contact: { maxImpressions: 1, perDays: 1, suppressDaysAfterDecline: 0.5, maxAcceptances: 3 },
      }),
    );
  }
  return prepareOffers(out);
}

/** The subject's contact history: an impression still to come when the run starts, one now, a decline later. */
const contacts = new Map<string, ContactState>([
  ['o4', { impressions: [T0 + 2 * HOUR], lastDeclineAt: null }],
  ['o7', { impressions: [T0 - 20 * HOUR], lastDeclineAt: null }],
  ['o8', { impressions: [], lastDeclineAt: T0 + 3 * HOUR }],
  ['o11', { impressions: [T0 - 23.5 * HOUR, T0 + 30 * HOUR], lastDeclineAt: T0 - 11 * HOUR }],
]);

function affinity(): DecisionSubject['affinity'] {
  const memo = new Map<string, { score: number; category?: string } | null>();
  return stableAffinity((o: Offer) => {
    let a = memo.get(o.id);
    if (a === undefined) memo.set(o.id, (a = o.targets.categories.length ? { score: (Number(o.id.slice(1)) % 10) / 10, category: o.targets.categories[0] } : null));
    return a;
  });
}

/** What a decision says, probabilities and everything considered included. */
const said = (d: Decision) => JSON.stringify({ offers: d.offers.map((o) => ({ ...o })), considered: d.considered, holdout: d.holdout, trace: traceOf(d)?.choice?.offers });

describe('decide with a memo (DecisionContext.memo)', () => {
  it('decides exactly as without it while the clock crosses windows and contact-rule times, the counts change and the facts change', () => {
    const offers = offerSet();
    const aff = affinity();
    const statsA = new ResponseCounts();
    const statsB = new ResponseCounts();
    const randomA = mulberry32(11);
    const randomB = mulberry32(11);
    const events = mulberry32(12);
    const memo: DecisionMemo = {};
    let changes = 0;
    let orders = 3;
    let screens = 0;
    let kept = 0;
    for (let step = 0; step < 600; step++) {
      const now = T0 + step * 5 * 60_000; // every 5 minutes for 50 hours
      if (step % 150 === 149) orders++; // the facts change now and then
      const s = subject({ affinity: aff, orders, daysSinceLastPurchase: 20 + Math.floor((now - T0) / DAY) });
      const base: Omit<DecisionContext, 'random'> = {
        channel: step % 7 === 0 ? 'app' : 'web',
        store: null,
        now,
        limit: 2,
        inStock: () => (screens++, true),
        contacts: (id) => contacts.get(id),
        acceptances: (id) => statsA.overall(id).accepted,
        channelConsent: CONSENT,
        holdoutShare: 0.1,
      };
      const before = screens;
      const a = decide(offers, s, { ...base, random: randomA, memo }, statsA);
      if (screens === before) kept++;
      const b = decide(offers, s, { ...base, inStock: () => true, acceptances: (id) => statsB.overall(id).accepted, random: randomB }, statsB);
      expect(said(a)).toBe(said(b));
      if (step > 0 && said(a) !== prev) changes++;
      prev = said(a);
      // responses now and then: the counts (and their version) change
      if (step % 40 === 39 && a.offers.length) {
        const accepted = events() < 0.5;
        for (const st of [statsA, statsB]) st.record(a.offers[0].offerId, 'repeat', base.channel, accepted, 1);
      }
    }
    expect(changes).toBeGreaterThan(10);
    // most decisions used the memo, some derived afresh (clock, counts, facts, channel)
    expect(kept).toBeGreaterThan(300);
    expect(kept).toBeLessThan(590);
  });

  it('spares the screening of a repeated decision, and screens again once the clock reaches a contact-rule time', () => {
    const offers = offerSet();
    const stats = new ResponseCounts();
    const memo: DecisionMemo = {};
    let screened = 0;
    const ctx = (now: number): DecisionContext => ({
      channel: 'web',
      store: null,
      now,
      limit: 2,
      inStock: () => (screened++, true),
      contacts: (id) => contacts.get(id),
      acceptances: (id) => stats.overall(id).accepted,
      channelConsent: CONSENT,
      holdoutShare: 0,
      random: mulberry32(1),
      memo,
    });
    const s = subject({ affinity: affinity() });
    decide(offers, s, ctx(T0), stats);
    const first = screened;
    expect(first).toBeGreaterThan(0);
    decide(offers, s, ctx(T0 + 10 * 60_000), stats);
    expect(screened).toBe(first); // kept: nothing screened again
    // o11's impression of T0 − 23.5 h leaves its one-day window at T0 + 30 min: screened again
    decide(offers, s, ctx(T0 + HOUR), stats);
    const second = screened;
    expect(second).toBeGreaterThan(first);
    // the impression of o4 at T0 + 2 h counts from then on: kept until then, screened again then
    const before = decide(offers, s, ctx(T0 + 2 * HOUR - 1), stats);
    expect(screened).toBe(second);
    const after = decide(offers, s, ctx(T0 + 2 * HOUR), stats);
    expect(screened).toBeGreaterThan(second);
    expect(before.considered.find((c) => c.offerId === 'o4')?.why).not.toBe('contact_cap');
    expect(after.considered.find((c) => c.offerId === 'o4')?.why).toBe('contact_cap');
    // another subject's facts: screened again
    const n = screened;
    decide(offers, { ...s, orders: 4 }, ctx(T0 + 2 * HOUR), stats);
    expect(screened).toBeGreaterThan(n);
  });
});

let prev = '';

describe('decide with a memo, after responses (the counts version changed)', () => {
  /** A context reading acceptances from `acc` (what the service reads from its counts), counting the screenings. */
  const ctxOf = (stats: ResponseCounts, memo: DecisionMemo | undefined, acc: Map<string, number>, seen: { screened: number }, seed: number): DecisionContext => ({
    channel: 'web',
    store: null,
    now: T0,
    limit: 2,
    inStock: () => (seen.screened++, true),
    contacts: () => undefined,
    acceptances: (id) => acc.get(id) ?? 0,
    channelConsent: CONSENT,
    holdoutShare: 0,
    random: mulberry32(seed),
    ...(memo ? { memo } : {}),
  });


  it('keeps the memo when the response was to an offer it did not consider; derives it afresh, and decides otherwise, when it was to one it did', () => {
    const offers = offerSet();
    const stats = new ResponseCounts();
    const acc = new Map<string, number>();
    const memo: DecisionMemo = {};
    const seen = { screened: 0 };
    const s = subject({ affinity: affinity() });
    const first = decide(offers, s, ctxOf(stats, memo, acc, seen, 1), stats);
    const kept = memo.state;
    expect(kept).toBeDefined();
    // o5 is for the app only: not eligible on the web, so its counts are nothing this memo read
    expect(first.considered.find((c) => c.offerId === 'o5')?.outcome).toBe('ineligible');
    for (let i = 0; i < 20; i++) stats.record('o5', 'repeat', 'app', i % 2 === 0, 1);
    const screened = seen.screened;
    const second = decide(offers, s, ctxOf(stats, memo, acc, seen, 2), stats);
    expect(memo.state).toBe(kept); // held: not derived again
    expect(seen.screened).toBe(screened);
    expect(said(second)).toBe(said(decide(offers, s, ctxOf(stats, undefined, acc, seen, 2), stats)));
    // the offer shown first, shown 200 times on the web to this segment and never accepted: its propensity falls
    const a = first.offers[0].offerId;
    for (let i = 0; i < 200; i++) stats.record(a, 'repeat', 'web', false, 1);
    const third = decide(offers, s, ctxOf(stats, memo, acc, seen, 3), stats);
    expect(memo.state).not.toBe(kept); // derived afresh
    expect(said(third)).toBe(said(decide(offers, s, ctxOf(stats, undefined, acc, seen, 3), stats)));
    // the response changed the decision: a, shown first before, is no longer (its propensity fell)
    expect(first.considered.find((c) => c.offerId === a)?.outcome).toBe('shown');
    expect(third.offers[0].offerId).not.toBe(a);
  });

  it('screens the acceptance caps again: an offer reaching its cap leaves the decisions of a kept memo, one back under it returns', () => {
    const offers = offerSet(); // every offer: at most 3 acceptances
    const stats = new ResponseCounts();
    const acc = new Map<string, number>();
    const memo: DecisionMemo = {};
    const seen = { screened: 0 };
    const s = subject({ affinity: affinity() });
    const first = decide(offers, s, ctxOf(stats, memo, acc, seen, 1), stats);
    const a = first.offers[0].offerId;
    // a reaches its cap (the acceptances the context reads), and a response to an offer this memo did not consider
    // changes the counts' version
    acc.set(a, 3);
    stats.record('o5', 'repeat', 'app', false, 1);
    const capped = decide(offers, s, ctxOf(stats, memo, acc, seen, 2), stats);
    expect(capped.considered.find((c) => c.offerId === a)?.why).toBe('acceptance_cap');
    expect(said(capped)).toBe(said(decide(offers, s, ctxOf(stats, undefined, acc, seen, 2), stats)));
    // back under it (another context's acceptances): suitable again
    acc.set(a, 1);
    stats.record('o5', 'repeat', 'app', false, 1);
    const back = decide(offers, s, ctxOf(stats, memo, acc, seen, 3), stats);
    expect(back.considered.find((c) => c.offerId === a)?.outcome).not.toBe('unsuitable');
    expect(said(back)).toBe(said(decide(offers, s, ctxOf(stats, undefined, acc, seen, 3), stats)));
  });
});
