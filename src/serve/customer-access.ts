/**
 * Who a customer id stands for and whether we may personalise for them: the surviving
 * unified id (merged-away ids resolve to it) and their personalisation consent, read from
 * the store and reused for at most `ttlMs` (default 30 s): the hot path must not wait for
 * PostgreSQL on every request (a miss costs one query: Store.customerAccess). An answer older than half the TTL
 * is still served while a background refresh runs (stale-while-revalidate), so active customers
 * never wait, and no answer older than the TTL is ever used: a consent withdrawal reaches every
 * instance within `ttlMs` at worst (at once when announced: src/cache/customer-changes.ts). Store failures never throw: the answer is "store_unavailable", and
 * callers then serve non-personal results (consent unknown = no consent).
 *
 * The answer object itself is stable: resolve() returns the very same object for an id until the
 * answer changes or invalidate() drops it, so results derived from it can be cached against its
 * identity (RecommendationService's personal-list cache does): invalidate() is the one call that
 * forgets everything this instance derived from a customer's data (after erasure, a consent change,
 * a purchase event).
 */
import { withinOr } from '../core/deadline.js';
import type { CustomerAccess as StoredAccess, Store } from '../store/store.js';
import { BatchedReads } from './batched-reads.js';

export type CustomerAccess =
  | { status: 'ok'; customerId: string }
  | { status: 'no_consent'; customerId: string }
  | { status: 'unknown_customer' }
  | { status: 'store_unavailable' };

/** When a read of the store began (CustomerAccessCache.reading), for remember(). */
export interface AccessRead {
  at: number;
  generation: number;
}
const SHARED_READ_MS = 1000;
const STORE_SLOW: CustomerAccess = Object.freeze({ status: 'store_unavailable' });

interface Entry {
  at: number;
  access: CustomerAccess;
  refreshing: boolean;
}

/**
 * How long invalidate() remembers which ids it dropped (ms): a read of the store that began longer
 * ago than this is never remembered (no read lasts that long: statements time out far sooner).
 */
const INVALIDATION_HORIZON_MS = 60_000;

