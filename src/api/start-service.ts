/**
 * Starts the whole service from configuration: history store, model source, publishing
 * (admin endpoints), inventory snapshot, the app, and an HTTP server listening with its dispatcher; returns a
 * handle whose close() shuts down gracefully (stop accepting, let in-flight requests finish
 * within SHUTDOWN_GRACE_MS, then close the dependencies). Used by src/server.ts and bench:serve.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cacheKeys } from '../cache/keys.js';
import type { ModelSource } from '../cache/model-source.js';
import { openModelSource } from '../cache/open-model-source.js';
import { openVectorCache } from '../cache/open-vector-cache.js';
import type { VectorCache } from '../cache/vector-cache.js';
import { type Config, DEV_ERASURE_KEY } from '../config.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseFallbackChain } from '../serve/fallback-chain.js';
import { InventorySnapshot } from '../serve/inventory-snapshot.js';
import { openStore } from '../store/open-store.js';
import { setDefaultCountryCode } from '../core/identity.js';
import type { Store } from '../store/store.js';
import { type ApiKeys, parseApiKeys } from './api-keys.js';
import { type App, createApp } from './create-app.js';
import { createLogger, type Logger } from './logger.js';
import { cacheModelAdmin } from './cache-model-admin.js';
import { parseCorsOrigins } from './http-security.js';
import { keyRateLimiter, limiterRedis, parseRateLimits } from './rate-limit.js';

export interface RunningService {
  server: Server;
  url: string;
  app: App;
  store: Store;
  source: ModelSource;
  logger: Logger;
  /** Graceful shutdown: resolves when every dependency is closed. */
  close(): Promise<void>;
}

/** The API keys from configuration, or null when auth is disabled; throws when neither is configured. */
export function authFromConfig(cfg: Pick<Config, 'API_KEYS' | 'AUTH_DISABLED' | 'CUSTOMER_TOKEN_SECRET'>, logger: Logger): ApiKeys | null {
  if (cfg.AUTH_DISABLED) {
    logger.warn('AUTH_DISABLED=true: API-key authentication is OFF, every route is open to anyone who can reach this port. Local use only!', {
      auth: 'disabled',
    });
    return null;
  }
  const keys = parseApiKeys(cfg.API_KEYS);
  if (keys.size === 0) {
    throw new InvalidArgumentError(
      'no API keys configured: set API_KEYS="<key>:<scope>+<scope>,..." (scopes: storefront, associate, events, admin), or AUTH_DISABLED=true for local use',
      { field: 'API_KEYS' },
    );
  }
  if (keys.list().some((k) => k.customerToken) && !cfg.CUSTOMER_TOKEN_SECRET) {
    throw new InvalidArgumentError('API_KEYS: a key has the flag "token" but CUSTOMER_TOKEN_SECRET is not set', { field: 'CUSTOMER_TOKEN_SECRET' });
  }
  return keys;
}

export interface StartOptions {
  /** Use these instead of opening them from configuration (they are closed with the service). */
  store?: Store;
  source?: ModelSource;
  logger?: Logger;
  /** Register prom-client's process metrics (default true). */
  defaultMetrics?: boolean;
  /** Catalogues above this many items score personal factors over a candidate set (default 20,000). */
  fullScanMaxItems?: number;
}

