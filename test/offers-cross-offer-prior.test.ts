/**
 * The prior learned across offers (src/core/offers/propensity.ts `crossOfferPriors`, offer-learn5): an offer with no
 * responses of its own is centred where the OTHER offers' responses put offers of its value (a cheap offer is accepted
 * more often than a dear one when the others say so), its own responses never move its own prior (leave-one-out), it
 * is off with both SDs 0, and decide's tables (prepared set) and the plain computation agree with it on. Also the
 * opt-in τ1 from data (`segmentSpreadFromData`): a segment far from the offer's other segments is shrunk less.
 */
import { describe, expect, it } from 'vitest';
import { makeDecide } from '../src/core/offers/decide.js';
import { crossOfferPriors, hierarchicalPropensities, PROPENSITY_DEFAULTS, type PropensityParams } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import type { Decision } from '../src/core/offers/types.js';
import { context, offer, subject } from './helpers/offers.js';

const ON: PropensityParams = { ...PROPENSITY_DEFAULTS, model: 'hierarchical', crossOfferLevelSd: 1, crossOfferValueSd: 1 };
const OFF: PropensityParams = { ...ON, crossOfferLevelSd: 0, crossOfferValueSd: 0 };

/** Offers of values 3 … 48 whose true rate falls with value (rate ∝ 1/value), answered 2,000 times each, and a new cheap and a new dear offer. */
function world() {
  const known = [3, 6, 12, 24, 48].map((v) => offer(`v${v}`, { value: v }));
  const cheap = offer('new-cheap', { value: 4 });
  const dear = offer('new-dear', { value: 40 });
  const counts = new ResponseCounts();
  for (const o of known) {
    const rate = 0.6 / o.value;
    // deterministic: accepted on an even spread of the trials
    for (let i = 0; i < 2000; i++) counts.record(o.id, 'repeat', 'web', Math.floor((i + 1) * rate) > Math.floor(i * rate), 1);
  }
  return { offers: [...known, cheap, dear], cheap, dear, counts };
}

describe('offers: the prior learned across offers', () => {
  it('centres a new cheap offer above a new dear one when the other offers say cheap ones are accepted more (off: both at the same prior)', () => {
    const { offers, counts } = world();
    const on = hierarchicalPropensities(offers, subject(), 'web', counts, ON);
    const off = hierarchicalPropensities(offers, subject(), 'web', counts, OFF);
    const cheapOn = on[5].posteriorMean;
    const dearOn = on[6].posteriorMean;
    expect(off[5].posteriorMean).toBeCloseTo(off[6].posteriorMean, 12);
    // true rates of offers of value 4 and 40 in this world: 0.15 and 0.015
    expect(cheapOn).toBeGreaterThan(0.08);
    expect(dearOn).toBeLessThan(0.03);
    expect(cheapOn / dearOn).toBeGreaterThan(4);
    // the fit's slope has the sign of the data: factors fall with value
    const fit = crossOfferPriors(offers, counts, ON);
    expect(fit.factor[5]).toBeGreaterThan(fit.factor[6]);
  });

  it("an offer's own responses do not move its own factor (leave-one-out), the others' do", () => {
    const { offers, counts } = world();
    const before = crossOfferPriors(offers, counts, ON).factor;
    for (let i = 0; i < 500; i++) counts.record('new-cheap', 'repeat', 'web', i % 2 === 0, 1);
    const after = crossOfferPriors(offers, counts, ON).factor;
    expect(after[5]).toBe(before[5]);
    expect(after[6]).not.toBe(before[6]);
  });

  it('without responses to other offers, or with both SDs 0, every factor is 1', () => {
    const { offers, counts } = world();
    expect([...crossOfferPriors(offers, new ResponseCounts(), ON).factor]).toEqual(offers.map(() => 1));
    const solo = [offer('solo', { value: 5 })];
    const c = new ResponseCounts();
    for (let i = 0; i < 100; i++) c.record('solo', 'repeat', 'web', i % 3 === 0, 1);
    expect([...crossOfferPriors(solo, c, ON).factor]).toEqual([1]);
    expect(hierarchicalPropensities(offers, subject(), 'web', counts, OFF)).toEqual(hierarchicalPropensities(offers, subject(), 'web', counts, { ...OFF, crossOfferValueSd: 0 }));
  });

  it("decide on a prepared set (its tables) gives what the plain computation gives, as responses come in", () => {
    const { offers, counts } = world();
    const d = makeDecide(ON);
    const prepared = prepareOffers(offers.map((o) => ({ ...o })));
    const whole = (x: Decision) => ({ offers: x.offers.map((o) => ({ ...o, probability: o.probability })), considered: x.considered });
    for (let i = 0; i < 60; i++) {
      const ctx = context({ channel: 'web', limit: 2, holdoutShare: 0.1 }, i + 1);
      const a = whole(d(prepared, subject(), ctx, counts));
      const b = whole(d(offers, subject(), context({ channel: 'web', limit: 2, holdoutShare: 0.1 }, i + 1), counts));
      expect(a).toEqual(b);
      counts.record(offers[i % offers.length].id, 'repeat', 'web', i % 7 === 0, 1);
    }
  });
});

describe('offers: τ1 from data (segmentSpreadFromData, opt-in)', () => {
  it("an offer whose segments' rates differ widely is shrunk less toward its overall rate in a segment with little data", () => {
    const o = offer('premium', { value: 45 });
    const counts = new ResponseCounts();
    // most segments almost never accept it; 'vip' takes it up at 30 % on a few trials
    for (const seg of ['new', 'repeat', 'loyal', 'high_aov', 'at_risk', 'lapsed'] as const) for (let i = 0; i < 1000; i++) counts.record('premium', seg, 'web', i % 200 === 0, 1);
    for (let i = 0; i < 20; i++) counts.record('premium', 'vip', 'web', i % 3 === 0, 1);
    const vip = subject({ segment: 'vip' });
    const fixed = hierarchicalPropensities([o], vip, 'web', counts, OFF)[0].posteriorMean;
    const fromData = hierarchicalPropensities([o], vip, 'web', counts, { ...OFF, segmentSpreadFromData: true })[0].posteriorMean;
    expect(fromData).toBeGreaterThan(fixed * 1.5);
    // a segment with the offer's common rate stays where it was (the spread only widens)
    const repeat = subject({ segment: 'repeat' });
    const a = hierarchicalPropensities([o], repeat, 'web', counts, OFF)[0].posteriorMean;
    const b = hierarchicalPropensities([o], repeat, 'web', counts, { ...OFF, segmentSpreadFromData: true })[0].posteriorMean;
    expect(Math.abs(b - a) / a).toBeLessThan(0.1);
  });
});
