/**
 * The embedded vector cache: the same keys and behaviour as Redis, in process.
 *
 * CACHE_DIR = "memory://" (or "memory://<name>"): nothing on disk; every MemoryCache opened with the
 * same location in this process shares one store, so pub/sub reaches other instances of the process.
 *
 * CACHE_DIR = a directory: persisted so that `npm run publish` (one process) and the server (another)
 * share it, like two Redis clients:
 *   DIR/meta/<key>.json        unversioned keys (P:current, P:versions), replaced atomically (write + rename)
 *   DIR/v/<version>.log        every key of one version (see keys.ts versionOfKey): "OLOG" + 8 random bytes
 *                              (the file's generation), then an append-only log of records
 *                              u8 op (1 set, 2 delete) | u32 key bytes | u32 value bytes | key | value
 *   DIR/channels/<channel>.log one JSON line per published message
 * Readers load a version's log on first use and re-read its new tail (or all of it, if the file was
 * replaced) at most once per poll interval; subscribers poll the channel log (default every 250 ms).
 * A log larger than 64 MB that is more than half overwritten records (customer updates) is rewritten with
 * only its live records under a new generation. One writer per version at a time (the publish CLI writes
 * new versions, the server the current one).
 */
import { resolve } from 'node:path';
import { versionOfKey } from './keys.js';
import { Store } from './memory-store.js';
import type { CacheHealth, VectorCache } from './vector-cache.js';

const stores = new Map<string, Store>();

export interface MemoryCacheOptions {
  /** How often subscribers poll a persisted channel and readers re-check a version's log (ms). */
  pollMs?: number;
  /** A version's log is compacted when it is larger than this and more than half of it is overwritten records. */
  compactMinBytes?: number;
  /** Do not share the store with other instances of this process (behaves like another process; for tests). */
  isolated?: boolean;
}

/** The embedded VectorCache over CACHE_DIR ("memory://[name]" = in process only). */
export class MemoryCache implements VectorCache {
  readonly backend = 'memory' as const;
  private readonly store: Store;
  private readonly unsubscribers = new Set<() => void>();
  private closed = false;

  constructor(
    readonly location: string,
    options: MemoryCacheOptions = {},
  ) {
    const inMemory = location.startsWith('memory://');
    const id = inMemory ? location : resolve(location);
    let store = options.isolated ? undefined : stores.get(id);
    if (!store) {
      store = new Store(inMemory ? null : id, options.pollMs ?? 250, options.compactMinBytes ?? 64 * 1048576);
      if (!options.isolated) stores.set(id, store);
    }
    store.refs++;
    this.store = store;
  }

  private check(): void {
    if (this.closed) throw new Error('cache is closed');
  }

  async get(key: string): Promise<Buffer | null> {
    this.check();
    return this.read(key, false);
  }

  /** Reads the files afresh (no poll-interval staleness): pointer reads and item-side loads go through here. */
  async getMany(keys: string[]): Promise<(Buffer | null)[]> {
    this.check();
    const fresh = new Set<string>();
    return keys.map((k) => {
      const v = versionOfKey(k);
      const first = v !== null && !fresh.has(v);
      if (first) fresh.add(v);
      return this.read(k, first);
    });
  }

  private read(key: string, fresh: boolean): Buffer | null {
    const v = versionOfKey(key);
    if (v === null) {
      const m = this.store.readMeta(key);
      return typeof m === 'string' ? Buffer.from(m, 'utf8') : null;
    }
    return this.store.partition(v, fresh).map.get(key) ?? null;
  }

