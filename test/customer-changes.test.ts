/**
 * Customer changes reach every instance (src/cache/customer-changes.ts): two service instances A and B
 * on one cache prefix and one history store; B warms a customer (their record in its LRU, their access
 * answer, their personal list), then A changes them (a purchase event, an erasure, a consent withdrawal
 * announced as an import does) and B's next answer shows it, long before B's TTLs (30 s / 60 s) run out.
 * Embedded cache in process (memory://) and in a CACHE_DIR as two processes see it, always; Redis when
 * REDIS_URL is set (with PostgreSQL when DATABASE_URL is); a throwaway Redis Cluster when redis-server is installed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { announceCustomerChange } from '../src/cache/customer-changes.js';
import { cacheKeys, type CacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import type { VectorCache } from '../src/cache/vector-cache.js';
import { parseConfig } from '../src/config.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { type RedisCluster, redisServerAvailable, startRedisCluster } from './helpers/redis-cluster.js';
import { type Ids, KEYS, NOW, type ServedWorld, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

interface Backend {
  name: string;
  store: ReturnType<typeof storeBackends>[number];
  /** A new client of the backend, as another instance would have (`where`: this test's location). */
  open(where: string): Promise<VectorCache>;
  setup?: () => Promise<() => Promise<void>>;
}

