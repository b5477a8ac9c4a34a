/**
 * Picks the vector cache backend from configuration: REDIS_URL → Redis, else the embedded cache in
 * CACHE_DIR ("memory://" = not persisted).
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

export async function openVectorCache(
  cfg: Pick<Config, 'REDIS_URL' | 'CACHE_DIR'>,
  options: OpenCacheOptions = {},
): Promise<VectorCache> {
  if (cfg.REDIS_URL) return RedisCache.open(cfg.REDIS_URL, options);
  return new MemoryCache(cfg.CACHE_DIR, { pollMs: options.pollMs });
}
