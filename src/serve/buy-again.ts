/**
 * "Buy it again": the customer's own items ranked by src/core/buy-again.ts (the formula evaluation
 * scores on its own protocol), filtered, with a reason per item.
 */
import type { CustomerRecord } from '../core/bundle.js';
import type { LoadedModel } from '../cache/model-source.js';
import { buyAgainRanking } from '../core/buy-again.js';
import type { Candidate } from './candidate-sources.js';
import type { ItemFilter } from './item-filter.js';

export function buyAgain(model: LoadedModel, record: CustomerRecord, filter: ItemFilter, limit: number, now: number): Candidate[] {
  const out: Candidate[] = [];
  const n = model.items.length;
  for (const e of buyAgainRanking(record.items, record.counts, record.lastTime, record.intervalDays, now)) {
    if (out.length >= limit) break;
    const i = record.items[e.pos];
    if (i < 0 || i >= n || !filter.accepts(i)) continue;
    out.push({
      item: i,
      score: e.score,
      reason: {
        type: 'buy_again',
        lastPurchased: new Date(record.lastTime[e.pos]).toISOString(),
        expectedInDays: e.dueInDays === null ? null : round1(e.dueInDays),
        purchases: record.counts[e.pos],
      },
    });
  }
  return out;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
