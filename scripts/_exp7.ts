import { offerPropensities } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';
const stats = new ResponseCounts();
simulateOffers({ rounds: 20000, seed: 101, holdoutShare: 0, learnedStats: stats });
for (const seg of ['repeat', 'new', 'at_risk', 'vip'] as const) for (const ch of ['web', 'store'] as const) {
  const subj = { customerId: 'x', personalised: true, consent: {}, segment: seg, orders: 3, spend: 0, daysSinceLastPurchase: 100, affinity: () => null } as any;
  const props = offerPropensities(WORLD_OFFERS, subj, ch, stats);
  console.log(`--- ${seg} ${ch}`);
  WORLD_OFFERS.forEach((o, i) => {
    const c = stats.cell(o.id, seg, ch);
    const t = trueAcceptRate(o, { segment: seg, taste: [1/3,1/3,1/3,1/3,1/3] } as any, ch);
    if (t > 0.0021) console.log(o.id.padEnd(18), `${c.accepted}/${c.shown}`.padStart(9), 'post', props[i].posteriorMean.toFixed(3), 'true', t.toFixed(3), 'EVpost', (props[i].posteriorMean * o.value).toFixed(2), 'EVtrue', (t * o.value).toFixed(2));
  });
}
