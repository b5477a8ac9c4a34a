/**
 * One contract suite for every vector cache backend: the embedded cache in process ("memory://"),
 * the embedded cache persisted to a directory, Redis when REDIS_URL is set, and a throwaway 3-master
 * Redis Cluster (test/helpers/redis-cluster.ts) when the redis-server binary is on PATH. Each test uses
 * its own random CACHE_PREFIX and removes its keys afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { decodeCustomer } from '../src/cache/codec.js';
import { cacheKeys, ITEM_BLOBS, type CacheKeys } from '../src/cache/keys.js';
import { loadModel } from '../src/cache/load-model.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import type { LoadedModel } from '../src/cache/model-source.js';
import { cleanup, listVersions, publishBundle, rollback } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import type { VectorCache } from '../src/cache/vector-cache.js';
import { parseConfig } from '../src/config.js';
import { NotFoundError } from '../src/core/errors.js';
import { bits, fixtureBundle } from './helpers/cache-bundle.js';
import { redisServerAvailable, startRedisCluster, type RedisCluster } from './helpers/redis-cluster.js';

interface Backend {
  name: string;
  /** A new client of the same backend (a second process would have its own). */
  open(): Promise<VectorCache>;
}

let dir = '';
const memoryName = `memory://contract-${randomBytes(4).toString('hex')}`;
const backends: Backend[] = [
  { name: 'embedded (memory://)', open: async () => new MemoryCache(memoryName) },
  { name: 'embedded (CACHE_DIR)', open: async () => new MemoryCache(dir, { pollMs: 20 }) },
];
if (process.env.REDIS_URL) {
  const url = process.env.REDIS_URL;
  backends.push({ name: 'redis', open: () => RedisCache.open(url, { require: true }) });
}
// started on first use (about 2 s), stopped after the file
let cluster: Promise<RedisCluster> | undefined;
if (redisServerAvailable()) {
  backends.push({
    name: 'redis cluster (3 masters)',
    open: async () => {
      cluster ??= startRedisCluster();
      const cfg = parseConfig({ REDIS_CLUSTER_NODES: (await cluster).nodes });
      return RedisCache.open(cfg.REDIS_CLUSTER_NODES!, { require: true });
    },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cache-contract-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await (await cluster)?.stop();
});

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function expectSameItemSide(m: LoadedModel, b: ReturnType<typeof fixtureBundle>): void {
  expect(m.items).toEqual(b.items);
  expect(m.itemCategories).toEqual(b.itemCategories);
  expect(m.manifest).toEqual(b.manifest);
  expect(m.blend).toEqual(b.blend);
  expect(m.als && { k: m.als.k, reg: m.als.reg, alpha: m.als.alpha }).toEqual({ k: b.als!.k, reg: b.als!.reg, alpha: b.als!.alpha });
  expect(bits(m.als!.itemFactors)).toBe(bits(b.als!.itemFactors));
  for (const part of ['neighbours', 'fbt'] as const) {
    for (const f of ['indptr', 'indices', 'scores'] as const) expect(bits(m[part][f])).toBe(bits(b[part][f]));
  }
  const ranked = (x: { items: Int32Array; scores: Float32Array }) => [bits(x.items), bits(x.scores)];
  expect(ranked(m.popular.global)).toEqual(ranked(b.popular.global));
  expect(ranked(m.popular.trending)).toEqual(ranked(b.popular.trending));
  expect(Object.keys(m.popular.byStore).sort()).toEqual(Object.keys(b.popular.byStore).sort());
  for (const s of Object.keys(b.popular.byStore)) expect(ranked(m.popular.byStore[s])).toEqual(ranked(b.popular.byStore[s]));
  for (const s of ['vip', 'new'] as const) expect(ranked(m.popular.bySegment[s]!)).toEqual(ranked(b.popular.bySegment[s]!));
  b.items.forEach((sku, i) => expect(m.itemIndex.get(sku)).toBe(i));
}

for (const backend of backends) {
  describe(`vector cache contract: ${backend.name}`, () => {
    let keys: CacheKeys;
    const opened: { close(): Promise<void> }[] = [];
    const open = async () => {
      const c = await backend.open();
      opened.push(c);
      return c;
    };
    const source = async (cache: VectorCache, lruSize = 100) => {
      const s = await new CacheModelSource(cache, keys, { lruSize, pointerPollMs: 0 }).start();
      opened.unshift(s);
      return s;
    };

    afterEach(async () => {
      const c = await backend.open();
      for await (const batch of c.scan(`${keys.prefix}:*`)) await c.delete(batch);
      await c.close();
      for (const o of opened.splice(0)) await o.close();
    });

    it('publishes a version that loads back bit-for-bit, customers included', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      const b = fixtureBundle('v1');
      const seen: number[] = [];
      const r = await publishBundle(cache, keys, b, { batchSize: 5, progress: (d) => seen.push(d) });
      expect(r).toMatchObject({ version: 'v1', previous: null, reused: false, customers: 12, items: 20 });
      expect(seen).toEqual([5, 10, 12]);
      expectSameItemSide(await loadModel(cache, keys, 'v1'), b);
      for (const c of b.customers) {
        const back = decodeCustomer(c.customerId, (await cache.get(keys.customer('v1', c.customerId)))!);
        expect(back.segment).toBe(c.segment);
        for (const f of ['vector', 'items', 'counts', 'lastTime', 'intervalDays'] as const) expect(bits(back[f])).toBe(bits(c[f]));
      }
      // a second client sees the pointer
      const other = await open();
      expect((await other.getMany([keys.current]))[0]?.toString()).toBe('v1');
    });

    it('flips the pointer and announces: a second ModelSource swaps whole versions', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const publisher = await open();
      const src = await source(await open());
      expect(src.current()).toBeNull();
      expect(src.status()).toMatchObject({ cache: 'ok', version: null });
      const swaps: string[] = [];
      src.onSwap((m) => swaps.push(m.version));
      await publishBundle(publisher, keys, fixtureBundle('v1', { tag: 1 }));
      await until(() => src.current()?.version === 'v1');
      const r2 = await publishBundle(publisher, keys, fixtureBundle('v2', { tag: 2 }));
      expect(r2.previous).toBe('v1');
      await until(() => src.current()?.version === 'v2');
      expect(src.current()!.als!.itemFactors[0]).toBe(2);
      expect(swaps).toEqual(['v1', 'v2']);
      expect(src.status()).toMatchObject({ cache: 'ok', version: 'v2' });
      expect(src.stats().swaps).toBe(2);
      // a source started after the publish loads the current version at start
      const late = await source(await open());
      expect(late.current()?.version).toBe('v2');
      expectSameItemSide(late.current()!, fixtureBundle('v2', { tag: 2 }));
    });

    it('rolls back to the previous or a named version, and refuses unknown ones without change', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      const src = await source(await open());
      for (const [i, v] of ['v1', 'v2', 'v3'].entries()) await publishBundle(cache, keys, fixtureBundle(v, { tag: i + 1 }));
      await until(() => src.current()?.version === 'v3');
      expect(await rollback(cache, keys)).toEqual({ from: 'v3', to: 'v2' });
      await until(() => src.current()?.version === 'v2');
      expect(src.current()!.popular.global.scores[0]).toBe(2);
      expect(await rollback(cache, keys)).toEqual({ from: 'v2', to: 'v1' });
      await expect(rollback(cache, keys)).rejects.toThrow(NotFoundError);
      expect(await rollback(cache, keys, 'v3')).toEqual({ from: 'v1', to: 'v3' });
      await expect(rollback(cache, keys, 'v9')).rejects.toThrow(/v9 is not published/);
      await expect(rollback(cache, keys, 'bad version!')).rejects.toThrow(/invalid model version/);
      expect((await cache.getMany([keys.current]))[0]?.toString()).toBe('v3');
      await until(() => src.current()?.version === 'v3');
      await expect(loadModel(cache, keys, 'v9')).rejects.toThrow(NotFoundError);
    });

    it('lists versions with counts and the current marker; republishing a complete version only moves the pointer', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      await publishBundle(cache, keys, fixtureBundle('v1', { createdAt: '2026-11-01T00:00:00.000Z' }));
      await publishBundle(cache, keys, fixtureBundle('v2', { customers: 7, tag: 2 }));
      const list = await listVersions(cache, keys);
      expect(list.map((v) => [v.version, v.current, v.customers, v.items])).toEqual([
        ['v2', true, 7, 20],
        ['v1', false, 12, 20],
      ]);
      expect(list[1].createdAt).toBe('2026-11-01T00:00:00.000Z');
      expect(list[0].bytes).toBeGreaterThan(20 * 4 * 4);
      const again = await publishBundle(cache, keys, fixtureBundle('v1', { createdAt: '2026-11-01T00:00:00.000Z' }));
      expect(again).toMatchObject({ reused: true, previous: 'v2' });
      expect((await listVersions(cache, keys)).map((v) => [v.version, v.current])).toEqual([
        ['v1', true],
        ['v2', false],
      ]);
    });

    it('cleanup keeps the newest N and always the current version, deleting every key of the others', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      for (const [i, v] of ['v1', 'v2', 'v3', 'v4'].entries()) await publishBundle(cache, keys, fixtureBundle(v, { tag: i + 1 }));
      await rollback(cache, keys, 'v1');
      const r = await cleanup(cache, keys, 1);
      expect(r.deleted.sort()).toEqual(['v2', 'v3']);
      expect(r.kept.sort()).toEqual(['v1', 'v4']);
      // 5 item blobs + complete marker + 12 customers per version
      expect(r.keys).toBe(2 * (5 + 1 + 12));
      for (const v of ['v2', 'v3']) {
        for (const p of keys.versionPatterns(v)) for await (const batch of cache.scan(p)) expect(batch).toEqual([]);
        await expect(rollback(cache, keys, v)).rejects.toThrow(NotFoundError);
      }
      expectSameItemSide(await loadModel(cache, keys, 'v1'), fixtureBundle('v1', { tag: 1 }));
      expect((await cleanup(cache, keys, 0)).deleted).toEqual(['v4']);
      expect((await listVersions(cache, keys)).map((v) => v.version)).toEqual(['v1']);
      await expect(cleanup(cache, keys, -1)).rejects.toThrow(/keep/);
    });

    it('a publish that fails half-way changes nothing and leaves no keys behind', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      await publishBundle(cache, keys, fixtureBundle('v1'));
      const bad = fixtureBundle('v2', { tag: 2 });
      bad.customers[9] = { ...bad.customers[9], counts: new Float32Array(99) };
      await expect(publishBundle(cache, keys, bad, { batchSize: 4 })).rejects.toThrow(/cust-9: items, counts/);
      expect((await cache.getMany([keys.current]))[0]?.toString()).toBe('v1');
      expect((await listVersions(cache, keys)).map((v) => v.version)).toEqual(['v1']);
      for (const p of keys.versionPatterns('v2')) for await (const batch of cache.scan(p)) expect(batch).toEqual([]);
      await expect(loadModel(cache, keys, 'v2')).rejects.toThrow(NotFoundError);
    });

    it('cleanup --orphans removes unlisted versions left by a killed publish, and nothing else', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      await publishBundle(cache, keys, fixtureBundle('v1'));
      // what a publish killed after its first batches leaves: item blobs and some customers, no listing, no marker
      await cache.writeBatch([
        [keys.blob('v9', 'meta'), '{}'],
        [keys.blob('v9', 'items'), Buffer.from([1])],
        [keys.customer('v9', 'a'), Buffer.from([2])],
        [keys.customer('v9', 'b'), Buffer.from([3])],
      ]);
      expect(await cleanup(cache, keys, 0)).toEqual({ deleted: [], keys: 0, kept: ['v1'] });
      expect(await cleanup(cache, keys, 0, { orphans: true })).toEqual({ deleted: ['v9'], keys: 4, kept: ['v1'] });
      for (const p of keys.versionPatterns('v9')) for await (const batch of cache.scan(p)) expect(batch).toEqual([]);
      expectSameItemSide(await loadModel(cache, keys, 'v1'), fixtureBundle('v1'));
    });

    it('multi-key writes, reads, counts, scans and deletes take keys of many versions and customers, in order', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      // two item sides (two hash tags) and 300 customers of two versions: on a cluster, ~300 slots on every master
      const entries: [string, Buffer][] = [
        ...['v1', 'v2'].flatMap((v) => ITEM_BLOBS.map((b): [string, Buffer] => [keys.blob(v, b), Buffer.from(`${v}/${b}`)])),
        ...Array.from({ length: 300 }, (_, i): [string, Buffer] => [keys.customer(i % 2 ? 'v1' : 'v2', `c${i}`), Buffer.from([i & 255, i >> 8])]),
      ];
      await cache.writeBatch(entries);
      const all = entries.map(([k]) => k);
      const wanted = [keys.customer('v1', 'nobody'), ...[...all].reverse()];
      const back = await cache.getMany(wanted);
      expect(back[0]).toBeNull();
      expect(back.slice(1).map((b) => b?.toString('hex'))).toEqual(entries.map(([, v]) => v.toString('hex')).reverse());
      expect(await cache.countExisting(wanted)).toBe(entries.length);
      const found = new Set<string>();
      for await (const batch of cache.scan(`${keys.prefix}:*`, 50)) for (const k of batch) found.add(k);
      expect([...found].sort()).toEqual(all.sort());
      const gone = wanted.filter((_, i) => i % 3 === 0);
      expect(await cache.delete(gone)).toBe(gone.length - 1);
      expect(await cache.countExisting(wanted)).toBe(entries.length - (gone.length - 1));
      expect((await cache.getMany(gone)).every((b) => b === null)).toBe(true);
    });

    it('reads, overwrites and deletes customer records through the LRU', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      const b = fixtureBundle('v1');
      await publishBundle(cache, keys, b);
      const src = await source(await open(), 2);
      const m = src.current()!;
      const c3 = b.customers[3];
      const got = await src.customer('cust-3', m);
      expect(bits(got!.vector)).toBe(bits(c3.vector));
      expect(bits(got!.items)).toBe(bits(c3.items));
      expect(await src.customer('cust-3', m)).toBe(got);
      expect(await src.customer('nobody', m)).toBeNull();
      expect(src.stats()).toMatchObject({ cacheHits: 1, lruHits: 1, misses: 1, errors: 0 });
      // capacity 2: reading two more customers evicts cust-3
      await src.customer('cust-1', m);
      await src.customer('cust-2', m);
      await src.customer('cust-3', m);
      expect(src.stats()).toMatchObject({ cacheHits: 4, lruHits: 1 });

      const updated = { ...c3, vector: Float32Array.from([9, 8, 7, 6]) };
      await src.putCustomer('cust-3', updated, m);
      expect(Array.from((await src.customer('cust-3', m))!.vector!)).toEqual([9, 8, 7, 6]);
      const fresh = await source(await open());
      expect(Array.from((await fresh.customer('cust-3', fresh.current()!))!.vector!)).toEqual([9, 8, 7, 6]);
      await src.putCustomer('cust-new', { ...c3, customerId: 'ignored' }, m);
      expect((await fresh.customer('cust-new', m))?.customerId).toBe('cust-new');

      await src.putCustomer('cust-3', null, m);
      expect(await src.customer('cust-3', m)).toBeNull();
      const fresh2 = await source(await open());
      expect(await fresh2.customer('cust-3', fresh2.current()!)).toBeNull();
    });

    it('keeps answering a request in the version it started with after a swap', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      const b1 = fixtureBundle('v1', { tag: 1 });
      const b2 = fixtureBundle('v2', { tag: 2 });
      await publishBundle(cache, keys, b1);
      const src = await source(await open());
      const m1 = src.current()!;
      await publishBundle(cache, keys, b2);
      await until(() => src.current()?.version === 'v2');
      expect(bits((await src.customer('cust-4', m1))!.vector)).toBe(bits(b1.customers[4].vector));
      expect(bits((await src.customer('cust-4', src.current()!))!.vector)).toBe(bits(b2.customers[4].vector));
    });

    it('never shows a mix of versions to concurrent readers during swaps', async () => {
      keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      const cache = await open();
      const src = await source(await open());
      await publishBundle(cache, keys, fixtureBundle('v1', { tag: 1, items: 300 }));
      await until(() => src.current() !== null);
      let stop = false;
      let reads = 0;
      let mixed = 0;
      const seen = new Set<string>();
      const reader = async () => {
        while (!stop) {
          const m = src.current()!;
          const tag = Number(m.version.slice(1));
          seen.add(m.version);
          if (m.manifest.version !== m.version || m.als!.itemFactors[0] !== tag || m.neighbours.scores[0] !== tag || m.popular.global.scores[0] !== tag) mixed++;
          reads++;
          await new Promise<void>((r) => setImmediate(r));
        }
      };
      const readers = Array.from({ length: 8 }, reader);
      for (let i = 2; i <= 6; i++) {
        await publishBundle(cache, keys, fixtureBundle(`v${i}`, { tag: i, items: 300 }));
        await until(() => src.current()?.version === `v${i}`);
      }
      await rollback(cache, keys, 'v3');
      await until(() => src.current()?.version === 'v3');
      stop = true;
      await Promise.all(readers);
      expect(mixed).toBe(0);
      expect(reads).toBeGreaterThan(100);
      expect([...seen].sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    });
  });
}
