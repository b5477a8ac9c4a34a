import { makeDecide } from '../src/core/offers/decide.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
const variants: Record<string, object> = JSON.parse(process.argv[2]);
for (const [name, params] of Object.entries(variants)) {
  for (const seed of [101, 102]) {
    const r = simulateOffers({ rounds: 20000, seed, holdoutShare: 0, decide: makeDecide(params), windows: 4 });
    console.log(name, seed, r.ratios.learnedToOracle.toFixed(3), r.ratios.learnedToRandom.toFixed(3), r.learning.map((w) => (w.valuePerDecision / r.policies.oracle.valuePerDecision).toFixed(2)).join(' '));
  }
}
