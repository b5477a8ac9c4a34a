import { decide, makeDecide, screenOffers } from '../src/core/offers/decide.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';
import type { Decide } from '../src/core/offers/types.js';
// "oracle on observed taste": ranks by the true rate computed from the observed taste
const ceiling: Decide = (offers, subject, ctx, stats) => {
  const { suitable } = screenOffers(offers, subject, ctx);
  let best = null as null | (typeof offers)[number]; let bv = -1;
  for (const o of suitable) {
    const a = subject.affinity(o);
    const seg = subject.segment;
    const fake = { segment: seg, taste: [0,0,0,0,0].map((_, k) => a && k === ['Candles','Kitchen','Garden','Christmas','Bags'].indexOf(a.category!) ? a.score : 1/3) } as any;
    const v = trueAcceptRate(o, fake, ctx.channel) * o.value;
    if (v > bv) { bv = v; best = o; }
  }
  return { offers: best ? [{ offerId: best.id, probability: 1 } as any] : [], considered: [], holdout: false };
};
for (const seed of [101, 102]) {
  const r = simulateOffers({ rounds: 20000, seed, holdoutShare: 0, decide: ceiling, windows: 4 });
  console.log('ceiling', seed, r.ratios.learnedToOracle.toFixed(3));
}
