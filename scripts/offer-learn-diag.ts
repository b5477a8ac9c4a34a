/**
 * Diagnostic harness for the learned offer policy (offer-learn): runs simulateOffers on several seeds with a
 * variant of decide and prints realised ratios plus EXPECTED value per decision (true rate × value of the chosen
 * offer, far less noisy than realised value), and the regret split by segment × channel:
 *   best     = max over the learned policy's suitable offers of true p × value
 *   noisyOpt = the offer a policy knowing the true model but only the OBSERVED taste would pick (ceiling)
 *   meanPick = the offer the posterior-mean ranking would pick (exploitation), so
 *   regret = (best − meanPick) [estimate error] + (meanPick − chosen) [exploration]
 * npx tsx scripts/offer-learn-diag.ts --seeds 101-110 [--variant NAME] [--by-cell] [--no-exposure] [--fast] [--customers N]
 * (impressions counted as their affinity lift, as the service does since offer-lift; --no-exposure: as 1, as before;
 * --exposure, which offer-lift's runs passed, is what happens without either)
 */
import { makeDecide, type DecideParams } from '../src/core/offers/decide.js';
import type { Decide, Offer } from '../src/core/offers/types.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { impressionExposure, PROPENSITY_DEFAULTS } from '../src/core/offers/propensity.js';
import { makePopulation, trueAcceptRate, WORLD_OFFERS, type SimCustomer } from '../src/eval/offer-world.js';
import { VARIANTS } from './offer-learn-variants.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1] : d;
};
const [lo, hi] = arg('seeds', '101-110').split('-').map(Number);
const seeds = Array.from({ length: (hi ?? lo) - lo + 1 }, (_, i) => lo + i);
const variant = arg('variant', 'base');
const rounds = Number(arg('rounds', '20000'));
const byCell = args.includes('--by-cell');
/** --fast: skip the posterior-mean pick (halves the cost; meanPick then reads 0). */
const fast = args.includes('--fast');
const exposure = !args.includes('--no-exposure');
const customers = Number(arg('customers', '4000'));
const params: Partial<DecideParams> = VARIANTS[variant] ?? (() => { throw new Error(`no variant ${variant}`); })();
const byId = new Map(WORLD_OFFERS.map((o) => [o.id, o]));
const observed = (c: SimCustomer): SimCustomer => ({ ...c, taste: c.observedTaste });
/**
 * cellOpt: the ceiling of a policy that knows only what the service's cell model can (the true rates averaged over the
 * population of the subject's stats cell when not personalised; the true model at the observed taste when personalised).
 */
const unpersonalisedMean = (pop: SimCustomer[], o: Offer, ch: import('../src/core/offers/types.js').OfferChannel): number => {
  let s = 0, n = 0;
  for (const c of pop) if (!c.personalised) { s += trueAcceptRate(o, c, ch); n++; }
  return n ? s / n : 0;
};

