/**
 * A/B timing of decide() variants on bench:decide's 200 offers, alternating blocks in one process (the machine is
 * shared: compare the ratios, not the times). Variants: `pooled` (POOLED_DECIDE), `hierarchical` (the default,
 * HIERARCHICAL_DECIDE: Thompson draws tempered ×4), `x2` (the hierarchical model tempered ×2, offer-learn's default).
 * offer-learn5: `cross` (the default with the prior learned across offers: crossOfferLevelSd = crossOfferValueSd = 1,
 * as DECIDE_DEFAULTS since offer-learn5), `nocross` (both SDs 0); --prepared: the offers as the service holds them
 * (prepareOffers: decide's per-set tables); --record N: one response counted every N decisions (the stats change, so
 * the tables and the cross-offer fit are recomputed). offer-learn7: `noramp` / `ramp` (sharpeningRamp 0 / 5).
 * offer-learn8: `novt` / `vt` (valueTempering 0 / 1).
 * npx tsx scripts/offer-learn-speed.ts [--variants pooled,hierarchical] [--rounds 10] [--calls 500] [--limit 1] [--prepared] [--record N]
 */
import { makeDecide } from '../src/core/offers/decide.js';
import { HIERARCHICAL_DECIDE, POOLED_DECIDE } from '../src/core/offers/propensity.js';
import type { DecisionContext } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import { SEGMENTS } from '../src/core/records.js';
import { benchOffers } from './bench-kit.js';
import { benchStats, benchSubjects } from './bench-decide.js';

const argv = process.argv;
const arg = (k: string, d: number): number => (argv.includes(`--${k}`) ? Number(argv[argv.indexOf(`--${k}`) + 1]) : d);
const known = {
  pooled: POOLED_DECIDE, hierarchical: HIERARCHICAL_DECIDE, x2: { ...HIERARCHICAL_DECIDE, sharpening: 2 },
  cross: { crossOfferLevelSd: 1, crossOfferValueSd: 1 }, nocross: { crossOfferLevelSd: 0, crossOfferValueSd: 0 },
  // offer-learn7: the exploration floor per offer off / on (sharpeningRamp 5)
  noramp: { sharpeningRamp: 0 }, ramp: { sharpeningRamp: 5 },
  // offer-learn8: tempering scaled by the value at stake off / on (valueTempering 0 / 1)
  novt: { valueTempering: 0 }, vt: { valueTempering: 1 },
} as const;
const names = (argv.includes('--variants') ? argv[argv.indexOf('--variants') + 1] : 'pooled,hierarchical').split(',');
for (const n of names) if (!(n in known)) throw new Error(`unknown variant ${n} (known: ${Object.keys(known).join(', ')})`);
const now = Date.parse('2026-03-01T12:00:00Z');
const plain = benchOffers(200, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now);
const offers = argv.includes('--prepared') ? prepareOffers(plain) : plain;
const every = arg('record', 0);
const rr = mulberry32(9);
const subjects = benchSubjects(50);
const stats = benchStats(offers);
const variants = names.map((n) => [n, makeDecide(known[n as keyof typeof known])] as const);
const totals = new Map<string, number[]>(names.map((n) => [n, []]));
const ctx: DecisionContext = { channel: 'web', store: null, now, limit: arg('limit', 1), inStock: () => true, contacts: () => undefined, acceptances: () => 0,
  channelConsent: { email: 'email', sms: 'sms', push: 'push' }, holdoutShare: 0, random: mulberry32(5) };
const calls = arg('calls', 500);
for (let round = 0; round < arg('rounds', 10); round++) {
  for (const [name, d] of variants) {
    for (let i = 0; i < 50; i++) d(offers, subjects[i % 50], ctx, stats);
    const t = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      d(offers, subjects[i % 50], ctx, stats);
      if (every > 0 && i % every === 0) stats.record(offers[Math.floor(rr() * offers.length)].id, SEGMENTS[i % SEGMENTS.length], 'web', rr() < 0.05);
    }
    const u = process.cpuUsage(t);
    // CPU time (user + system): the machine is shared
    totals.get(name)!.push((u.user + u.system) / calls);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const first = median(totals.get(names[0])!);
const parts = names.map((n) => `${n} ${median(totals.get(n)!).toFixed(1)} (×${(median(totals.get(n)!) / first).toFixed(3)})`);
console.log(`decide, 200 offers${argv.includes('--prepared') ? ' (prepared)' : ''}${every > 0 ? `, a response every ${every}` : ''}, limit ${ctx.limit}, holdout 0: CPU µs per call (median of blocks): ${parts.join(', ')}`);
