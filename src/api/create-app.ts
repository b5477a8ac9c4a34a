/**
 * The application: request ids and one log line per request, metrics, API-key scopes, zod
 * validation of params/query/body on every route, the routes, 404 and the one error mapping.
 * Each route compiles to one function (tag, scopes, validation, handler, response) that both
 * dispatchers run: `listener`, the API's own dispatcher (dispatch.ts) in front of the Express app
 * `app`, which registers every route too and answers everything the dispatcher passes on (404s,
 * OPTIONS, odd URLs). The server listens with `listener`; no listening here (see
 * src/server.ts), so tests drive `listener` (or `app`) with supertest.
 */
import type { RequestListener } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { CacheKeys } from '../cache/keys.js';
import type { ModelSource } from '../cache/model-source.js';
import type { VectorCache } from '../cache/vector-cache.js';
import type { Decide, DecisionContext } from '../core/offers/types.js';
import { DEFAULT_OFFER_CHANNEL_CONSENT } from '../config.js';
import type { Store } from '../store/store.js';
import { CustomerAccessCache } from '../serve/customer-access.js';
import type { ChainStep } from '../serve/fallback-chain.js';
import type { InventorySnapshot } from '../serve/inventory-snapshot.js';
import { decide } from '../core/offers/decide.js';
import { OfferService } from '../serve/offer-service.js';
import { RecommendationService } from '../serve/recommendation-service.js';
import { type ApiKeys, admitted } from './api-keys.js';
import { type CompiledRoute, dispatcher } from './dispatch.js';
import { errorHandler, failRequest, notFoundHandler, validationError } from './errors.js';
import { jsonBody } from './json-body.js';
import { writeJson } from './json-response.js';
import type { Logger } from './logger.js';
import type { ModelAdmin } from './model-admin.js';
import { openApiDocument } from './openapi.js';
import { requestLog, tagRoute } from './request-log.js';
import { type RouteDef, expressPath } from './route-def.js';
import { buildRoutes } from './routes.js';
import { ServiceMetrics } from './service-metrics.js';

export interface AppDeps {
  store: Store;
  source: ModelSource;
  inventory: InventorySnapshot;
  logger: Logger;
  /** null = auth disabled (AUTH_DISABLED=true). */
  apiKeys: ApiKeys | null;
  chain: ChainStep[];
  admin?: ModelAdmin;
  /**
   * How long an instance reuses a customer's merge/consent answer, ms (default 30 000): a consent
   * withdrawal made elsewhere reaches personal lists within this time (erasure here: at once).
   */
  customerTtlMs?: number;
  /** Max JSON body size (default "64kb"). */
  bodyLimit?: string;
  /** Register prom-client's process metrics (default true). */
  defaultMetrics?: boolean;
  now?: () => number;
  /** Catalogues above this many items score personal factors over a candidate set (default 20,000). */
  fullScanMaxItems?: number;
  /** Next best offer (src/serve/offer-service.ts); defaults: this instance alone, OFFER_* defaults of src/config.ts. */
  offers?: {
    /** The decision core (default: `decide` of src/core/offers/decide.ts; null: decisions answer 503). */
    decide?: Decide | null;
    /** The cache linking the instances (P:offer-changes). */
    bus?: { cache: VectorCache; keys: CacheKeys } | null;
    channelConsent?: DecisionContext['channelConsent'];
    holdoutShare?: number;
    reloadMs?: number;
    random?: () => number;
    decisionLog?: { intervalMs?: number; batchSize?: number };
  };
}

export interface App {
  /** The request listener the server uses: the API's dispatcher, passing the rest to `app`. */
  listener: RequestListener;
  /** The Express app: every route, 404 and errors; answers what `listener` does not take. */
  app: Express;
  service: RecommendationService;
  /** Next best offer: decisions, responses, offers (close() it on shutdown: it writes the decision log). */
  offers: OfferService;
  metrics: ServiceMetrics;
  access: CustomerAccessCache;
  routes: RouteDef[];
  /** Marks the instance as shutting down: /readyz answers 503 from then on. */
  drain(): void;
}

