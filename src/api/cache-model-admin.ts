/**
 * The admin model endpoints over the cache's publishing functions (src/cache/publish.ts):
 * bundles are read from MODEL_DIR, published into the vector cache, and this instance's model
 * source is refreshed before answering (other instances swap on the announce).
 */
import { listBundles, readBundle } from '../bundle/read-bundle.js';
import type { CacheKeys } from '../cache/keys.js';
import { listVersions, publishBundle, rollback } from '../cache/publish.js';
import type { VectorCache } from '../cache/vector-cache.js';
import type { Logger } from './logger.js';
import type { ModelAdmin } from './model-admin.js';

export function cacheModelAdmin(options: {
  /** The cache to publish into (opened lazily: the first admin call opens it). */
  cache: () => Promise<VectorCache>;
  keys: CacheKeys;
  modelDir: string;
  /** Re-reads the current pointer of this instance's model source. */
  refresh?: (version?: string) => Promise<void>;
  logger?: Logger;
  /** The store's erasure list (Store.erasedCustomerIds): erased customers are never published. */
  erasedIn?: (customerIds: readonly string[]) => Promise<Set<string>>;
}): ModelAdmin {
  const { keys, modelDir, refresh, logger, erasedIn } = options;
  return {
    async list() {
      const versions = await listVersions(await options.cache(), keys);
      return { current: versions.find((v) => v.current)?.version ?? null, versions: versions as unknown as Record<string, unknown>[] };
    },
    async publish(version) {
      const bundle = await readBundle(modelDir, version);
      const out = await publishBundle(await options.cache(), keys, bundle, { version, erasedIn });
      await refresh?.(out.version);
      logger?.info('model published', { version: out.version, previous: out.previous });
      return { ...out };
    },
    async bundles() {
      const [manifests, versions] = await Promise.all([listBundles(modelDir), listVersions(await options.cache(), keys)]);
      const published = new Set(versions.map((v) => v.version));
      const current = versions.find((v) => v.current)?.version ?? null;
      return {
        current,
        bundles: manifests.map((m) => ({
          version: m.version,
          createdAt: m.createdAt,
          data: m.data,
          metrics: m.metrics,
          published: published.has(m.version),
          current: m.version === current,
        })),
      };
    },
    async rollback(version) {
      const out = await rollback(await options.cache(), keys, version);
      await refresh?.(out.to);
      logger?.info('model rolled back', out);
      return { ...out };
    },
  };
}
