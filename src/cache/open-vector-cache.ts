/**
 * Picks the vector cache backend from configuration: REDIS_URL → one Redis, REDIS_CLUSTER_NODES → a Redis
 * Cluster (the config schema refuses both at once), else the embedded cache in CACHE_DIR ("memory://" =
 * not persisted).
 */
import type { Config } from '../config.js';
import { MemoryCache } from './memory-cache.js';
import { RedisCache, type RedisCacheOptions } from './redis-cache.js';
import type { VectorCache } from './vector-cache.js';

export interface OpenCacheOptions extends RedisCacheOptions {
  /** Fail with UnavailableError when Redis does not answer within the connect timeout (CLIs); serving leaves it false. */
  require?: boolean;
  /** Poll interval of the embedded cache (ms). */
  pollMs?: number;
}

export type CacheConfig = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'CACHE_DIR'> & Partial<Pick<Config, 'REDIS_CONNECT_TIMEOUT_MS'>>;

/** True when the configuration names a Redis or a Redis Cluster (not the embedded cache). */
export const usesRedis = (cfg: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>) => Boolean(cfg.REDIS_URL || cfg.REDIS_CLUSTER_NODES);

export async function openVectorCache(cfg: CacheConfig, options: OpenCacheOptions = {}): Promise<VectorCache> {
  const target = cfg.REDIS_CLUSTER_NODES ?? cfg.REDIS_URL;
  if (target) return RedisCache.open(target, { ...options, connectTimeoutMs: options.connectTimeoutMs ?? cfg.REDIS_CONNECT_TIMEOUT_MS });
  return new MemoryCache(cfg.CACHE_DIR, { pollMs: options.pollMs });
}