export async function startService(cfg: Config, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger(cfg.LOG_LEVEL);
  const apiKeys = authFromConfig(cfg, logger);
  const chain = parseFallbackChain(cfg.FALLBACK_CHAIN);
  // phone numbers in requests normalise as imports do (DEFAULT_COUNTRY_CODE)
  setDefaultCountryCode(cfg.DEFAULT_COUNTRY_CODE);
  if (cfg.ERASURE_KEY === DEV_ERASURE_KEY) {
    logger.warn('ERASURE_KEY is the public development default: set a secret of your own in production (the erasure list hashes are keyed with it)');
  }
  const store =
    options.store ??
    (await openStore(cfg, {
      poolSize: cfg.PG_POOL_SIZE,
      timeouts: { connectTimeoutMs: cfg.PG_CONNECT_TIMEOUT_MS, statementTimeoutMs: cfg.PG_STATEMENT_TIMEOUT_MS },
      onConflict: (message) => logger.info(message, { component: 'identity' }),
    }));
  const source =
    options.source ??
    (await openModelSource(cfg, {
      commandTimeoutMs: cfg.REDIS_COMMAND_TIMEOUT_MS,
      writeTimeoutMs: cfg.REDIS_WRITE_TIMEOUT_MS,
      log: (level, msg, context) => logger[level](msg, { component: 'model-source', ...context }),
    }));
  let adminCache: VectorCache | null = null;
  const keys = cacheKeys(cfg.CACHE_PREFIX);
  const cache = async () => (adminCache ??= await openVectorCache(cfg, { require: true }));
  const refresh = (source as { refresh?: (announced?: string) => Promise<void> }).refresh?.bind(source);
  const admin = cacheModelAdmin({ cache, keys, modelDir: cfg.MODEL_DIR, refresh, logger, erasedIn: (ids) => store.erasedCustomerIds(ids) });
  const inventory = new InventorySnapshot(
    () => store.inventory(),
    (err) => logger.warn('inventory refresh failed; keeping the previous snapshot', { err }),
  );
  await inventory.start(cfg.INVENTORY_REFRESH_S * 1000);
  // rate limits per key: counted in Redis when there is one (shared by every instance), else in memory
  const limits = parseRateLimits(cfg.RATE_LIMITS);
  const limited = limits.byKey.size > 0 || Object.keys(limits.byScope).length > 0;
  const redisTarget = cfg.REDIS_CLUSTER_NODES ?? cfg.REDIS_URL;
  const limiterClient = limited && redisTarget ? limiterRedis(redisTarget) : null;
  limiterClient?.on('error', () => {}); // counted in memory meanwhile (insurance limiter)
  // next best offer: instances tell each other of offer changes and responses on P:offer-changes
  const offerCache = await openVectorCache(cfg, { require: false });
  const offers = {
    bus: { cache: offerCache, keys },
    channelConsent: cfg.OFFER_CHANNEL_CONSENT,
    holdoutShare: cfg.OFFER_HOLDOUT_SHARE,
    reloadMs: cfg.OFFER_RELOAD_S * 1000,
  };
  const app = createApp({
    store,
    source,
    inventory,
    logger,
    apiKeys,
    chain,
    admin,
    offers,
    defaultMetrics: options.defaultMetrics,
    fullScanMaxItems: options.fullScanMaxItems,
    requestDeadlineMs: cfg.REQUEST_DEADLINE_MS,
    listWaitMs: cfg.LIST_WAIT_MS,
    listStoreReads: cfg.LIST_STORE_READS,
    rateLimit: limited ? keyRateLimiter(limits, { redis: limiterClient ?? undefined, prefix: cfg.CACHE_PREFIX }) : undefined,
    customerTokenSecret: cfg.CUSTOMER_TOKEN_SECRET,
    corsOrigins: parseCorsOrigins(cfg.CORS_ORIGINS),
    defaultCountryCode: cfg.DEFAULT_COUNTRY_CODE,
  });
  // offers and their counts are loaded now, not by the first decision (a store that fails here is retried then)
  await app.offers.start().catch((err: unknown) => logger.warn('offers not loaded at start; retried at the first decision', { err }));
  // the API's dispatcher in front of the Express app (create-app.ts)
  const server = createServer(app.listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.PORT, cfg.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.keepAliveTimeout = 65_000;
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${addr.port}`;
  logger.info('listening', { url, version: source.current()?.version ?? null, auth: apiKeys ? 'api-keys' : 'disabled' });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: draining in-flight requests', { graceMs: cfg.SHUTDOWN_GRACE_MS });
      app.drain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        logger.warn('grace period over: closing remaining connections');
        server.closeAllConnections();
      }, cfg.SHUTDOWN_GRACE_MS);
      timer.unref();
      // idle keep-alive sockets that finish a request later are closed as they go idle
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      await closed;
      clearInterval(idle);
      clearTimeout(timer);
      inventory.stop();
      // the decision log's queue is written before the store closes
      await app.offers.close().catch((err: unknown) => logger.error('offer service did not close cleanly', { err }));
      await Promise.allSettled([source.close(), store.close(), adminCache?.close(), offerCache.close(), Promise.resolve(limiterClient?.disconnect())]);
      logger.info('stopped');
    })());
  return { server, url, app, store, source, logger, close };
}