export function createApp(deps: AppDeps): App {
  const metrics = new ServiceMetrics(deps.source, { defaultMetrics: deps.defaultMetrics });
  const storeError = (err: unknown) => {
    metrics.postgresErrors.inc();
    deps.logger.warn('history store call failed', { err });
  };
  const access = new CustomerAccessCache(deps.store, { ttlMs: deps.customerTtlMs ?? 30_000, maxEntries: 50_000, onStoreError: storeError });
  const service = new RecommendationService({
    source: deps.source,
    store: deps.store,
    access,
    inventory: deps.inventory,
    chain: deps.chain,
    onFallback: (endpoint, reason) => metrics.fallbacks.inc({ endpoint, reason }),
    onStoreError: storeError,
    now: deps.now,
    fullScanMaxItems: deps.fullScanMaxItems,
  });
  const o = deps.offers ?? {};
  const offers = new OfferService({
    store: deps.store,
    source: deps.source,
    access,
    inventory: deps.inventory,
    decide: o.decide === undefined ? decide : o.decide,
    bus: o.bus ?? null,
    gram: (model) => service.gram(model),
    channelConsent: o.channelConsent ?? DEFAULT_OFFER_CHANNEL_CONSENT,
    holdoutShare: o.holdoutShare ?? 0.05,
    reloadMs: o.reloadMs,
    random: o.random,
    decisionLog: o.decisionLog,
    now: deps.now,
    log: (level, message, context) => deps.logger[level](message, { component: 'offers', ...context }),
    onStoreError: storeError,
  });
  // per-model tables built at swap time, not on the first request after it
  const current = deps.source.current();
  if (current) service.prepare(current);
  deps.source.onSwap((model) => service.prepare(model));
  let draining = false;
  let doc: unknown;
  const routes: RouteDef[] = buildRoutes({
    service,
    store: deps.store,
    source: deps.source,
    access,
    inventory: deps.inventory,
    metrics,
    offers,
    admin: deps.admin,
    draining: () => draining,
    openapi: () => (doc ??= openApiDocument(routes, { title: 'omnirec', version: '1.0.0' })),
  });

  // JSON bodies are read on the routes that take one (GETs skip the parser's checks)
  const json = jsonBody({ limit: deps.bodyLimit ?? '64kb' });
  const parse = (where: 'params' | 'query' | 'body', schema: RouteDef[typeof where], value: unknown) => {
    if (!schema) return value;
    const out = schema.safeParse(value ?? {});
    if (!out.success) throw validationError(where, out.error);
    return out.data;
  };
  const compiled: CompiledRoute[] = routes.map((r) => {
    const keys = r.scopes ? deps.apiKeys : null;
    const scopes = r.scopes ?? [];
    return {
      def: r,
      body: r.body && r.method !== 'get' ? json : null,
      // route tag (metrics, logs), API-key scopes, validation and the route's own handler in one function
      async run(req, res, rawParams, rawQuery, rawBody) {
        tagRoute(res, r.path);
        if (!admitted(keys, scopes, req, res)) return;
        const params = parse('params', r.params, rawParams);
        const query = parse('query', r.query, rawQuery);
        const body = r.method === 'get' ? undefined : parse('body', r.body, rawBody);
        const out = await r.handler({ params, query, body, req, res });
        if (out !== undefined) writeJson(req, res, 200, out);
      },
    };
  });

  const start = requestLog(deps.logger, metrics);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((req, res, next) => {
    start(req, res);
    next();
  });
  for (const c of compiled) {
    const layer: RequestHandler = (req, res) => c.run(req, res, req.params, req.query, req.body);
    const path = expressPath(c.def.path);
    if (c.body) app[c.def.method](path, c.body, layer);
    else app[c.def.method](path, layer);
  }
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  const listener = dispatcher(compiled, { start, fail: (err, req, res) => failRequest(err, req, res, deps.logger), fallback: app });
  return { listener, app, service, offers, metrics, access, routes, drain: () => void (draining = true) };
}
