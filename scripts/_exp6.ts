import { makeDecide } from '../src/core/offers/decide.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
const variants: Record<string, [object, boolean]> = JSON.parse(process.argv[2]);
const seeds = JSON.parse(process.argv[3] ?? '[101, 102]');
for (const [name, [params, exposure]] of Object.entries(variants)) {
  const rs = seeds.map((seed: number) => simulateOffers({ rounds: 20000, seed, holdoutShare: 0, decide: makeDecide(params), windows: 4, exposure }));
  const mean = (f: (r: any) => number) => (rs.reduce((a: number, r: any) => a + f(r), 0) / rs.length).toFixed(3);
  console.log(name, 'oracle', mean((r) => r.ratios.learnedToOracle), 'random', mean((r) => r.ratios.learnedToRandom), 'lastQ', mean((r) => r.learning[3].valuePerDecision / r.policies.oracle.valuePerDecision));
}
