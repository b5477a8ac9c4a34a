/**
 * Offer changes between instances, on P:offer-changes (the mechanism of P:customer-changes, see
 * customer-changes.ts): whoever changes offers (admin PUT/DELETE, an offer import) publishes
 * `{"from", "offers": true}` and every instance reloads the offers from the store; whoever records offer
 * responses (POST /v1/events/offers) publishes them, once stored, as `{"from", "events": [...]}` and every
 * instance applies them to the contact counters, acceptance counts and response counts it keeps in
 * memory, so contact caps hold across instances at once. Pub/sub is at most once: each instance also
 * reloads offers and counts from the store periodically (OFFER_RELOAD_S), and re-reads a customer's
 * counters when its cached copy expires, which bounds what a lost message can cost.
 */
import type { OfferChannel, StatsSegment } from '../core/offers/types.js';
import type { CacheKeys } from './keys.js';
import type { VectorCache } from './vector-cache.js';

/** A recorded response, as the other instances apply it. */
export interface AnnouncedOfferEvent {
  customerId: string;
  offerId: string;
  channel: OfferChannel;
  type: 'impression' | 'accepted' | 'declined' | 'ignored';
  /** Epoch ms. */
  time: number;
  segment: StatsSegment;
  /** An impression's exposure (its affinity lift, as the store counted it); absent: 1 (an older announcer). */
  exposure?: number;
}

export interface OfferChange {
  from: string;
  /** Offers were created, replaced or deleted: reload them. */
  offers?: boolean;
  events?: AnnouncedOfferEvent[];
}

const TYPES = new Set(['impression', 'accepted', 'declined', 'ignored']);

export function encodeOfferChange(change: OfferChange): string {
  return JSON.stringify(change);
}

/** The message, or null when it is not one (a foreign publisher on the channel must not break serving). */
export function decodeOfferChange(message: string): OfferChange | null {
  try {
    const m = JSON.parse(message) as Partial<OfferChange> | null;
    if (typeof m?.from !== 'string') return null;
    if (m.events !== undefined) {
      if (!Array.isArray(m.events)) return null;
      for (const e of m.events) {
        if (typeof e?.customerId !== 'string' || typeof e.offerId !== 'string' || typeof e.channel !== 'string' || !TYPES.has(e.type) || typeof e.time !== 'number' || typeof e.segment !== 'string') return null;
        if (e.exposure !== undefined && !(typeof e.exposure === 'number' && Number.isFinite(e.exposure) && e.exposure >= 0)) return null;
      }
    }
    return { from: m.from, ...(m.offers === true ? { offers: true } : {}), ...(m.events ? { events: m.events } : {}) };
  } catch {
    return null;
  }
}

/** Publishes an offer change to every instance sharing the cache. */
export function announceOfferChange(cache: VectorCache, keys: CacheKeys, change: OfferChange): Promise<void> {
  return cache.publish(keys.offerChanges, encodeOfferChange(change));
}
