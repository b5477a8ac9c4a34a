import { makeDecide } from '../src/core/offers/decide.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';
import type { Decide, ResponseStats } from '../src/core/offers/types.js';
const N = 1e6;
const truth: ResponseStats = {
  cell: (o, seg, ch) => {
    const offer = WORLD_OFFERS.find((x) => x.id === o)!;
    const p = trueAcceptRate(offer, { segment: seg === 'guest' ? null : seg, taste: [0.5, 0.5, 0.5, 0.5, 0.5] } as any, ch);
    return { accepted: p * N, shown: N };
  },
  overall: () => ({ accepted: 0, shown: 0 }),
};
for (const k of [1, 1.5, 2]) {
  const inner = makeDecide({ ranking: 'mean', affinitySlope: k, cellStrength: 1 });
  const d: Decide = (offers, s, ctx) => inner(offers, s, ctx, truth);
  const r = simulateOffers({ rounds: 20000, seed: 101, holdoutShare: 0, decide: d, windows: 1 });
  console.log('model ceiling kappa', k, r.ratios.learnedToOracle.toFixed(3));
}
