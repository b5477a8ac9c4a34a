/**
 * Rate limits per API key (rate-limiter-flexible): RATE_LIMITS gives requests per second per scope
 * (`storefront=500,associate=50`) and per key by its id (`key:3f2a9c01b7e4=2000`, the first 12 hex
 * digits of the key's SHA-256, as logged and printed by `npm run api-key`). A key's limit is its
 * own entry, else the largest of the limits of its scopes that are listed; a key none of whose
 * scopes is listed is not limited. Over the limit → 429 {error: "rate_limited"} with Retry-After.
 *
 * With Redis (REDIS_URL / REDIS_CLUSTER_NODES) the counters are shared by every instance (one
 * key per API key and second); while Redis is not ready or does not answer within 100 ms each
 * instance counts in memory (the insurance limiter), so an outage neither blocks nor unlimits
 * callers. On the embedded default the counters are in memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cluster, Redis } from 'ioredis';
import type { RedisClusterConfig } from '../config.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { InvalidArgumentError } from '../core/errors.js';
import { type ApiKey, SCOPES, type Scope } from './api-keys.js';
import { writeJson } from './json-response.js';

export interface RateLimits {
  byScope: Partial<Record<Scope, number>>;
  byKey: Map<string, number>;
}

/** Parses RATE_LIMITS ("storefront=500,key:3f2a9c01b7e4=2000"); throws naming the bad entry. */
export function parseRateLimits(text: string): RateLimits {
  const out: RateLimits = { byScope: {}, byKey: new Map() };
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:key:([0-9a-f]{12})|([a-z]+))=(\d+)$/.exec(entry);
    const rps = m ? Number(m[3]) : 0;
    if (!m || rps < 1 || (m[2] !== undefined && !(SCOPES as readonly string[]).includes(m[2]))) {
      throw new InvalidArgumentError(`RATE_LIMITS: entry "${entry}" must be "<scope>=<requests per second>" (scopes: ${SCOPES.join(', ')}) or "key:<12 hex digits>=<requests per second>"`, {
        field: 'RATE_LIMITS',
      });
    }
    if (m[1] !== undefined) out.byKey.set(m[1], rps);
    else out.byScope[m[2] as Scope] = rps;
  }
  return out;
}

/** The requests per second a key may make, or null (not limited). */
export function limitOf(limits: RateLimits, key: ApiKey): number | null {
  const own = limits.byKey.get(key.id);
  if (own !== undefined) return own;
  let best: number | null = null;
  for (const s of key.scopes) {
    const l = limits.byScope[s];
    if (l !== undefined && (best === null || l > best)) best = l;
  }
  return best;
}

/** Admits or refuses (429 written) one request of a key; a promise only for keys that are limited. */
export type KeyRateLimiter = (key: ApiKey, req: IncomingMessage, res: ServerResponse) => true | Promise<boolean>;

export function keyRateLimiter(
  limits: RateLimits,
  /** windowS: the counting window (default 1 s; tests widen it so that no assertion depends on timing). */
  options: { redis?: Redis | Cluster; prefix?: string; windowS?: number } = {},
): KeyRateLimiter {
  const duration = options.windowS ?? 1;
  const limiters = new Map<string, RateLimiterAbstract | null>();
  const limiterOf = (key: ApiKey) => {
    let l = limiters.get(key.id);
    if (l === undefined) {
      const points = limitOf(limits, key);
      if (points === null) l = null;
      else {
        const keyPrefix = `${options.prefix ?? 'omnirec'}:rl:${points}`;
        const memory = new RateLimiterMemory({ points, duration, keyPrefix });
        l = options.redis
          ? new RateLimiterRedis({ storeClient: options.redis, points, duration, keyPrefix, rejectIfRedisNotReady: true, insuranceLimiter: memory })
          : memory;
      }
      limiters.set(key.id, l);
    }
    return l;
  };
  return (key, req, res) => {
    const limiter = limiterOf(key);
    if (limiter === null) return true;
    return limiter.consume(key.id).then(
      () => true,
      (rej: unknown) => {
        // an Error (the store failed and no insurance answered): let the request through
        if (!(rej instanceof RateLimiterRes)) return true;
        res.setHeader('Retry-After', String(Math.max(1, Math.ceil(rej.msBeforeNext / 1000))));
        writeJson(req, res, 429, { error: 'rate_limited', message: `this API key is over its limit of ${limiter.points} requests per ${duration === 1 ? 'second' : `${duration} s`}: retry after the time in Retry-After` });
        return false;
      },
    );
  };
}

/**
 * The limiter's own Redis connection (or cluster client): commands time out after 100 ms and are
 * not queued while disconnected, so a slow or absent Redis hands the count to the in-memory insurance.
 */
export function limiterRedis(target: string | RedisClusterConfig): Redis | Cluster {
  const common = { commandTimeout: 100, connectTimeout: 2000, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectionName: 'omnirec-ratelimit' };
  const retryStrategy = (times: number) => Math.min(times * 100, 1000);
  if (typeof target === 'string') return new Redis(target, { ...common, retryStrategy });
  return new Cluster(target.nodes, {
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue: false,
    redisOptions: { ...common, username: target.username, password: target.password, ...(target.tls ? { tls: {} } : {}) },
  });
}
