/**
 * offer-learn7 diagnostic: per seed, the learned policy's learned/oracle ratio and how often it showed free shipping
 * (the cheap, often-accepted offer whose prior is far too low), the premium upgrade (the dear, rarely accepted one) and
 * gift wrapping, and the round free shipping was first shown.
 * npx tsx scripts/offer-learn-shown.ts VARIANT FROM TO   (e.g. base 101 108; variants: scripts/offer-learn-variants.ts)
 */
import { makeDecide } from '../src/core/offers/decide.js';
import { simulateOffers } from '../src/eval/offer-simulation.js';
import { VARIANTS } from './offer-learn-variants.js';

const [variant, lo, hi] = [process.argv[2] ?? 'base', Number(process.argv[3] ?? 101), Number(process.argv[4] ?? process.argv[3] ?? 101)];
if (!VARIANTS[variant]) throw new Error(`no variant ${variant}`);
for (let seed = lo; seed <= hi; seed++) {
  const shown = new Map<string, number>();
  let firstFs = -1;
  const r = simulateOffers({
    rounds: 20000, seed, holdoutShare: 0, decide: makeDecide(VARIANTS[variant]),
    onLearnedDecision: (d, s) => {
      if (!s) return;
      shown.set(s.offerId, (shown.get(s.offerId) ?? 0) + 1);
      if (s.offerId === 'free-shipping' && firstFs < 0) firstFs = d.round;
    },
  });
  console.log(`${variant}\t${seed}\tL/O ${r.ratios.learnedToOracle.toFixed(3)}\tfree-shipping ${shown.get('free-shipping') ?? 0} (first at ${firstFs})\tpremium-upgrade ${shown.get('premium-upgrade') ?? 0}\tgift-wrap ${shown.get('gift-wrap') ?? 0}`);
}
