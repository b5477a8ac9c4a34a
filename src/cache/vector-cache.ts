/**
 * The narrow key-value interface the model cache needs, with two backends (one file each):
 * Redis (src/cache/redis-cache.ts, ioredis) and the embedded default (src/cache/memory-cache.ts,
 * in process, persisted to CACHE_DIR). Publishing, rollback and serving are written against this
 * interface only; key names come from src/cache/keys.ts.
 *
 * @example
 * const cache = await openVectorCache(config());
 * await cache.writeBatch([[key, value]]);
 * const v = await cache.get(key);
 */

/** Up or down, with a human-readable reason when down. */
export interface CacheHealth {
  ready: boolean;
  detail?: string;
}

export interface VectorCache {
  /** Which backend this is, and where (URL without credentials, or directory). */
  readonly backend: 'redis' | 'memory';
  readonly location: string;
  /**
   * One value, answered fast: when the backend is down this rejects at once (no offline queue)
   * and otherwise within the command timeout. For per-request reads.
   */
  get(key: string): Promise<Buffer | null>;
  /** Many values in one round trip (MGET). May take longer than get (item-side blobs). */
  getMany(keys: string[]): Promise<(Buffer | null)[]>;
  /** Writes one pipelined batch (thousands of keys per call). */
  writeBatch(entries: [string, Buffer | string][]): Promise<void>;
  /**
   * Writes one key unless `field` is set in the hash `guard`, atomically: a value listed in the guard
   * before the write is never overtaken by it (erasure tombstones, src/cache/erasure.ts). Returns
   * whether it wrote. On a Redis Cluster the guard and the key live in different slots: there the key
   * is written, the guard read and the key deleted again when listed (no longer atomic, see README).
   */
  writeUnlessListed(key: string, value: Buffer, guard: string, field: string): Promise<boolean>;
  /** Deletes keys (UNLINK); returns how many existed. */
  delete(keys: string[]): Promise<number>;
  /** How many of these keys exist (EXISTS k1 k2 ...). */
  countExisting(keys: string[]): Promise<number>;
  /** Every key matching a glob pattern that ends in "*", in batches (SCAN MATCH ... COUNT). */
  scan(pattern: string, batchSize?: number): AsyncIterable<string[]>;
  hashSet(key: string, field: string, value: string): Promise<void>;
  hashGetAll(key: string): Promise<Record<string, string>>;
  hashDelete(key: string, field: string): Promise<void>;
  /** Publishes `message` on `channel` (PUBLISH) to every subscriber of the backend, in any process. */
  publish(channel: string, message: string): Promise<void>;
  /** Sets `key` to `value` and publishes `message` on `channel`, atomically (MULTI SET PUBLISH EXEC). */
  setAndPublish(key: string, value: string, channel: string, message: string): Promise<void>;
  /**
   * Calls `listener` for every message on `channel` published after this resolves (by any process
   * sharing the backend). Resubscribes by itself after a reconnect. Returns an unsubscribe function.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  health(): CacheHealth;
  /** Called whenever health changes (down, or up again after a reconnect). */
  onHealth(listener: (h: CacheHealth) => void): () => void;
  close(): Promise<void>;
}
