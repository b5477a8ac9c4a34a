/**
 * The routes of store associates' tablets and the console: the customer card, product search and
 * the product card (scopes associate and admin), and the trained bundles with their evaluation
 * figures (admin). Declared like every route (route-def.ts); routes.ts lists them.
 */
import { NotFoundError, NotSupportedError } from '../core/errors.js';
import type { ClientelingService } from '../serve/clienteling-service.js';
import * as C from './clienteling-schemas.js';
import type { ModelAdmin } from './model-admin.js';
import { type RouteDef, route } from './route-def.js';
import * as S from './schemas.js';
import type { Store } from '../store/store.js';
import { z } from 'zod';

const ASSOCIATE = ['associate', 'admin'] as const;

export function clientelingRoutes(ctx: { clienteling: ClientelingService; admin?: ModelAdmin; store: Pick<Store, 'offerResponseStats'> }): RouteDef[] {
  const { clienteling } = ctx;
  return [
    route({
      method: 'get',
      path: '/v1/customers/{id}/profile',
      summary: "The clienteling card: who the customer is across channels, what to suggest from this store's shelves, which offer fits",
      description:
        'One call for the associate\'s tablet: masked identifiers, segment and RFM figures, lifetime value, orders and average order value, ' +
        'orders and spend per channel, favourite store and categories, the last 10 purchases across channels, consent per purpose, ' +
        'buy-it-again items, recommendations in stock in `store` (channel store; none without personalisation consent, reason no_consent) ' +
        'and the next best offer for channel store. A part that does not apply says why (`reason`). Merged-away ids resolve. Not cached (Cache-Control: no-store).',
      tag: 'customers',
      scopes: ASSOCIATE,
      params: S.CustomerParams,
      query: C.ProfileQuery,
      response: C.ProfileResponse,
      extraResponses: { '404': 'Unknown customer' },
      handler: async ({ params, query, res }) => {
        // personal data: no cache on the way may keep it (errors included)
        res.setHeader('Cache-Control', 'no-store');
        const card = await clienteling.card(params.id, query);
        if (!card) throw new NotFoundError('unknown customer', { customerId: params.id });
        return card;
      },
    }),
    route({
      method: 'get',
      path: '/v1/products',
      summary: 'Search the catalogue by sku (prefix) or title words',
      tag: 'recommendations',
      scopes: ASSOCIATE,
      query: C.ProductSearchQuery,
      response: C.ProductSearchResponse,
      handler: async ({ query }) => ({ items: await clienteling.searchProducts(query.q, query.limit) }),
    }),
    route({
      method: 'get',
      path: '/v1/products/{sku}',
      summary: 'The product card: the product, its stock by store, similar items and items frequently bought with it',
      description: 'The lists are those of /v1/items/{sku}/similar and /v1/baskets/recommendations (with `store`: in stock there), with titles and reasons in words.',
      tag: 'recommendations',
      scopes: ASSOCIATE,
      params: S.SkuParams,
      query: C.ProductQuery,
      response: C.ProductResponse,
      extraResponses: { '404': 'Neither the catalogue nor the model knows the sku' },
      handler: async ({ params, query }) => {
        const card = await clienteling.product(params.sku, query);
        if (!card) throw new NotFoundError('unknown product', { sku: params.sku });
        return card;
      },
    }),
    route({
      method: 'get',
      path: '/v1/admin/offer-stats',
      summary: 'Responses to offers per offer × segment × channel (impressions, accepted, declined, ignored; exposure: the impressions weighed by their affinity lift, the trials the learning counts): the console\'s acceptance rates',
      tag: 'admin',
      scopes: ['admin'],
      response: z.object({
        cells: z.array(
          z.object({ offerId: z.string(), segment: z.string(), channel: z.string(), impressions: z.number(), accepted: z.number(), declined: z.number(), ignored: z.number(), exposure: z.number() }),
        ),
      }),
      handler: async () => ({ cells: await ctx.store.offerResponseStats() }),
    }),
    route({
      method: 'get',
      path: '/v1/admin/bundles',
      summary: 'Bundles trained in MODEL_DIR with their evaluation figures, and which are published and current',
      tag: 'admin',
      scopes: ['admin'],
      response: C.BundlesResponse,
      extraResponses: { '501': 'Publishing not configured' },
      handler: () => {
        if (!ctx.admin?.bundles) throw new NotSupportedError('model publishing is not configured on this instance');
        return ctx.admin.bundles();
      },
    }),
  ];
}
