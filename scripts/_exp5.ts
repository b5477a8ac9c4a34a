import { makeDecide } from '../src/core/offers/decide.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
const variants: Record<string, object> = JSON.parse(process.argv[2]);
const seeds = [101, 102, 103, 104];
for (const [name, params] of Object.entries(variants)) {
  const rs = seeds.map((seed) => simulateOffers({ rounds: 20000, seed, holdoutShare: 0, decide: makeDecide(params), windows: 4 }));
  const mean = (f: (r: (typeof rs)[number]) => number) => (rs.reduce((a, r) => a + f(r), 0) / rs.length).toFixed(3);
  console.log(name, 'oracle', mean((r) => r.ratios.learnedToOracle), 'random', mean((r) => r.ratios.learnedToRandom), 'lastQ', mean((r) => r.learning[3].valuePerDecision / r.policies.oracle.valuePerDecision));
}
