/**
 * Erasure reaches every model version kept in the cache: DELETE /v1/customers/{id} removes the
 * customer's records (merged ids included) from every published version, a rollback cannot bring them
 * back, and re-publishing an older bundle from disk (`npm run publish -- <version>`) skips them.
 * Embedded cache (a CACHE_DIR, as the CLI and the server share it) with the embedded store always;
 * Redis with PostgreSQL when REDIS_URL / DATABASE_URL are set; a throwaway Redis Cluster when redis-server is installed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { cacheModelAdmin } from '../src/api/cache-model-admin.js';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { dropErased, eraseFromCache, erasedCustomers } from '../src/cache/erasure.js';
import { cacheKeys, type CacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { openVectorCache } from '../src/cache/open-vector-cache.js';
import { parseConfig } from '../src/config.js';
import { publishBundle } from '../src/cache/publish.js';
import { publishMain } from '../src/cache/publish-command.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import type { VectorCache } from '../src/cache/vector-cache.js';
import type { ModelBundle } from '../src/core/bundle.js';
import { storeBackends } from './helpers/backends.js';
import { fixtureBundle } from './helpers/cache-bundle.js';
import { type RedisCluster, redisServerAvailable, startRedisCluster } from './helpers/redis-cluster.js';
import { KEYS, NOW, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

interface Pairing {
  name: string;
  /** Starts what the pairing needs once (a throwaway cluster); returns its stop. */
  setup?: () => Promise<() => Promise<void>>;
  store: ReturnType<typeof storeBackends>[number];
  /** Environment of the publish CLI, given a working directory. */
  env(work: string, prefix: string): Record<string, string>;
  open(env: Record<string, string>): Promise<VectorCache>;
}

const [pglite, postgres] = storeBackends();
const pairings: Pairing[] = [
  {
    name: 'embedded cache + embedded store',
    store: pglite,
    env: (work, prefix) => ({ CACHE_DIR: join(work, 'cache'), CACHE_PREFIX: prefix, MODEL_DIR: join(work, 'models'), REDIS_URL: '' }),
    open: async (env) => new MemoryCache(env.CACHE_DIR, { pollMs: 20 }),
  },
];
if (process.env.REDIS_URL) {
  const url = process.env.REDIS_URL;
  pairings.push({
    name: `redis + ${postgres ? 'postgres' : 'embedded store'}`,
    store: postgres ?? pglite,
    env: (work, prefix) => ({ REDIS_URL: url, CACHE_PREFIX: prefix, MODEL_DIR: join(work, 'models') }),
    open: () => RedisCache.open(url, { require: true }),
  });
}

if (redisServerAvailable()) {
  let cluster: RedisCluster | undefined;
  pairings.push({
    name: 'redis cluster (3 masters) + embedded store',
    setup: async () => {
      cluster = await startRedisCluster();
      return () => cluster!.stop();
    },
    store: pglite,
    env: (work, prefix) => ({ REDIS_CLUSTER_NODES: cluster!.nodes, CACHE_PREFIX: prefix, MODEL_DIR: join(work, 'models'), CACHE_DIR: 'memory://' }),
    open: (env) => openVectorCache(parseConfig(env), { require: true }),
  });
}

/** Removes every key under a test's prefix (Redis is shared between tests). */
async function dropPrefix(cache: VectorCache, keys: CacheKeys): Promise<void> {
  for await (const batch of cache.scan(`${keys.prefix}:*`)) await cache.delete(batch);
}

