/**
 * Every route of the v1 API, declared once (see route-def.ts): storefront lists, associate
 * lookup, purchase events, erasure, admin model endpoints and operations.
 */
import type { IncomingMessage } from 'node:http';
import type { ModelSource } from '../cache/model-source.js';
import { within } from '../core/deadline.js';
import { NotFoundError, NotSupportedError } from '../core/errors.js';
import { normaliseIdentifierValue } from '../core/identity.js';
import type { IdentifierKind } from '../core/records.js';
import type { ClientelingService } from '../serve/clienteling-service.js';
import type { CustomerAccessCache } from '../serve/customer-access.js';
import type { InventorySnapshot } from '../serve/inventory-snapshot.js';
import type { OfferService } from '../serve/offer-service.js';
import type { RecommendationService } from '../serve/recommendation-service.js';
import type { Store } from '../store/store.js';
import { validationError } from './errors.js';
import { clientelingRoutes } from './clienteling-routes.js';
import { writeJson, writeText } from './json-response.js';
import type { ModelAdmin } from './model-admin.js';
import { buildOfferRoutes } from './offer-routes.js';
import { recordPurchase } from './purchase-events.js';
import { type RouteDef, route } from './route-def.js';
import * as S from './schemas.js';
import type { ServiceMetrics } from './service-metrics.js';
import { z } from 'zod';

export interface RouteContext {
  service: RecommendationService;
  store: Store;
  source: ModelSource;
  access: CustomerAccessCache;
  inventory: InventorySnapshot;
  metrics: ServiceMetrics;
  /** Next best offer (src/serve/offer-service.ts). */
  offers: OfferService;
  /** Customer and product cards (clienteling-routes.ts). */
  clienteling: ClientelingService;
  admin?: ModelAdmin;
  /** true once shutdown began (readyz then answers 503). */
  draining: () => boolean;
  /** Whether the request's key may see dependency details (an admin key, or auth disabled). */
  isAdmin: (req: IncomingMessage) => boolean;
  /** The OpenAPI document (built lazily from these routes). */
  openapi: () => unknown;
}

const STOREFRONT = ['storefront', 'associate'] as const;

/**
 * Forgets what this instance caches about customers whose data just changed (a purchase event, an
 * erasure): their merge/consent answers (their records in the model source's LRU are overwritten by
 * putCustomer / eraseCustomers themselves), then tells every other instance to forget them too
 * (src/cache/customer-changes.ts). Call it once the change is written everywhere: an instance that
 * hears of it re-reads the store and the cache. Any further per-customer cache is to be invalidated here.
 */
export async function invalidateCustomers(ctx: Pick<RouteContext, 'access' | 'source'>, customerIds: readonly string[]): Promise<void> {
  if (customerIds.length === 0) return;
  ctx.access.invalidate(...customerIds);
  await ctx.source.announceCustomers(customerIds);
}

