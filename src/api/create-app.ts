/**
 * The application: request ids and one log line per request, metrics, security headers and CORS,
 * API-key scopes and rate limits (before the body is read), customer tokens, zod
 * validation of params/query/body on every route, the routes, 404 and the one error mapping.
 * Each route compiles to one function (tag, scopes, validation, handler, response) that both
 * dispatchers run: `listener`, the API's own dispatcher (dispatch.ts) in front of the Express app
 * `app`, which registers every route too and answers everything the dispatcher passes on (404s,
 * OPTIONS, odd URLs). The server listens with `listener`; no listening here (see
 * src/server.ts), so tests drive `listener` (or `app`) with supertest.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { CacheKeys } from '../cache/keys.js';
import type { ModelSource } from '../cache/model-source.js';
import type { VectorCache } from '../cache/vector-cache.js';
import type { Decide, DecisionContext } from '../core/offers/types.js';
import { DEFAULT_OFFER_CHANNEL_CONSENT } from '../config.js';
import type { Store } from '../store/store.js';
import { ClientelingService, type NextBestOfferFn } from '../serve/clienteling-service.js';
import { CustomerAccessCache } from '../serve/customer-access.js';
import { guardedStore } from '../store/guarded-store.js';
import { BulkheadRejectedError, TaskCancelledError, bulkhead } from 'cockatiel';
import type { ChainStep } from '../serve/fallback-chain.js';
import type { InventorySnapshot } from '../serve/inventory-snapshot.js';
import { decide } from '../core/offers/decide.js';
import { OfferService } from '../serve/offer-service.js';
import { RecommendationService } from '../serve/recommendation-service.js';
import { RETRY_AFTER_S, within } from '../core/deadline.js';
import { InvalidArgumentError, UnavailableError } from '../core/errors.js';
import { type ApiKey, type ApiKeys, OPEN, authenticate, hasScope } from './api-keys.js';
import { rejectControlChars } from './control-chars.js';
import { customerTokenCheck } from './customer-token.js';
import { Deadline } from './request-deadline.js';
import { type CompiledRoute, dispatcher } from './dispatch.js';
import { errorHandler, failRequest, notFoundHandler, validationError } from './errors.js';
import { serveConsole } from './console-assets.js';
import { jsonBody } from './json-body.js';
import { writeJson } from './json-response.js';
import type { Logger } from './logger.js';
import type { ModelAdmin } from './model-admin.js';
import { openApiDocument } from './openapi.js';
import { securityHeaders } from './http-security.js';
import type { KeyRateLimiter } from './rate-limit.js';
import { requestLog, tagRoute } from './request-log.js';
import { HandlerInput, type RouteDef, customerOf, expressPath, isPersonal } from './route-def.js';
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
  /**
   * The next best offer on the clienteling card (channel store): the offers service's decision
   * (src/serve/offer-service.ts decideFor). Absent: the card says `offers_not_configured`.
   */
  nextBestOffer?: NextBestOfferFn;
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
  /**
   * Store reads of lists (customer access, a list's history: the reads that fall back when slow)
   * running at once (LIST_STORE_READS, default 4): the rest of the store's pool stays free for the
   * routes that must read or write it (events, lookup, erasure, profile).
   */
  listStoreReads?: number;
  /** Requests per second per API key (rate-limit.ts); absent = no limits. */
  rateLimit?: KeyRateLimiter;
  /** HS256 secret of customer tokens: required when a key carries the flag `token` (customer-token.ts). */
  customerTokenSecret?: string;
  /** Storefront origins answered with CORS headers (CORS_ORIGINS). */
  corsOrigins?: readonly string[];
  /** Country code for national phone numbers in customer tokens' `phone:` subjects (default 44). */
  defaultCountryCode?: string;
}

/** The API key a request was admitted with (set before its body is read). */
const ADMITTED = Symbol('api key');
type Admitted = IncomingMessage & { [ADMITTED]?: ApiKey };

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

/** The signal of a request without a deadline. */
const NEVER = new AbortController().signal;

