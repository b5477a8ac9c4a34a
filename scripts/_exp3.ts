import { makeDecide, screenOffers } from '../src/core/offers/decide.js';
import { simulateOffers, toSubject } from '../src/eval/offer-simulation.js';
import { trueAcceptRate, WORLD_OFFERS } from '../src/eval/offer-world.js';
const params = JSON.parse(process.argv[2] ?? '{}');
for (const seed of [101]) {
  const agg = new Map<string, { n: number; got: number; best: number }>();
  const byOffer = new Map<string, number>();
  simulateOffers({ rounds: 20000, seed, holdoutShare: 0, decide: makeDecide(params), onLearnedDecision: (d, shown) => {
    const s = toSubject(d.customer);
    const ctx = { channel: d.channel, store: d.store, now: d.now, limit: 1, inStock: () => true, contacts: () => undefined, acceptances: () => 0, channelConsent: { email: 'email', push: 'push', sms: 'sms' }, holdoutShare: 0, random: Math.random } as any;
    const suit = screenOffers(WORLD_OFFERS, s, ctx).suitable;
    const ev = (id: string) => { const o = WORLD_OFFERS.find((x) => x.id === id)!; return trueAcceptRate(o, d.customer, d.channel) * o.value; };
    const best = Math.max(0, ...suit.map((o) => ev(o.id)));
    const got = shown ? ev(shown.offerId) : 0;
    const key = `${d.customer.segment ?? 'guest'}${d.customer.personalised ? '' : '-np'}`;
    const a = agg.get(key) ?? { n: 0, got: 0, best: 0 };
    a.n++; a.got += got; a.best += best; agg.set(key, a);
    if (shown) byOffer.set(shown.offerId, (byOffer.get(shown.offerId) ?? 0) + 1);
  } });
  let tg = 0, tb = 0;
  for (const [k, a] of [...agg].sort()) { tg += a.got; tb += a.best; console.log(k.padEnd(14), a.n, (a.got / a.n).toFixed(3), (a.best / a.n).toFixed(3), (a.got / a.best).toFixed(2), 'regret', ((a.best - a.got)).toFixed(0)); }
  console.log('total', (tg / tb).toFixed(3));
  console.log([...byOffer].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}:${v}`).join(' '));
}
