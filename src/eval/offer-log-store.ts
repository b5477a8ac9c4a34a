/**
 * The stored decision log (offer_decisions) and responses (offer_events) of the service as offer-log rows, for
 * `npm run evaluate:offers -- --from-store`. Pure: the script reads the store and hands the records here.
 *
 * One row per offer shown: context segment ('guest' when absent or not personalised), channel, store; the
 * probability logged with it; reward = the offer's value when an `accepted` event names this decision and offer,
 * else 0; candidates = the offers the decision found suitable (considered as shown or ranked_lower).
 */
import type { Offer, OfferChannel } from '../core/offers/types.js';
import type { Segment } from '../core/records.js';
import type { OfferLogRow } from './offer-log.js';

/** The parts of a stored decision this adapter reads (DecisionLogEntry of src/store/store.ts). */
export interface StoredDecision {
  decisionId: string;
  time: number;
  customerId: string | null;
  context: Record<string, unknown>;
  considered: { offerId: string; outcome: string }[];
  shown: { offerId: string; position: number; probability: number }[];
}

export interface StoredResponse {
  decisionId: string | null;
  offerId: string;
  type: string;
}

export interface StoreLogConversion {
  rows: OfferLogRow[];
  /** Shown offers whose definition is gone (reward counted as 0 when accepted). */
  unknownOffers: number;
  /** Shown entries without a usable probability (left out). */
  withoutProbability: number;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function storedLogRows(decisions: readonly StoredDecision[], responses: readonly StoredResponse[], offers: readonly Offer[]): StoreLogConversion {
  const accepted = new Set<string>();
  for (const r of responses) if (r.type === 'accepted' && r.decisionId) accepted.add(`${r.decisionId}\u0000${r.offerId}`);
  const value = new Map(offers.map((o) => [o.id, o.value]));
  const rows: OfferLogRow[] = [];
  let unknownOffers = 0;
  let withoutProbability = 0;
  for (const d of decisions) {
    const personalised = d.context.personalised !== false;
    const segment = (personalised ? text(d.context.segment) : null) ?? 'guest';
    const channel = (text(d.context.channel) ?? 'web') as OfferChannel;
    const candidates = d.considered.filter((c) => c.outcome === 'shown' || c.outcome === 'ranked_lower').map((c) => c.offerId);
    for (const s of d.shown) {
      if (!(s.probability > 0 && s.probability <= 1)) {
        withoutProbability++;
        continue;
      }
      const v = value.get(s.offerId);
      if (v === undefined) unknownOffers++;
      const ok = accepted.has(`${d.decisionId}\u0000${s.offerId}`);
      rows.push({
        line: 0,
        decisionId: d.decisionId,
        time: d.time,
        customerId: d.customerId,
        segment: segment as Segment | 'guest',
        channel,
        store: text(d.context.store),
        offerId: s.offerId,
        position: s.position,
        probability: s.probability,
        reward: ok ? (v ?? 0) : 0,
        accepted: ok,
        value: v ?? null,
        candidates,
      });
    }
  }
  return { rows, unknownOffers, withoutProbability };
}
