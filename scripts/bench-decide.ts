/**
 * npm run bench:decide -- [--offers 200] [--calls 2000] [--json]
 *
 * Micro-benchmark of the pure decision function `decide` (src/core/offers/decide.ts) in this process: seeded offers
 * like scripts/bench-offers.ts makes them (sku and category targets, some overlapping, segments, channels, stores,
 * windows, contact rules), personalised subjects of several segments with an affinity, response counts with some
 * history. Times µs per call (mean, p50, p99) and heap bytes allocated per call (from process.memoryUsage, GC
 * permitting) for holdout share 0 and 0.05, limit 1 and 3. Prints load average: compare figures of one run.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decide } from '../src/core/offers/decide.js';
import { ResponseCounts } from '../src/core/offers/response-counts.js';
import type { DecisionContext, DecisionSubject, Offer, OfferChannel } from '../src/core/offers/types.js';
import { mulberry32 } from '../src/core/random.js';
import { SEGMENTS } from '../src/core/records.js';
import { benchOffers } from './bench-kit.js';


function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`--${name}: a positive number expected\n`);
    process.exit(2);
  }
  return v;
}

/** Subjects of every segment, each with a seeded affinity per target (a map lookup, as the service's index does). */
export function benchSubjects(n: number): DecisionSubject[] {
  const r = mulberry32(7);
  return Array.from({ length: n }, (_, i) => {
    const aff = new Map<string, number>();
    for (let k = 0; k < 60; k++) aff.set(`sku-${Math.floor(r() * 300)}`, r());
    for (let k = 0; k < 10; k++) aff.set(`cat-${Math.floor(r() * 40)}`, r());
    return {
      customerId: `c${i}`,
      personalised: true,
      consent: { personalisation: true, email: true, sms: true, push: true },
      segment: SEGMENTS[i % SEGMENTS.length],
      orders: 1 + (i % 5),
      spend: 40 + i,
      daysSinceLastPurchase: 10 + ((i * 13) % 90),
      affinity: (o: Offer) => {
        let best: { score: number; sku?: string; category?: string } | null = null;
        for (const s of o.targets.skus) {
          const v = aff.get(s);
          if (v !== undefined && (!best || v > best.score)) best = { score: v, sku: s };
        }
        for (const c of o.targets.categories) {
          const v = aff.get(c);
          if (v !== undefined && (!best || v > best.score)) best = { score: v, category: c };
        }
        return best;
      },
    };
  });
}

/** Response counts with some history: a few thousand impressions over the offers, segments and channels. */
export function benchStats(offers: readonly Offer[]): ResponseCounts {
  const r = mulberry32(11);
  const stats = new ResponseCounts();
  const channels: OfferChannel[] = ['web', 'app', 'store', 'email'];
  for (let i = 0; i < 20_000; i++) {
    const o = offers[Math.floor(r() * offers.length)];
    stats.record(o.id, SEGMENTS[Math.floor(r() * SEGMENTS.length)], channels[Math.floor(r() * channels.length)], r() < 0.05);
  }
  return stats;
}

interface Row {
  holdout: number;
  limit: number;
  calls: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  heapBytesPerCall: number;
}

function main(): void {
  const n = flag('offers', 200);
  const calls = flag('calls', 2000);
  const now = Date.parse('2026-03-01T12:00:00Z');
  // skus among the 300 the subjects have an affinity to (sku-0…), as bench:offers draws them from popular items
  const offers = benchOffers(n, Array.from({ length: 300 }, (_, i) => `sku-${i}`), now);
  const subjects = benchSubjects(50);
  const stats = benchStats(offers);
  const rows: Row[] = [];
  for (const limit of [1, 3]) {
    for (const holdout of [0, 0.05]) {
      const ctx: DecisionContext = {
        channel: 'web', store: null, now, limit, inStock: () => true, contacts: () => undefined, acceptances: () => 0,
        channelConsent: { email: 'email', sms: 'sms', push: 'push' }, holdoutShare: holdout, random: mulberry32(limit * 100 + holdout * 1000),
      };
      for (let i = 0; i < Math.min(200, calls); i++) decide(offers, subjects[i % subjects.length], ctx, stats);
      const times = new Float64Array(calls);
      const heap0 = process.memoryUsage().heapUsed;
      let gcs = 0;
      let last = heap0;
      let allocated = 0;
      for (let i = 0; i < calls; i++) {
        const t = process.hrtime.bigint();
        decide(offers, subjects[i % subjects.length], ctx, stats);
        times[i] = Number(process.hrtime.bigint() - t) / 1000;
        if ((i & 15) === 15) {
          const h = process.memoryUsage().heapUsed;
          if (h >= last) allocated += h - last;
          else gcs++;
          last = h;
        }
      }
      const sorted = Float64Array.from(times).sort();
      const q = (x: number): number => sorted[Math.min(calls - 1, Math.floor(x * calls))];
      rows.push({
        holdout, limit, calls,
        meanUs: times.reduce((a, b) => a + b, 0) / calls,
        p50Us: q(0.5), p99Us: q(0.99),
        heapBytesPerCall: gcs < calls / 32 ? allocated / calls : NaN,
      });
    }
  }
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ offers: n, loadavg: load, rows })}\n`);
    return;
  }
  process.stdout.write(`decide() on ${n} offers, ${calls} calls per row, node ${process.version}, load average ${load}\n`);
  process.stdout.write('limit  holdout   mean µs    p50 µs    p99 µs   heap KB/call (lower bound)\n');
  for (const r of rows) {
    process.stdout.write(
      `${String(r.limit).padStart(5)}  ${r.holdout.toFixed(2).padStart(7)}  ${r.meanUs.toFixed(1).padStart(8)}  ${r.p50Us.toFixed(1).padStart(8)}  ${r.p99Us.toFixed(1).padStart(8)}  ${Number.isNaN(r.heapBytesPerCall) ? '  (gc)' : (r.heapBytesPerCall / 1024).toFixed(1).padStart(8)}\n`,
    );
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
