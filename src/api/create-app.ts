/**
 * The Express application: request ids and one log line per request, metrics, API-key
 * scopes, zod validation of params/query/body on every route, the routes, 404 and the one
 * error-mapping middleware. No listening here (see src/server.ts), so tests drive it with supertest.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { ModelSource } from '../cache/model-source.js';
import type { Store } from '../store/store.js';
import { CustomerAccessCache } from '../serve/customer-access.js';
import type { ChainStep } from '../serve/fallback-chain.js';
import type { InventorySnapshot } from '../serve/inventory-snapshot.js';
import { RecommendationService } from '../serve/recommendation-service.js';
import { type ApiKeys, admitted } from './api-keys.js';
import { errorHandler, notFoundHandler, validationError } from './errors.js';
import { jsonBody } from './json-body.js';
import type { Logger } from './logger.js';
import type { ModelAdmin } from './model-admin.js';
import { openApiDocument } from './openapi.js';
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
}

export interface App {
  app: Express;
  service: RecommendationService;
  metrics: ServiceMetrics;
  access: CustomerAccessCache;
  routes: RouteDef[];
  /** Marks the instance as shutting down: /readyz answers 503 from then on. */
  drain(): void;
}

const REQ_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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
    openapi: () => (doc ??= openApiDocument(routes, { title: 'omnirec', version: '1.0.0' })),
  });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(requestLog(deps.logger, metrics));
  // JSON bodies are read on the routes that take one (GETs skip the parser's checks)
  const json = jsonBody({ limit: deps.bodyLimit ?? '64kb' });

  const parse = (where: 'params' | 'query' | 'body', schema: RouteDef[typeof where], value: unknown) => {
    if (!schema) return value;
    const out = schema.safeParse(value ?? {});
    if (!out.success) throw validationError(where, out.error);
    return out.data;
  };
  for (const r of routes) {
    const keys = r.scopes ? deps.apiKeys : null;
    const scopes = r.scopes ?? [];
    // route tag (metrics, logs), API-key scopes, validation and the route's own handler in one layer
    const handler: RequestHandler = async (req, res) => {
      res.locals.route = r.path;
      if (!admitted(keys, scopes, req, res)) return;
      const params = parse('params', r.params, req.params);
      const query = parse('query', r.query, req.query);
      const body = r.method === 'get' ? undefined : parse('body', r.body, req.body);
      const out = await r.handler({ params, query, body, req, res });
      if (out !== undefined) sendJson(req, res, out);
    };
    if (r.body && r.method !== 'get') app[r.method](expressPath(r.path), json, handler);
    else app[r.method](expressPath(r.path), handler);
  }
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return { app, service, metrics, access, routes, drain: () => void (draining = true) };
}

/** JSON of frozen bodies (shared lists, see src/serve/list-cache.ts), made once per object. */
const serialised = new WeakMap<object, string>();

/**
 * res.json(body) for a 200, with the same bytes and headers (Content-Type application/json;
 * charset=utf-8, Content-Length; no ETag: disabled) minus Express's generic send path; a frozen
 * body is serialised once. Other statuses, or a type the handler set, take res.json.
 */
function sendJson(req: Request, res: Response, body: unknown): void {
  if (res.statusCode !== 200 || typeof body !== 'object' || body === null || res.hasHeader('Content-Type')) {
    res.json(body);
    return;
  }
  let text = serialised.get(body);
  if (text === undefined) {
    text = JSON.stringify(body);
    if (Object.isFrozen(body)) serialised.set(body, text);
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (req.method === 'HEAD') res.end();
  else res.end(text);
}

/** Request id in/out (x-request-id), one JSON log line per request, latency histogram per route. */
function requestLog(logger: Logger, metrics: ServiceMetrics): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const reqId = typeof given === 'string' && REQ_ID.test(given) ? given : randomUUID();
    res.locals.reqId = reqId;
    res.setHeader('x-request-id', reqId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const route = (res.locals.route as string | undefined) ?? 'unmatched';
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, ms / 1000);
      const level = res.statusCode >= 500 ? 'error' : 'info';
      logger[level]('request', { reqId, method: req.method, path: req.path, route, status: res.statusCode, ms: Math.round(ms * 100) / 100 });
    });
    next();
  };
}