for (const p of pairings) {
  describe(`erasure across model versions (${p.name})`, () => {
    let work: string;
    let env: Record<string, string>;
    let keys: CacheKeys;
    let cache: VectorCache;
    const closers: (() => Promise<void>)[] = [];
    let stop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      stop = await p.setup?.();
    }, 30_000);
    afterAll(async () => {
      await stop?.();
    });

    beforeEach(async () => {
      work = await mkdtemp(join(tmpdir(), 'erasure-'));
      env = p.env(work, `omnirec_t_${randomBytes(4).toString('hex')}`);
      keys = cacheKeys(env.CACHE_PREFIX);
      cache = await p.open(env);
    });
    afterEach(async () => {
      for (const c of closers.splice(0).reverse()) await c();
      await dropPrefix(cache, keys);
      await cache.close();
      await rm(work, { recursive: true, force: true });
    });

    it('removes the customer from every version: rollback and re-publishing from disk cannot bring them back', async () => {
      const { store, cleanup } = await p.store.open();
      closers.push(cleanup);
      const ids = await seedStore(store);
      // v1 was trained before the loyalty card was merged into tea: it holds a record under that id too
      const v1 = tinyBundle(ids, NOW, 'v1');
      v1.customers.push({ ...v1.customers[0], customerId: ids.merged });
      await writeBundle(env.MODEL_DIR, v1);
      await writeBundle(env.MODEL_DIR, tinyBundle(ids, NOW, 'v2'));
      const out = async (...argv: string[]) => {
        let text = '';
        await publishMain([...argv, '--json'], env, (t) => (text += t));
        return JSON.parse(text) as Record<string, unknown>;
      };
      await out('v1');
      await out('v2');

      const source = await new CacheModelSource(cache, keys, { pointerPollMs: 0 }).start();
      closers.push(() => source.close());
      const admin = cacheModelAdmin({ cache: async () => cache, keys, modelDir: env.MODEL_DIR, refresh: (v) => source.refresh(v) });
      const w = await serveTinyWorld(store, { ids, source, admin });
      const personal = () => request(w.listener).get(`/v1/customers/${ids.tea}/recommendations`).set('x-api-key', KEYS.storefront).expect(200);
      const held = async (version: string, id: string) => (await cache.get(keys.customer(version, id))) !== null;

      expect(source.current()!.version).toBe('v2');
      expect([await held('v1', ids.tea), await held('v1', ids.merged), await held('v2', ids.tea)]).toEqual([true, true, true]);
      expect((await personal()).body).toMatchObject({ fallback: false, model: { version: 'v2', source: 'factors' } });

      const del = await request(w.listener).delete(`/v1/customers/${ids.merged}`).set('x-api-key', KEYS.admin).expect(200);
      expect(del.body).toEqual({ customerId: ids.tea, erased: true, versions: ['v1', 'v2'] });
      expect([await held('v1', ids.tea), await held('v1', ids.merged), await held('v2', ids.tea)]).toEqual([false, false, false]);
      expect(await held('v1', ids.mug)).toBe(true); // nobody else
      // this instance's LRU held tea's v2 record (the list above): gone too
      expect(await source.customer(ids.tea, source.current()!)).toBeNull();
      expect([...(await erasedCustomers(cache, keys))].sort()).toEqual([ids.tea, ids.merged].sort());

      // rollback to v1: no personal record, non-personalised results
      await request(w.listener).post('/v1/admin/models/rollback').set('x-api-key', KEYS.admin).send({ version: 'v1' }).expect(200);
      expect(source.current()!.version).toBe('v1');
      expect(await source.customer(ids.tea, source.current()!)).toBeNull();
      expect(await source.customer(ids.merged, source.current()!)).toBeNull();
      const after = (await personal()).body;
      expect(after).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer', model: { version: 'v1', source: 'popular' } });
      for (const item of after.items) expect(item.reason.type).toBe('popular');

      // re-publish v1 from disk (the CLI, a bundle trained before the erasure): still absent
      const again = await out('v1');
      expect(again).toMatchObject({ version: 'v1', customers: 2, erased: 2, reused: false });
      expect([await held('v1', ids.tea), await held('v1', ids.merged)]).toEqual([false, false]);
      expect([await held('v1', ids.mug), await held('v1', ids.novec)]).toEqual([true, true]);
      // and again: now the version in the cache is complete as it stands, only the pointer moves
      expect(await out('v1')).toMatchObject({ customers: 2, erased: 2, reused: true });
      // the admin endpoint publishes the same way
      await request(w.listener).post('/v1/admin/models/v2/publish').set('x-api-key', KEYS.admin).expect(200);
      expect(await held('v2', ids.tea)).toBe(false);
    });

    it('a customer erased while a version is being published is not in it once it is current', async () => {
      const bundle: ModelBundle = fixtureBundle('race-1', { customers: 12 });
      const victim = 'cust-3';
      let erased = false;
      let erasing: Promise<unknown> = Promise.resolve();
      const r = await publishBundle(cache, keys, bundle, {
        batchSize: 4,
        // the first batch is written, the version is not listed yet: the erasure cannot see it
        progress: (done) => {
          if (done >= 4 && !erased) {
            erased = true;
            erasing = eraseFromCache(cache, keys, [victim]);
          }
        },
      });
      expect(erased).toBe(true);
      await erasing;
      expect(r.version).toBe('race-1');
      expect(await cache.get(keys.customer('race-1', victim))).toBeNull();
      expect(await cache.get(keys.customer('race-1', 'cust-4'))).not.toBeNull();
    });

    it('dropErased deletes only listed customers of the version', async () => {
      await publishBundle(cache, keys, fixtureBundle('d-1', { customers: 4 }));
      expect(await dropErased(cache, keys, 'd-1', ['cust-0', 'cust-1'])).toEqual([]);
      await eraseFromCache(cache, keys, ['cust-1', 'someone-else']);
      expect(await cache.get(keys.customer('d-1', 'cust-1'))).toBeNull();
      expect(await cache.get(keys.customer('d-1', 'cust-0'))).not.toBeNull();
      // erasure is idempotent and reports what it looked at
      expect(await eraseFromCache(cache, keys, ['cust-1'])).toEqual({ versions: ['d-1'], records: 0 });
    });
  });
}
