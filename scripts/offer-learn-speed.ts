/**
 * offer-learn: A/B timing of decide() with the pooled and the hierarchical propensity model on bench:decide's 200
 * offers, alternating blocks in one process (the machine is shared: compare the ratio, not the times).
 * npx tsx scripts/offer-learn-speed.ts [--rounds 10] [--calls 500]
 */
import { makeDecide } from '../src/core/offers/decide.js';
import { HIERARCHICAL_DECIDE, POOLED_DECIDE } from '../src/core/offers/propensity.js';
import type { DecisionContext } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { benchOffers } from './bench-kit.js';
import { benchStats, benchSubjects } from './bench-decide.js';

const arg = (k: string, d: number): number => (process.argv.includes(`--${k}`) ? Number(process.argv[process.argv.indexOf(`--${k}`) + 1]) : d);
const now = Date.parse('2026-03-01T12:00:00Z');
const offers = benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now);
const subjects = benchSubjects(50);
const stats = benchStats(offers);
const variants = { pooled: makeDecide(POOLED_DECIDE), hierarchical: makeDecide(HIERARCHICAL_DECIDE) };
const totals: Record<string, number[]> = { pooled: [], hierarchical: [] };
const ctx: DecisionContext = { channel: 'web', store: null, now, limit: 1, inStock: () => true, contacts: () => undefined, acceptances: () => 0,
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
const p = median(totals.pooled), h = median(totals.hierarchical);
console.log(`decide, 200 offers, limit 1, holdout 0: µs per call (median of blocks) pooled ${p.toFixed(1)} hierarchical ${h.toFixed(1)} ratio h/p ${(h / p).toFixed(3)}`);
