/**
 * The ModelSource serving reads from: the current version's item side in memory, customer records
 * from the cache (one GET) behind an LRU. Swaps on announce, on reconnect (a publish may have happened
 * while the cache was unreachable) and on a slow pointer poll (safety net). A new version is built
 * completely before one reference is replaced, so a request that took current() never sees a mix.
 * Customer changes announced by other instances (src/cache/customer-changes.ts) drop their records
 * from the LRU; a read in flight when that happens answers what it got but does not cache it.
 */
import { randomUUID } from 'node:crypto';
import type { CustomerRecord } from '../core/bundle.js';
import { within } from '../core/deadline.js';
import { UnavailableError } from '../core/errors.js';
import { decodeCustomer, encodeCustomer } from './codec.js';
import { announceCustomerChange, decodeCustomerChange } from './customer-changes.js';
import { eraseFromCache } from './erasure.js';
import type { CacheKeys } from './keys.js';
import { loadModel } from './load-model.js';
import { Lru } from './lru.js';
import { type CacheStats, emptyStats, type LoadedModel, type ModelSource, type ModelSourceStatus } from './model-source.js';
import type { VectorCache } from './vector-cache.js';

/** Consecutive failed lookups (timeouts of a connected but unresponsive cache) that open the breaker. */
export const BREAKER_ERRORS = 3;

export interface CacheModelSourceOptions {
  /** Customer records kept in process (0 = no LRU). */
  lruSize?: number;
  /** Maximum age of an LRU entry (ms), so other instances' rewrites show up even when their announce is lost. */
  lruMaxAgeMs?: number;
  /** Re-read the pointer this often even without an announce (ms; 0 = never). */
  pointerPollMs?: number;
  /** How long lookups skip the cache after BREAKER_ERRORS failures in a row (ms). */
  breakerMs?: number;
  /**
   * Deadline of the writes requests make (a purchase's record, an erasure), ms (default 400): a cache
   * that is connected but does not answer fails them then, with an UnavailableError, and opens the breaker.
   */
  writeTimeoutMs?: number;
  /** Close the cache with the source. */
  ownsCache?: boolean;
  log?: (level: 'info' | 'warn' | 'error', message: string, context?: Record<string, unknown>) => void;
}

/** A customer's record in the LRU, per version. */
const lruKey = (version: string, customerId: string) => `${version}\u0000${customerId}`;

export class CacheModelSource implements ModelSource {
  private model: LoadedModel | null = null;
  private lastSwapAt: string | undefined;
  private problem: string | undefined;
  private readonly lru: Lru<string, CustomerRecord | null>;
  private readonly counters: CacheStats = emptyStats();
  private readonly listeners = new Set<(m: LoadedModel) => void>();
  private readonly changeListeners = new Set<(ids: readonly string[]) => void>();
  /** Tells this instance's customer-change messages from others'. */
  private readonly instanceId = randomUUID();
  /**
   * Cache reads in flight per customer id. forget() marks them stale, so that a record read before a
   * change (and answered after it) is not put back into the LRU for its whole age limit.
   */
  private readonly reads = new Map<string, Set<{ stale: boolean }>>();
  private chain: Promise<void> = Promise.resolve();
  private unsubscribe: (() => Promise<void>) | undefined;
  private unsubscribeChanges: (() => Promise<void>) | undefined;
  private offHealth: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wasDown = false;
  private consecutiveErrors = 0;
  private breakerUntil = 0;
  private breakerDetail: string | undefined;
  /** Once the breaker's time is up, one lookup at a time tries the cache again (half-open). */
  private probing = false;
  private closed = false;

  constructor(
    readonly cache: VectorCache,
    readonly keys: CacheKeys,
    private readonly options: CacheModelSourceOptions = {},
  ) {
    this.lru = new Lru(options.lruSize ?? 10_000, options.lruMaxAgeMs ?? 60_000);
  }

  /** Subscribes to announces and customer changes and loads the current version (a cache that is down is not an error). */
  async start(): Promise<this> {
    this.unsubscribe = await this.cache.subscribe(this.keys.announce, (message) => this.refreshQuietly(message));
    this.unsubscribeChanges = await this.cache.subscribe(this.keys.customerChanges, (message) => this.changed(message));
    this.offHealth = this.cache.onHealth((h) => {
      if (!h.ready) {
        this.wasDown = true;
        this.options.log?.('warn', 'model cache unreachable; serving the in-memory version', { detail: h.detail });
      } else if (this.wasDown) {
        this.wasDown = false;
        this.options.log?.('info', 'model cache reachable again; re-reading the current pointer, forgetting every customer');
        // customer changes announced while disconnected were lost: forget every customer held
        this.customersChanged([]);
        this.refreshQuietly();
      }
    });
    if (!this.cache.health().ready) this.wasDown = true;
    const poll = this.options.pointerPollMs ?? 5000;
    if (poll > 0) {
      this.timer = setInterval(() => {
        if (this.cache.health().ready) this.refreshQuietly();
      }, poll);
      this.timer.unref();
    }
    await this.refresh();
    return this;
  }

