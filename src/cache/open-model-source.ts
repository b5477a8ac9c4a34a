import type { Config } from '../config.js';
import { CacheModelSource, type CacheModelSourceOptions } from './cache-model-source.js';
import { cacheKeys } from './keys.js';
import type { ModelSource } from './model-source.js';
import { openVectorCache, type OpenCacheOptions } from './open-vector-cache.js';

/**
 * The service's ModelSource from configuration: Redis when REDIS_URL is set, a Redis Cluster when
 * REDIS_CLUSTER_NODES is, else the embedded cache in CACHE_DIR; keys under CACHE_PREFIX; LRU of CUSTOMER_LRU_SIZE. Starts even when Redis is down
 * (degraded, no version until it answers).
 */
export async function openModelSource(
  cfg: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'CACHE_DIR' | 'CACHE_PREFIX' | 'CUSTOMER_LRU_SIZE'>,
  options: CacheModelSourceOptions & OpenCacheOptions = {},
): Promise<ModelSource & { refresh(announced?: string): Promise<void> }> {
  const cache = await openVectorCache(cfg, { ...options, require: false });
  const source = new CacheModelSource(cache, cacheKeys(cfg.CACHE_PREFIX), { lruSize: cfg.CUSTOMER_LRU_SIZE, ownsCache: true, ...options });
  return source.start();
}
