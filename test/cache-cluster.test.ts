/**
 * Redis Cluster support. Always: the hash slot function on reference values. On a real Redis Cluster (a
 * throwaway 3-master cluster from test/helpers/redis-cluster.ts; registered only when the redis-server binary
 * is on PATH, as the real-server suites are only when their URLs are set): the slot function agrees with Redis, a version's keys sit where the key layout says
 * (item side in one slot, customers over every master), and the service configured with
 * REDIS_CLUSTER_NODES follows publish and rollback made by the CLI, announced over pub/sub to every node.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from '../src/api/start-service.js';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { keySlot } from '../src/cache/key-slot.js';
import { cacheKeys, ITEM_BLOBS } from '../src/cache/keys.js';
import { loadModel } from '../src/cache/load-model.js';
import { openModelSource } from '../src/cache/open-model-source.js';
import { cleanup, publishBundle } from '../src/cache/publish.js';
import { publishMain } from '../src/cache/publish-command.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { parseConfig } from '../src/config.js';
import { storeBackends } from './helpers/backends.js';
import { bits, fixtureBundle } from './helpers/cache-bundle.js';
import { redisServerAvailable, startRedisCluster, type RedisCluster } from './helpers/redis-cluster.js';

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Keys matching `pattern` on one master. */
async function keysOn(master: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await master.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

describe('hash slots (src/cache/key-slot.ts)', () => {
  it('is CRC16/XMODEM mod 16384, hashing only a non-empty {tag}', () => {
    // 0x31C3 is the CRC16/XMODEM check value of "123456789"; foo and bar are the Redis Cluster spec's examples
    expect(keySlot('123456789')).toBe(0x31c3);
    expect([keySlot('foo'), keySlot('bar')]).toEqual([12182, 5061]);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
    const keys = cacheKeys('omnirec');
    expect(new Set([...ITEM_BLOBS.map((b) => keys.blob('2026-11-01', b)), keys.complete('2026-11-01')].map(keySlot))).toEqual(new Set([keySlot('v:2026-11-01')]));
  });
});

if (redisServerAvailable()) describe('vector cache on a Redis Cluster (3 masters)', () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    cache = await RedisCache.open(parseConfig({ REDIS_CLUSTER_NODES: cluster.nodes }).REDIS_CLUSTER_NODES!, { require: true });
  });
  afterAll(async () => {
    await cache?.close();
    await cluster?.stop();
  });

  it('computes the hash slot Redis does, hash tags included', async () => {
    const samples = ['', 'a', 'foo', 'omnirec:current', 'omnirec:{v:2026-11-01}:meta', 'p:v:2026-11-01:customer:cust-1',
      'x{}y', 'foo{}{bar}', 'foo{{bar}}zap', '{}', '{a}{b}', 'a{b', 'a}b{c}', 'café:ü', '客户:42', 'a'.repeat(300)];
    for (const k of samples) expect([k, keySlot(k)]).toEqual([k, Number(await cluster.masters[0].call('CLUSTER', 'KEYSLOT', k))]);
    expect(cache.location).toBe(`redis://${cluster.nodes} (cluster)`);
  });

  it("puts a version's item side in one slot and spreads its customers over every master; cleanup empties them all", async () => {
    const keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
    const b = fixtureBundle('v1', { customers: 300 });
    await publishBundle(cache, keys, b, { batchSize: 128 });
    const itemSide = [...ITEM_BLOBS.map((n) => keys.blob('v1', n)), keys.complete('v1')];
    expect(new Set(itemSide.map(keySlot)).size).toBe(1);
    const perMaster = await Promise.all(cluster.masters.map((m) => keysOn(m, `${keys.prefix}:*`)));
    // the item side on exactly one master, whole
    const holders = perMaster.filter((ks) => ks.includes(itemSide[0]));
    expect(holders).toHaveLength(1);
    expect(holders[0]).toEqual(expect.arrayContaining(itemSide));
    // customers on every master, each exactly once
    const customers = perMaster.map((ks) => ks.filter((k) => k.includes(':customer:')));
    for (const c of customers) expect(c.length).toBeGreaterThan(50);
    expect(customers.flat().sort()).toEqual(b.customers.map((c) => keys.customer('v1', c.customerId)).sort());
    expect(bits((await loadModel(cache, keys, 'v1')).als!.itemFactors)).toBe(bits(b.als!.itemFactors));

    await publishBundle(cache, keys, fixtureBundle('v2', { tag: 2 }));
    expect(await cleanup(cache, keys, 0)).toEqual({ deleted: ['v1'], keys: 6 + 300, kept: ['v2'] });
    for (const m of cluster.masters) expect((await keysOn(m, `${keys.prefix}:v:v1:*`)).concat(await keysOn(m, `${keys.prefix}:{v:v1}:*`))).toEqual([]);
    for await (const batch of cache.scan(`${keys.prefix}:*`)) await cache.delete(batch);
  });

  it('the service (REDIS_CLUSTER_NODES) follows a CLI publish and rollback; the announce reaches every node', async () => {
    const work = await mkdtemp(join(tmpdir(), 'cache-cluster-'));
    const prefix = `omnirec_t_${randomBytes(4).toString('hex')}`;
    const env = { REDIS_CLUSTER_NODES: cluster.nodes, CACHE_PREFIX: prefix, MODEL_DIR: join(work, 'models'), CACHE_DIR: 'memory://', PGLITE_DIR: 'memory://', DATABASE_URL: '' };
    await writeBundle(env.MODEL_DIR, fixtureBundle('2026-11-01', { tag: 1 }));
    await writeBundle(env.MODEL_DIR, fixtureBundle('2026-11-02', { tag: 2, customers: 5 }));
    // a plain subscriber on each master: PUBLISH on the node owning P:current must reach all three
    const heard: string[][] = cluster.masters.map(() => []);
    const subscribers = cluster.masters.map((m, i) => {
      const s = m.duplicate();
      s.on('message', (_ch: string, msg: string) => heard[i].push(msg));
      return s;
    });
    await Promise.all(subscribers.map((s) => s.subscribe(`${prefix}:announce`)));
    const { store, cleanup: dropStore } = await storeBackends()[0].open();
    const cfg = parseConfig({ ...env, AUTH_DISABLED: 'true', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' });
    // the service's own model source, minus the 5 s pointer poll: only the announce can make it swap
    const source = await openModelSource(cfg, { pointerPollMs: 0 });
    const svc = await startService(cfg, { store, source, defaultMetrics: false });
    const ready = async () => (await (await fetch(`${svc.url}/readyz`)).json()) as { model: { version: string | null }; cache: { status: string } };
    try {
      expect((await ready()).model.version).toBeNull();
      // a separate process, as in production: npm run publish
      const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), ['scripts/publish.ts', '2026-11-01', '--quiet'], {
        env: { ...process.env, ...env, REDIS_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      expect(await new Promise((r) => child.on('exit', r))).toBe(0);
      expect(out).toMatch(new RegExp(`^published 2026-11-01: 20 items, 12 customers, .* to redis://${cluster.nodes} \\(cluster\\); current: 2026-11-01\\n$`));
      await until(async () => (await ready()).model.version === '2026-11-01');

      let text = '';
      const run = (...argv: string[]) => publishMain(argv, env, (t) => (text += t));
      await run('2026-11-02', '--quiet');
      await until(async () => (await ready()).model.version === '2026-11-02');
      await run('rollback');
      expect(text).toMatch(/current: 2026-11-01 \(was 2026-11-02\)\n$/);
      await until(async () => (await ready()).model.version === '2026-11-01');
      const body = await ready();
      expect(body.cache.status).toBe('ok');
      const m = svc.source.current()!;
      expect(bits(m.als!.itemFactors)).toBe(bits(fixtureBundle('2026-11-01', { tag: 1 }).als!.itemFactors));
      expect(bits((await svc.source.customer('cust-7', m))!.vector)).toBe(bits(fixtureBundle('2026-11-01').customers[7].vector));
      await until(() => heard.every((h) => h.length === 3));
      expect(heard).toEqual(cluster.masters.map(() => ['2026-11-01', '2026-11-02', '2026-11-01']));

      text = '';
      await run('cleanup', '--keep', '0', '--json');
      expect(JSON.parse(text)).toEqual({ deleted: ['2026-11-02'], kept: ['2026-11-01'], keys: 6 + 5 });
    } finally {
      await svc.close();
      await dropStore();
      for (const s of subscribers) s.disconnect();
      for await (const batch of cache.scan(`${prefix}:*`)) await cache.delete(batch);
      await rm(work, { recursive: true, force: true });
    }
  });
});
