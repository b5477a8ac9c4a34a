/**
 * "Buy it again": the customer's own items ranked by src/core/buy-again.ts (the formula evaluation
 * scores on its own protocol), filtered, with a reason per item.
 */
import type { CustomerRecord } from '../core/bundle.js';
import type { LoadedModel } from '../cache/model-source.js';
import { buyAgainRanking } from '../core/buy-again.js';
import type { Candidate } from './candidate-sources.js';
import type { ItemFilter } from './item-filter.js';

/**
 * `order` (positions into the record's items, best first: the validation-chosen `repeat` or `served`
 * ranking, src/core/served-model.ts ownedOrder) replaces the rhythm order; scores then fall from 1 by rank.
 */
export function buyAgain(model: LoadedModel, record: CustomerRecord, filter: ItemFilter, limit: number, now: number, order?: number[]): Candidate[] {
  const out: Candidate[] = [];
  const n = model.items.length;
  let ranking = buyAgainRanking(record.items, record.counts, record.lastTime, record.intervalDays, now);
  if (order) {
    const byPos = new Map(ranking.map((e) => [e.pos, e]));
    ranking = order.flatMap((pos, r) => {
      const e = byPos.get(pos);
      return e ? [{ ...e, score: 1 - r / order.length }] : [];
    });
  }
  for (const e of ranking) {
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
