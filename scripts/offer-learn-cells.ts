/**
 * offer-learn5 diagnostic: per stats cell (segment × channel) and offer, after a run of the learned policy, the true
 * mean value of the offer over the decisions in which it was suitable, the model's estimate at the end (posterior mean ×
 * the mean affinity lift of those decisions × value), trials, acceptances and the share of decisions it was chosen.
 * npx tsx scripts/offer-learn-cells.ts --seed S [--variant V] [--customers N] [--cells guest|web,unsegmented|web]
 */
import { makeDecide, type DecideParams } from '../src/core/offers/decide.js';
import { impressionExposure, offerPropensities, PROPENSITY_DEFAULTS as PROPS, statsSegment } from '../src/core/offers/propensity.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import type { DecisionSubject, OfferChannel, StatsSegment } from '../src/core/offers/types.js';
import { simulateOffers, toSubject } from '../src/eval/offer-simulation.js';
import { trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';
import { VARIANTS } from './offer-learn-variants.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1] : d;
};
const seed = Number(arg('seed', '105'));
const params: Partial<DecideParams> = VARIANTS[arg('variant', 'base')];
const only = arg('cells', '');
const stats = new ResponseCounts();
const acc = new Map<string, { n: number; trueEv: number; g: number; chosen: number; bestN: number }>();
const cellN = new Map<string, { n: number; regret: number }>();
const byId = new Map(WORLD_OFFERS.map((o) => [o.id, o]));
simulateOffers({
  rounds: Number(arg('rounds', '20000')), seed, holdoutShare: 0, customers: Number(arg('customers', '4000')), learnedStats: stats, decide: makeDecide(params),
  onLearnedDecision: (d, shown, _r, _a, candidates) => {
    const subject = toSubject(d.customer);
    const cell = `${statsSegment(subject)}|${d.channel}`;
    let best = 0, bestId = '';
    for (const id of candidates) {
      const o = byId.get(id)!;
      const ev = trueAcceptRate(o, d.customer, d.channel) * o.value;
      if (ev > best) { best = ev; bestId = id; }
    }
    const chosenEv = shown ? trueAcceptRate(byId.get(shown.offerId)!, d.customer, d.channel) * byId.get(shown.offerId)!.value : 0;
    const c = cellN.get(cell) ?? { n: 0, regret: 0 };
    c.n++; c.regret += best - chosenEv; cellN.set(cell, c);
    for (const id of candidates) {
      const o = byId.get(id)!;
      const k = `${cell}|${id}`;
      const e = acc.get(k) ?? { n: 0, trueEv: 0, g: 0, chosen: 0, bestN: 0 };
      e.n++;
      e.trueEv += trueAcceptRate(o, d.customer, d.channel) * o.value;
      e.g += impressionExposure(o, subject);
      if (shown?.offerId === id) e.chosen++;
      if (bestId === id) e.bestN++;
      acc.set(k, e);
    }
  },
});
const cellsSorted = [...cellN].sort((a, b) => b[1].regret - a[1].regret).slice(0, Number(arg('top', '8')));
for (const [cell, c] of cellsSorted) {
  if (only && !only.split(',').includes(cell)) continue;
  const [seg, ch] = cell.split('|') as [StatsSegment, OfferChannel];
  const subject: DecisionSubject = {
    customerId: seg === 'guest' ? null : 'x', personalised: seg !== 'guest' && seg !== 'unsegmented',
    consent: { personalisation: true, email: true, push: true, sms: true }, segment: seg === 'guest' || seg === 'unsegmented' ? null : seg,
    orders: 1, spend: 0, daysSinceLastPurchase: null, affinity: () => null,
  };
  const props = offerPropensities(WORLD_OFFERS, subject, ch, stats, { ...PROPS, ...(params as object) });
  console.log(`\n${cell}: n ${c.n}, regret/decision ${(c.regret / c.n).toFixed(3)} (share of total ${(c.regret / 20000).toFixed(4)})`);
  console.log('offer\tsuitable\tbest%\tchosen%\ttrueEV\testEV\tprior\toverall\tsegRate\tcellA\tcellS\talpha\tbeta');
  const rows = WORLD_OFFERS.map((o, i) => ({ o, i, e: acc.get(`${cell}|${o.id}`) })).filter((r) => r.e).sort((a, b) => b.e!.trueEv / b.e!.n - a.e!.trueEv / a.e!.n);
  for (const { o, i, e } of rows) {
    const pr = props[i];
    const cc = stats.cell(o.id, seg, ch);
    console.log(`${o.id.padEnd(18)}\t${e!.n}\t${(100 * e!.bestN / c.n).toFixed(0)}\t${(100 * e!.chosen / c.n).toFixed(0)}\t${(e!.trueEv / e!.n).toFixed(3)}\t${(pr.posteriorMean * (e!.g / e!.n) * o.value).toFixed(3)}\t${pr.prior.toFixed(3)}\t${pr.overall.toFixed(3)}\t${pr.segmentRate.toFixed(3)}\t${cc.accepted}\t${cc.shown.toFixed(0)}\t${pr.alpha.toFixed(1)}\t${pr.beta.toFixed(0)}`);
  }
}
