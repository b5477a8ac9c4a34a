/**
 * What `decide` keeps per immutable offer set (src/core/offers/propensity.ts `propensityColumnsOf`: the propensity
 * columns that do not depend on the subject, per stats segment × channel; decide.ts: Thompson pools per table row)
 * gives exactly what the plain computation gives on an unprepared copy of the offers — the same offers, scores,
 * reasons, considered and probabilities from the same random stream — and follows every change: responses counted
 * (stats with a version, and stats without one), a replaced offer set, another customer or a changed affinity.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../src/core/offers/decide.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import type { Decision, DecisionSubject, Offer, OfferChannel, ResponseStats } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { SEGMENTS } from '../src/core/records.js';
import { context, offer, subject } from './helpers/offers.js';

const CHANNELS: OfferChannel[] = ['web', 'app', 'store', 'email'];

function offers(r: () => number, n: number, tag = ''): Offer[] {
  return Array.from({ length: n }, (_, i) =>
    offer(`o${i}`, {
      title: `Offer ${i}${tag}`,
      value: 1 + Math.floor(r() * 40),
      weight: 0.5 + r(),
      targets: r() < 0.3 ? { skus: [], categories: [] } : r() < 0.6 ? { skus: [`s${Math.floor(r() * 10)}`], categories: [] } : { skus: [], categories: [`c${Math.floor(r() * 4)}`] },
      channels: r() < 0.5 ? [] : CHANNELS.filter(() => r() < 0.5),
      eligibility: r() < 0.4 ? { segments: SEGMENTS.filter(() => r() < 0.4) } : {},
    }),
  );
}

function subjects(r: () => number, n: number): DecisionSubject[] {
  return Array.from({ length: n }, (_, i) => {
    const aff = new Map<string, number>();
    for (let k = 0; k < 8; k++) aff.set(`s${Math.floor(r() * 10)}`, r());
    for (let k = 0; k < 2; k++) aff.set(`c${Math.floor(r() * 4)}`, r());
    return subject({
      customerId: `c${i}`,
      personalised: i % 5 !== 4,
      segment: SEGMENTS[i % SEGMENTS.length],
      affinity: (o) => {
        for (const s of o.targets.skus) if (aff.has(s)) return { score: aff.get(s)!, sku: s };
        for (const c of o.targets.categories) if (aff.has(c)) return { score: aff.get(c)!, category: c };
        return null;
      },
    });
  });
}

/** Everything a decision says, its probabilities included. */
const whole = (d: Decision) => ({ offers: d.offers.map((o) => ({ ...o, probability: o.probability })), considered: d.considered, holdout: d.holdout });

/** The decision on the prepared set and on a plain copy, from the same seed: they must be equal. */
function both(prepared: readonly Offer[], plain: readonly Offer[], s: DecisionSubject, channel: OfferChannel, stats: ResponseStats, seed: number) {
  const ctx = { channel, limit: 3, holdoutShare: 0.1 };
  const a = whole(decide(prepared, s, context(ctx, seed), stats));
  const b = whole(decide(plain, s, context(ctx, seed), stats));
  return { a, b };
}

/** Stats from mutable tables without a version (what decide must re-check per decision). */
function mutableStats(): ResponseStats & { add: (offerId: string, segment: string, channel: OfferChannel, accepted: boolean) => void } {
  const cells = new Map<string, { accepted: number; shown: number }>();
  const overall = new Map<string, { accepted: number; shown: number }>();
  const bump = (m: Map<string, { accepted: number; shown: number }>, k: string, acc: boolean) => {
    const c = m.get(k) ?? { accepted: 0, shown: 0 };
    m.set(k, { accepted: c.accepted + (acc ? 1 : 0), shown: c.shown + 1 });
  };
  return {
    cell: (o, s, c) => cells.get(`${o}|${s}|${c}`) ?? { accepted: 0, shown: 0 },
    overall: (o) => overall.get(o) ?? { accepted: 0, shown: 0 },
    add: (o, s, c, acc) => {
      bump(cells, `${o}|${s}|${c}`, acc);
      bump(overall, o, acc);
    },
  };
}

