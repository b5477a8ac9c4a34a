/**
 * offer-lift: A/B timing of decide() with Thompson draws tempered ×2 (offer-learn's default) and ×4 (offer-lift's)
 * on bench:decide's 200 offers, alternating blocks in one process (the machine is shared: compare the ratio, not the
 * times). The propensity code is the same for both (impressions counted by their lift change what is counted, not
 * what a decision computes). npx tsx scripts/offer-lift-speed.ts [--rounds 10] [--calls 500] [--limit 1]
 */
import { makeDecide } from '../src/core/offers/decide.js';
import { HIERARCHICAL_DECIDE } from '../src/core/offers/propensity.js';
import type { DecisionContext } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { benchOffers } from './bench-kit.js';
import { benchStats, benchSubjects } from './bench-decide.js';

const arg = (k: string, d: number): number => (process.argv.includes(`--${k}`) ? Number(process.argv[process.argv.indexOf(`--${k}`) + 1]) : d);
const now = Date.parse('2026-03-01T12:00:00Z');
const offers = benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now);
const subjects = benchSubjects(50);
const stats = benchStats(offers);
const variants = { x2: makeDecide({ ...HIERARCHICAL_DECIDE, sharpening: 2 }), x4: makeDecide(HIERARCHICAL_DECIDE) };
const totals: Record<string, number[]> = { x2: [], x4: [] };
const ctx: DecisionContext = { channel: 'web', store: null, now, limit: arg('limit', 1), inStock: () => true, contacts: () => undefined, acceptances: () => 0,
  channelConsent: { email: 'email', sms: 'sms', push: 'push' }, holdoutShare: 0, random: mulberry32(5) };
const calls = arg('calls', 500);
for (let round = 0; round < arg('rounds', 10); round++) {
  for (const [name, d] of Object.entries(variants)) {
    for (let i = 0; i < 50; i++) d(offers, subjects[i % 50], ctx, stats);
    const t = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) d(offers, subjects[i % 50], ctx, stats);
    totals[name].push(Number(process.hrtime.bigint() - t) / 1000 / calls);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const a = median(totals.x2), b = median(totals.x4);
console.log(`decide, 200 offers, limit ${ctx.limit}, holdout 0: µs per call (median of ${totals.x2.length} blocks) ×2 ${a.toFixed(1)} ×4 ${b.toFixed(1)} ratio ×4/×2 ${(b / a).toFixed(3)}`);
