/**
 * Impressions counted by their affinity lift (offer-lift): `impressionExposure` is the lift the propensity model
 * applies; the simulator's learned policy counts each impression so (as the service does when it records one);
 * the cross-instance announce carries it; the evaluator fits the learned policy's counts with the log's exposures
 * and ranks each candidate at its offer's mean exposure, so its rates stay each offer's mean rate.
 */
import { describe, expect, it } from 'vitest';
import { decodeOfferChange, encodeOfferChange } from '../src/cache/offer-changes.js';
import { hierarchicalPropensities, impressionExposure, PROPENSITY_DEFAULTS } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { evaluateOfferLog } from '../src/eval/offer-evaluation.js';
import type { OfferLogRow } from '../src/eval/offer-log.js';
import { simulateOffers, toSubject } from '../src/eval/offer-simulation.js';
import { WORLD_OFFERS } from '../src/eval/offer-world.js';
import { offer, subject } from './helpers/offers.js';

describe('impression exposure', () => {
  it('is the affinity lift g = 1 + κ·(affinity − ½) the propensity uses; 1 without personalisation or an affinity', () => {
    const candles = offer('candles', { targets: { skus: [], categories: ['Candles'] } });
    const at = (score: number) => subject({ affinity: () => ({ score, category: 'Candles' }) });
    expect(impressionExposure(candles, at(1))).toBeCloseTo(1.75, 12);
    expect(impressionExposure(candles, at(0))).toBeCloseTo(0.25, 12);
    expect(impressionExposure(candles, at(0.5))).toBe(1);
    expect(impressionExposure(candles, at(3))).toBeCloseTo(1.75, 12); // clipped to [0, 1] as the propensity clips it
    expect(impressionExposure(candles, subject({ personalised: false, affinity: () => ({ score: 1 }) }))).toBe(1);
    expect(impressionExposure(candles, subject())).toBe(1);
    expect(impressionExposure(candles, at(1), { affinitySlope: 1 })).toBeCloseTo(1.5, 12);
    // equal to the lift the decision's propensity carries
    const [p] = hierarchicalPropensities([candles], at(0.9), 'web', new ResponseCounts());
    expect(impressionExposure(candles, at(0.9))).toBe(p.affinityLift);
  });

  it('counted so, a cell learns the rate at neutral affinity: the propensity of a low-affinity subject is not inflated by high-affinity impressions', () => {
    const candles = offer('candles', { targets: { skus: [], categories: ['Candles'] } });
    const high = subject({ affinity: () => ({ score: 1 }) });
    const low = subject({ affinity: () => ({ score: 0 }) });
    // 2,000 impressions to high-affinity customers, accepted at 1.75 × 8 %: the neutral rate is 8 %
    const byLift = new ResponseCounts();
    const plain = new ResponseCounts();
    for (let i = 0; i < 2000; i++) {
      const accepted = i % 50 < 7;
      byLift.record('candles', 'repeat', 'web', accepted, impressionExposure(candles, high));
      plain.record('candles', 'repeat', 'web', accepted);
    }
    const [l] = hierarchicalPropensities([candles], low, 'web', byLift);
    const [lp] = hierarchicalPropensities([candles], low, 'web', plain);
    expect(l.posteriorMean).toBeGreaterThan(0.07);
    expect(l.posteriorMean).toBeLessThan(0.09);
    expect(l.propensity).toBeLessThan(0.025); // 0.25 × 8 %
    expect(lp.propensity).toBeGreaterThan(0.03); // 0.25 × 14 %: the mix of who was shown it
  });

  it("the simulator's learned policy counts each impression as its exposure, computed as the service computes it", () => {
    const stats = new ResponseCounts();
    const seen = new Map<string, number>();
    let lifted = 0;
    simulateOffers({
      rounds: 400,
      seed: 3,
      holdoutShare: 0,
      learnedStats: stats,
      onLearnedDecision: (d, shown) => {
        if (!shown) return;
        const o = WORLD_OFFERS.find((x) => x.id === shown.offerId)!;
        expect(shown.exposure).toBe(impressionExposure(o, toSubject(d.customer)));
        if (shown.exposure !== 1) lifted++;
        seen.set(o.id, (seen.get(o.id) ?? 0) + shown.exposure);
      },
    });
    expect(lifted).toBeGreaterThan(20);
    for (const [id, sum] of seen) expect(stats.overall(id).shown).toBeCloseTo(sum, 9);
    // exposure: false counts each as 1 (the earlier behaviour)
    const ones = new ResponseCounts();
    let n = 0;
    simulateOffers({ rounds: 400, seed: 3, holdoutShare: 0, learnedStats: ones, exposure: false, onLearnedDecision: (_d, shown) => void (shown && n++) });
    expect(WORLD_OFFERS.reduce((s, o) => s + ones.overall(o.id).shown, 0)).toBe(n);
  });

  it('the announce to other instances carries an impression exposure; a bad one makes the message foreign', () => {
    const e = { customerId: '7', offerId: 'o', channel: 'web' as const, type: 'impression' as const, time: 1, segment: 'vip' as const };
    expect(decodeOfferChange(encodeOfferChange({ from: 'a', events: [{ ...e, exposure: 1.3 }] }))?.events).toEqual([{ ...e, exposure: 1.3 }]);
    expect(decodeOfferChange(encodeOfferChange({ from: 'a', events: [e] }))?.events).toEqual([e]);
    for (const bad of [-1, 'x', null]) expect(decodeOfferChange(JSON.stringify({ from: 'a', events: [{ ...e, exposure: bad }] }))).toBeNull();
  });

  it("the evaluator's learned policy: counts fitted by exposure, candidates at their offer's mean exposure (its rate stays the offer's mean rate)", () => {
    // o1 shown to high-affinity customers (exposure 1.75), accepted 14 %; o2 at exposure 1, accepted 10 %; equal values.
    // Ranked by the neutral rate alone (8 % vs 10 %) the learned policy would prefer o2; at its mean lift, o1.
    const rows: OfferLogRow[] = [];
    for (let i = 0; i < 6000; i++) {
      const o1 = i % 2 === 0;
      const k = Math.floor(i / 2);
      const accepted = o1 ? k % 50 < 7 : k % 10 === 0;
      rows.push({
        line: 0,
        decisionId: `d${i}`,
        time: null,
        customerId: `c${i % 300}`,
        segment: 'repeat',
        channel: 'web',
        store: null,
        offerId: o1 ? 'o1' : 'o2',
        position: 1,
        probability: 0.5,
        reward: accepted ? 10 : 0,
        accepted,
        value: 10,
        candidates: ['o1', 'o2'],
        exposure: o1 ? 1.75 : 1,
      });
    }
    const rep = evaluateOfferLog(rows, { seed: 1, draws: 50, offers: [offer('o1', { value: 10 }), offer('o2', { value: 10 })] });
    expect(rep.policies.learned_greedy.ips.value).toBeCloseTo(rep.policies['always:o1'].ips.value, 9);
    expect(rep.policies['always:o1'].ips.value).toBeGreaterThan(rep.policies['always:o2'].ips.value);
    expect(PROPENSITY_DEFAULTS.affinitySlope).toBe(1.5); // the lifts above are within its range [0.25, 1.75]
  });
});
