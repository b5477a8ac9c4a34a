/**
 * zod schemas of the clienteling routes (clienteling-routes.ts): the customer card, product search
 * and the product card, and the trained bundles of the console's Models view.
 */
import { z } from 'zod';
import { CHANNELS, CONSENT_PURPOSES, IDENTIFIER_KINDS, SEGMENTS } from '../core/records.js';
import { RecListResponse } from './schemas.js';

const storeId = z.string().trim().min(1).max(128);

export const ProfileQuery = z.object({
  store: storeId.describe("The associate's store: recommendations are items in stock there").optional(),
  limit: z.coerce.number().int().min(1).max(50).default(10).describe('Number of recommendations (1-50, default 10)'),
});

export const ProductSearchQuery = z.object({
  q: z.string().trim().min(1).max(128).describe('A sku (prefix) or words of the title'),
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Number of products (1-100, default 20)'),
});

export const ProductQuery = z.object({
  store: storeId.describe('Only similar / bought-together items in stock in this store').optional(),
  limit: z.coerce.number().int().min(1).max(50).default(10).describe('Items per list (1-50, default 10)'),
});

const recItem = RecListResponse.shape.items.element;
const described = recItem.extend({
  title: z.string().nullable().describe("The product's title (null when the catalogue has none)"),
  why: z.string().describe('The reason in words, e.g. "Because they bought Blue mug"'),
});
const cardList = z.object({
  items: z.array(described),
  reason: z.string().optional().describe('Why the list is empty or not from its primary source: no_consent, no_model, no_history, no_vector, no_candidates, …'),
  model: RecListResponse.shape.model.optional(),
  fallback: z.boolean().optional(),
  warnings: z.array(z.string()).optional(),
});
const activity = z.object({ orders: z.number(), spend: z.number() });
const consentInForce = z.object({ granted: z.boolean(), basis: z.enum(['recorded', 'default']), at: z.string().nullable(), source: z.string().nullable() });

export const ProfileResponse = z.object({
  customerId: z.string().describe('The unified id (merged-away ids resolve to it)'),
  identifiers: z.array(z.object({ kind: z.enum(IDENTIFIER_KINDS), value: z.string() })).describe('Masked: n•••@example.com, •••• 0123 (loyalty ids as stored)'),
  segment: z.enum(SEGMENTS).nullable(),
  rfm: z.object({
    recencyDays: z.number().nullable().describe('Days since the last purchase'),
    frequency: z.number().describe('Orders'),
    monetary: z.number().describe('Net spend'),
  }),
  lifetimeValue: z.number().describe('Net spend across channels (returns deducted)'),
  orders: z.number().describe('Orders with at least one item bought'),
  averageOrderValue: z.number().nullable(),
  channels: z.object(Object.fromEntries(CHANNELS.map((c) => [c, activity])) as Record<(typeof CHANNELS)[number], typeof activity>),
  favouriteStore: z.object({ storeId: z.string(), name: z.string().nullable(), orders: z.number() }).nullable(),
  favouriteCategories: z.array(z.object({ category: z.string(), orders: z.number(), spend: z.number() })),
  firstPurchaseAt: z.string().nullable(),
  lastPurchaseAt: z.string().nullable(),
  recentPurchases: z
    .array(
      z.object({
        date: z.string(),
        channel: z.enum(CHANNELS),
        store: z.string().nullable(),
        sku: z.string(),
        title: z.string().nullable(),
        quantity: z.number(),
        unitPrice: z.number(),
      }),
    )
    .describe('The last 10 items bought, across channels, newest first'),
  consent: z.object(
    Object.fromEntries(CONSENT_PURPOSES.map((p) => [p, consentInForce])) as Record<(typeof CONSENT_PURPOSES)[number], typeof consentInForce>,
  ).describe('The choice in force per purpose: recorded (at, source; at null for an undated choice) or the default of CONSENT_DEFAULTS'),
  buyAgain: cardList.extend({ items: z.array(described.extend({ inStock: z.boolean().nullable().describe('In stock in `store` (null without store)') })) }),
  recommendations: cardList.extend({ store: z.string().nullable() }).describe('In stock in `store`; none without personalisation consent (reason no_consent)'),
  nextBestOffer: z
    .object({
      available: z.boolean(),
      reason: z.string().optional().describe('Why there is none: offers_not_configured, no_offer, …'),
      offers: z
        .array(
          z.object({
            offerId: z.string(),
            title: z.string(),
            kind: z.string(),
            score: z.number(),
            propensity: z.number(),
            value: z.number(),
            reason: z.record(z.string(), z.unknown()).describe('As GET /v1/customers/{id}/next-best-offer gives it'),
            why: z.string().describe('The reason in words'),
          }),
        )
        .optional(),
      decisionId: z.string().optional().describe('Quote it when recording the response (POST /v1/events/offers)'),
      policy: z.object({ name: z.string(), version: z.string() }).optional(),
      fallback: z.boolean().optional(),
      fallbackReason: z.string().optional(),
    })
    .describe('The next best offer for channel store; {available: false, reason} when there is none'),
});

const product = z.object({ sku: z.string(), title: z.string().nullable(), category: z.string().nullable(), price: z.number().nullable(), active: z.boolean() });
export const ProductSearchResponse = z.object({ items: z.array(product) });
export const ProductResponse = product.extend({
  stock: z.array(z.object({ storeId: z.string(), name: z.string().nullable(), quantity: z.number() })).describe('Every store with a stock record'),
  similar: cardList,
  boughtTogether: cardList,
});

export const BundlesResponse = z.object({
  current: z.string().nullable(),
  bundles: z.array(
    z.object({
      version: z.string(),
      createdAt: z.string(),
      data: z.record(z.string(), z.unknown()),
      metrics: z.record(z.string(), z.unknown()).describe("The evaluation of the training run (npm run train -- --evaluate): cutoff, dataset, models' figures"),
      published: z.boolean(),
      current: z.boolean(),
    }),
  ),
});
