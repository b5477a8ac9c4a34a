/**
 * The next-best-offer routes (declared like every route: route-def.ts; in /openapi.json, through the
 * dispatcher): decisions for a customer and for a guest's session, offer responses, and the admin
 * routes over the offers.
 */
import { z } from 'zod';
import { ConflictError, InvalidArgumentError } from '../core/errors.js';
import { OfferId, OfferInput } from '../core/offer-schema.js';
import { OFFER_CHANNELS, OFFER_KINDS } from '../core/offers/types.js';
import type { OfferService } from '../serve/offer-service.js';
import { writeJsonText } from './json-response.js';
import { type RouteDef, route } from './route-def.js';
import { CustomerParams } from './schemas.js';

const STOREFRONT = ['storefront', 'associate'] as const;
/** At most this far ahead of the server clock (clock skew of tills and apps). */
const MAX_FUTURE_MS = 86_400_000;

const id = (what: string) => z.string().trim().min(1).max(128).describe(what);
const channel = z.enum(OFFER_CHANNELS).describe(`The channel the offer is for (${OFFER_CHANNELS.join(', ')}): consent and contact rules depend on it`);
const store = id('Store id: only offers valid there, with their targets in stock there').optional();

export const NboQuery = z.object({
  channel,
  store,
  limit: z.coerce.number().int().min(1).max(20).default(1).describe('Offers to answer (1-20, default 1)'),
});

export const NboSessionBody = z.object({
  items: z.array(id('sku')).max(100).describe('Skus seen or added in the session (0-100)'),
  channel,
  store,
  limit: z.number().int().min(1).max(20).default(1).describe('Offers to answer (1-20, default 1)'),
});

export const OfferParams = z.strictObject({ id: OfferId });

export const OfferEventBody = z.strictObject({
  eventId: id('Idempotence key: posting the same event again changes nothing; the same id with other content is a 409'),
  decisionId: id('The decision that showed the offer').optional(),
  offerId: OfferId,
  customerId: id('Unified customer id (merged-away ids resolve)'),
  channel: z.enum(OFFER_CHANNELS),
  type: z.enum(['impression', 'accepted', 'declined', 'ignored']).describe('impression: shown; accepted / declined / ignored: the response'),
  time: z.iso
    .datetime({ offset: true })
    .refine((t) => Date.parse(t) <= Date.now() + MAX_FUTURE_MS, 'must not be more than a day in the future')
    .optional()
    .describe('When it happened (ISO 8601; default now)'),
});

// ---- responses (documentation only) ----
const ReasonPart = z.record(z.string(), z.unknown()).describe('e.g. {"type": "win_back", "daysSinceLastPurchase": 94}, {"type": "affinity", "category": "Candles"}');
export const NboResponse = z.object({
  offers: z.array(
    z.object({
      offerId: z.string(),
      title: z.string(),
      kind: z.enum(OFFER_KINDS),
      score: z.number().describe('priority = propensity × value × weight'),
      propensity: z.number(),
      value: z.number(),
      reason: z.object({
        type: z.string().describe('The main reason'),
        details: z.array(ReasonPart),
        parts: z.object({ propensity: z.number(), value: z.number(), weight: z.number(), prior: z.number(), posteriorMean: z.number() }).describe('The parts of the score'),
      }),
    }),
  ),
  decisionId: z.string().describe('Quote it in the offer events of this decision'),
  customerId: z.string().optional().describe('The unified id decided for'),
  policy: z.object({ name: z.string(), version: z.string() }),
  fallback: z.boolean().describe('true when the decision could not use the customer (unknown, no consent, store unreachable)'),
  fallbackReason: z.enum(['unknown_customer', 'store_unavailable', 'no_consent', 'no_model']).optional(),
});
const OfferDocument = z.record(z.string(), z.unknown()).describe('An offer, every field present (see PUT)');
export const OfferEventResponse = z.object({
  eventId: z.string(),
  customerId: z.string().describe('The unified id it was recorded for'),
  recorded: z.boolean().describe('false: recorded before (same content), nothing changed'),
  duplicate: z.boolean(),
});