  /**
   * Re-reads the pointer and swaps if it names another version. `announced` is the version of an
   * announce: it is reloaded even when it has the same name (a republish after the cache lost its data).
   * Serialised: loads never overlap, the last one wins.
   */
  refresh(announced?: string): Promise<void> {
    const run = this.chain.then(() => this.doRefresh(announced));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** refresh() for timers and events: failures are logged, never thrown. */
  private refreshQuietly(announced?: string): void {
    this.refresh(announced).catch((e: unknown) => this.options.log?.('error', 'model refresh failed', { error: (e as Error).message }));
  }

  private async doRefresh(announced?: string): Promise<void> {
    if (this.closed) return;
    let pointer: string | null;
    try {
      const b = (await this.cache.getMany([this.keys.current]))[0];
      pointer = b ? b.toString('utf8') : null;
    } catch (e) {
      this.problem = `cannot read the current pointer: ${(e as Error).message}`;
      return;
    }
    if (pointer === null) {
      this.problem = this.model ? `pointer ${this.keys.current} is missing in the cache; serving ${this.model.version} from memory` : undefined;
      return;
    }
    if (pointer === this.model?.version && announced !== pointer) {
      this.problem = undefined;
      return;
    }
    try {
      const next = await loadModel(this.cache, this.keys, pointer);
      if (this.closed) return;
      this.model = next;
      this.lru.clear();
      this.lastSwapAt = new Date().toISOString();
      this.problem = undefined;
      this.counters.swaps++;
      this.options.log?.('info', 'model version swapped in', { version: pointer, items: next.items.length });
      for (const l of this.listeners) {
        try {
          l(next);
        } catch (e) {
          this.options.log?.('error', 'onSwap listener failed', { error: (e as Error).message });
        }
      }
    } catch (e) {
      this.counters.swapFailures++;
      this.problem = `version ${pointer} could not be loaded (${(e as Error).message}); ${this.model ? `still serving ${this.model.version}` : 'no version in service'}`;
      this.options.log?.('error', 'model version could not be loaded', { version: pointer, error: (e as Error).message });
    }
  }

  current(): LoadedModel | null {
    return this.model;
  }

  /** The record when the LRU holds it (counted as `customer` counts it), else undefined (`customer` reads the cache). */
  customerNow(customerId: string, model: LoadedModel): CustomerRecord | null | undefined {
    const hit = this.lru.find(lruKey(model.version, customerId));
    if (hit === undefined) return undefined;
    this.counters.lruHits++;
    return hit.value;
  }

  async customer(customerId: string, model: LoadedModel): Promise<CustomerRecord | null> {
    const key = lruKey(model.version, customerId);
    const hit = this.lru.find(key);
    if (hit) {
      this.counters.lruHits++;
      return hit.value;
    }
    if (!this.cache.health().ready || this.breakerOpen()) {
      this.counters.errors++;
      return null;
    }
    const probe = this.consecutiveErrors >= BREAKER_ERRORS;
    if (probe) this.probing = true;
    let record: CustomerRecord | null;
    const read = { stale: false };
    let inFlight = this.reads.get(customerId);
    if (!inFlight) this.reads.set(customerId, (inFlight = new Set()));
    inFlight.add(read);
    try {
      const buf = await this.cache.get(this.keys.customer(model.version, customerId));
      record = buf ? decodeCustomer(customerId, buf) : null;
    } catch (e) {
      this.failed(e, 1);
      return null;
    } finally {
      if (probe) this.probing = false;
      inFlight.delete(read);
      if (inFlight.size === 0 && this.reads.get(customerId) === inFlight) this.reads.delete(customerId);
    }
    this.consecutiveErrors = 0;
    this.breakerDetail = undefined;
    if (record) this.counters.cacheHits++;
    else this.counters.misses++;
    if (this.model?.version === model.version && !read.stale) this.lru.set(key, record);
    return record;
  }

  /**
   * True while lookups and request writes skip the cache: after BREAKER_ERRORS failures in a row,
   * for breakerMs; then one call at a time tries it again until one succeeds.
   */
  private breakerOpen(): boolean {
    if (this.consecutiveErrors < BREAKER_ERRORS) return false;
    return Date.now() < this.breakerUntil || this.probing;
  }

  /**
   * A cache call failed: `weight` failures towards the breaker (a connected but unresponsive cache,
   * timeouts, opens it: lookups answer null and request writes fail at once for a while).
   */
  private failed(e: unknown, weight: number): void {
    this.counters.errors++;
    this.consecutiveErrors += weight;
    if (this.consecutiveErrors >= BREAKER_ERRORS) {
      const ms = this.options.breakerMs ?? 1000;
      this.breakerUntil = Date.now() + ms;
      this.breakerDetail = `${this.consecutiveErrors} cache calls failed in a row (${(e as Error).message}); retrying in ${ms} ms`;
    }
  }

  /** A request write that must not wait for an unresponsive cache: fails at once while the breaker is open, else within writeTimeoutMs. */
  private async requestWrite<T>(what: string, context: Record<string, unknown>, write: () => Promise<T>): Promise<T> {
    if (!this.cache.health().ready) throw new UnavailableError(`model cache unreachable: ${what}`, context);
    if (this.breakerOpen()) throw new UnavailableError(`model cache not answering: ${what}`, { ...context, detail: this.breakerDetail });
    try {
      const out = await within(write(), this.options.writeTimeoutMs ?? 400, 'the model cache');
      this.consecutiveErrors = 0;
      this.breakerDetail = undefined;
      return out;
    } catch (e) {
      // a write that timed out says the cache hangs: open the breaker at once
      this.failed(e, BREAKER_ERRORS);
      throw new UnavailableError(`model cache write failed (${what}): ${(e as Error).message}`, context);
    }
  }

  /** Drops these customers' records from the LRU (none: every customer) and keeps reads in flight from caching theirs. */
  private forget(customerIds: readonly string[]): void {
    if (customerIds.length === 0) {
      this.lru.clear();
      for (const inFlight of this.reads.values()) for (const r of inFlight) r.stale = true;
      return;
    }
    for (const id of customerIds) {
      for (const r of this.reads.get(id) ?? []) r.stale = true;
      if (this.model) this.lru.delete(lruKey(this.model.version, id));
    }
  }

  /** A message on the customer-changes channel: another instance changed these customers. */
  private changed(message: string): void {
    const change = decodeCustomerChange(message);
    if (!change) {
      this.options.log?.('warn', 'ignoring a malformed customer-change message', { channel: this.keys.customerChanges });
      return;
    }
    if (change.from !== this.instanceId) this.customersChanged(change.ids);
  }

  /** Changed elsewhere (none: every customer): forgets their records, then tells the listeners. */
  private customersChanged(customerIds: readonly string[]): void {
    this.forget(customerIds);
    for (const l of this.changeListeners) {
      try {
        l(customerIds);
      } catch (e) {
        this.options.log?.('error', 'onCustomersChanged listener failed', { error: (e as Error).message });
      }
    }
  }

  async announceCustomers(customerIds: readonly string[]): Promise<void> {
    if (this.breakerOpen()) {
      this.options.log?.('warn', 'customer change not announced (the cache is not answering): other instances forget it within their TTLs', {
        customers: customerIds.length,
      });
      return;
    }
    try {
      await announceCustomerChange(this.cache, this.keys, { from: this.instanceId, ids: customerIds });
    } catch (e) {
      this.options.log?.('warn', 'customer change not announced: other instances forget it within their TTLs', {
        customers: customerIds.length,
        error: (e as Error).message,
      });
    }
  }

  onCustomersChanged(listener: (customerIds: readonly string[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  async putCustomer(customerId: string, record: CustomerRecord | null, model: LoadedModel): Promise<boolean> {
    const key = this.keys.customer(model.version, customerId);
    let wrote = true;
    await this.requestWrite('customer record not written', { customerId }, async () => {
      // an erased customer's id is listed in P:erased before their records are deleted: a refresh
      // computed before the erasure and written after it is refused here, atomically (erasure.ts)
      if (record) wrote = await this.cache.writeUnlessListed(key, encodeCustomer({ ...record, customerId }), this.keys.erased, customerId);
      else await this.cache.delete([key]);
    });
    this.forget([customerId]);
    this.lru.set(lruKey(model.version, customerId), record && wrote ? { ...record, customerId } : null);
    return wrote;
  }

  async eraseCustomers(customerIds: readonly string[]): Promise<{ versions: string[] }> {
    const { versions } = await this.requestWrite('customer records not erased', { customerIds }, () => eraseFromCache(this.cache, this.keys, customerIds));
    this.forget(customerIds);
    for (const v of new Set([...versions, ...(this.model ? [this.model.version] : [])])) {
      for (const id of customerIds) this.lru.set(lruKey(v, id), null);
    }
    return { versions };
  }

  status(): ModelSourceStatus {
    const h = this.cache.health();
    const detail = !h.ready ? `${h.detail ?? 'cache unreachable'}${this.model ? `; serving ${this.model.version} from memory` : ''}` : (this.problem ?? this.breakerDetail);
    return {
      cache: h.ready && !this.problem && !this.breakerDetail ? 'ok' : 'degraded',
      version: this.model?.version ?? null,
      ...(detail ? { detail } : {}),
      ...(this.lastSwapAt ? { lastSwapAt: this.lastSwapAt } : {}),
    };
  }

  onSwap(listener: (model: LoadedModel) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): CacheStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.offHealth?.();
    await this.unsubscribe?.().catch(() => undefined);
    await this.unsubscribeChanges?.().catch(() => undefined);
    await this.chain.catch(() => undefined);
    if (this.options.ownsCache) await this.cache.close();
  }
}
