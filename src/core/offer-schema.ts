/**
 * The one schema of an offer (issue "Next best offer"): what `PUT /v1/admin/offers/{id}` takes, what
 * `npm run import` reads from JSON and CSV offer files, and (normalised: every field present, defaults
 * filled in) what `GET` returns and the decision core receives (`Offer` of ./offers/types.ts).
 * Field names are a contract. Unknown fields are refused (a typo such as `minOrder` would otherwise be
 * silently ignored): the 400 names them.
 */
import { z } from 'zod';
import { SEGMENTS } from './records.js';
import { OFFER_CHANNELS, OFFER_KINDS, type Offer } from './offers/types.js';
import { normaliseOffer } from './offers/normalise-offer.js';

export { normaliseOffer };

/** Counters keep impressions for at most this many days, so no window may be longer. */
export const MAX_CONTACT_DAYS = 365;

export const OFFER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Text PostgreSQL can store: a lone UTF-16 surrogate (\ud800 without its pair) is refused by name, not a 500. */
const wellFormed = (s: string) => !/\p{Cs}/u.test(s);
const LONE_SURROGATE = 'invalid Unicode: a lone surrogate';
const text = (max: number) => z.string().trim().min(1).max(max).refine(wellFormed, LONE_SURROGATE);

export const OfferId = z.string().regex(OFFER_ID, 'letters, digits, ".", "_", ":", "-" (1-64, starting with a letter or digit)').describe('Offer id');

const count = (what: string) => z.number().int().min(0).max(1e9).nullable().optional().describe(what);
const days = (what: string, min = 0) => z.number().int().min(min).max(MAX_CONTACT_DAYS).nullable().optional().describe(what);
const time = (what: string) => z.iso.datetime({ offset: true }).nullable().optional().describe(what);
const unique = <T extends z.ZodType>(item: T, max: number, what: string) =>
  z
    .array(item)
    .max(max)
    .refine((a) => new Set(a as unknown[]).size === a.length, 'no duplicates')
    .describe(what);

export const OfferEligibilitySchema = z
  .strictObject({
    segments: unique(z.enum(SEGMENTS), SEGMENTS.length, 'Only customers of these segments (empty or absent: any)').nullable().optional(),
    minOrders: count('At least this many orders'),
    maxOrders: count('At most this many orders'),
    minSpend: z.number().min(0).max(1e12).nullable().optional().describe('At least this much spent in all'),
    minDaysSinceLastPurchase: days('At least this many days since the last purchase (win-back)'),
    newCustomersOnly: z.boolean().nullable().optional().describe('Only customers with at most one order'),
  })
  .refine((e) => e.minOrders == null || e.maxOrders == null || e.maxOrders >= e.minOrders, { message: 'must be at least minOrders', path: ['maxOrders'] })
  .describe('Who may get the offer; every field optional');

export const OfferContactSchema = z
  .strictObject({
    maxImpressions: z.number().int().min(1).max(1e6).nullable().optional().describe('At most this many impressions per customer within perDays (all channels)'),
    perDays: days('The window of maxImpressions, days (1-365; absent: 365)', 1),
    suppressDaysAfterDecline: days('Not shown to a customer for this many days after they declined it'),
    maxAcceptances: count('The offer stops once accepted this many times in all (a budget)'),
  })
  .describe('Contact policy; every field optional');

/** An offer as PUT takes it; parses to the normalised `Offer`. */
export const OfferInput = z
  .strictObject({
    id: OfferId,
    title: text(200).describe('What the customer sees'),
    description: z.string().max(2000).refine(wellFormed, LONE_SURROGATE).nullable().optional(),
    kind: z.enum(OFFER_KINDS).describe(`One of ${OFFER_KINDS.join(', ')}`),
    value: z.number().min(0).max(1e9).describe('What an acceptance is worth to the retailer'),
    cost: z.number().min(0).max(1e9).nullable().optional().describe('What an acceptance costs (reported)'),
    targets: z
      .strictObject({
        skus: unique(text(128), 1000, 'Skus the offer is about').default([]),
        categories: unique(text(128), 100, 'Categories the offer is about').default([]),
      })
      .default({ skus: [], categories: [] })
      .describe('What the offer is about; empty: nothing in particular (e.g. free shipping)'),
    channels: unique(z.enum(OFFER_CHANNELS), OFFER_CHANNELS.length, 'Channels it may be made through (empty: every channel)').default([]),
    stores: unique(text(128), 1000, 'Stores it is valid in (empty: every store)').default([]),
    startsAt: time('Valid from (ISO 8601; null: no bound)'),
    endsAt: time('Valid until, exclusive (ISO 8601; null: no bound)'),
    eligibility: OfferEligibilitySchema.default({}),
    contact: OfferContactSchema.default({}),
    weight: z.number().min(0).max(1000).default(1).describe('Business lever multiplying the priority (default 1)'),
  })
  .refine((o) => o.startsAt == null || o.endsAt == null || Date.parse(o.endsAt) > Date.parse(o.startsAt), { message: 'must be after startsAt', path: ['endsAt'] })
  .transform((o): Offer => normaliseOffer(o as unknown as Offer))
  .describe('An offer (next best offer)');

/** One problem with an offer: the field path ("eligibility.minOrders") and what is wrong. */
export interface OfferIssue {
  field: string;
  message: string;
}

/** Parses an offer; the issues name each bad field (the path inside the offer). */
export function parseOffer(input: unknown): { ok: true; offer: Offer } | { ok: false; issues: OfferIssue[] } {
  const r = OfferInput.safeParse(input);
  if (r.success) return { ok: true, offer: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(offer)', message: unknownKeys(i) ?? i.message })) };
}

const unknownKeys = (i: z.core.$ZodIssue): string | null =>
  i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}` : null;