export function createApp(given: AppDeps): App {
  const metrics = new ServiceMetrics(given.source, { defaultMetrics: given.defaultMetrics });
  // every request's store call behind one circuit breaker: a store that is down, hangs or is too slow
  // for the request deadline fails calls at once for a while, so that work nobody waits for any more
  // does not pile up in it (bench:soak: fewer 503s than counting only calls 3× over the deadline)
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
  // a bulkhead (cockatiel) around the reads lists fall back from: at most listStoreReads at once, a
  // few waiting; one that has not started within listWaitMs never starts (its list has answered without
  // it), and one past the queue is refused at once. Under load, lists fall back sooner and the store's
  // pool is not filled with reads nobody waits for, ahead of events and lookups
  const listReads = bulkhead(Math.max(1, deps.listStoreReads ?? 4), Math.max(1, deps.listStoreReads ?? 4) * 2);
  const shed = <T>(read: () => Promise<T>): Promise<T> =>
    listReads.execute(() => read(), AbortSignal.timeout(listWaitMs)).catch((e: unknown) => {
      throw e instanceof BulkheadRejectedError || e instanceof TaskCancelledError
        ? new UnavailableError('the history store is busy: lists answer without it', { retryAfterS: RETRY_AFTER_S })
        : e;
    });
  const listStore = {
    customerAccess: (id: string) => shed(() => deps.store.customerAccess(id)),
    // the reads of a turn of the event loop (and refreshes gathered) in one statement: one slot of the bulkhead
    ...(typeof given.store.customerAccessMany === 'function' ? { customerAccessMany: (ids: readonly string[]) => shed(() => deps.store.customerAccessMany(ids)) } : {}),
    canonicalCustomerId: (id: string) => shed(() => deps.store.canonicalCustomerId(id)),
    hasConsent: (id: string, purpose: Parameters<Store['hasConsent']>[1]) => shed(() => deps.store.hasConsent(id, purpose)),
  };
  const access = new CustomerAccessCache(listStore, { ttlMs: deps.customerTtlMs ?? 30_000, maxEntries: 50_000, onStoreError: storeError, waitMs: listWaitMs });
  const service = new RecommendationService({
    source: deps.source,
    // a list does not wait long for a customer's history: it answers from what is at hand
    store: { customerSkus: (id) => within(shed(() => deps.store.customerSkus(id)), listWaitMs, 'the history store') },
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
    // the decision log and reloads are background work: they do not count against the request paths' breaker
    backgroundStore: given.store,
    source: deps.source,
    access,
    inventory: deps.inventory,
    decide: o.decide === undefined ? decide : o.decide,
    bus: o.bus ?? null,
    channelConsent: o.channelConsent ?? DEFAULT_OFFER_CHANNEL_CONSENT,
    holdoutShare: o.holdoutShare ?? 0.05,
    reloadMs: o.reloadMs,
    random: o.random,
    decisionLog: o.decisionLog,
    now: deps.now,
    log: (level, message, context) => deps.logger[level](message, { component: 'offers', ...context }),
    onStoreError: storeError,
    onErasedDropped: (kind, count) => metrics.erasedWritesDropped.inc({ kind }, count),
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
    clienteling: new ClientelingService({
      store: deps.store,
      service,
      access,
      source: deps.source,
      inventory: deps.inventory,
      now: deps.now,
      // the card's offer is the next-best-offer decision for channel store (none configured: says so)
      nextBestOffer:
        deps.nextBestOffer ??
        (async (id, options) => {
          await offers.start();
          return offers.stats().offers === 0 ? null : offers.decideFor(id, options);
        }),
    }),
    admin: deps.admin,
    draining: () => draining,
    isAdmin: (req) => deps.apiKeys === null || hasScope(deps.apiKeys, 'admin', req),
    openapi: () => (doc ??= openApiDocument(routes, { title: 'omnirec', version: '1.0.0' })),
  });

  if (deps.apiKeys?.list().some((k) => k.customerToken) && !deps.customerTokenSecret) {
    throw new InvalidArgumentError('API_KEYS: a key has the flag "token" but CUSTOMER_TOKEN_SECRET is not set', { field: 'CUSTOMER_TOKEN_SECRET' });
  }
  const checkToken = deps.customerTokenSecret
    ? customerTokenCheck({ secret: deps.customerTokenSecret, store: deps.store, access, defaultCountryCode: deps.defaultCountryCode })
    : null;
  const limit = deps.rateLimit;
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
    const scopes = r.scopes;
    const personal = isPersonal(r);
    const about = customerOf(r);
    return {
      def: r,
      // route tag (metrics, logs), no-store, API key and its rate limit: before the body is read
      admit(req, res) {
        tagRoute(res, r.path);
        if (personal) res.setHeader('Cache-Control', 'no-store');
        const key = scopes ? authenticate(deps.apiKeys, scopes, req, res) : OPEN;
        if (key === null) return false;
        (req as Admitted)[ADMITTED] = key;
        return key === OPEN || !limit ? true : limit(key, req, res);
      },
      body: r.body && r.method !== 'get' ? json : null,
      // validation, the customer token (keys flagged `token`) and the route's own handler in one function
      async run(req, res, rawParams, rawQuery, rawBody) {
        const params = parse('params', r.params, rawParams);
        const query = parse('query', r.query, rawQuery);
        const body = r.method === 'get' ? undefined : parse('body', r.body, rawBody);
        const customer = about({ params, query, body });
        if (customer !== null) {
          if (!personal) res.setHeader('Cache-Control', 'no-store');
          if ((req as Admitted)[ADMITTED]?.customerToken && !(await checkToken!(req, res, customer))) return;
        }
        const out = await beforeDeadline(r, (d) => r.handler(new HandlerInput(params, query, body, req, res, d)));
        if (out !== undefined) writeJson(req, res, 200, out);
      },
    };
  });

  const log = requestLog(deps.logger, metrics);
  const secure = securityHeaders({ corsOrigins: deps.corsOrigins });
  const noop = () => {};
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // every request: id and log line, then security and CORS headers (cors answers preflights here)
  app.use((req, res, next) => {
    log(req, res);
    secure(req, res, next);
  });
  for (const c of compiled) {
    const admit: RequestHandler = (req, res, next) => {
      const ok = c.admit(req, res);
      if (ok === true) next();
      else if (ok !== false) ok.then((yes) => yes && next(), next);
    };
    const layer: RequestHandler = (req, res) => c.run(req, res, req.params, req.query, req.body);
    const path = expressPath(c.def.path);
    if (c.body) app[c.def.method](path, admit, c.body, layer);
    else app[c.def.method](path, admit, layer);
  }
  serveConsole(app);
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  // the dispatcher takes only GET/HEAD/POST/DELETE on API routes: no preflight reaches it, cors goes on at once
  const start = (req: IncomingMessage, res: ServerResponse) => {
    log(req, res);
    secure(req, res, noop);
  };
  const listener = dispatcher(compiled, { start, fail: (err, req, res) => failRequest(err, req, res, deps.logger), fallback: app });
  return { listener, app, service, offers, metrics, access, routes, drain: () => void (draining = true) };
}
