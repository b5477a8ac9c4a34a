/**
 * Redis outage and recovery against a real, throwaway redis-server (test/helpers/redis-server.ts):
 * killed mid-service, the source keeps serving its in-memory version, answers customer lookups with
 * null at once and reports degraded; restarted (empty, as it keeps nothing on disk), it reconnects by
 * itself and serves the republished version again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeys } from '../src/cache/keys.js';
import type { ModelSource } from '../src/cache/model-source.js';
import { openModelSource } from '../src/cache/open-model-source.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { UnavailableError } from '../src/core/errors.js';
import { bits, fixtureBundle } from './helpers/cache-bundle.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Redis outage and recovery', () => {
  let server: RedisServer;
  const prefix = 'omnirec_outage';
  const keys = cacheKeys(prefix);
  const cfg = () => ({ REDIS_URL: server.url, CACHE_DIR: 'unused', CACHE_PREFIX: prefix, CUSTOMER_LRU_SIZE: 100 });

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('keeps serving from memory while Redis is down, then reconnects and serves the republished version', async () => {
    const b = fixtureBundle('v1');
    const publisher = await RedisCache.open(server.url, { require: true, connectTimeoutMs: 500 });
    await publishBundle(publisher, keys, b);
    const src = await openModelSource(cfg(), { connectTimeoutMs: 500, pointerPollMs: 0 });
    try {
      const m = src.current()!;
      expect(m.version).toBe('v1');
      expect(src.status().cache).toBe('ok');
      expect(await src.customer('cust-1', m)).not.toBeNull();

      await server.stop();
      await until(() => src.status().cache === 'degraded');
      expect(src.status()).toMatchObject({ cache: 'degraded', version: 'v1' });
      expect(src.status().detail).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ .*serving v1 from memory/);
      expect(src.current()).toBe(m);
      // in the LRU: still answered; not in it: null, fast, counted as an error
      expect(bits((await src.customer('cust-1', m))!.vector)).toBe(bits(b.customers[1].vector));
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => src.customer(`cust-${(i % 10) + 2}`, m)));
      expect(performance.now() - t0).toBeLessThan(100);
      expect(results.every((r) => r === null)).toBe(true);
      expect(src.stats!().errors).toBe(50);
      await expect(src.putCustomer('cust-2', b.customers[2], m)).rejects.toThrow(UnavailableError);

      // back, empty: the source reconnects and says the pointer is gone; it still serves v1 from memory
      await server.start();
      await until(() => /pointer .* is missing/.test(src.status().detail ?? ''));
      expect(src.current()).toBe(m);
      expect(await publisher.waitReady(5000)).toBe(true);
      await publishBundle(publisher, keys, b);
      await until(() => src.status().cache === 'ok');
      expect(src.current()!.version).toBe('v1');
      expect(bits((await src.customer('cust-2', src.current()!))!.vector)).toBe(bits(b.customers[2].vector));
    } finally {
      await src.close();
      await publisher.close();
    }
  });

  it('answers null at once while Redis hangs (breaker after a few timeouts), and recovers when it answers again', async () => {
    const b = fixtureBundle('v3', { tag: 3 });
    const publisher = await RedisCache.open(server.url, { require: true });
    await publishBundle(publisher, keys, b);
    await publisher.close();
    const src = await openModelSource(cfg(), { commandTimeoutMs: 100, breakerMs: 400, pointerPollMs: 0, lruSize: 0 });
    try {
      const m = src.current()!;
      expect(m.version).toBe('v3');
      server.pause();
      let t0 = performance.now();
      for (let i = 0; i < 3; i++) expect(await src.customer(`cust-${i}`, m)).toBeNull();
      // three timeouts of ~100 ms each open the breaker
      expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
      expect(src.status()).toMatchObject({ cache: 'degraded', version: 'v3' });
      expect(src.status().detail).toMatch(/3 cache calls failed in a row .*timed out/i);
      t0 = performance.now();
      for (let i = 0; i < 20; i++) expect(await src.customer(`cust-${i % 10}`, m)).toBeNull();
      expect(performance.now() - t0).toBeLessThan(50);
      server.resume();
      // once the breaker closes (400 ms) a lookup goes through again; allow a slow, loaded machine a few tries
      await new Promise((r) => setTimeout(r, 450));
      let rec = await src.customer('cust-5', m);
      for (let i = 0; !rec && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        rec = await src.customer('cust-5', m);
      }
      expect(bits(rec!.vector)).toBe(bits(b.customers[5].vector));
      expect(src.status().cache).toBe('ok');
      expect(src.stats!().errors).toBeGreaterThanOrEqual(23);
    } finally {
      server.resume();
      await src.close();
    }
  });

  it('starts while Redis is down (degraded, no version) and loads the version published once it is up', async () => {
    await server.stop();
    const t0 = performance.now();
    const src: ModelSource = await openModelSource(cfg(), { connectTimeoutMs: 300, pointerPollMs: 0 });
    try {
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(src.current()).toBeNull();
      expect(src.status().cache).toBe('degraded');
      await expect(RedisCache.open(server.url, { require: true, connectTimeoutMs: 300 })).rejects.toThrow(/unreachable/);

      await server.start();
      const publisher = await RedisCache.open(server.url, { require: true });
      await publishBundle(publisher, keys, fixtureBundle('v2', { tag: 2 }));
      await publisher.close();
      await until(() => src.current()?.version === 'v2');
      await until(() => src.status().cache === 'ok');
    } finally {
      await src.close();
    }
  });

  it('subscribing while Redis is frozen returns within the connect deadline, and the subscription is made once Redis answers', async () => {
    const cache = await RedisCache.open(server.url, { require: true, connectTimeoutMs: 500 });
    const heard: string[] = [];
    let off: (() => Promise<void>) | undefined;
    server.pause();
    try {
      // the subscriber's connection is accepted (by the kernel) and never answered, while the other connections still read as ready
      off = await cache.subscribe('omnirec_outage:frozen', (m) => heard.push(m));
    } finally {
      server.resume();
    }
    const publisher = await RedisCache.open(server.url, { require: true });
    try {
      await until(() => {
        void publisher.publish('omnirec_outage:frozen', 'hello').catch(() => {});
        return heard.length > 0;
      }, 30_000);
      expect(heard[0]).toBe('hello');
      await off();
    } finally {
      await publisher.close();
      await cache.close();
    }
  }, 60_000);
});