describe('decide: what is kept per immutable offer set', () => {
  it('gives the plain decisions while responses are counted (stats with a version), across segments and channels', () => {
    const r = mulberry32(31);
    const plain = offers(r, 40);
    const prepared = prepareOffers(structuredClone(plain));
    const people = subjects(r, 12);
    const stats = new ResponseCounts();
    let checked = 0;
    for (let k = 0; k < 400; k++) {
      const s = people[k % people.length];
      const channel = CHANNELS[Math.floor(k / 7) % CHANNELS.length];
      const { a, b } = both(prepared, plain, s, channel, stats, 1000 + k);
      expect(a).toEqual(b);
      checked += a.offers.length;
      // responses to what was shown, as the service counts them (the version moves)
      for (const o of a.offers) stats.record(o.offerId, s.personalised && s.segment ? s.segment : 'guest', channel, r() < 0.3);
    }
    expect(checked).toBeGreaterThan(600);
  });

  it('follows counts that change without a version (each offer\'s overall counts re-checked)', () => {
    const r = mulberry32(32);
    const plain = offers(r, 30);
    const prepared = prepareOffers(structuredClone(plain));
    const people = subjects(r, 6);
    const stats = mutableStats();
    const s = people[0];
    // one offer, many acceptances in this subject's cell: its propensity moves and the decision with it
    let seed = 7;
    while (both(prepared, plain, s, 'web', stats, seed).a.holdout) seed++;
    const before = both(prepared, plain, s, 'web', stats, seed);
    expect(before.a).toEqual(before.b);
    const target = before.a.considered.find((c) => c.outcome === 'ranked_lower' && c.why?.startsWith('score'))!.offerId;
    for (let k = 0; k < 300; k++) stats.add(target, s.segment!, 'web', true);
    const after = both(prepared, plain, s, 'web', stats, seed);
    expect(after.a).toEqual(after.b);
    const fate = (d: typeof before.a) => d.considered.find((c) => c.offerId === target);
    expect(fate(after.a)).not.toEqual(fate(before.a));
    for (let k = 0; k < 200; k++) {
      const p = people[k % people.length];
      const channel = CHANNELS[k % CHANNELS.length];
      const x = both(prepared, plain, p, channel, stats, 50 + k);
      expect(x.a).toEqual(x.b);
      for (const o of x.a.offers) stats.add(o.offerId, p.personalised && p.segment ? p.segment : 'guest', channel, r() < 0.2);
    }
  });

  it('a replaced offer set (same ids, other segments, values and targets) is decided on as itself', () => {
    const r = mulberry32(33);
    const first = offers(r, 30);
    const second = offers(r, 30, ' (v2)');
    const stats = new ResponseCounts();
    for (let k = 0; k < 500; k++) stats.record(`o${k % 30}`, SEGMENTS[k % SEGMENTS.length], CHANNELS[k % 4], k % 7 === 0);
    const people = subjects(r, 8);
    const p1 = prepareOffers(structuredClone(first));
    const p2 = prepareOffers(structuredClone(second));
    let differ = 0;
    for (let k = 0; k < 60; k++) {
      const s = people[k % people.length];
      const one = both(p1, first, s, CHANNELS[k % 4], stats, k);
      const two = both(p2, second, s, CHANNELS[k % 4], stats, k);
      expect(one.a).toEqual(one.b);
      expect(two.a).toEqual(two.b);
      if (JSON.stringify(one.a) !== JSON.stringify(two.a)) differ++;
    }
    expect(differ).toBeGreaterThan(30);
  });

  it('the affinity is the subject\'s own at every decision: another customer, or the same one after their record changed', () => {
    const prepared = prepareOffers([offer('a', { value: 10, targets: { skus: ['X'], categories: [] } }), offer('b', { value: 10, targets: { skus: ['Y'], categories: [] } })]);
    const stats = new ResponseCounts();
    const lover = (sku: string) => subject({ affinity: (o) => (o.targets.skus.includes(sku) ? { score: 1, sku } : { score: 0 }) });
    const ctx = () => context({ limit: 1 }, 3);
    const propensity = (s: DecisionSubject, id: string) => {
      const d = decide(prepared, s, context({ limit: 2 }, 3), stats);
      return d.offers.find((o) => o.offerId === id)!.propensity;
    };
    // affinity 1 → lift 1.75, affinity 0 → lift 0.25 (affinitySlope 1.5): the propensities swap with the customer
    const x = lover('X');
    const y = lover('Y');
    expect(propensity(x, 'a') / propensity(x, 'b')).toBeCloseTo(7, 6);
    expect(propensity(y, 'b') / propensity(y, 'a')).toBeCloseTo(7, 6);
    // the same customer (same id), whose record changed: a new affinity function, a new answer
    const changed = { ...x, affinity: y.affinity };
    expect(propensity(changed, 'b') / propensity(changed, 'a')).toBeCloseTo(7, 6);
    expect(decide(prepared, x, ctx(), stats).offers[0].reason.parts.affinityLift).toBeCloseTo(1.75, 12);
  });
});
