/**
 * Customer changes between instances: whoever changes a customer's data (a purchase event rewrote
 * their record, an erasure, a consent import) publishes the affected ids on P:customer-changes, and
 * every serving instance drops what it caches about them (the record in its LRU, the merge/consent
 * answer and through it the personal lists; see CacheModelSource and RecommendationService). Pub/sub
 * is at most once: a message published while an instance is disconnected is lost, so the caches'
 * TTLs (record LRU 60 s, access answers 30 s) stay the bound, and an instance that reconnects drops
 * every customer it holds.
 *
 * Message: JSON {"from": "<sender id>", "ids": ["1042", "977"]}; an empty `ids` means every customer
 * (a consent import does not say whom it touched). `from` lets an instance skip its own messages
 * (it already forgot those ids locally).
 */
import type { CacheKeys } from './keys.js';
import type { VectorCache } from './vector-cache.js';

export interface CustomerChange {
  from: string;
  /** Empty: every customer. */
  ids: readonly string[];
}

export function encodeCustomerChange(change: CustomerChange): string {
  return JSON.stringify({ from: change.from, ids: change.ids });
}

/** The message, or null when it is not one (a foreign publisher on the channel must not break serving). */
export function decodeCustomerChange(message: string): CustomerChange | null {
  try {
    const m = JSON.parse(message) as Partial<CustomerChange>;
    if (typeof m?.from !== 'string' || !Array.isArray(m.ids) || !m.ids.every((id) => typeof id === 'string')) return null;
    return { from: m.from, ids: m.ids };
  } catch {
    return null;
  }
}

/** Tells every instance sharing the cache to forget these customers (empty: every customer). */
export function announceCustomerChange(cache: VectorCache, keys: CacheKeys, change: CustomerChange): Promise<void> {
  return cache.publish(keys.customerChanges, encodeCustomerChange(change));
}
