/**
 * Tempering scaled by the value at stake (src/core/offers/propensity.ts `valueTempering`, offer-learn8): an
 * offer's sharpening weight w (the exploration floor's, `sharpeningRamp`) is multiplied by (vw / v̄)^γ, vw its value ×
 * weight, v̄ the mean over the offer set, so the Thompson draws of a dear offer (whose score spreads over more value) come
 * from a narrower Beta and a cheap one's from a wider one (never wider than the posterior); `valueTemperingUpOnly`
 * keeps cheap offers' weights. What decide samples from is what it logs: the logged probabilities match the
 * frequencies of its choices. On by default (γ = 1) since offer-learn8; off (γ = 0) the weights are those of before.
 */
import { describe, expect, it } from 'vitest';
import { choiceProbabilities, decodeChoice, encodeChoice, suitableConflicts } from '../src/core/offers/choice.js';
import { DECIDE_DEFAULTS, makeDecide, samplingOf, traceOf } from '../src/core/offers/decide.js';
import { hierarchicalPropensities, PROPENSITY_DEFAULTS, temperedSharpening } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import type { Offer } from '../src/core/offers/types.js';
import { context, offer, subject } from './helpers/offers.js';

const T = DECIDE_DEFAULTS.sharpening;

/**
 * Four offers (mean value 21): a dear one (45, 20 of 2,000 accepted: score 0.45), a middling one (15, 60 of 1,000:
 * 0.9), a cheap one (3, 150 of 1,000: 0.45) and a cheap one accepted twice in 20 (3: inside the exploration floor).
 */
function world(): { offers: Offer[]; counts: ResponseCounts } {
  const offers = [offer('dear', { value: 45 }), offer('mid', { value: 15 }), offer('cheap', { value: 3 }), offer('young', { value: 21, weight: 1 / 7 })];
  const counts = new ResponseCounts();
  for (let i = 0; i < 2000; i++) counts.record('dear', 'repeat', 'web', i % 100 === 0, 1);
  for (let i = 0; i < 1000; i++) counts.record('mid', 'repeat', 'web', i % 50 < 3, 1);
  for (let i = 0; i < 1000; i++) counts.record('cheap', 'repeat', 'web', i % 20 < 3, 1);
  for (let i = 0; i < 20; i++) counts.record('young', 'repeat', 'web', i % 10 === 0, 1);
  return { offers, counts };
}

/** Three offers whose posteriors overlap: dear (45, 4 of 400), mid (15, 10 of 200: the best expected score), cheap (3, 15 of 100). */
function close(): { set: readonly Offer[]; counts: ResponseCounts } {
  const counts = new ResponseCounts();
  for (const [id, n, a] of [['dear', 400, 4], ['mid', 200, 10], ['cheap', 100, 15]] as const) for (let i = 0; i < n; i++) counts.record(id, 'repeat', 'web', i < a, 1);
  return { set: prepareOffers([offer('dear', { value: 45 }), offer('mid', { value: 15 }), offer('cheap', { value: 3 })]), counts };
}

const logged = (offers: readonly Offer[], counts: ResponseCounts, params: object): ({ kind: string } | null)[] =>
  traceOf(makeDecide(params)(offers, subject(), context({ limit: 4 }, 9), counts))!.choice!.offers.map((o) => o && { ...o.dist });

