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
import type { ModelSource } from '../cache/model-source.js';
import type { Store } from '../store/store.js';
import { CustomerAccessCache } from '../serve/customer-access.js';
import { guardedStore } from '../store/guarded-store.js';
import type { ChainStep } from '../serve/fallback-chain.js';
import type { InventorySnapshot } from '../serve/inventory-snapshot.js';
import { RecommendationService } from '../serve/recommendation-service.js';
import { RETRY_AFTER_S, within } from '../core/deadline.js';
import { UnavailableError } from '../core/errors.js';
import { type ApiKeys, admitted, hasScope } from './api-keys.js';
import { rejectControlChars } from './control-chars.js';
import { Deadline } from './request-deadline.js';
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
  /**
   * Every API request answers within this many ms (REQUEST_DEADLINE_MS, default 1000): a handler
   * still waiting then is answered 503 with Retry-After, and its signal is aborted.
   */
  requestDeadlineMs?: number;
  /**
   * How long storefront lists wait for the history store (LIST_WAIT_MS, default 100 ms) before
   * answering without it (non-personal, fallbackReason store_unavailable).
   */
  listWaitMs?: number;
}

export interface App {
  /** The request listener the server uses: the API's dispatcher, passing the rest to `app`. */
  listener: RequestListener;
  /** The Express app: every route, 404 and errors; answers what `listener` does not take. */
  app: Express;
  service: RecommendationService;
  metrics: ServiceMetrics;
  access: CustomerAccessCache;
  routes: RouteDef[];
  /** Marks the instance as shutting down: /readyz answers 503 from then on. */
  drain(): void;
}

/** The signal of a request without a deadline. */
const NEVER = new AbortController().signal;

export function createApp(given: AppDeps): App {
  const metrics = new ServiceMetrics(given.source, { defaultMetrics: given.defaultMetrics });
  // every request's store call behind one circuit breaker: a store that is down or hangs fails calls at once
  const deps: AppDeps = {
    ...given,
    store: guardedStore(given.store, {
      slowMs: given.requestDeadlineMs ?? 1000,
      onChange: (state, reason) =>
        state === 'open'
          ? given.logger.warn('history store circuit open: store calls fail at once, one tries again after 1 s', { err: reason })
          : given.logger.info('history store circuit closed: the store answers again'),
    }),
  };
  // counted every time; logged at most once every 5 s (a store that is down fails every request: no log storm)
  let loggedAt = -Infinity;
  let unlogged = 0;
  const storeError = (err: unknown) => {
    metrics.postgresErrors.inc();
    const now = Date.now();
    if (now - loggedAt < 5000) return void unlogged++;
    deps.logger.warn('history store call failed', { err, ...(unlogged ? { alsoFailedSinceLastLog: unlogged } : {}) });
    loggedAt = now;
    unlogged = 0;
  };
  const listWaitMs = deps.listWaitMs ?? 100;
  const access = new CustomerAccessCache(deps.store, { ttlMs: deps.customerTtlMs ?? 30_000, maxEntries: 50_000, onStoreError: storeError, waitMs: listWaitMs });
  const service = new RecommendationService({
    source: deps.source,
    // a list does not wait long for a customer's history: it answers from what is at hand
    store: { customerSkus: (id) => within(deps.store.customerSkus(id), listWaitMs, 'the history store') },
    access,
    inventory: deps.inventory,
    chain: deps.chain,
    onFallback: (endpoint, reason) => metrics.fallbacks.inc({ endpoint, reason }),
    onStoreError: storeError,
    now: deps.now,
    fullScanMaxItems: deps.fullScanMaxItems,
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
    admin: deps.admin,
    draining: () => draining,
    isAdmin: (req) => deps.apiKeys === null || hasScope(deps.apiKeys, 'admin', req),
    openapi: () => (doc ??= openApiDocument(routes, { title: 'omnirec', version: '1.0.0' })),
  });

  // JSON bodies are read on the routes that take one (GETs skip the parser's checks)
  const json = jsonBody({ limit: deps.bodyLimit ?? '64kb' });
  const parse = (where: 'params' | 'query' | 'body', schema: RouteDef[typeof where], value: unknown) => {
    if (!schema) return value;
    rejectControlChars(where, value);
    const out = schema.safeParse(value ?? {});
    if (!out.success) throw validationError(where, out.error);
    return out.data;
  };
  const deadlineMs = deps.requestDeadlineMs ?? 1000;
  const late = () =>
    new UnavailableError(`no answer within the request deadline (${deadlineMs} ms): a dependency is slow or down; retry`, { retryAfterS: RETRY_AFTER_S });
  /**
   * The handler's answer, or a 503 (UnavailableError, Retry-After) once the request deadline has
   * passed; its signal is aborted then, so that it starts nothing more. Operations routes and the
   * admin model endpoints (a publish writes a whole version) run without it.
   */
  const beforeDeadline = (r: RouteDef, handler: (signal: { readonly signal: AbortSignal }) => unknown): unknown => {
    if (r.scopes === null || r.tag === 'admin') return handler({ signal: NEVER });
    const d = new Deadline();
    const out = handler(d);
    return out instanceof Promise ? d.race(out, deadlineMs, late) : out;
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
        const out = await beforeDeadline(r, (d) => r.handler({ params, query, body, req, res, get signal() { return d.signal; } }));
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
    // tagged before the body is read: a body error is counted on its route
    const tag: RequestHandler = (_req, res, next) => {
      tagRoute(res, c.def.path);
      next();
    };
    if (c.body) app[c.def.method](path, tag, c.body, layer);
    else app[c.def.method](path, layer);
  }
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  const listener = dispatcher(compiled, { start, fail: (err, req, res) => failRequest(err, req, res, deps.logger), fallback: app });
  return { listener, app, service, metrics, access, routes, drain: () => void (draining = true) };
}