  async writeBatch(entries: [string, Buffer | string][]): Promise<void> {
    this.check();
    const byVersion = new Map<string, [string, Buffer | null][]>();
    for (const [k, value] of entries) {
      const v = versionOfKey(k);
      if (v === null) {
        this.store.writeMeta(k, Buffer.isBuffer(value) ? value.toString('utf8') : value);
        continue;
      }
      let list = byVersion.get(v);
      if (!list) byVersion.set(v, (list = []));
      list.push([k, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')]);
    }
    for (const [v, list] of byVersion) this.store.append(v, list);
  }

  async writeUnlessListed(key: string, value: Buffer, guard: string, field: string): Promise<boolean> {
    this.check();
    // no await between the check and the write: atomic in this process (erasures are made by the
    // service, the one process writing records besides publish)
    if (this.hash(guard)[field] !== undefined) return false;
    const v = versionOfKey(key);
    if (v === null) this.store.writeMeta(key, value.toString('utf8'));
    else this.store.append(v, [[key, value]]);
    return true;
  }

  async delete(keys: string[]): Promise<number> {
    this.check();
    let n = 0;
    const byVersion = new Map<string, string[]>();
    for (const k of keys) {
      const v = versionOfKey(k);
      if (v === null) {
        if (this.store.readMeta(k) !== undefined) n++;
        this.store.writeMeta(k, undefined);
        continue;
      }
      let list = byVersion.get(v);
      if (!list) byVersion.set(v, (list = []));
      list.push(k);
    }
    for (const [v, list] of byVersion) {
      const map = this.store.partition(v, true).map;
      const present = list.filter((k) => map.has(k));
      n += present.length;
      if (present.length) this.store.append(v, present.map((k) => [k, null]));
    }
    return n;
  }

  async countExisting(keys: string[]): Promise<number> {
    this.check();
    let n = 0;
    for (const k of keys) {
      const v = versionOfKey(k);
      if (v === null ? this.store.readMeta(k) !== undefined : this.store.partition(v).map.has(k)) n++;
    }
    return n;
  }

  async *scan(pattern: string, batchSize = 1000): AsyncIterable<string[]> {
    this.check();
    if (!pattern.endsWith('*') || /[?[\]\\]|\*./.test(pattern.slice(0, -1) + 'x')) {
      throw new Error(`memory cache scans prefix patterns only ("...*"), got ${pattern}`);
    }
    const prefix = pattern.slice(0, -1);
    const v = versionOfKey(pattern);
    const keys: string[] = [];
    if (v === null) keys.push(...this.store.metaKeys().filter((k) => k.startsWith(prefix)));
    for (const version of v === null ? this.store.versionsOnDisk() : [v]) {
      for (const k of this.store.partition(version, true).map.keys()) if (k.startsWith(prefix)) keys.push(k);
    }
    for (let i = 0; i < keys.length; i += batchSize) yield keys.slice(i, i + batchSize);
  }

  private hash(key: string): Record<string, string> {
    const m = this.store.readMeta(key);
    return m !== undefined && typeof m === 'object' ? { ...m } : {};
  }

  async hashSet(key: string, field: string, value: string): Promise<void> {
    this.check();
    const h = this.hash(key);
    h[field] = value;
    this.store.writeMeta(key, h);
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    this.check();
    return this.hash(key);
  }

  async hashDelete(key: string, field: string): Promise<void> {
    this.check();
    const h = this.hash(key);
    delete h[field];
    this.store.writeMeta(key, Object.keys(h).length ? h : undefined);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.check();
    this.store.publish(channel, message);
  }

  async setAndPublish(key: string, value: string, channel: string, message: string): Promise<void> {
    this.check();
    this.store.writeMeta(key, value);
    this.store.publish(channel, message);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    this.check();
    const off = this.store.subscribe(channel, listener);
    this.unsubscribers.add(off);
    return async () => {
      off();
      this.unsubscribers.delete(off);
    };
  }

  health(): CacheHealth {
    return { ready: true };
  }

  onHealth(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribers) off();
    this.unsubscribers.clear();
    this.store.refs--;
    if (this.store.refs === 0 && this.store.dir && stores.get(this.store.dir) === this.store) stores.delete(this.store.dir);
  }
}
