/**
 * zod schemas of every route's params, query, body and response: the validation of each
 * request and the source of the OpenAPI document (z.toJSONSchema).
 */
import { z } from 'zod';
import { normaliseIdentifierValue } from '../core/identity.js';
import { CHANNELS, IDENTIFIER_KINDS, type Identifier, SEGMENTS } from '../core/records.js';

const id = (what: string) => z.string().trim().min(1).max(128).describe(what);
/**
 * The options of every list, one schema for the query string of a GET and the JSON body of a POST:
 * a list is comma-separated text (in a query, or the key repeated) or a JSON array, every element
 * split on commas; a number and a flag are JSON values in a body and their text in a query.
 */
const list = (what: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().max(128)).max(50))
    .describe(what);
/** A whole number as a JSON value (body) or as its text (query string: "7" → 7). */
const intText = (v: unknown) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v);
/** A flag as a JSON boolean (body) or as text (query string: "true"/"1", "false"/"0"). */
const flagText = (v: unknown) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v);

const listOptions = {
  limit: z.preprocess(intText, z.number().int().min(1).max(100).default(10)).describe('Number of items (1-100, default 10)'),
  store: id('Only items in stock in this store').optional(),
  channel: z.enum(CHANNELS).optional().describe("The channel asking (web, app, store): popular items come from this channel's best sellers"),
  category: list('Only these categories (comma-separated)').optional(),
  excludeCategory: list('Not these categories (comma-separated)').optional(),
};
const excludePurchased = z.preprocess(flagText, z.boolean()).optional().describe("Leave out items already bought (and a session's own items) (default true)");

/** Options of GET list endpoints (query) and POST ones (body). */
export const ListQuery = z.object({ ...listOptions, excludePurchased });
export const SimilarQuery = z.object({
  ...ListQuery.shape,
  customerId: id('Customer looking (for excludePurchased)').optional(),
});
export const BuyAgainQuery = z.object({ ...listOptions });

const skuList = z.array(id('sku')).min(1).max(100).describe('Skus (1-100)');

export const BasketBody = z.object({
  items: skuList.describe('Skus in the basket'),
  customerId: id('Unified customer id, when known').optional(),
  ...ListQuery.shape,
});
export const SessionBody = z.object({
  items: skuList.describe('Skus seen or added in the session'),
  ...ListQuery.shape,
});

export const SkuParams = z.strictObject({ sku: id('Product sku') });
export const CustomerParams = z.strictObject({ id: id('Unified customer id (merged-away ids resolve to the survivor)') });
/** A bundle's folder name under MODEL_DIR: starts with a letter or digit, so never "." or ".." (no path outside MODEL_DIR). */
export const VersionParams = z.strictObject({
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_", "-" (1-64), starting with a letter or digit'),
});

export const LookupQuery = z
  .object({
    loyalty: id('Loyalty card number').optional(),
    email: id('Email address').optional(),
    phone: id('Phone number').optional(),
  })
  .refine((q) => [q.loyalty, q.email, q.phone].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of loyalty, email, phone',
    path: ['loyalty'],
  });

/** Identifiers of a buyer by kind, each normalised (emails lower-cased, phones to digits with country code). */
const IdentifiersInput = z
  .strictObject(Object.fromEntries(IDENTIFIER_KINDS.map((k) => [k, z.string().max(256).describe(`${k} identifier`).optional()])) as Record<(typeof IDENTIFIER_KINDS)[number], z.ZodOptional<z.ZodString>>)
  .transform((v, ctx) => {
    const out: Identifier[] = [];
    for (const kind of IDENTIFIER_KINDS) {
      const raw = v[kind];
      if (raw === undefined) continue;
      const value = normaliseIdentifierValue(kind, raw);
      if (value === null) ctx.addIssue({ code: 'custom', path: [kind], message: `not a valid ${kind}`, input: raw });
      else out.push({ kind, value });
    }
    return out;
  })
  .describe('Identifiers of the buyer (any of email, phone, loyalty, account, device, external); resolved to one customer as imports do');

/** At most this far ahead of the server clock (clock skew of tills). */
const MAX_FUTURE_MS = 86_400_000;

export const PurchaseBody = z
  .object({
    orderId: id('Order id in the source system: the idempotence key (re-posting the same order changes nothing)'),
    channel: z.enum(CHANNELS).describe('Where the order was placed'),
    store: id('Store id (store channel)').optional(),
    time: z.iso
      .datetime({ offset: true })
      .refine((t) => Date.parse(t) <= Date.now() + MAX_FUTURE_MS, 'must not be more than a day in the future')
      .optional()
      .describe('When the order was placed (ISO 8601; default now)'),
    customerId: id('Unified customer id of the buyer, when known').optional(),
    identifiers: IdentifiersInput.optional(),
    lines: z
      .array(
        z.object({
          sku: id('Product sku (skus unknown to the model are recorded and ignored by the refresh)'),
          quantity: z.number().positive().max(1e6).describe('Units bought (> 0)'),
          unitPrice: z.number().min(0).max(1e9).optional().describe('Price of one unit (default 0)'),
        }),
      )
      .min(1)
      .max(500)
      .describe('Order lines (1-500), in order: a line is identified by its position'),
  })
  .refine((b) => b.customerId !== undefined || (b.identifiers?.length ?? 0) > 0, {
    message: 'give customerId or at least one identifier',
    path: ['customerId'],
  });

