/**
 * An offer with every field present, in the contract's order (src/core/offer-schema.ts): apart from the
 * schema, so that what reads stored offers (src/store/sql-offers.ts, and so every command opening the
 * store) does not load zod.
 */
import type { Offer } from './types.js';

const orNull = <T>(v: T | null | undefined): T | null => (v === undefined ? null : v);

/** Every field present, in the contract's order (what GET returns). */
export function normaliseOffer(o: Offer): Offer {
  const e = o.eligibility ?? {};
  const c = o.contact ?? {};
  return {
    id: o.id,
    title: o.title,
    description: orNull(o.description),
    kind: o.kind,
    value: o.value,
    cost: orNull(o.cost),
    targets: { skus: o.targets?.skus ?? [], categories: o.targets?.categories ?? [] },
    channels: o.channels ?? [],
    stores: o.stores ?? [],
    startsAt: o.startsAt ? new Date(o.startsAt).toISOString() : null,
    endsAt: o.endsAt ? new Date(o.endsAt).toISOString() : null,
    eligibility: {
      segments: orNull(e.segments),
      minOrders: orNull(e.minOrders),
      maxOrders: orNull(e.maxOrders),
      minSpend: orNull(e.minSpend),
      minDaysSinceLastPurchase: orNull(e.minDaysSinceLastPurchase),
      newCustomersOnly: orNull(e.newCustomersOnly),
    },
    contact: {
      maxImpressions: orNull(c.maxImpressions),
      perDays: orNull(c.perDays),
      suppressDaysAfterDecline: orNull(c.suppressDaysAfterDecline),
      maxAcceptances: orNull(c.maxAcceptances),
    },
    weight: o.weight ?? 1,
  };
}
