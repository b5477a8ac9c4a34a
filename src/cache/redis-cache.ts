/**
 * The Redis VectorCache (ioredis). Three connections:
 *  - fast: per-request reads (GET); no offline queue and a short command timeout, so that when Redis
 *    is down or slow a lookup fails in milliseconds instead of waiting for a reconnect;
 *  - bulk: publishing and loading (pipelines, MGET of item blobs, SCAN, UNLINK); long timeout;
 *  - sub: pub/sub (opened on first subscribe), resubscribes by itself after a reconnect.
 * All three reconnect forever with a capped backoff (100 ms steps, at most 1 s apart).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { UnavailableError } from '../core/errors.js';
import type { CacheHealth, VectorCache } from './vector-cache.js';

export interface RedisCacheOptions {
  /** Timeout of per-request reads (ms). */
  commandTimeoutMs?: number;
  /** Timeout of bulk commands (ms). */
  bulkTimeoutMs?: number;
  /** Connection timeout (ms). */
  connectTimeoutMs?: number;
}

/** The URL without its password, for messages. */
export const redactUrl = (url: string) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

const READY: CacheHealth = Object.freeze({ ready: true });

export class RedisCache implements VectorCache {
  readonly backend = 'redis' as const;
  readonly location: string;
  private readonly fast: Redis;
  private readonly bulk: Redis;
  private sub: Redis | null = null;
  private readonly channels = new Map<string, Set<(m: string) => void>>();
  private readonly healthListeners = new Set<(h: CacheHealth) => void>();
  /** The last connection error seen, for messages. */
  lastError: string | undefined;
  private lastHealth: CacheHealth = { ready: false, detail: 'connecting' };
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: RedisCacheOptions = {},
  ) {
    this.location = redactUrl(url);
    const base: RedisOptions = {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: false,
    };
    this.fast = this.watch(new Redis(url, { ...base, commandTimeout: options.commandTimeoutMs ?? 250, connectionName: 'omnirec-fast' }));
    this.bulk = this.watch(new Redis(url, { ...base, commandTimeout: options.bulkTimeoutMs ?? 60_000, connectionName: 'omnirec-bulk' }));
  }

  /** Opens a cache and waits up to connectTimeoutMs for it; with `require`, an unreachable Redis is an UnavailableError. */
  static async open(url: string, options: RedisCacheOptions & { require?: boolean } = {}): Promise<RedisCache> {
    const cache = new RedisCache(url, options);
    const ready = await cache.waitReady(options.connectTimeoutMs ?? 2000);
    if (!ready && options.require) {
      const reason = cache.lastError;
      await cache.close();
      throw new UnavailableError(`Redis at ${redactUrl(url)} is unreachable${reason ? ` (${reason})` : ''}`, { url: redactUrl(url) });
    }
    return cache;
  }

  /** Resolves true once every connection is ready, false after timeoutMs. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.health().ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
      const off = this.onHealth((h) => {
        if (!h.ready) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  private watch(client: Redis): Redis {
    client.on('error', (e: Error) => {
      this.lastError = e.message;
      this.emitHealth();
    });
    for (const ev of ['ready', 'close', 'end', 'reconnecting']) client.on(ev, () => this.emitHealth());
    return client;
  }

  private emitHealth(): void {
    const h = this.health();
    if (h.ready === this.lastHealth.ready) {
      this.lastHealth = h;
      return;
    }
    this.lastHealth = h;
    for (const l of this.healthListeners) l(h);
  }

  health(): CacheHealth {
    // on every request path: no allocation when all is well
    if (this.fast.status === 'ready' && this.bulk.status === 'ready' && (!this.sub || this.sub.status === 'ready')) return READY;
    const clients = [this.fast, this.bulk, ...(this.sub ? [this.sub] : [])];
    const down = clients.filter((c) => c.status !== 'ready');
    if (down.length === 0) return { ready: true };
    if (this.closed) return { ready: false, detail: 'closed' };
    return { ready: false, detail: `Redis at ${this.location} ${down[0].status}${this.lastError ? ` (${this.lastError})` : ''}` };
  }

  onHealth(listener: (h: CacheHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  get(key: string): Promise<Buffer | null> {
    return this.fast.getBuffer(key);
  }

  async getMany(keys: string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    return this.bulk.mgetBuffer(...keys);
  }

  /**
   * One MSET per batch: about 3× faster than a pipeline of SETs from Node (100k records: 0.6 s vs 1.7 s).
   * MSET needs every key in one slot on a Redis Cluster; a Cluster client would group batches by slot.
   */
  async writeBatch(entries: [string, Buffer | string][]): Promise<void> {
    if (entries.length === 0) return;
    const args: (string | Buffer)[] = [];
    for (const [k, v] of entries) args.push(k, v);
    try {
      await this.bulk.mset(...args);
    } catch (e) {
      throw new UnavailableError(`Redis write failed: ${(e as Error).message}`);
    }
  }

  async delete(keys: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < keys.length; i += 1000) n += await this.bulk.unlink(...keys.slice(i, i + 1000));
    return n;
  }

  async countExisting(keys: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < keys.length; i += 1000) n += await this.bulk.exists(...keys.slice(i, i + 1000));
    return n;
  }

  async *scan(pattern: string, batchSize = 1000): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, keys] = await this.bulk.scan(cursor, 'MATCH', pattern, 'COUNT', batchSize);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }

  async hashSet(key: string, field: string, value: string): Promise<void> {
    await this.bulk.hset(key, field, value);
  }

  hashGetAll(key: string): Promise<Record<string, string>> {
    return this.bulk.hgetall(key);
  }

  async hashDelete(key: string, field: string): Promise<void> {
    await this.bulk.hdel(key, field);
  }

  async setAndPublish(key: string, value: string, channel: string, message: string): Promise<void> {
    const results = await this.bulk.multi().set(key, value).publish(channel, message).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw new UnavailableError(`Redis pointer flip failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.sub) {
      // the subscriber queues SUBSCRIBE until connected and resubscribes after every reconnect
      this.sub = this.watch(
        new Redis(this.url, {
          connectTimeout: this.options.connectTimeoutMs ?? 2000,
          retryStrategy: (times) => Math.min(times * 100, 1000),
          maxRetriesPerRequest: null,
          enableOfflineQueue: true,
          autoResubscribe: true,
          connectionName: 'omnirec-sub',
        }),
      );
      this.sub.on('message', (ch: string, message: string) => {
        for (const l of this.channels.get(ch) ?? []) l(message);
      });
    }
    let set = this.channels.get(channel);
    if (!set) {
      this.channels.set(channel, (set = new Set()));
      const pending = this.sub.subscribe(channel);
      // wait when Redis is up; when it is down the SUBSCRIBE stays queued for the reconnect
      if (this.sub.status === 'ready' || this.fast.status === 'ready') await pending.catch(() => undefined);
      else pending.catch(() => undefined);
    }
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && this.channels.get(channel) === set) {
        this.channels.delete(channel);
        await this.sub?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.healthListeners.clear();
    await Promise.all(
      [this.fast, this.bulk, ...(this.sub ? [this.sub] : [])].map(async (c) => {
        if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
        else c.disconnect();
      }),
    );
  }
}