export const RollbackBody = z.object({ version: VersionParams.shape.version.optional() }).default({});

// ---- responses (documentation only: not validated at run time) ----
const Reason = z.discriminatedUnion('type', [
  z.object({ type: z.literal('similar_to'), sku: z.string() }),
  z.object({ type: z.literal('bought_with'), sku: z.string() }),
  z.object({ type: z.literal('because_you_bought'), sku: z.string() }),
  z.object({
    type: z.literal('popular'),
    scope: z.enum(['global', 'store', 'segment', 'channel']).describe("channel: best sellers of the asking channel (option `channel`)"),
    store: z.string().optional(),
    segment: z.enum(SEGMENTS).optional(),
    channel: z.enum(CHANNELS).optional(),
    category: z.string().optional(),
  }),
  z.object({
    type: z.literal('buy_again'),
    lastPurchased: z.string().describe('ISO time of the last purchase'),
    expectedInDays: z.number().nullable().describe('Days until the expected repurchase (negative: overdue); null when bought once'),
    purchases: z.number(),
  }),
  z.object({ type: z.literal('personal') }),
]);

export const RecListResponse = z.object({
  items: z.array(
    z.object({
      sku: z.string(),
      score: z.number().describe("The answering source's own score (similarity, lift, factor score, popularity, buy-again); comparable among items of the same reason type. The list order is the ranking."),
      reason: Reason,
      category: z.string().nullable(),
    }),
  ),
  model: z.object({ version: z.string(), source: z.enum(['factors', 'neighbours', 'fbt', 'popular', 'repeat']) }),
  fallback: z.boolean().describe('true when the answer did not come from the primary source'),
  fallbackReason: z
    .enum(['unknown_customer', 'unknown_item', 'no_consent', 'no_history', 'no_vector', 'no_factors', 'no_candidates', 'cache_unavailable', 'store_unavailable'])
    .optional(),
  customerId: z.string().optional().describe('The unified id answered for, when it differs from the one asked'),
  warnings: z.array(z.string()).optional(),
});

export const ErrorResponse = z.object({
  error: z.string(),
  message: z.string(),
  fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  reqId: z.string().optional(),
});

export const HealthResponse = z.object({ status: z.literal('ok') });
/** /readyz: `status` for anyone; the rest (versions, addresses, errors) only for an admin key. */
export const ReadyResponse = z.object({
  status: z.enum(['ready', 'degraded', 'unavailable']),
  model: z.object({ version: z.string().nullable(), lastSwapAt: z.string().optional() }).optional(),
  cache: z.object({ status: z.enum(['ok', 'degraded']), detail: z.string().optional() }).optional(),
  store: z.object({ status: z.enum(['ok', 'degraded']), detail: z.string().optional() }).optional(),
  inventory: z.object({ status: z.enum(['ok', 'degraded', 'empty']), stores: z.number(), loadedAt: z.string().nullable(), detail: z.string().optional() }).optional(),
  detail: z.string().optional(),
});

export const LookupResponse = z.object({
  customerId: z.string(),
  profile: z.object({
    identifiers: z.array(z.object({ kind: z.string(), value: z.string() })),
    firstOrderAt: z.string().nullable(),
    lastOrderAt: z.string().nullable(),
    orders: z.number(),
    revenue: z.number(),
    channels: z.record(z.string(), z.number()),
    segment: z.enum(SEGMENTS).nullable(),
    consent: z
      .array(
        z.object({
          purpose: z.string(),
          granted: z.boolean(),
          basis: z.enum(['recorded', 'default']).describe('recorded: the latest choice on record; default: none recorded, CONSENT_DEFAULTS applies'),
          time: z.string().nullable().optional().describe('When the recorded choice was made (null: the file gave no time)'),
          source: z.string().optional(),
        }),
      )
      .describe('Every purpose, with the choice in force and its basis'),
  }),
});

export const EraseResponse = z.object({
  customerId: z.string(),
  erased: z.boolean(),
  versions: z.array(z.string()).describe('Model versions in the cache the record was removed from (every version kept)'),
});

export const PurchaseResponse = z.object({
  customerId: z.string().describe('The unified id the order was recorded for'),
  orderId: z.string(),
  imported: z.number().describe('Lines newly recorded (0 when the order was posted before)'),
  duplicates: z.number().describe('Lines already recorded'),
  merges: z.number().describe('Customers merged because the identifiers named several'),
  modelVersion: z.string().nullable().describe('The model version whose customer record was refreshed'),
  recordRefreshed: z.boolean().describe("The customer's record (history for buy-again and exclusions) was rewritten"),
  vectorRefreshed: z.boolean().describe('The record carries a vector folded in from the whole history'),
  refreshSkipped: z
    .enum(['no_model', 'no_consent', 'cache_unavailable', 'erased'])
    .optional()
    .describe('Why nothing was refreshed (the order is recorded all the same; cache_unavailable: post again to retry)'),
});
export const ModelsResponse = z.object({
  current: z.string().nullable(),
  versions: z.array(z.record(z.string(), z.unknown())),
});
