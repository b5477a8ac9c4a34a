/**
 * Key layout of the vector cache (Redis, or the embedded cache with the same keys).
 * P = CACHE_PREFIX (default "omnirec"), V = model version (letters, digits, ".", "_", "-").
 *
 *   P:current                     string   the version in service (flipped by one SET, in a MULTI with the PUBLISH)
 *   P:versions                    hash     V → JSON {version, createdAt, publishedAt, items, customers, bytes, digest}
 *   P:announce                    channel  PUBLISH V after every flip (publish and rollback)
 *   P:erased                      hash     erased customer id → ISO time: publish never writes their records
 *   P:customer-changes            channel  JSON {from, ids} after a customer's data changed (src/cache/customer-changes.ts)
 *   P:offer-changes               channel  JSON {from, offers?, events?} after offers or offer responses changed (src/cache/offer-changes.ts)
 *   P:{v:V}:meta                  string   JSON header: manifest, skus, categories, ALS scalars, blend, popular layout,
 *                                          sha256 of each blob below
 *   P:{v:V}:items                 blob     item factors (items × k float32)
 *   P:{v:V}:neighbours            blob     item-item top-K lists (CSR indptr/indices/scores)
 *   P:{v:V}:fbt                   blob     frequently-bought-together top-K lists
 *   P:{v:V}:popular               blob     global, trending, per-store and per-segment ranked lists
 *   P:{v:V}:complete              string   written last, after every key was verified: JSON {digest, customers}
 *   P:v:V:customer:<customerId>   blob     one customer: vector, segment, items, counts, lastTime, intervalDays
 *
 * Blobs are packed typed arrays (src/cache/codec.ts): a small JSON header, then 8-byte aligned
 * little-endian arrays, so a version loads back bit-for-bit.
 *
 * Cluster safety (REDIS_CLUSTER_NODES; RedisCache splits every multi-key command by hash slot):
 *  - the item side of a version (meta, items, neighbours, fbt, popular, complete) shares the hash tag
 *    {v:V}: one slot, so serving reads it with one MGET (atomic) and publish verifies it the same way;
 *  - customer keys carry the version but no hash tag, on purpose: there are millions of them and they
 *    are read one at a time, so they spread over every slot and master instead of piling onto one node.
 *    Publish writes them in batches that RedisCache splits by slot (one MSET per slot, auto-pipelined
 *    per master); verify counts them with EXISTS per slot; cleanup finds them with SCAN on every master;
 *  - P:current, P:versions and P:announce are single keys; the pointer flip is one MULTI with one key
 *    (SET P:current) and a PUBLISH, which a cluster broadcasts to subscribers on every node (as it does
 *    P:customer-changes, which is published on its own).
 * Cleanup removes a version's keys with UNLINK in batches (per slot on a cluster).
 */
import { assertVersion } from '../bundle/write-bundle.js';

/** Item-side blobs of a version, in the order serving reads them. */
export const ITEM_BLOBS = ['meta', 'items', 'neighbours', 'fbt', 'popular'] as const;
export type ItemBlob = (typeof ITEM_BLOBS)[number];

export interface CacheKeys {
  readonly prefix: string;
  current: string;
  versions: string;
  announce: string;
  /** Erased customers (src/cache/erasure.ts). */
  erased: string;
  /** Channel telling every instance to forget what it caches about some customers (src/cache/customer-changes.ts). */
  customerChanges: string;
  /** Channel telling every instance that offers changed or responses were recorded (src/cache/offer-changes.ts). */
  offerChanges: string;
  blob(version: string, name: ItemBlob): string;
  complete(version: string): string;
  customer(version: string, customerId: string): string;
  /** SCAN patterns covering every key of one version (hash-tagged item side, customers). */
  versionPatterns(version: string): string[];
}

export function cacheKeys(prefix: string): CacheKeys {
  return {
    prefix,
    current: `${prefix}:current`,
    versions: `${prefix}:versions`,
    announce: `${prefix}:announce`,
    erased: `${prefix}:erased`,
    customerChanges: `${prefix}:customer-changes`,
    offerChanges: `${prefix}:offer-changes`,
    blob: (v, name) => `${prefix}:{v:${checked(v)}}:${name}`,
    complete: (v) => `${prefix}:{v:${checked(v)}}:complete`,
    customer: (v, id) => `${prefix}:v:${checked(v)}:customer:${id}`,
    versionPatterns: (v) => [`${prefix}:{v:${checked(v)}}:*`, `${prefix}:v:${checked(v)}:customer:*`],
  };
}

function checked(version: string): string {
  assertVersion(version);
  return version;
}

/**
 * The version a key belongs to (null for P:current, P:versions and any other unversioned key).
 * The embedded cache uses it to keep each version's keys in one file.
 */
export function versionOfKey(key: string): string | null {
  const m = /:\{v:([A-Za-z0-9._-]+)\}:|:v:([A-Za-z0-9._-]+):customer:/.exec(key);
  return m ? (m[1] ?? m[2]) : null;
}
