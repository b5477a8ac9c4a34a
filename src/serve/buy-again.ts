/**
 * "Buy it again": the customer's own items, ranked by how close they are to their expected
 * repurchase. For an item bought repeatedly with mean interval τ days, last bought at t,
 * the expected next purchase is t + τ; with d = (t + τ − now) in days,
 *   score = ln(1 + purchases) / (1 + |d| / τ)
 * so items due now score highest, frequent items higher than occasional ones, and long-overdue
 * items decay. Items bought once (no interval) follow all repeated items, most recent first,
 * with score = ln(1 + purchases) / (1 + age days / 30) / 10.
 */
import type { CustomerRecord } from '../core/bundle.js';
import type { LoadedModel } from '../cache/model-source.js';
import type { Candidate } from './candidate-sources.js';
import type { ItemFilter } from './item-filter.js';

const DAY_MS = 86_400_000;

export function buyAgain(model: LoadedModel, record: CustomerRecord, filter: ItemFilter, limit: number, now: number): Candidate[] {
  const repeated: Candidate[] = [];
  const once: Candidate[] = [];
  const n = model.items.length;
  for (let p = 0; p < record.items.length; p++) {
    const i = record.items[p];
    if (i < 0 || i >= n || !filter.accepts(i)) continue;
    const count = record.counts[p];
    if (!(count > 0)) continue;
    const last = record.lastTime[p];
    const tau = record.intervalDays[p];
    const lastPurchased = new Date(last).toISOString();
    if (Number.isFinite(tau) && tau > 0) {
      const d = (last + tau * DAY_MS - now) / DAY_MS;
      const score = Math.log1p(count) / (1 + Math.abs(d) / Math.max(tau, 1));
      repeated.push({ item: i, score, reason: { type: 'buy_again', lastPurchased, expectedInDays: round1(d), purchases: count } });
    } else {
      const age = Math.max(0, (now - last) / DAY_MS);
      const score = Math.log1p(count) / (1 + age / 30) / 10;
      once.push({ item: i, score, reason: { type: 'buy_again', lastPurchased, expectedInDays: null, purchases: count } });
    }
  }
  const byScore = (a: Candidate, b: Candidate) => b.score - a.score || a.item - b.item;
  repeated.sort(byScore);
  once.sort(byScore);
  return repeated.concat(once).slice(0, limit);
}

const round1 = (x: number) => Math.round(x * 10) / 10;
