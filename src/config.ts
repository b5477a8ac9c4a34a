import { z } from 'zod';
import { OFFER_CHANNELS, type OfferChannel } from './core/offers/types.js';
import { setDefaultCountryCode } from './core/identity.js';
import type { ConsentPurpose } from './core/records.js';
import {
  ConfigError, COUNTRY_CODE, COUNTRY_CODE_MESSAGE, DEV_ERASURE_KEY, ERASURE_KEY_MIN, MAX_IDENTIFIERS_RANGE, parseConsentDefaults, redactUrl, type StoreConfig, urlMessage,
} from './config-store.js';

export { ConfigError, DEV_ERASURE_KEY, redactUrl };

/**
 * The service's whole configuration: environment variables, parsed once with zod.
 * Every variable is documented in README.md ("Configuration"); a bad value fails
 * fast with a message that names the variable.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (schemes: string[]) =>
  z
    .string()
    .refine((v) => schemes.some((s) => v.startsWith(`${s}://`)), {
      message: urlMessage(schemes),
    });

/** Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES); credentials and TLS hold for every node of the cluster. */
export interface RedisClusterConfig {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

/**
 * REDIS_CLUSTER_NODES: comma-separated `host:port` seeds ("10.0.0.1:6379,10.0.0.2:6379", "[::1]:7000"), or URLs
 * for a password or TLS ("rediss://:secret@10.0.0.1:6379,rediss://10.0.0.2:6379"); entries must agree on scheme
 * and credentials. The client learns the rest of the cluster from any seed that answers.
 */
const clusterNodes = z.string().transform((value, ctx): RedisClusterConfig => {
  const out: RedisClusterConfig = { nodes: [], tls: false };
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  let scheme: string | undefined;
  for (const entry of value.split(',').map((e) => e.trim())) {
    let u: URL;
    try {
      u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `redis://${entry}`);
    } catch {
      return fail(`entry "${redactUrl(entry)}" is not host:port or redis[s]://host:port`);
    }
    const shown = `${u.hostname}:${u.port}`;
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return fail(`entry ${shown}: scheme must be redis:// or rediss://`);
    if (!u.hostname || !u.port) return fail(`entry "${u.host || entry}" needs a host and a port (host:port)`);
    if ((u.pathname !== '' && u.pathname !== '/') || u.search) return fail(`entry ${shown}: no database or options (a cluster has database 0 only)`);
    if (scheme !== undefined && u.protocol !== scheme) return fail('entries mix redis:// and rediss://');
    scheme = u.protocol;
    const username = decodeURIComponent(u.username) || undefined;
    const password = decodeURIComponent(u.password) || undefined;
    if (username || password) {
      if ((out.username || out.password) && (out.username !== username || out.password !== password)) return fail('entries disagree on credentials');
      Object.assign(out, { username, password });
    }
    out.nodes.push({ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) });
  }
  out.tls = scheme === 'rediss:';
  return out;
});

/** Which consent purpose each offer channel needs (OFFER_CHANNEL_CONSENT): "channel:purpose" pairs, "none" for none. */
export type OfferChannelConsent = Partial<Record<OfferChannel, 'email' | 'sms' | 'push' | null>>;
const OFFER_PURPOSES = ['email', 'sms', 'push', 'none'] as const;
/** OFFER_CHANNEL_CONSENT's default: email needs email consent, sms sms, push and app push; web and store none. */
export const DEFAULT_OFFER_CHANNEL_CONSENT: OfferChannelConsent = { email: 'email', sms: 'sms', push: 'push', app: 'push', web: null, store: null };
const offerChannelConsent = z.string().transform((value, ctx): OfferChannelConsent => {
  const out: OfferChannelConsent = {};
  for (const pair of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [channel, purpose, extra] = pair.split(':').map((p) => p.trim());
    if (!(OFFER_CHANNELS as readonly string[]).includes(channel) || !(OFFER_PURPOSES as readonly string[]).includes(purpose) || extra !== undefined) {
      ctx.addIssue({ code: 'custom', message: `"${pair}" is not channel:purpose (channels ${OFFER_CHANNELS.join(', ')}; purposes ${OFFER_PURPOSES.join(', ')})` });
      return z.NEVER;
    }
    out[channel as OfferChannel] = purpose === 'none' ? null : (purpose as 'email' | 'sms' | 'push');
  }
  return out;
});

