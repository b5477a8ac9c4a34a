import { describe, expect, it } from 'vitest';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { makePopulation, trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';

describe('offer simulation', () => {
  it('learning: the truly best offer is made more often as responses come in (seeded, deterministic)', () => {
    const r = simulateOffers({ rounds: 6000, seed: 11, holdoutShare: 0, windows: 3 });
    const [first, , last] = r.learning;
    expect(last.bestOfferShare).toBeGreaterThan(first.bestOfferShare + 0.08);
    expect(r.policies.learned.valuePerDecision).toBeGreaterThan(r.policies.random.valuePerDecision);
    expect(r.policies.oracle.valuePerDecision).toBeGreaterThan(r.policies.learned.valuePerDecision);
    const small = () => simulateOffers({ rounds: 300, seed: 5, holdoutShare: 0.1, windows: 2 });
    expect(small()).toEqual(small());
  }, 180_000);

  it('the world is not trivial: accept rates of 0.2–35 %, the best offer differs by segment, values differ', () => {
    const people = makePopulation(1, 2000);
    const rates = people.flatMap((c) => WORLD_OFFERS.map((o) => trueAcceptRate(o, c, 'web')));
    expect(Math.max(...rates)).toBeLessThanOrEqual(0.35);
    const bestBySegment = new Map<string, Set<string>>();
    for (const c of people) {
      let best = '';
      let bestEv = -1;
      for (const o of WORLD_OFFERS) {
        const segs = o.eligibility.segments;
        if (segs && segs.length > 0 && !segs.includes(c.segment!)) continue;
        if (o.eligibility.newCustomersOnly && c.orders > 1) continue;
        const ev = trueAcceptRate(o, c, 'web') * o.value;
        if (ev > bestEv) {
          bestEv = ev;
          best = o.id;
        }
      }
      bestBySegment.set(c.segment!, (bestBySegment.get(c.segment!) ?? new Set()).add(best));
    }
    const distinct = new Set([...bestBySegment.values()].flatMap((s) => [...s]));
    expect(distinct.size).toBeGreaterThanOrEqual(5);
    expect(new Set(WORLD_OFFERS.map((o) => o.value)).size).toBeGreaterThanOrEqual(8);
  });
});
