/**
 * The stored decision log (offer_decisions) and responses (offer_events) of the service as offer-log rows, for
 * `npm run evaluate:offers -- --from-store`. Pure: the script reads the store and hands the records here.
 *
 * One row per offer shown: context segment ('guest' when absent or not personalised), channel, store; its position
 * (stored 0-based, the log's 1-based: the top offer is position 1); the probability logged with it; reward = the
 * offer's value when an `accepted` event names this decision and offer, else 0; candidates = the offers the decision
 * found suitable (considered as shown or ranked_lower); exposure = what the `impression` event naming this decision
 * and offer added to the counts (its affinity lift), when one was recorded.
 */
import type { Offer, OfferChannel } from '../core/offers/types.js';
import type { Segment } from '../core/records.js';
import type { OfferLogRow } from './offer-log.js';

/** The parts of a stored decision this adapter reads (DecisionLogEntry of src/store/store.ts; positions 0-based). */
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
  /** An impression's exposure as counted (migration 011; null: before it, i.e. 1). */
  exposure?: number | null;
}

export interface StoreLogConversion {
  rows: OfferLogRow[];
  /** Shown offers whose definition is gone (reward counted as 0 when accepted). */
  unknownOffers: number;
  /** Shown entries without a usable probability or position (left out). */
  withoutProbability: number;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function storedLogRows(decisions: readonly StoredDecision[], responses: readonly StoredResponse[], offers: readonly Offer[]): StoreLogConversion {
  const accepted = new Set<string>();
  const exposures = new Map<string, number>();
  for (const r of responses) {
    if (!r.decisionId) continue;
    if (r.type === 'accepted') accepted.add(`${r.decisionId}\u0000${r.offerId}`);
    else if (r.type === 'impression' && r.exposure != null) exposures.set(`${r.decisionId}\u0000${r.offerId}`, r.exposure);
  }
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
      if (!(s.probability > 0 && s.probability <= 1) || !(Number.isInteger(s.position) && s.position >= 0)) {
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
        position: s.position + 1,
        probability: s.probability,
        reward: ok ? (v ?? 0) : 0,
        accepted: ok,
        value: v ?? null,
        candidates,
        exposure: exposures.get(`${d.decisionId}\u0000${s.offerId}`) ?? null,
      });
    }
  }
  return { rows, unknownOffers, withoutProbability };
}

/** What `readStoredOfferLog` needs of the history store (SqlStore). */
export interface OfferLogSource {
  offers(): Promise<Offer[]>;
  decisionLog(): Promise<StoredDecision[]>;
  db: { query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }> };
}

/**
 * The service's stored decision log as offer-log rows (`npm run evaluate:offers -- --from-store`), with the offer
 * definitions in force (values, weights, targets for the evaluated policies) and counts of what was left out.
 */
export async function readStoredOfferLog(store: OfferLogSource): Promise<{ rows: OfferLogRow[]; offers: Offer[]; notes: Record<string, number> }> {
  const [decisions, offers, events] = await Promise.all([
    store.decisionLog(),
    store.offers(),
    store.db.query<{ decision_id: string; offer_id: string; type: string; exposure: number | null }>(
      "SELECT decision_id, offer_id, type, exposure FROM offer_events WHERE decision_id IS NOT NULL AND (type = 'accepted' OR (type = 'impression' AND exposure IS NOT NULL))",
    ),
  ]);
  const responses: StoredResponse[] = events.rows.map((e) => ({ decisionId: e.decision_id, offerId: e.offer_id, type: e.type, exposure: e.exposure }));
  const c = storedLogRows(decisions, responses, offers);
  return { rows: c.rows, offers, notes: { decisions: decisions.length, acceptedEvents: responses.filter((r) => r.type === 'accepted').length, unknownOffers: c.unknownOffers, withoutProbability: c.withoutProbability } };
}
