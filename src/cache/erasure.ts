/**
 * Erasure in the vector cache (right to erasure). A customer erased once must not come back: not by
 * a rollback to an older version, nor by publishing an older bundle from disk again. So erasure
 *   1. adds the customer's ids to the erasure list P:erased (hash: id → ISO time), then
 *   2. deletes their record from every version kept in the cache (listed in P:versions, and current);
 * and publishing (src/cache/publish.ts) skips every listed id, and deletes any listed id's record
 * again after listing its version and before flipping the pointer. An erasure racing a publish is
 * therefore seen by one side or the other: erasure writes the list before reading the versions,
 * publish lists the version before re-reading the list.
 */
import type { CacheKeys } from './keys.js';
import type { VectorCache } from './vector-cache.js';

/** The erased customer ids. */
export async function erasedCustomers(cache: VectorCache, keys: CacheKeys): Promise<Set<string>> {
  return new Set(Object.keys(await cache.hashGetAll(keys.erased)));
}

/** Adds ids to the cache's erasure list (P:erased) without touching records: publish tells a cache the store's list. */
export async function tellErased(cache: VectorCache, keys: CacheKeys, customerIds: readonly string[], at = new Date()): Promise<void> {
  for (const id of customerIds) await cache.hashSet(keys.erased, id, at.toISOString());
}

/** Every version that has (or may have) keys a reader could reach: those listed and the current one. */
async function keptVersions(cache: VectorCache, keys: CacheKeys): Promise<string[]> {
  const [listed, current] = await Promise.all([cache.hashGetAll(keys.versions), cache.getMany([keys.current])]);
  const out = new Set(Object.keys(listed));
  if (current[0]) out.add(current[0].toString('utf8'));
  return [...out].sort();
}

/**
 * Lists `customerIds` as erased and deletes their records from every kept version. Idempotent.
 * Returns the versions looked at and how many records existed.
 */
export async function eraseFromCache(cache: VectorCache, keys: CacheKeys, customerIds: readonly string[], at = new Date()): Promise<{ versions: string[]; records: number }> {
  for (const id of customerIds) await cache.hashSet(keys.erased, id, at.toISOString());
  const versions = await keptVersions(cache, keys);
  const doomed = versions.flatMap((v) => customerIds.map((id) => keys.customer(v, id)));
  const records = doomed.length ? await cache.delete(doomed) : 0;
  return { versions, records };
}

/**
 * Deletes the records of erased customers among `customerIds` from one version (publish calls it after
 * listing the version, before the flip); returns the ids removed.
 */
export async function dropErased(cache: VectorCache, keys: CacheKeys, version: string, customerIds: readonly string[]): Promise<string[]> {
  const erased = await erasedCustomers(cache, keys);
  if (erased.size === 0) return [];
  const hit = customerIds.filter((id) => erased.has(id));
  if (hit.length) await cache.delete(hit.map((id) => keys.customer(version, id)));
  return hit;
}