describe('offers: tempering scaled by the value at stake (valueTempering)', () => {
  it('each weight is the floor’s weight × (vw / v̄)^γ (up only: floored at 1), decide samples and logs Beta(t_w·α, t_w·β); off: the weights of before', () => {
    const { offers, counts } = world();
    const vbar = (45 + 15 + 3 + 3) / 4;
    const floor = [1, 1, 1, 2 / PROPENSITY_DEFAULTS.sharpeningRamp];
    const vw = [45, 15, 3, 3];
    for (const [gamma, upOnly] of [[1, false], [0.5, false], [1, true]] as const) {
      const p = { ...PROPENSITY_DEFAULTS, valueTempering: gamma, valueTemperingUpOnly: upOnly };
      const props = hierarchicalPropensities(offers, subject(), 'web', counts, p);
      const want = floor.map((w, i) => {
        const f = (vw[i] / vbar) ** gamma;
        return w * (upOnly ? Math.max(1, f) : f);
      });
      props.forEach((x, i) => expect(x.sharpenWeight).toBeCloseTo(want[i], 12));
      // the dear offer tempered more than t, the cheap ones less, never below 1
      const ts = props.map((x) => temperedSharpening(T, x.sharpenWeight));
      expect(ts[0]).toBeGreaterThan(T);
      if (upOnly) expect(ts[2]).toBe(T);
      else expect(ts[2]).toBeLessThan(T);
      for (const t of ts) expect(t).toBeGreaterThanOrEqual(1);
      const dists = props.map((x) => samplingOf(x, { sharpening: T }));
      // what decide logs, for a plain and a prepared set alike
      for (const set of [offers, prepareOffers(offers.map((o) => ({ ...o })))]) {
        const lg = logged(set, counts, { valueTempering: gamma, valueTemperingUpOnly: upOnly });
        expect(lg.filter((d) => d !== null).length).toBeGreaterThanOrEqual(2);
        lg.forEach((d, i) => {
          if (d !== null) expect(d).toEqual(dists[i]);
        });
      }
    }
    // off (γ = 0, the default before offer-learn8): the floor's weights
    const off = hierarchicalPropensities(offers, subject(), 'web', counts, { ...PROPENSITY_DEFAULTS, valueTempering: 0 });
    expect(off.map((x) => x.sharpenWeight)).toEqual(floor);
    // on by default (γ = 1, offer-learn8)
    expect(PROPENSITY_DEFAULTS.valueTempering).toBe(1);
    expect(logged(offers, counts, {})).toEqual(logged(offers, counts, { valueTempering: 1 }));
    expect(logged(offers, counts, {})).not.toEqual(logged(offers, counts, { valueTempering: 0 }));
  });

  it('a dear offer whose expected score is below the best one’s is chosen less often, the best one more often', () => {
    const { set, counts } = close();
    const share = (params: object): Map<string, number> => {
      const d = makeDecide(params);
      const m = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        const id = d(set, subject(), context({}, 5000 + i), counts).offers[0].offerId;
        m.set(id, (m.get(id) ?? 0) + 1 / 3000);
      }
      return m;
    };
    const off = share({ valueTempering: 0 });
    expect(off.get('mid') ?? 0).toBeGreaterThan(0.5);
    expect(off.get('dear') ?? 0).toBeGreaterThan(0.1);
    for (const params of [{ valueTempering: 1 }, { valueTempering: 1, valueTemperingUpOnly: true }]) {
      const on = share(params);
      expect(on.get('dear') ?? 0).toBeLessThan(0.75 * (off.get('dear') ?? 0));
      expect(on.get('mid') ?? 0).toBeGreaterThan((off.get('mid') ?? 0) + 0.03);
    }
  });

  it('the logged probability is that of the draws served: it matches the frequency of each choice, and reads back the same from the log', () => {
    const { set, counts } = close();
    for (const params of [{ valueTempering: 1 }, { valueTempering: 1, valueTemperingUpOnly: true }]) {
      const d = makeDecide(params);
      const n = 3000;
      const shown = new Map<string, number>();
      const sum = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const x = d(set, subject(), context({}, 1000 + i), counts);
        const top = x.offers[0];
        shown.set(top.offerId, (shown.get(top.offerId) ?? 0) + 1);
        sum.set(top.offerId, (sum.get(top.offerId) ?? 0) + top.probability);
        if (i % 500 === 0) {
          const t = traceOf(x)!;
          const back = decodeChoice(JSON.parse(JSON.stringify(encodeChoice(t.choice!))), suitableConflicts(t.setConflicts!, [0, 1, 2], 3), [45, 15, 3]);
          expect(choiceProbabilities(back)).toEqual([top.probability]);
        }
      }
      // at least two offers chosen often enough for the comparison to mean something
      expect([...shown.values()].filter((c) => c / n > 0.05).length).toBeGreaterThanOrEqual(2);
      for (const id of ['dear', 'mid', 'cheap']) {
        const freq = (shown.get(id) ?? 0) / n;
        const meanLogged = (sum.get(id) ?? 0) / Math.max(1, shown.get(id) ?? 0);
        if ((shown.get(id) ?? 0) > 0) expect(Math.abs(meanLogged - freq)).toBeLessThan(0.03);
      }
    }
  });
});
