import { describe, expect, it } from 'vitest';
import { DECIDE_DEFAULTS, makeDecide, samplingOf } from '../src/core/offers/decide.js';
import {
  HIERARCHICAL_DECIDE,
  hierarchicalPropensities,
  offerPropensities,
  pooledPropensities,
  PROPENSITY_DEFAULTS,
  type PropensityParams,
  statsSegment,
} from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { context, offer, stats, subject } from './helpers/offers.js';

const P = { ...PROPENSITY_DEFAULTS, ...HIERARCHICAL_DECIDE };
const decide = makeDecide(HIERARCHICAL_DECIDE);
/** Without the offer × channel level (before offer-learn3). */
const PC: PropensityParams = { ...P, offerChannelStrength: Infinity };
const one = (cells: Record<string, [number, number]>, overall: Record<string, [number, number]>, s = subject(), channel: 'web' | 'store' = 'web') =>
  hierarchicalPropensities([offer('a')], s, channel, stats(cells, overall), P)[0];

describe('propensity: hierarchical model', () => {
  it('is chosen by params.model (default: hierarchical, as HIERARCHICAL_DECIDE)', () => {
    expect(PROPENSITY_DEFAULTS.model).toBe('hierarchical');
    for (const [k, v] of Object.entries(HIERARCHICAL_DECIDE)) expect(DECIDE_DEFAULTS[k as keyof typeof DECIDE_DEFAULTS], k).toEqual(v);
    const st = stats({ 'a|repeat|web': [3, 40] }, { a: [3, 40] });
    expect(offerPropensities([offer('a')], subject(), 'web', st, P)).toEqual(hierarchicalPropensities([offer('a')], subject(), 'web', st, P));
    expect(offerPropensities([offer('a')], subject(), 'web', st)).toEqual(hierarchicalPropensities([offer('a')], subject(), 'web', st));
    expect(offerPropensities([offer('a')], subject(), 'web', st, { ...PROPENSITY_DEFAULTS, model: 'pooled' })).toEqual(pooledPropensities([offer('a')], subject(), 'web', st));
  });

  it('without data: the prior rate b(segment, channel) (× the targeted lift for a segment-restricted offer)', () => {
    const b = P.channelBase.web * P.segmentLift.repeat;
    expect(one({}, {}).posteriorMean).toBeCloseTo(b, 10);
    const restricted = hierarchicalPropensities([offer('t', { eligibility: { segments: ['repeat'] } })], subject(), 'web', stats(), P)[0];
    expect(restricted.posteriorMean).toBeCloseTo(b * P.targetedLift, 10);
    expect(restricted.targeted).toBe(true);
  });

  it('a sparse cell shrinks toward the offer’s rate in the other segments; a dense cell follows its own data', () => {
    const elsewhere: Record<string, [number, number]> = { 'a|vip|web': [40, 200], 'a|loyal|web': [40, 200] };
    const sparse = one(elsewhere, { a: [80, 400] });
    // the offer does ~4× the typical rate elsewhere: the empty repeat × web cell starts near 4 × b(repeat, web)
    const b = P.channelBase.web * P.segmentLift.repeat;
    expect(sparse.posteriorMean).toBeGreaterThan(2.5 * b);
    expect(sparse.posteriorMean).toBeLessThan(5 * b);
    const dense = one({ ...elsewhere, 'a|repeat|web': [5, 1000] }, { a: [85, 1400] });
    expect(dense.posteriorMean).toBeLessThan(0.012);
    expect(dense.posteriorMean).toBeGreaterThan(0.004);
  });

  it('a sparse channel shrinks toward the offer × segment rate in the other channels', () => {
    const r = one({ 'a|repeat|store': [30, 150] }, { a: [30, 150] }, subject(), 'web');
    // 0.2 in store, where the typical rate is b(repeat, store); web's typical rate is lower by channelBase
    const expected = 0.2 * (P.channelBase.web / P.channelBase.store);
    expect(r.posteriorMean).toBeGreaterThan(0.6 * expected);
    expect(r.posteriorMean).toBeLessThan(1.2 * expected);
  });

  it('each response counts once: a cell’s Beta holds its own acceptances plus at most the prior’s shape', () => {
    const r = one({ 'a|repeat|web': [10, 100] }, { a: [10, 100] });
    const priorShape = 1 / P.offerSpread ** 2;
    expect(r.alpha).toBeGreaterThan(10);
    expect(r.alpha).toBeLessThanOrEqual(10 + priorShape + 1e-9);
    expect(r.posteriorMean).toBeGreaterThan(0.05);
    expect(r.posteriorMean).toBeLessThan(0.1);
  });

  it('overall trials of no known cell still inform the offer’s rate', () => {
    const r = one({}, { a: [200, 1000] });
    expect(r.posteriorMean).toBeGreaterThan(0.12);
  });

  it('a new offer gets tried among known ones and a bad one fades (Thompson sampling)', () => {
    const offers = [offer('known'), offer('fresh')];
    const share = (st: ReturnType<typeof stats>): number => {
      let n = 0;
      for (let seed = 1; seed <= 400; seed++) if (decide(offers, subject(), context({}, seed), st).offers[0].offerId === 'fresh') n++;
      return n / 400;
    };
    expect(share(stats({ 'known|repeat|web': [60, 1000] }, { known: [60, 1000] }))).toBeGreaterThan(0.05);
    expect(share(stats({ 'known|repeat|web': [60, 1000], 'fresh|repeat|web': [2, 1000] }, { known: [60, 1000], fresh: [2, 1000] }))).toBeLessThan(0.01);
  });

  it('learns as responses come in (the cached exposure of an offer follows its counts)', () => {
    const counts = new ResponseCounts();
    const offers = [offer('a')];
    const before = hierarchicalPropensities(offers, subject(), 'web', counts, P)[0].posteriorMean;
    for (let i = 0; i < 200; i++) counts.record('a', 'repeat', 'web', i % 4 === 0);
    const after = hierarchicalPropensities(offers, subject(), 'web', counts, P)[0].posteriorMean;
    expect(before).toBeLessThan(0.05);
    expect(after).toBeGreaterThan(0.2);
    expect(after).toBeLessThan(0.27);
  });

  it('the cached exposure (counts and cells of an offer) follows every response: equal to the propensities of fresh counts after each one', () => {
    const counts = new ResponseCounts();
    const offers = [offer('a'), offer('b', { channels: ['web', 'store'] })];
    const history: [string, 'repeat' | 'vip', 'web' | 'store' | 'app', boolean][] = [];
    const channels = ['web', 'store', 'app'] as const;
    for (let i = 0; i < 60; i++) {
      history.push([i % 3 === 0 ? 'b' : 'a', i % 2 === 0 ? 'repeat' : 'vip', channels[i % 3], i % 5 === 0]);
      const [o, seg, ch, ok] = history[history.length - 1];
      counts.record(o, seg, ch, ok);
      const fresh = new ResponseCounts();
      for (const [o2, s2, c2, a2] of history) fresh.record(o2, s2, c2, a2);
      for (const segment of ['repeat', 'vip'] as const) {
        for (const channel of channels) {
          const s = subject({ segment });
          expect(hierarchicalPropensities(offers, s, channel, counts, P)).toEqual(hierarchicalPropensities(offers, s, channel, fresh, P));
          expect(hierarchicalPropensities(offers, s, channel, counts, PC)).toEqual(hierarchicalPropensities(offers, s, channel, fresh, PC));
        }
      }
    }
  });

  it('offer × channel level: a channel effect learned in other segments carries to a segment that has not seen the channel', () => {
    // in vip the offer does 3× the typical rate in store and the typical rate on the web; repeat has seen only the web
    const cells: Record<string, [number, number]> = {
      'a|vip|store': [0.09 * 3 * 400, 400],
      'a|vip|web': [0.0525 * 400, 400],
      'a|repeat|web': [0.035 * 400, 400],
    };
    const overall: Record<string, [number, number]> = { a: [108 + 21 + 14, 1200] };
    const at = (p: PropensityParams, channel: 'web' | 'store') => hierarchicalPropensities([offer('a')], subject(), channel, stats(cells, overall), p)[0];
    const shared: PropensityParams = P;
    expect(P.offerChannelStrength).toBe(10);
    const bStore = P.channelBase.store * P.segmentLift.repeat;
    // without the level, repeat × store sits near its web rate scaled by the typical channel ratio; with it, well above
    expect(at(PC, 'store').posteriorMean).toBeLessThan(1.5 * bStore);
    expect(at(shared, 'store').posteriorMean).toBeGreaterThan(2 * bStore);
    // η relative between channels (its scale is the segment rate's): store ≈ 3× web in vip, shrunk toward 1
    expect(at(shared, 'store').channelEffect / at(shared, 'web').channelEffect).toBeGreaterThan(2);
    // the repeat × web cell, dense, still follows its own data
    expect(at(shared, 'web').posteriorMean).toBeGreaterThan(0.025);
    expect(at(shared, 'web').posteriorMean).toBeLessThan(0.045);
    // no data in other segments: no channel effect (leave-one-segment-out), the same as without the level
    const alone = stats({ 'a|repeat|store': [30, 150] }, { a: [30, 150] });
    const r = hierarchicalPropensities([offer('a')], subject(), 'web', alone, shared)[0];
    expect(r.channelEffect).toBe(1);
    expect(r.posteriorMean).toBeCloseTo(hierarchicalPropensities([offer('a')], subject(), 'web', alone, PC)[0].posteriorMean, 12);
  });

  it('samplingOf: the tagged Beta Thompson draws come from, and the affinity multiplier', () => {
    const s = subject({ affinity: () => ({ score: 0.9, category: 'Candles' }) });
    const pr = hierarchicalPropensities([offer('a', { targets: { skus: [], categories: ['Candles'] } })], s, 'web', stats(), P)[0];
    expect(samplingOf(pr, { sharpening: 1 })).toEqual({ kind: 'beta', a: Math.fround(pr.alpha), b: Math.fround(pr.beta) });
    // a new offer (no acceptances) is drawn untempered by default (the exploration floor, sharpeningRamp: offer-learn7)
    expect(samplingOf(pr, { sharpening: 2 })).toEqual({ kind: 'beta', a: Math.fround(pr.alpha), b: Math.fround(pr.beta) });
    const full = hierarchicalPropensities([offer('a', { targets: { skus: [], categories: ['Candles'] } })], s, 'web', stats(), { ...P, sharpeningRamp: 0 })[0];
    expect(samplingOf(full, { sharpening: 2 })).toEqual({ kind: 'beta', a: Math.fround(2 * full.alpha), b: Math.fround(2 * full.beta) });
    expect(pr.affinityLift).toBeCloseTo(1 + P.affinitySlope * 0.4, 12);
    expect(pr.alpha / (pr.alpha + pr.beta)).toBeCloseTo(pr.posteriorMean, 10);
  });

  it('known customers without personalisation consent learn in their own cell, not with guest sessions (offer-learn4)', () => {
    const known = subject({ personalised: false, segment: null });
    const guest = subject({ customerId: null, personalised: false, segment: null });
    expect(statsSegment(known)).toBe('unsegmented');
    expect(statsSegment(guest)).toBe('guest');
    expect(statsSegment(subject())).toBe('repeat');
    // the offer suits known customers (20 %) far better than guest sessions (2 %): each learns its own rate
    const c = new ResponseCounts();
    for (let i = 0; i < 600; i++) {
      c.record('a', statsSegment(known), 'web', i % 5 === 0);
      c.record('a', statsSegment(guest), 'web', i % 50 === 0);
    }
    const rate = (s: typeof known) => hierarchicalPropensities([offer('a')], s, 'web', c, P)[0].posteriorMean;
    expect(rate(known)).toBeGreaterThan(0.17);
    expect(rate(known)).toBeLessThan(0.23);
    expect(rate(guest)).toBeGreaterThan(0.015);
    expect(rate(guest)).toBeLessThan(0.03);
  });
});