export class CustomerAccessCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * Entries keyed by another id than their answer's (a merged-away id → the survivor): survivor →
   * those keys, so invalidate() finds them without scanning every entry.
   */
  private readonly aliases = new Map<string, Set<string>>();
  /** Bumped by invalidate(): reads remember the generation they began in. */
  private generation = 0;
  /**
   * Per id, the generation and time of its last invalidation (insertion order = time order; pruned
   * past INVALIDATION_HORIZON_MS): a read of that id that began before it does not store its (older)
   * answer, while reads of other customers, which the invalidation says nothing about, still do.
   */
  private readonly invalidated = new Map<string, { generation: number; at: number }>();
  /** The generation of the last invalidation of every customer (invalidate() without ids). */
  private clearedAt = 0;

  constructor(
    /**
     * customerAccessMany (the reads of a turn of the event loop in one statement; refreshes gathered for up to
     * 100 ms) when the store has it, else customerAccess (one query), else canonicalCustomerId then hasConsent.
     */
    private readonly store: Pick<Store, 'canonicalCustomerId' | 'hasConsent'> & Partial<Pick<Store, 'customerAccess' | 'customerAccessMany'>>,
    private readonly options: {
      ttlMs: number;
      maxEntries: number;
      onStoreError?: (err: unknown) => void;
      /**
       * How long resolve() waits for the store (ms; unset: as long as it takes): then it answers
       * "store_unavailable" while the read goes on and, when it comes, is remembered for the next request.
       */
      waitMs?: number;
    } = {
      ttlMs: 30_000,
      maxEntries: 50_000,
    },
  ) {
    const many = store.customerAccessMany;
    this.batch = many ? new BatchedReads<StoredAccess>((ids) => many.call(store, ids)) : null;
  }

  private readonly batch: BatchedReads<StoredAccess> | null;

  /** Statements and ids of the batched reads (tests, metrics). */
  batchStats(): { statements: number; ids: number } {
    return { statements: this.batch?.statements ?? 0, ids: this.batch?.ids ?? 0 };
  }

  /**
   * resolve()'s answer when it is held, without waiting: fresh, or older than half the TTL with the background refresh
   * started as resolve() starts it; undefined when resolve() would read the store (a request path that can answer
   * synchronously then goes on without a promise).
   */
  held(customerId: string): CustomerAccess | undefined {
    const hit = this.entries.get(customerId);
    if (hit === undefined) return undefined;
    const age = Date.now() - hit.at;
    if (age < this.options.ttlMs / 2) return hit.access;
    if (age < this.options.ttlMs) {
      if (!hit.refreshing) {
        hit.refreshing = true;
        void this.load(customerId, true).finally(() => (hit.refreshing = false));
      }
      return hit.access;
    }
    return undefined;
  }

  async resolve(customerId: string): Promise<CustomerAccess> {
    const held = this.held(customerId);
    if (held !== undefined) return held;
    const wait = this.options.waitMs;
    if (wait === undefined) return this.load(customerId);
    return withinOr(this.load(customerId), wait, STORE_SLOW, () =>
      this.options.onStoreError?.(new Error(`the history store did not answer within ${wait} ms (customer access)`)),
    );
  }

  /**
   * Reads in flight, one per id and generation: a slow store is not asked again by every request
   * meanwhile (for at most SHARED_READ_MS: a read that never ends must not answer for ever).
   */
  private readonly loading = new Map<string, { generation: number; at: number; answer: Promise<CustomerAccess> }>();

  private load(customerId: string, background = false): Promise<CustomerAccess> {
    const pending = this.loading.get(customerId);
    if (pending && !this.invalidatedSince(customerId, pending) && Date.now() - pending.at < SHARED_READ_MS) {
      if (!background) this.batch?.hurry();
      return pending.answer;
    }
    const answer = this.read(customerId, background);
    const entry = { generation: this.generation, at: Date.now(), answer };
    this.loading.set(customerId, entry);
    const done = () => {
      if (this.loading.get(customerId) === entry) this.loading.delete(customerId);
    };
    answer.then(done, done);
    return answer;
  }

  /** Marks the start of a read of the store whose answer is to be remembered (remember()). */
  reading(): AccessRead {
    return { at: Date.now(), generation: this.generation };
  }

  /**
   * Remembers an answer read from the store since `read` began (by load(), or by a caller that read the
   * same facts in a statement of its own, e.g. the clienteling card), unless invalidate() ran meanwhile.
   * Returns the answer to use: the one already held when it says the same (so its identity is kept).
   */
  remember(customerId: string, access: CustomerAccess, read: AccessRead): CustomerAccess {
    if (this.invalidatedSince(customerId, read) || ('customerId' in access && this.invalidatedSince(access.customerId, read))) return access;
    const prev = this.entries.get(customerId)?.access;
    if (prev && sameAccess(prev, access)) access = prev;
    if (!this.entries.has(customerId) && this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.drop(oldest);
    }
    this.drop(customerId);
    this.entries.set(customerId, { at: read.at, access, refreshing: false });
    if ('customerId' in access && access.customerId !== customerId) {
      let keys = this.aliases.get(access.customerId);
      if (!keys) this.aliases.set(access.customerId, (keys = new Set()));
      keys.add(customerId);
    }
    return access;
  }

  /** Whether `id` (or every customer) was invalidated after `read` began; a read older than the horizon counts as invalidated. */
  private invalidatedSince(id: string, read: AccessRead): boolean {
    if (this.clearedAt > read.generation) return true;
    if (Date.now() - read.at >= INVALIDATION_HORIZON_MS) return true;
    const last = this.invalidated.get(id);
    return last !== undefined && last.generation > read.generation;
  }

  /** Removes one entry (and its alias link). */
  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    if ('customerId' in e.access && e.access.customerId !== key) {
      const keys = this.aliases.get(e.access.customerId);
      keys?.delete(key);
      if (keys?.size === 0) this.aliases.delete(e.access.customerId);
    }
  }

  /** Reads the store and remembers the answer (failures are not remembered). */
  private async read(customerId: string, background = false): Promise<CustomerAccess> {
    const read = this.reading();
    let access: CustomerAccess;
    try {
      if (this.batch) {
        const a = await this.batch.read(customerId, background);
        access = a === null ? { status: 'unknown_customer' } : { status: a.personalisation ? 'ok' : 'no_consent', customerId: a.canonicalId };
      } else if (this.store.customerAccess) {
        const a = await this.store.customerAccess(customerId);
        access = a === null ? { status: 'unknown_customer' } : { status: a.personalisation ? 'ok' : 'no_consent', customerId: a.canonicalId };
      } else {
        const canonical = await this.store.canonicalCustomerId(customerId);
        if (canonical === null) access = { status: 'unknown_customer' };
        else {
          const ok = await this.store.hasConsent(canonical, 'personalisation');
          access = { status: ok ? 'ok' : 'no_consent', customerId: canonical };
        }
      }
    } catch (err) {
      this.options.onStoreError?.(err);
      return { status: 'store_unavailable' };
    }
    return this.remember(customerId, access, read);
  }

  /**
   * Forgets everything known about ids (after erasure, a consent change, a purchase event), and so
   * every personal list cached for them; no ids = everything.
   */
  invalidate(...customerIds: string[]): void {
    const generation = ++this.generation;
    if (customerIds.length === 0) {
      this.clearedAt = generation;
      this.invalidated.clear();
      this.aliases.clear();
      return this.entries.clear();
    }
    // the cost is the ids', not the cache's: a purchase event invalidates its buyer many times a second
    const now = Date.now();
    for (const id of customerIds) {
      this.invalidated.delete(id);
      this.invalidated.set(id, { generation, at: now });
      this.drop(id);
      const keys = this.aliases.get(id);
      if (keys) for (const key of [...keys]) this.drop(key);
    }
    for (const [id, { at }] of this.invalidated) {
      if (now - at < INVALIDATION_HORIZON_MS) break;
      this.invalidated.delete(id);
    }
  }
}

const sameAccess = (a: CustomerAccess, b: CustomerAccess) =>
  a.status === b.status && ('customerId' in a ? a.customerId : null) === ('customerId' in b ? b.customerId : null);
