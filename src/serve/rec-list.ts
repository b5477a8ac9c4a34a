/**
 * The shape of every recommendation list the service returns (the v1 contract):
 * `{ items: [{ sku, score, reason }], model: { version, source }, fallback }`.
 */
import type { Channel, Segment } from '../core/records.js';

/** Why an item is in the list, machine-readable so clients can say "because you bought ...". */
export type Reason =
  | { type: 'similar_to'; sku: string }
  | { type: 'bought_with'; sku: string }
  | { type: 'because_you_bought'; sku: string }
  | { type: 'popular'; scope: 'global' | 'store' | 'segment' | 'channel'; store?: string; segment?: Segment; channel?: Channel; category?: string }
  | { type: 'buy_again'; lastPurchased: string; expectedInDays: number | null; purchases: number }
  | { type: 'personal' };

/** Which part of the model answered. */
export type ListSource = 'factors' | 'neighbours' | 'fbt' | 'popular' | 'repeat';

/** Why the primary source did not answer. */
export type FallbackReason =
  | 'unknown_customer'
  | 'unknown_item'
  | 'no_consent'
  | 'no_history'
  | 'no_vector'
  | 'no_factors'
  | 'no_candidates'
  | 'cache_unavailable'
  | 'store_unavailable';

export interface RecItem {
  sku: string;
  score: number;
  reason: Reason;
  category: string | null;
}

export interface RecList {
  items: RecItem[];
  model: { version: string; source: ListSource };
  /** true when the answer did not come from the endpoint's primary source. */
  fallback: boolean;
  fallbackReason?: FallbackReason;
  /** The unified id the request was answered for, when a merged-away id was given. */
  customerId?: string;
  /** Non-fatal notes, e.g. "unknown_store" (no inventory known: not filtered by stock). */
  warnings?: string[];
}