const rows: string[] = [];
let sums = { lo: 0, lr: 0, ev: 0, best: 0, noisy: 0, mean: 0, pass: 0, cellOpt: 0 };
const byOffer = args.includes('--by-offer');
const pairs = new Map<string, { n: number; regret: number }>();
const cells = new Map<string, { n: number; best: number; noisy: number; mean: number; chosen: number; cellOpt: number }>();
for (const seed of seeds) {
  const served: Decide = makeDecide(params);
  const meanD: Decide = makeDecide({ ...params, ranking: 'mean' });
  let meanPickId: string | null = null;
  const wrapped: Decide = (offers, subject, ctx, stats) => {
    if (!fast) meanPickId = meanD(offers, subject, { ...ctx, holdoutShare: 0, random: () => 0.5 }, stats).offers[0]?.offerId ?? null;
    return served(offers, subject, ctx, stats);
  };
  let ev = 0, best = 0, noisy = 0, mean = 0, cellOpt = 0;
  const pop = makePopulation(seed, customers);
  const unpMean = new Map<string, number>();
  const unp = (o: Offer, ch: import('../src/core/offers/types.js').OfferChannel): number => {
    const k = `${o.id}|${ch}`;
    let v = unpMean.get(k);
    if (v === undefined) unpMean.set(k, (v = unpersonalisedMean(pop, o, ch)));
    return v;
  };
  const r = simulateOffers({
    rounds, seed, holdoutShare: 0, decide: wrapped, exposure, customers,
    exposureOf: (o, s) => impressionExposure(o, s, { affinitySlope: params.affinitySlope ?? PROPENSITY_DEFAULTS.affinitySlope }),
    onLearnedDecision: (d, shown, _reward, _acc, candidates) => {
      const c = d.customer;
      const evOf = (o: Offer | undefined): number => (o ? trueAcceptRate(o, c, d.channel) * o.value * o.weight : 0);
      const cands = candidates.map((id) => byId.get(id)!);
      let b = 0, nb: Offer | undefined, nbv = -1, bo: Offer | undefined;
      for (const o of cands) {
        if (evOf(o) > b) bo = o;
        b = Math.max(b, evOf(o));
        const v = trueAcceptRate(o, observed(c), d.channel) * o.value * o.weight;
        if (v > nbv) { nbv = v; nb = o; }
      }
      let co: Offer | undefined, cov = -1;
      for (const o of cands) {
        const v = (c.personalised ? trueAcceptRate(o, observed(c), d.channel) : c.id === null ? trueAcceptRate(o, c, d.channel) : unp(o, d.channel)) * o.value * o.weight;
        if (v > cov) { cov = v; co = o; }
      }
      const cOpt = evOf(co);
      cellOpt += cOpt;
      const ch = evOf(shown ? byId.get(shown.offerId) : undefined);
      const mp = evOf(meanPickId ? byId.get(meanPickId) : undefined);
      if (byOffer) {
        const key = `${c.personalised && c.segment ? c.segment : 'guest'}|${d.channel}: best ${bo?.id} chosen ${shown?.offerId}`;
        const e = pairs.get(key) ?? { n: 0, regret: 0 };
        e.n++; e.regret += b - ch;
        pairs.set(key, e);
      }
      ev += ch; best += b; noisy += evOf(nb); mean += mp;
      if (byCell) {
        const key = `${c.personalised && c.segment ? c.segment : 'guest'}|${d.channel}`;
        const e = cells.get(key) ?? { n: 0, best: 0, noisy: 0, mean: 0, chosen: 0, cellOpt: 0 };
        e.n++; e.best += b; e.noisy += evOf(nb); e.mean += mp; e.chosen += ch; e.cellOpt += cOpt;
        cells.set(key, e);
      }
    },
  });
  const R = rounds;
  sums.cellOpt += cellOpt / R;
  sums.lo += r.ratios.learnedToOracle; sums.lr += r.ratios.learnedToRandom; sums.ev += ev / R; sums.best += best / R; sums.noisy += noisy / R; sums.mean += mean / R;
  if (r.ratios.learnedToOracle >= 0.85) sums.pass++;
  console.log(`${seed}\t${r.ratios.learnedToOracle.toFixed(3)}\t${r.ratios.learnedToRandom.toFixed(3)}\tEV/best ${(ev / best).toFixed(3)}\tEV/cellOpt ${(ev / cellOpt).toFixed(3)}\tcellOpt/best ${(cellOpt / best).toFixed(3)}`);
  rows.push(`${seed}\t${r.ratios.learnedToOracle.toFixed(3)}\t${r.ratios.learnedToRandom.toFixed(3)}\tEV ${(ev / R).toFixed(4)} best ${(best / R).toFixed(4)} noisyOpt ${(noisy / R).toFixed(4)} meanPick ${(mean / R).toFixed(4)}  EV/best ${(ev / best).toFixed(3)}`);
}
const n = seeds.length;
console.log(rows.join('\n'));
console.log(`variant ${variant}${exposure ? ' (exposure)' : ' (impressions as 1)'}${customers !== 4000 ? ` (${customers} customers)` : ''}: mean L/O ${(sums.lo / n).toFixed(4)} pass ${sums.pass}/${n} mean L/R ${(sums.lr / n).toFixed(3)} | EV ${(sums.ev / n).toFixed(4)} best ${(sums.best / n).toFixed(4)} noisyOpt ${(sums.noisy / n).toFixed(4)} meanPick ${(sums.mean / n).toFixed(4)} EV/best ${(sums.ev / sums.best).toFixed(4)} cellOpt ${(sums.cellOpt / n).toFixed(4)} EV/cellOpt ${(sums.ev / sums.cellOpt).toFixed(4)}`);
if (byCell) {
  console.log('cell\tn\tbest\tnoisyOpt\tcellOpt\tmeanPick\tchosen\t(regret: est, explore)');
  for (const [k, e] of [...cells].sort((a, b) => (b[1].best - b[1].chosen) - (a[1].best - a[1].chosen))) {
    console.log(`${k}\t${e.n}\t${(e.best / e.n).toFixed(3)}\t${(e.noisy / e.n).toFixed(3)}\t${(e.cellOpt / e.n).toFixed(3)}\t${(e.mean / e.n).toFixed(3)}\t${(e.chosen / e.n).toFixed(3)}\t${((e.best - e.mean) / e.n).toFixed(3)}\t${((e.mean - e.chosen) / e.n).toFixed(3)}`);
  }
}
if (byOffer) {
  const total = [...pairs.values()].reduce((t, e) => t + e.regret, 0);
  console.log(`regret by (cell, best offer, chosen offer): total ${(total / (rounds * n)).toFixed(4)} per decision`);
  for (const [k, e] of [...pairs].sort((a, b) => b[1].regret - a[1].regret).slice(0, 25)) console.log(`${k}\t${e.n}\t${(e.regret / (rounds * n)).toFixed(4)}`);
}