const [pglite, postgres] = storeBackends();
let dir = '';
const backends: Backend[] = [
  { name: 'embedded (memory://)', store: pglite, open: async (where) => new MemoryCache(`memory://${where}`) },
  // isolated: each instance reads the directory as another process would (channel log polled)
  { name: 'embedded (CACHE_DIR, two processes)', store: pglite, open: async (where) => new MemoryCache(join(dir, where), { pollMs: 20, isolated: true }) },
];
if (process.env.REDIS_URL) {
  const url = process.env.REDIS_URL;
  backends.push({ name: `redis + ${postgres ? 'postgres' : 'embedded store'}`, store: postgres ?? pglite, open: () => RedisCache.open(url, { require: true }) });
}
if (redisServerAvailable()) {
  let cluster: RedisCluster | undefined;
  backends.push({
    name: 'redis cluster (3 masters)',
    store: pglite,
    setup: async () => {
      cluster = await startRedisCluster();
      return () => cluster!.stop();
    },
    open: () => RedisCache.open(parseConfig({ REDIS_CLUSTER_NODES: cluster!.nodes }).REDIS_CLUSTER_NODES!, { require: true }),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'customer-changes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Item = { sku: string; reason: { type: string } };
const skus = (body: { items: Item[] }) => body.items.map((i) => i.sku);

for (const backend of backends) {
  describe(`customer changes reach every instance (${backend.name})`, () => {
    let stop: (() => Promise<void>) | undefined;
    let store: Store;
    let dropStore: () => Promise<void>;
    let ids: Ids;
    let keys: CacheKeys;
    let caches: VectorCache[];
    let sources: CacheModelSource[];
    let a: ServedWorld;
    let b: ServedWorld;

    beforeAll(async () => {
      stop = await backend.setup?.();
      ({ store, cleanup: dropStore } = await backend.store.open());
      ids = await seedStore(store);
    }, 30_000);
    afterAll(async () => {
      await dropStore?.();
      await stop?.();
    });

    // the store keeps what earlier tests did; every test has its own cache prefix and two fresh instances
    beforeEach(async () => {
      const where = randomBytes(4).toString('hex');
      keys = cacheKeys(`omnirec_t_${where}`);
      caches = [await backend.open(where), await backend.open(where)];
      await publishBundle(caches[0], keys, tinyBundle(ids, NOW, 'v1'));
      sources = await Promise.all(caches.map((c) => new CacheModelSource(c, keys, { pointerPollMs: 0 }).start()));
      // one access cache per instance with the production TTL: only an announce can end what B holds
      a = await serveTinyWorld(store, { ids, source: sources[0] });
      b = await serveTinyWorld(store, { ids, source: sources[1] });
    });
    afterEach(async () => {
      for (const s of sources) await s.close();
      for await (const batch of caches[0].scan(`${keys.prefix}:*`)) await caches[0].delete(batch);
      for (const c of caches) await c.close();
    });

    /** Resolves with the ids of the next change B hears of (B's caches are already cleared then); fails after 5 s. */
    const bHears = () =>
      new Promise<readonly string[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('B heard of no customer change')), 5000);
        const off = sources[1].onCustomersChanged((changed) => {
          off();
          clearTimeout(timer);
          resolve(changed);
        });
      });
    const get = (w: ServedWorld, path: string) => request(w.app).get(path).set('x-api-key', KEYS.storefront).expect(200);
    const personal = (w: ServedWorld, id: string) => get(w, `/v1/customers/${id}/recommendations?limit=4`);

    it('a purchase event on A: B answers from the new record at once (list, buy-again)', async () => {
      const before = (await personal(b, ids.mug)).body;
      expect(before).toMatchObject({ fallback: false, model: { source: 'factors' } });
      expect((await personal(b, ids.mug)).body).toEqual(before); // warm: record in B's LRU, list in B's list cache
      expect(skus((await get(b, `/v1/customers/${ids.mug}/buy-again`)).body)).not.toContain('TEA-2');

      const heard = bHears();
      let aHeard = 0;
      sources[0].onCustomersChanged(() => aHeard++);
      const time = new Date(NOW - 86_400_000).toISOString();
      await request(a.app)
        .post('/v1/events/purchases')
        .set('x-api-key', KEYS.events)
        .send({ orderId: `cc-${randomBytes(4).toString('hex')}`, channel: 'app', customerId: ids.mug, time, lines: [{ sku: 'TEA-2', quantity: 1 }] })
        .expect(200)
        .expect((r) => expect(r.body).toMatchObject({ recordRefreshed: true, vectorRefreshed: true }));
      expect(await heard).toContain(ids.mug);

      const after = (await personal(b, ids.mug)).body;
      expect(after).toEqual((await personal(a, ids.mug)).body); // B serves what A serves
      expect(after).not.toEqual(before);
      expect(skus(after)).not.toContain('TEA-2'); // bought now: excluded
      expect(skus(after)).toContain('TEA-1'); // the new vector leans to teas
      expect(skus((await get(b, `/v1/customers/${ids.mug}/buy-again`)).body)).toContain('TEA-2');
      expect(aHeard).toBe(0); // A does not act on its own message (it forgot locally already)
    });

    it('an erasure on A: B no longer serves the customer (record, personal list)', async () => {
      expect((await personal(b, ids.tea)).body).toMatchObject({ fallback: false, model: { source: 'factors' } });
      expect(await sources[1].customer(ids.tea, sources[1].current()!)).not.toBeNull();

      const heard = bHears();
      await request(a.app).delete(`/v1/customers/${ids.merged}`).set('x-api-key', KEYS.admin).expect(200);
      expect([...(await heard)].sort()).toEqual([ids.tea, ids.merged].sort());

      const after = (await personal(b, ids.tea)).body;
      expect(after).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer', model: { source: 'popular' } });
      for (const item of after.items as Item[]) expect(item.reason.type).toBe('popular');
      expect(await sources[1].customer(ids.tea, sources[1].current()!)).toBeNull();
      expect((await get(b, `/v1/customers/${ids.tea}/buy-again`)).body).toMatchObject({ fallback: true });
    });

    it('a consent withdrawal announced (as an import does): B falls back to non-personal results', async () => {
      expect((await personal(b, ids.mug)).body).toMatchObject({ fallback: false });
      await store.setConsent(ids.mug, 'personalisation', false, 'test');
      try {
        expect((await personal(b, ids.mug)).body).toMatchObject({ fallback: false }); // B's answer is cached for 30 s
        const heard = bHears();
        await announceCustomerChange(caches[0], keys, { from: 'import', ids: [ids.mug] });
        await heard;
        const after = (await personal(b, ids.mug)).body;
        expect(after).toMatchObject({ fallback: true, fallbackReason: 'no_consent', model: { source: 'popular' } });
      } finally {
        await store.setConsent(ids.mug, 'personalisation', true, 'test');
      }
    });
  });
}