export function buildRoutes(ctx: RouteContext): RouteDef[] {
  const { service } = ctx;
  const needAdmin = (): ModelAdmin => {
    if (!ctx.admin) throw new NotSupportedError('model publishing is not configured on this instance');
    return ctx.admin;
  };
  return [
    route({
      method: 'get',
      path: '/v1/items/{sku}/similar',
      summary: 'You may also like: items similar to a product',
      description: 'Neighbours of the item (item-item CF); unknown item or nothing left after filters → popular in its category, then popular.',
      tag: 'recommendations',
      scopes: STOREFRONT,
      params: S.SkuParams,
      query: S.SimilarQuery,
      response: S.RecListResponse,
      handler: ({ params, query }) => service.similar(params.sku, query),
    }),
    route({
      method: 'post',
      path: '/v1/baskets/recommendations',
      summary: 'Frequently bought together / complete the basket',
      description: 'Items bought with the basket items (lift); fallback neighbours of the basket, then popular (in store/segment, then global).',
      tag: 'recommendations',
      scopes: STOREFRONT,
      body: S.BasketBody,
      response: S.RecListResponse,
      handler: ({ body }) => service.basket(body.items, body),
    }),
    route({
      method: 'get',
      path: '/v1/customers/{id}/recommendations',
      summary: 'Recommended for you',
      description:
        'Customer vector · item factors, blended with buy-again per the bundle; fallback chain FALLBACK_CHAIN (personal → neighbours of recent purchases → popular in store/segment → popular). No consent → non-personal popular results.',
      tag: 'recommendations',
      scopes: STOREFRONT,
      params: S.CustomerParams,
      query: S.ListQuery,
      response: S.RecListResponse,
      handler: ({ params, query }) => service.personal(params.id, query),
    }),
    route({
      method: 'post',
      path: '/v1/sessions/recommendations',
      summary: 'Recommended for a guest, from the items of their session',
      description: 'Fold-in of the session items with the item factors (ALS closed form); fallback neighbours, then popular.',
      tag: 'recommendations',
      scopes: STOREFRONT,
      body: S.SessionBody,
      response: S.RecListResponse,
      handler: ({ body }) => service.session(body.items, body),
    }),
    route({
      method: 'get',
      path: '/v1/customers/{id}/buy-again',
      summary: 'Buy it again',
      description: "The customer's own items ranked by expected time to repurchase (last purchase + mean interval vs now).",
      tag: 'recommendations',
      scopes: STOREFRONT,
      params: S.CustomerParams,
      query: S.BuyAgainQuery,
      response: S.RecListResponse,
      handler: ({ params, query }) => service.buyAgain(params.id, query),
    }),
    route({
      method: 'get',
      path: '/v1/customers/lookup',
      summary: 'Find a customer by loyalty card, email or phone (associate tablets)',
      tag: 'customers',
      scopes: ['associate'],
      query: S.LookupQuery,
      response: S.LookupResponse,
      extraResponses: { '404': 'No customer with this identifier' },
      // for customer tokens: the person looked up
      customer: ({ query }) =>
        query.loyalty !== undefined ? { kind: 'loyalty', value: query.loyalty } : query.email !== undefined ? { kind: 'email', value: query.email } : { kind: 'phone', value: query.phone! },
      handler: async ({ query }) => {
        const kind: IdentifierKind = query.loyalty !== undefined ? 'loyalty' : query.email !== undefined ? 'email' : 'phone';
        const raw = (query.loyalty ?? query.email ?? query.phone)!;
        const value = normaliseIdentifierValue(kind, raw);
        if (value === null) {
          throw validationError('query', new z.ZodError([{ code: 'custom', path: [kind], message: `not a valid ${kind}`, input: raw }]));
        }
        const customerId = await ctx.store.findCustomer({ kind, value });
        const profile = customerId ? await ctx.store.customerProfile(customerId) : null;
        if (!customerId || !profile) throw new NotFoundError(`no customer with this ${kind}`, { kind });
        let segment = profile.segment;
        const model = ctx.source.current();
        if (segment === null && model) segment = (await ctx.source.customer(customerId, model))?.segment ?? null;
        const { customerId: _id, ...rest } = profile;
        return { customerId, profile: { ...rest, segment } };
      },
    }),
    route({
      method: 'post',
      path: '/v1/events/purchases',
      summary: 'Record a purchase and refresh the buyer\'s recommendations at once',
      description:
        'Records the order in the history store as imports do (identity resolution; idempotent by orderId: re-posting changes nothing), ' +
        "then rebuilds the buyer's record in the model version in service from their whole history (training's weighting, ALS fold-in), " +
        "so recommended-for-you and buy-again reflect it at once. Without personalisation consent the order is recorded and no record is written. " +
        'Skus the model does not know are recorded and left out of the refresh.',
      tag: 'events',
      scopes: ['events'],
      body: S.PurchaseBody,
      response: S.PurchaseResponse,
      extraResponses: { '404': 'Unknown customerId' },
      handler: ({ body, signal }) =>
        recordPurchase(
          {
            store: ctx.store,
            source: ctx.source,
            invalidate: (ids) => invalidateCustomers(ctx, ids),
          },
          { ...body, identifiers: body.identifiers ?? [], time: body.time === undefined ? Date.now() : Date.parse(body.time) },
          signal,
        ),
    }),
    route({
      method: 'delete',
      path: '/v1/customers/{id}',
      summary: 'Erase a customer (right to erasure)',
      description:
        'Removes the customer (and every id merged into them) from every model version kept in the cache and lists them as erased, ' +
        'so neither a rollback nor re-publishing an older bundle brings them back; then erases them in the history store ' +
        '(identifiers, consent, segment, aliases; their orders stay as guest orders).',
      tag: 'customers',
      scopes: ['admin'],
      params: S.CustomerParams,
      response: S.EraseResponse,
      extraResponses: { '404': 'Unknown customer', '503': 'Model cache unreachable: nothing erased, retry' },
      handler: async ({ params, signal }) => {
        const ids = await ctx.store.customerIds(params.id);
        if (ids.length === 0) throw new NotFoundError('unknown customer', { customerId: params.id });
        const customerId = ids[0];
        // answered 503 already (deadline): erase nothing, so that the retry finds the customer again
        signal.throwIfAborted();
        // cache first: if it is down nothing is erased yet and a retry finds the customer again
        const { versions } = await ctx.source.eraseCustomers(ids);
        const erased = await ctx.store.eraseCustomer(customerId);
        await invalidateCustomers(ctx, [...new Set([params.id, ...ids])]);
        return { customerId, erased, versions };
      },
    }),
    ...clientelingRoutes(ctx),
    route({
      method: 'get',
      path: '/v1/admin/models',
      summary: 'Published model versions and the current one',
      tag: 'admin',
      scopes: ['admin'],
      response: S.ModelsResponse,
      extraResponses: { '501': 'Publishing not configured' },
      handler: () => needAdmin().list(),
    }),
    route({
      method: 'post',
      path: '/v1/admin/models/{version}/publish',
      summary: 'Publish a trained bundle (MODEL_DIR/<version>) and swap it into service',
      tag: 'admin',
      scopes: ['admin'],
      params: S.VersionParams,
      response: z.record(z.string(), z.unknown()),
      extraResponses: { '404': 'Unknown version', '501': 'Publishing not configured' },
      handler: ({ params }) => needAdmin().publish(params.version),
    }),
    route({
      method: 'post',
      path: '/v1/admin/models/rollback',
      summary: 'Point back to the previous (or a named) published version',
      tag: 'admin',
      scopes: ['admin'],
      body: S.RollbackBody,
      response: z.record(z.string(), z.unknown()),
      extraResponses: { '404': 'Unknown version', '501': 'Publishing not configured' },
      handler: ({ body }) => needAdmin().rollback(body.version),
    }),
    ...buildOfferRoutes(ctx.offers),
    route({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process is up',
      tag: 'operations',
      scopes: null,
      response: S.HealthResponse,
      handler: () => ({ status: 'ok' }),
    }),
    route({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: 200 when a model is loaded (store/cache ok or degraded), 503 otherwise; details (versions, addresses, errors) only for an admin key',
      tag: 'operations',
      scopes: null,
      response: S.ReadyResponse,
      extraResponses: { '503': 'No model loaded, or shutting down' },
      handler: async ({ req, res }) => {
        const src = ctx.source.status();
        let store: { status: 'ok' | 'degraded'; detail?: string } = { status: 'ok' };
        try {
          await within(ctx.store.ping(), 1_000, 'the history store');
        } catch (err) {
          ctx.metrics.postgresErrors.inc();
          store = { status: 'degraded', detail: err instanceof Error ? err.message : String(err) };
        }
        const inv = ctx.inventory.status();
        const model = ctx.source.current();
        const ok = model !== null && !ctx.draining();
        const degraded = src.cache === 'degraded' || store.status === 'degraded' || inv.state === 'degraded';
        const body = {
          status: !ok ? 'unavailable' : degraded ? 'degraded' : 'ready',
          model: { version: model?.version ?? null, ...(src.lastSwapAt ? { lastSwapAt: src.lastSwapAt } : {}) },
          cache: { status: src.cache, ...(src.detail ? { detail: src.detail } : {}) },
          store,
          inventory: { status: inv.state, stores: inv.stores, loadedAt: inv.loadedAt, ...(inv.detail ? { detail: inv.detail } : {}) },
          ...(ctx.draining() ? { detail: 'shutting down' } : !model ? { detail: 'no model version loaded' } : {}),
        };
        // addresses and errors only for an admin key; anyone else (a load balancer) gets the status
        writeJson(req, res, ok ? 200 : 503, ctx.isAdmin(req) ? body : { status: body.status });
        return undefined;
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tag: 'operations',
      scopes: null,
      response: z.string(),
      handler: async ({ req, res }) => {
        writeText(req, res, 200, ctx.metrics.registry.contentType, await ctx.metrics.registry.metrics());
        return undefined;
      },
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      summary: 'This document',
      tag: 'operations',
      scopes: null,
      response: z.record(z.string(), z.unknown()),
      handler: () => ctx.openapi(),
    }),
  ];
}