export function buildOfferRoutes(offers: OfferService): RouteDef[] {
  return [
    route({
      method: 'get',
      path: '/v1/customers/{id}/next-best-offer',
      summary: 'The next best offer(s) for a customer',
      description:
        'Eligible (window, channel, store, segment, order counts, spend, targets in stock at the store) → suitable (consent for the channel, contact caps, ' +
        'decline suppression, acceptance cap) → propensity (affinity, Beta posterior per offer × segment × channel, Thompson sampling; a holdout share picks at random) → ' +
        'priority = propensity × value × weight → the top `limit`, never two on the same target. Without personalisation consent: non-personalised offers only. ' +
        'Unknown customers get a guest decision (fallback). Every decision is logged.',
      tag: 'offers',
      scopes: STOREFRONT,
      params: CustomerParams,
      query: NboQuery,
      response: NboResponse,
      extraResponses: { '503': 'Offer decisions not configured on this instance' },
      // answered without a promise when nothing needs waiting for (the JSON written as decideFor's answer would be)
      handler: ({ params, query, req, res }) => {
        const text = offers.decideForText(params.id, query);
        if (text === undefined) return offers.decideFor(params.id, query);
        writeJsonText(req, res, 200, text);
        return undefined;
      },
    }),
    route({
      method: 'post',
      path: '/v1/sessions/next-best-offer',
      summary: "The next best offer(s) for a guest, from their session's items",
      tag: 'offers',
      scopes: STOREFRONT,
      body: NboSessionBody,
      response: NboResponse,
      extraResponses: { '503': 'Offer decisions not configured on this instance' },
      handler: ({ body, req, res }) => {
        const text = offers.decideForGuestText(body.items, body);
        if (text === undefined) return offers.decideForGuest(body.items, body);
        writeJsonText(req, res, 200, text);
        return undefined;
      },
    }),
    route({
      method: 'post',
      path: '/v1/events/offers',
      summary: 'Record a response to an offer (impression, accepted, declined, ignored)',
      description:
        'Idempotent by eventId (the same id with other content is a 409). Stored durably (synchronous commit) before the answer, ' +
        'applied at once to the contact counters, acceptance counts and response counts of every instance.',
      tag: 'events',
      scopes: ['events'],
      body: OfferEventBody,
      response: OfferEventResponse,
      extraResponses: { '404': 'Unknown customerId or offerId', '409': 'eventId already used for another event' },
      handler: async ({ body }) => {
        const { outcome, ...answer } = await offers.recordEvent(body);
        if (outcome === 'conflict') throw new ConflictError(`event ${body.eventId} was recorded before with other content`, { field: 'eventId', eventId: body.eventId });
        return answer;
      },
    }),
    route({
      method: 'get',
      path: '/v1/admin/offers',
      summary: 'Every offer',
      tag: 'admin',
      scopes: ['admin'],
      response: z.object({ offers: z.array(OfferDocument) }),
      handler: async () => ({ offers: await offers.listOffers() }),
    }),
    route({
      method: 'get',
      path: '/v1/admin/offers/{id}',
      summary: 'One offer',
      tag: 'admin',
      scopes: ['admin'],
      params: OfferParams,
      response: OfferDocument,
      extraResponses: { '404': 'Unknown offer' },
      handler: ({ params }) => offers.getOffer(params.id),
    }),
    route({
      method: 'put',
      path: '/v1/admin/offers/{id}',
      summary: 'Create or replace an offer',
      description: 'The body is the whole offer (its id must be the one in the path). Every instance decides with it within seconds.',
      tag: 'admin',
      scopes: ['admin'],
      params: OfferParams,
      body: OfferInput,
      response: OfferDocument,
      handler: async ({ params, body }) => {
        if (body.id !== params.id) {
          throw new InvalidArgumentError(`invalid request: body.id: must be the id in the path (${params.id})`, {
            fields: [{ field: 'body.id', message: `must be the id in the path (${params.id})` }],
          });
        }
        return (await offers.putOffer(body)).offer;
      },
    }),
    route({
      method: 'delete',
      path: '/v1/admin/offers/{id}',
      summary: 'Delete an offer',
      tag: 'admin',
      scopes: ['admin'],
      params: OfferParams,
      response: z.object({ id: z.string(), deleted: z.literal(true) }),
      extraResponses: { '404': 'Unknown offer' },
      handler: async ({ params }) => {
        await offers.deleteOffer(params.id);
        return { id: params.id, deleted: true as const };
      },
    }),
  ];
}
