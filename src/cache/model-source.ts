/**
 * What serving reads models from: the version in service (item side, in memory) and
 * per-customer records (one cache round trip, behind an in-process LRU).
 *
 * - `staticModelSource(bundle)`: one bundle held in memory (tests, demo).
 * - `openModelSource(cfg)` (src/cache/open-model-source.ts): Redis when REDIS_URL is set, else the
 *   embedded cache in CACHE_DIR; loads the current version at start and swaps on announce.
 */
import type { CustomerRecord, ModelBundle } from '../core/bundle.js';

/** The item side of the version in service: everything of ModelBundle but customers, plus lookups. */
export interface LoadedModel extends Omit<ModelBundle, 'customers'> {
  version: string;
  /** sku → item index */
  itemIndex: Map<string, number>;
}

export interface ModelSourceStatus {
  cache: 'ok' | 'degraded';
  version: string | null;
  detail?: string;
  lastSwapAt?: string;
}

/**
 * Monotonic counters of customer lookups and swaps, for serving to export (prom-client):
 * `lruHits` answered in process, `cacheHits` found in the cache, `misses` unknown customers,
 * `errors` cache unreachable / timed out (the lookup returned null), `swaps` versions swapped in,
 * `swapFailures` announced versions that could not be loaded (the old one stays in service).
 */
export interface CacheStats {
  lruHits: number;
  cacheHits: number;
  misses: number;
  errors: number;
  swaps: number;
  swapFailures: number;
}

export interface ModelSource {
  /** The version in service, swapped whole on publish/rollback (never a mix), or null before any publish. */
  current(): LoadedModel | null;
  /** One customer's record in that version: in-process LRU, else one cache round trip; null if unknown or cache down. */
  customer(customerId: string, model: LoadedModel): Promise<CustomerRecord | null>;
  /**
   * `customer`'s answer when it is known without waiting (held in process), else undefined: a request path that can
   * answer synchronously goes on without a promise, and calls `customer` otherwise. Optional.
   */
  customerNow?(customerId: string, model: LoadedModel): CustomerRecord | null | undefined;
  /**
   * Overwrites one customer's record in the current version (purchase events, fold-in) or deletes it
   * (null). Never writes the record of an erased customer, even when the erasure comes while the
   * record is being computed: the write is refused atomically against the erasure list (returns false).
   */
  putCustomer(customerId: string, record: CustomerRecord | null, model: LoadedModel): Promise<boolean>;
  /**
   * Erasure: deletes the customers' records from every version kept (so no rollback brings them back)
   * and remembers them as erased, so that no later publish writes them again (src/cache/erasure.ts).
   * Returns the versions purged.
   */
  eraseCustomers(customerIds: readonly string[]): Promise<{ versions: string[] }>;
  /**
   * Tells every other instance that these customers' data changed (empty: every customer), so that
   * they forget what they cache about them (src/cache/customer-changes.ts). Never throws: when the
   * announce fails, the other instances' TTLs bound what they serve.
   */
  announceCustomers(customerIds: readonly string[]): Promise<void>;
  /**
   * Called when another instance announced a change, after this source dropped their records
   * (empty: every customer, e.g. after a reconnect, as announces may have been missed).
   */
  onCustomersChanged(listener: (customerIds: readonly string[]) => void): () => void;
  status(): ModelSourceStatus;
  /** Called after each swap. */
  onSwap(listener: (model: LoadedModel) => void): () => void;
  close(): Promise<void>;
  /** Lookup and swap counters (optional so that test doubles need not implement it). */
  stats?(): CacheStats;
}

/** The item side of a bundle as served: shares the bundle's arrays, adds the sku lookup. */
export function loadedModelFromBundle(bundle: Omit<ModelBundle, 'customers'>, version = bundle.manifest.version): LoadedModel {
  const itemIndex = new Map<string, number>();
  bundle.items.forEach((sku, i) => itemIndex.set(sku, i));
  return {
    manifest: bundle.manifest,
    items: bundle.items,
    itemCategories: bundle.itemCategories,
    als: bundle.als,
    neighbours: bundle.neighbours,
    fbt: bundle.fbt,
    popular: bundle.popular,
    blend: bundle.blend,
    ...(bundle.served ? { served: bundle.served } : {}),
    version,
    itemIndex,
  };
}

export const emptyStats = (): CacheStats => ({ lruHits: 0, cacheHits: 0, misses: 0, errors: 0, swaps: 0, swapFailures: 0 });

/** A ModelSource over one bundle held in memory (tests, demo). */
export function staticModelSource(bundle: ModelBundle, version?: string): ModelSource {
  const model = loadedModelFromBundle(bundle, version);
  const customers = new Map<string, CustomerRecord>();
  for (const c of bundle.customers) customers.set(c.customerId, c);
  const erased = new Set<string>();
  const counters = emptyStats();
  const swappedAt = new Date().toISOString();
  const customerNow = (customerId: string, m: LoadedModel): CustomerRecord | null => {
    if (m.version !== model.version) return null;
    const r = customers.get(customerId) ?? null;
    if (r) counters.cacheHits++;
    else counters.misses++;
    return r;
  };
  return {
    current: () => model,
    async customer(customerId, m) {
      return customerNow(customerId, m);
    },
    customerNow,
    async putCustomer(customerId, record, m) {
      if (m.version !== model.version) return false;
      if (record && erased.has(customerId)) return false;
      if (record) customers.set(customerId, { ...record, customerId });
      else customers.delete(customerId);
      return true;
    },
    async eraseCustomers(ids) {
      for (const id of ids) {
        erased.add(id);
        customers.delete(id);
      }
      return { versions: [model.version] };
    },
    // one bundle in one process: nothing to tell, nobody to hear
    async announceCustomers() {},
    onCustomersChanged: () => () => {},
    status: () => ({ cache: 'ok', version: model.version, detail: 'static bundle in memory', lastSwapAt: swappedAt }),
    onSwap: () => () => {},
    async close() {},
    stats: () => ({ ...counters }),
  };
}
