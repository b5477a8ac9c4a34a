/**
 * offer-learn diagnostic: learn for R rounds, then FREEZE the learned counts and score a fresh stream of decisions
 * with the posterior-mean ranking: EV of the mean pick / EV of the truly best suitable offer (no contact history),
 * and the most costly confusions (best offer → picked offer).
 * npx tsx scripts/offer-learn-frozen.ts --seed 101 [--variant NAME] [--exposure]
 */
import { makeDecide, screenOffers } from '../src/core/offers/decide.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import type { DecisionContext, Offer } from '../src/core/offers/types.js';
import { simulateOffers, toSubject } from '../src/eval/offer-simulation.js';
import { decisionStream, makePopulation, trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';
import { VARIANTS } from './offer-learn-variants.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string): string => (args.indexOf(`--${k}`) >= 0 ? args[args.indexOf(`--${k}`) + 1] : d);
const seed = Number(arg('seed', '101'));
const params = VARIANTS[arg('variant', 'base')];
const rounds = Number(arg('rounds', '20000'));
const stats = new ResponseCounts();
simulateOffers({ rounds, seed, holdoutShare: 0, learnedStats: stats, decide: makeDecide(params), exposure: args.includes('--exposure') });
const mean = makeDecide({ ...params, ranking: 'mean' });
const pop = makePopulation(seed, 4000);
let ev = 0, best = 0;
const conf = new Map<string, number>();
const bySeg = new Map<string, [number, number]>();
for (const d of decisionStream(seed + 7777, pop, 5000)) {
  const subject = toSubject(d.customer);
  const ctx: DecisionContext = { channel: d.channel, store: d.store, now: d.now, limit: 1, inStock: (o) => !(d.store === 'S4' || d.store === 'S5') || !o.targets.categories.includes('Garden'),
    contacts: () => undefined, acceptances: () => 0, channelConsent: { email: 'email', push: 'push', sms: 'sms' }, holdoutShare: 0, random: () => 0.5 };
  const suitable = screenOffers(WORLD_OFFERS, subject, ctx).suitable;
  if (!suitable.length) continue;
  const evOf = (o: Offer): number => trueAcceptRate(o, d.customer, d.channel) * o.value;
  const b = suitable.reduce((x, o) => (evOf(o) > evOf(x) ? o : x));
  const pickId = mean(WORLD_OFFERS, subject, ctx, stats).offers[0]?.offerId;
  const pick = WORLD_OFFERS.find((o) => o.id === pickId)!;
  ev += evOf(pick); best += evOf(b);
  const seg = `${d.customer.personalised && d.customer.segment ? d.customer.segment : 'guest'}`;
  const s = bySeg.get(seg) ?? [0, 0]; s[0] += evOf(pick); s[1] += evOf(b); bySeg.set(seg, s);
  if (pick !== b) conf.set(`${seg}:${b.id}→${pick.id}`, (conf.get(`${seg}:${b.id}→${pick.id}`) ?? 0) + evOf(b) - evOf(pick));
}
console.log(`seed ${seed} frozen mean-pick EV/best ${(ev / best).toFixed(3)}`);
console.log([...bySeg].map(([k, [a, b]]) => `${k} ${(a / b).toFixed(3)}`).join('  '));
for (const [k, v] of [...conf].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${k}  ${(v / 5000).toFixed(4)}`);