/** CONSENT_DEFAULTS: "purpose:granted|refused,…" → the purposes granted by default (each purpose once; config-store.ts). */
const consentDefaults = z.string().transform((value, ctx): Partial<Record<ConsentPurpose, boolean>> => {
  const r = parseConsentDefaults(value);
  if ('error' in r) {
    ctx.addIssue({ code: 'custom', message: r.error as string });
    return z.NEVER;
  }
  return r;
});

export const ConfigSchema = z.object({
  /** PostgreSQL URL; absent → embedded PGlite persisted in PGLITE_DIR. */
  DATABASE_URL: url(['postgres', 'postgresql']).optional(),
  /** Where the embedded PostgreSQL keeps its files ("memory://" for none). */
  PGLITE_DIR: z.string().default('.data/pglite'),
  /** Redis URL; absent → the in-process vector cache, persisted in CACHE_DIR. */
  REDIS_URL: url(['redis', 'rediss']).optional(),
  /** Redis Cluster seed nodes; set instead of REDIS_URL to use a cluster (see clusterNodes above). */
  REDIS_CLUSTER_NODES: clusterNodes.optional(),
  /** Where the embedded vector cache keeps published versions ("memory://" for none). */
  CACHE_DIR: z.string().default('.data/cache'),
  /** Prefix of every Redis key this service writes. */
  CACHE_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/, 'letters, digits, ":", "_" and "-" only').default('omnirec'),
  /** Trained model bundles: MODEL_DIR/<version>/manifest.json. */
  MODEL_DIR: z.string().default('models'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /** API keys with scopes: "key1:storefront+associate,key2:admin". */
  API_KEYS: z.string().default(''),
  /** HS256 secret of customer tokens, required by keys flagged `token` (src/api/customer-token.ts); 32+ characters. */
  CUSTOMER_TOKEN_SECRET: z.string().min(32, 'at least 32 characters (e.g. `openssl rand -base64 48`)').optional(),
  /** Requests per second per API key: "storefront=500,associate=50,key:<12 hex>=2000" (src/api/rate-limit.ts); empty = none. */
  RATE_LIMITS: z.string().default(''),
  /** Storefront origins allowed by CORS: "https://shop.example.com,https://m.example.com"; empty = no CORS headers. */
  CORS_ORIGINS: z.string().default(''),
  /** Turns API-key auth off (local use only; logged loudly). */
  AUTH_DISABLED: bool.default(false),
  /** Customer vectors kept in each instance's LRU. */
  CUSTOMER_LRU_SIZE: z.coerce.number().int().min(0).default(10_000),
  /** How often the store inventory snapshot is refreshed, in seconds. */
  INVENTORY_REFRESH_S: z.coerce.number().positive().default(60),
  /** Fallback chain for personal recommendations, comma-separated. */
  FALLBACK_CHAIN: z.string().default('personal,neighbours,segment,popular'),
  /** TensorFlow.js backend: auto picks tfjs-node when installed, else wasm. */
  TF_BACKEND: z.enum(['auto', 'node', 'wasm', 'cpu']).default('auto'),
  /** Milliseconds to let in-flight requests finish on SIGTERM. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Every API request answers within this many ms: lists from what is at hand, store-bound routes with 503 + Retry-After. */
  REQUEST_DEADLINE_MS: z.coerce.number().int().min(1).default(1000),
  /** How long a storefront list waits for the history store (customer, consent, history) before answering without it. */
  LIST_WAIT_MS: z.coerce.number().int().min(1).default(100),
  /** Store reads of storefront lists (customer access, history) at once; keep it below PG_POOL_SIZE so events and lookups always find a connection. */
  LIST_STORE_READS: z.coerce.number().int().min(1).default(4),
  /** PostgreSQL: connecting, and waiting for a pooled connection (serving instances). */
  PG_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(1).default(2000),
  /** PostgreSQL: connections of a serving instance's pool (a purchase event holds one while it waits for the identity lock). */
  PG_POOL_SIZE: z.coerce.number().int().min(1).default(10),
  /** PostgreSQL: statement_timeout of a serving instance's connections (the client gives up 500 ms later). */
  PG_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(1).default(5000),
  /** Redis: connecting (every process: serving instances wait this long at start, then go on degraded; commands such as publish fail). */
  REDIS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(1).default(2000),
  /** Redis: timeout of per-request reads (customer records) and announces. */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(1).default(250),
  /** Redis: deadline of request-path writes (a purchase's record, an erasure). */
  REDIS_WRITE_TIMEOUT_MS: z.coerce.number().int().min(1).default(400),
  /** Country calling code given to national phone numbers when identifiers are normalised ("07700 900123" → 447700900123). */
  DEFAULT_COUNTRY_CODE: z.string().regex(COUNTRY_CODE, COUNTRY_CODE_MESSAGE).default('44'),
  /** Next best offer: the consent purpose each channel needs to be contacted through (channels not listed: none). */
  OFFER_CHANNEL_CONSENT: offerChannelConsent.default(DEFAULT_OFFER_CHANNEL_CONSENT),
  /** Next best offer: share of decisions (0-1) that pick a uniformly random suitable offer (holdout, for uplift). */
  OFFER_HOLDOUT_SHARE: z.coerce.number().min(0).max(1).default(0.05),
  /** Next best offer: offers and response counts are re-read from the store at least this often, in seconds. */
  OFFER_RELOAD_S: z.coerce.number().positive().default(30),
  /** Most identifiers one customer collects; past it identifiers are not attached and merges are refused (src/core/identity-graph.ts). */
  MAX_IDENTIFIERS_PER_CUSTOMER: z.coerce.number().int().min(MAX_IDENTIFIERS_RANGE[0]).max(MAX_IDENTIFIERS_RANGE[1]).default(20),
  /** What each consent purpose means for a customer with no record of it: "personalisation:granted,email:refused" (unlisted: refused). */
  CONSENT_DEFAULTS: consentDefaults.default({}),
  /** Secret of the erasure list's keyed hashes (HMAC-SHA256); the dev default is public: set your own in production. */
  ERASURE_KEY: z.string().min(ERASURE_KEY_MIN, `at least ${ERASURE_KEY_MIN} characters`).default(DEV_ERASURE_KEY),
  /**
   * Serving processes (node:cluster workers sharing the port; src/server.ts). More than 1 needs PostgreSQL
   * (DATABASE_URL) and Redis (REDIS_URL or REDIS_CLUSTER_NODES): the embedded store and cache live in one process.
   */
  WEB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
}).superRefine((c, ctx) => {
  if (c.WEB_CONCURRENCY > 1 && (!c.DATABASE_URL || !(c.REDIS_URL || c.REDIS_CLUSTER_NODES))) {
    ctx.addIssue({
      code: 'custom',
      path: ['WEB_CONCURRENCY'],
      message: 'more than one process needs DATABASE_URL (PostgreSQL) and REDIS_URL or REDIS_CLUSTER_NODES: the embedded PGlite store and in-process cache belong to one process',
    });
  }
  if (c.REDIS_URL && c.REDIS_CLUSTER_NODES) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER_NODES'], message: 'set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both' });
  }
});

export type Config = z.infer<typeof ConfigSchema>;
// the store's configuration (config-store.ts, parsed without zod) is a part of this one
const _storeConfigIsPart = (c: Config): StoreConfig => c;
void _storeConfigIsPart;

/** Parses configuration from an environment; throws ConfigError naming each bad variable. */
export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const r = ConfigSchema.safeParse(cleaned);
  if (!r.success) {
    // values are shown without passwords (URLs may carry them)
    const shown = (v: string | undefined) => JSON.stringify(v === undefined ? v : redactUrl(v));
    const lines = r.error.issues.map((i) => `  ${i.path.join('.')}=${shown(cleaned[String(i.path[0])])}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return r.data;
}

let cached: Config | undefined;
/** The process's configuration, parsed once (DEFAULT_COUNTRY_CODE then applies to every phone number normalised). */
export function config(): Config {
  if (cached === undefined) {
    cached = parseConfig();
    setDefaultCountryCode(cached.DEFAULT_COUNTRY_CODE);
  }
  return cached;
}
