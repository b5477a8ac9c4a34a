/**
 * CacheModelSource and customer changes, one instance at a time (embedded cache in process): a record
 * read before a change and answered after it is not put back into the LRU (the race guard), own and
 * malformed messages are harmless, and a reconnect forgets every customer (announces may have been lost).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { encodeCustomer } from '../src/cache/codec.js';
import { decodeCustomerChange, encodeCustomerChange } from '../src/cache/customer-changes.js';
import { cacheKeys, type CacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import type { LoadedModel } from '../src/cache/model-source.js';
import { publishBundle } from '../src/cache/publish.js';
import type { CacheHealth, VectorCache } from '../src/cache/vector-cache.js';
import type { CustomerRecord } from '../src/core/bundle.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const NOW = Date.UTC(2026, 10, 1, 12);
const IDS = { tea: 'c-tea', mug: 'c-mug', novec: 'c-novec' };

/** The embedded cache with replies that can be held back after the value was read, and a health switch. */
function controlledCache(inner: VectorCache) {
  let held: Promise<void> | null = null;
  let release = () => {};
  let health: CacheHealth = { ready: true };
  const healthListeners = new Set<(h: CacheHealth) => void>();
  const cache: VectorCache = Object.assign(Object.create(inner) as VectorCache, {
    async get(key: string) {
      const value = await inner.get(key);
      if (held) await held; // the value read now, answered later (a reply in flight)
      return value;
    },
    health: () => health,
    onHealth(l: (h: CacheHealth) => void) {
      healthListeners.add(l);
      return () => void healthListeners.delete(l);
    },
  });
  return {
    cache,
    hold() {
      held = new Promise((r) => (release = r));
    },
    release() {
      held = null;
      release();
    },
    setHealth(h: CacheHealth) {
      health = h;
      for (const l of healthListeners) l(h);
    },
  };
}

describe('CacheModelSource and customer changes', () => {
  let keys: CacheKeys;
  let caches: VectorCache[];
  let control: ReturnType<typeof controlledCache>;
  let a: CacheModelSource;
  let b: CacheModelSource;
  let model: LoadedModel;
  let renewed: CustomerRecord;

  beforeEach(async () => {
    const name = `memory://changes-${randomBytes(4).toString('hex')}`;
    keys = cacheKeys('omnirec_t');
    caches = [new MemoryCache(name), new MemoryCache(name)];
    const bundle = tinyBundle(IDS, NOW, 'v1');
    await publishBundle(caches[0], keys, bundle);
    control = controlledCache(caches[1]);
    a = await new CacheModelSource(caches[0], keys, { pointerPollMs: 0 }).start();
    b = await new CacheModelSource(control.cache, keys, { pointerPollMs: 0 }).start();
    model = b.current()!;
    // mug's record as a purchase event rewrites it: a tea lover now
    renewed = { ...bundle.customers.find((c) => c.customerId === IDS.mug)!, vector: Float32Array.of(1, 0) };
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    for (const c of caches) await c.close();
  });

  const vectorOf = async (s: CacheModelSource) => Array.from((await s.customer(IDS.mug, model))!.vector!);

  it('a record read before another instance changed it, answered after, is served once and not cached', async () => {
    control.hold();
    const inFlight = b.customer(IDS.mug, model);
    await a.putCustomer(IDS.mug, renewed, a.current()!);
    await a.announceCustomers([IDS.mug]);
    control.release();
    expect(Array.from((await inFlight)!.vector!)).toEqual([0, 1]); // what it read
    expect(await vectorOf(b)).toEqual([1, 0]); // the next lookup reads again
    expect(await vectorOf(b)).toEqual([1, 0]);
    expect(b.stats()).toMatchObject({ cacheHits: 2, lruHits: 1 });
  });

  it('nor is one read before this instance rewrote it', async () => {
    control.hold();
    const inFlight = b.customer(IDS.mug, model);
    await b.putCustomer(IDS.mug, renewed, model);
    control.release();
    await inFlight;
    expect(await vectorOf(b)).toEqual([1, 0]);
  });

  it('a change drops only the ids named; no ids = every customer', async () => {
    await vectorOf(b);
    await b.customer(IDS.tea, model);
    const heard: (readonly string[])[] = [];
    b.onCustomersChanged((ids) => heard.push(ids));
    await caches[0].writeBatch([[keys.customer('v1', IDS.mug), encodeCustomer(renewed)]]);
    await a.announceCustomers([IDS.tea]);
    expect(await vectorOf(b)).toEqual([0, 1]); // mug was not named: still the LRU's
    await a.announceCustomers([]);
    expect(await vectorOf(b)).toEqual([1, 0]);
    expect(heard).toEqual([[IDS.tea], []]);
  });

  it('own and malformed messages change nothing', async () => {
    await vectorOf(b);
    const heard: (readonly string[])[] = [];
    b.onCustomersChanged((ids) => heard.push(ids));
    await caches[0].writeBatch([[keys.customer('v1', IDS.mug), encodeCustomer(renewed)]]);
    await b.announceCustomers([IDS.mug]);
    for (const m of ['not json', '{"ids": ["x"]}', '{"from": "x", "ids": [1]}', 'null']) await caches[0].publish(keys.customerChanges, m);
    expect(heard).toEqual([]);
    expect(await vectorOf(b)).toEqual([0, 1]);
  });

  it('a reconnect forgets every customer: announces made while disconnected were lost', async () => {
    await vectorOf(b);
    const heard: (readonly string[])[] = [];
    b.onCustomersChanged((ids) => heard.push(ids));
    await caches[0].writeBatch([[keys.customer('v1', IDS.mug), encodeCustomer(renewed)]]);
    control.setHealth({ ready: false, detail: 'connection lost' });
    control.setHealth({ ready: true });
    expect(heard).toEqual([[]]);
    expect(await vectorOf(b)).toEqual([1, 0]);
  });

  it('messages round-trip', () => {
    const m = { from: 'i-1', ids: ['1042', '977'] };
    expect(decodeCustomerChange(encodeCustomerChange(m))).toEqual(m);
    expect(decodeCustomerChange('[]')).toBeNull();
  });
});
