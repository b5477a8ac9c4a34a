/**
 * The per-instance personal-list cache (src/serve/list-cache.ts): a list is served again only
 * while the model, the customer's access answer, their record and the stock set are the same
 * objects, so a model swap, a rewritten record (purchase event), an erasure, a consent change
 * (CustomerAccessCache.invalidate) and a stock refresh all show at once; time-dependent lists are
 * never cached; a cached list equals a fresh computation and is frozen.
 */
import { describe, expect, it } from 'vitest';
import { type LoadedModel, type ModelSource, staticModelSource } from '../src/cache/model-source.js';
import type { CustomerRecord } from '../src/core/bundle.js';
import { CustomerAccessCache } from '../src/serve/customer-access.js';
import type { ChainStep } from '../src/serve/fallback-chain.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import { ListCache } from '../src/serve/list-cache.js';
import { RecommendationService } from '../src/serve/recommendation-service.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const NOW = Date.UTC(2026, 10, 1, 12);
const IDS = { tea: 'c-tea', mug: 'c-mug', novec: 'c-novec' };

/** A model source over tiny bundles whose version in service can be swapped (every call goes to the current one). */
function swappableSource(): ModelSource & { swap(version: string): void } {
  let inner = staticModelSource(tinyBundle(IDS, NOW, 'tiny-1'));
  const listeners = new Set<(m: LoadedModel) => void>();
  const source = {} as Record<string, unknown>;
  for (const [key, value] of Object.entries(inner)) {
    if (typeof value === 'function') source[key] = (...args: unknown[]) => (inner as unknown as Record<string, (...a: unknown[]) => unknown>)[key](...args);
  }
  return Object.assign(source as unknown as ModelSource, {
    onSwap(l: (m: LoadedModel) => void) {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    swap(version: string) {
      inner = staticModelSource(tinyBundle(IDS, NOW, version));
      for (const l of listeners) l(inner.current()!);
    },
  });
}

function world(options: { listCacheSize?: number; chain?: ChainStep[] } = {}) {
  const consent = new Map(Object.values(IDS).map((id) => [id, true]));
  const queries = { n: 0 };
  const store = {
    async customerAccess(id: string) {
      queries.n++;
      return consent.has(id) ? { canonicalId: id, personalisation: consent.get(id)! } : null;
    },
    async canonicalCustomerId(id: string) {
      return consent.has(id) ? id : null;
    },
    async hasConsent(id: string) {
      return consent.get(id) ?? false;
    },
    async customerSkus() {
      return [];
    },
  };
  let stock = new Map([['S1', new Set(['TEA-2', 'MUG-2', 'MUG-3'])]]);
  const inventory = new InventorySnapshot(async () => stock);
  const source = swappableSource();
  const access = new CustomerAccessCache(store, { ttlMs: 30_000, maxEntries: 100 });
  const fallbacks: string[] = [];
  const make = (listCacheSize?: number) => {
    const service = new RecommendationService({
      source,
      store,
      access,
      inventory,
      chain: options.chain ?? ['personal', 'neighbours', 'segment', 'popular'],
      onFallback: (_e, reason) => fallbacks.push(reason),
      now: () => NOW,
      listCacheSize,
    });
    source.onSwap((m) => service.prepare(m));
    return service;
  };
  return {
    service: make(options.listCacheSize),
    /** The same world without the cache: what every list must equal. */
    uncached: make(0),
    source,
    access,
    consent,
    queries,
    inventory,
    fallbacks,
    setStock: (s: Map<string, Set<string>>) => void (stock = s),
  };
}

const skus = (l: { items: { sku: string }[] }) => l.items.map((i) => i.sku);

describe('personal list cache', () => {
  it('answers a repeated request with the same (frozen) list, equal to a fresh computation', async () => {
    const w = world();
    await w.inventory.refresh();
    for (const options of [{ limit: 3 }, { limit: 5, category: ['mug'] }, { limit: 2, store: 'S1' }]) {
      const a = await w.service.personal(IDS.tea, options);
      const b = await w.service.personal(IDS.tea, { ...options });
      expect(b).toBe(a);
      expect(a).toEqual(await w.uncached.personal(IDS.tea, options));
      expect(Object.isFrozen(a) && Object.isFrozen(a.items) && Object.isFrozen(a.items[0].reason)).toBe(true);
    }
    // other options, other customers: other entries
    expect(await w.service.personal(IDS.tea, { limit: 4 })).not.toBe(await w.service.personal(IDS.tea, { limit: 3 }));
    expect(skus(await w.service.personal(IDS.mug, { limit: 3 }))).toEqual(skus(await w.uncached.personal(IDS.mug, { limit: 3 })));
  });

  it('a rewritten record (purchase event → putCustomer) is used at once', async () => {
    const w = world();
    const before = await w.service.personal(IDS.tea, { limit: 3 });
    expect(skus(before)).toEqual(['TEA-3', 'TEA-2', 'MUG-3']);
    const model = w.source.current()!;
    const old = (await w.source.customer(IDS.tea, model))!;
    const record: CustomerRecord = { ...old, vector: Float32Array.from([0, 1]) }; // now a mug person
    await w.source.putCustomer(IDS.tea, record, model);
    const after = await w.service.personal(IDS.tea, { limit: 3 });
    expect(skus(after)).toEqual(['MUG-3', 'MUG-1', 'MUG-2']);
    expect(after).toEqual(await w.uncached.personal(IDS.tea, { limit: 3 }));
  });

  it('consent withdrawn + access.invalidate(id): no personal list from then on', async () => {
    const w = world();
    expect((await w.service.personal(IDS.tea, { limit: 3 })).model.source).toBe('factors');
    w.consent.set(IDS.tea, false);
    // without invalidation the instance keeps its answer for the TTL (the documented contract) ...
    expect((await w.service.personal(IDS.tea, { limit: 3 })).model.source).toBe('factors');
    // ... invalidate() is the one call that forgets it, and every list built on it
    w.access.invalidate(IDS.tea);
    const after = await w.service.personal(IDS.tea, { limit: 3 });
    expect(after).toMatchObject({ fallback: true, fallbackReason: 'no_consent', model: { source: 'popular' } });
  });

  it('erasure (record deleted, access invalidated): nothing personal is served from the cache', async () => {
    const w = world();
    await w.service.personal(IDS.tea, { limit: 3 });
    await w.source.putCustomer(IDS.tea, null, w.source.current()!);
    w.consent.delete(IDS.tea);
    w.access.invalidate(IDS.tea);
    expect(await w.service.personal(IDS.tea, { limit: 3 })).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer' });
  });

  it('a model swap: lists come from the new version', async () => {
    const w = world();
    expect((await w.service.personal(IDS.tea, { limit: 3 })).model.version).toBe('tiny-1');
    w.source.swap('tiny-2');
    expect((await w.service.personal(IDS.tea, { limit: 3 })).model.version).toBe('tiny-2');
  });

  it('a stock refresh: store lists follow the new snapshot', async () => {
    const w = world();
    await w.inventory.refresh();
    expect(skus(await w.service.personal(IDS.tea, { limit: 2, store: 'S1' }))).toEqual(['TEA-2', 'MUG-3']);
    w.setStock(new Map([['S1', new Set(['TEA-3', 'MUG-3'])]]));
    await w.inventory.refresh();
    expect(skus(await w.service.personal(IDS.tea, { limit: 2, store: 'S1' }))).toEqual(['TEA-3', 'MUG-3']);
  });

  it('time-dependent lists (excludePurchased=false: buy-again reasons) and customers without a vector are not cached', async () => {
    const w = world();
    const a = await w.service.personal(IDS.tea, { limit: 3, excludePurchased: false });
    expect(await w.service.personal(IDS.tea, { limit: 3, excludePurchased: false })).not.toBe(a);
    const n = await w.service.personal(IDS.novec, { limit: 3 });
    expect(await w.service.personal(IDS.novec, { limit: 3 })).not.toBe(n);
  });

  it('fallbacks are counted on cached answers too', async () => {
    const w = world({ chain: ['neighbours', 'popular'] });
    const a = await w.service.personal(IDS.tea, { limit: 3 });
    expect(await w.service.personal(IDS.tea, { limit: 3 })).toBe(a);
    expect(a.fallback).toBe(true);
    expect(w.fallbacks).toEqual([a.fallbackReason, a.fallbackReason]);
  });
});

describe('CustomerAccessCache answer identity', () => {
  it('the same answer object until the answer changes or is invalidated', async () => {
    const w = world();
    const a = await w.access.resolve(IDS.tea);
    expect(await w.access.resolve(IDS.tea)).toBe(a);
    w.access.invalidate(IDS.mug); // someone else
    expect(await w.access.resolve(IDS.tea)).toBe(a);
    w.access.invalidate(IDS.tea);
    const b = await w.access.resolve(IDS.tea);
    expect(b).toEqual(a);
    expect(b).not.toBe(a);
  });
});

describe('ListCache', () => {
  const list = (v: string) => ({ items: [], model: { version: v, source: 'popular' as const }, fallback: true });
  it('hits only with identical inputs, drops the oldest entry when full', () => {
    const c = new ListCache(2);
    const x = {};
    c.set('a', [x, 1], list('a'));
    expect(c.get('a', [x, 1])?.model.version).toBe('a');
    expect(c.get('a', [{}, 1])).toBeUndefined(); // equal but not the same object
    expect(c.get('a', [x, 1])).toBeUndefined(); // a mismatch drops the entry
    c.set('a', [x], list('a'));
    c.set('b', [x], list('b'));
    c.set('c', [x], list('c'));
    expect(c.size).toBe(2);
    expect(c.get('a', [x])).toBeUndefined();
    expect(c.get('c', [x])?.model.version).toBe('c');
  });
  it('size 0 caches nothing', () => {
    const c = new ListCache(0);
    c.set('a', [], list('a'));
    expect(c.get('a', [])).toBeUndefined();
  });
});

describe('session list cache', () => {
  it('a repeated session is the same (frozen) list, equal to a fresh computation; order, options and stock make other entries', async () => {
    const w = world();
    await w.inventory.refresh();
    const a = await w.service.session(['TEA-1', 'MUG-1'], { limit: 3 });
    expect(await w.service.session(['TEA-1', 'MUG-1'], { limit: 3 })).toBe(a);
    expect(a).toEqual(await w.uncached.session(['TEA-1', 'MUG-1'], { limit: 3 }));
    expect(await w.service.session(['MUG-1', 'TEA-1'], { limit: 3 })).not.toBe(a);
    expect(await w.service.session(['TEA-1', 'MUG-1'], { limit: 2 })).not.toBe(a);
    const inStore = await w.service.session(['TEA-1'], { limit: 3, store: 'S1' });
    w.setStock(new Map([['S1', new Set(['MUG-3'])]]));
    await w.inventory.refresh();
    const after = await w.service.session(['TEA-1'], { limit: 3, store: 'S1' });
    expect(after).not.toBe(inStore);
    expect(skus(after)).toEqual(['MUG-3']);
  });
});
