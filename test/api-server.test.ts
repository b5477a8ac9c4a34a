/**
 * The service as a whole: refusing to start without keys (the real process), AUTH_DISABLED,
 * graceful shutdown finishing an in-flight request, model publish/rollback over HTTP while requests
 * are in flight (every response 200, its items consistent with the version it names), and a Redis
 * outage seen from HTTP (a real redis-server killed and restarted).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheModelAdmin } from '../src/api/cache-model-admin.js';
import { authFromConfig, startService } from '../src/api/start-service.js';
import { createLogger } from '../src/api/logger.js';
import { writeBundle } from '../src/bundle/write-bundle.js';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { cacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { openModelSource } from '../src/cache/open-model-source.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { parseConfig } from '../src/config.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { API_KEYS, type Ids, KEYS, NOW, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';
import { startRedisServer } from './helpers/redis-server.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const root = join(import.meta.dirname, '..');
const backend = storeBackends()[0];

function runServer(env: Record<string, string>): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PGLITE_DIR: 'memory://', CACHE_DIR: 'memory://', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until<T>(f: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the server process', () => {
  it('refuses to start with neither API_KEYS nor AUTH_DISABLED (exit 1, clear message)', async () => {
    const p = runServer({});
    expect(await p.exit).toBe(1);
    expect(p.err()).toMatch(/no API keys configured: set API_KEYS=.*AUTH_DISABLED=true/);
  });
  it('with AUTH_DISABLED=true it starts without keys, with a loud warning', () => {
    const lines: string[] = [];
    const logger = createLogger('info', (l) => lines.push(l));
    expect(authFromConfig(parseConfig({ AUTH_DISABLED: 'true' }), logger)).toBeNull();
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', auth: 'disabled', msg: expect.stringContaining('AUTH_DISABLED=true') });
    expect(() => authFromConfig(parseConfig({}), logger)).toThrow(/API_KEYS/);
    expect(authFromConfig(parseConfig({ API_KEYS }), logger)!.size).toBe(4);
  });
});

describe(`graceful shutdown and model swaps (${backend.name})`, () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let ids: Ids;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
    ids = await seedStore(store);
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('close() lets an in-flight request finish, then refuses new connections', async () => {
    // the store answers slowly, so the request is still in flight when shutdown begins
    const slow = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'canonicalCustomerId') return async (id: string) => (await new Promise((r) => setTimeout(r, 400)), target.canonicalCustomerId(id));
        if (prop === 'close') return async () => {}; // the backend helper closes the real store
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const cfg = parseConfig({ API_KEYS, PORT: '0', HOST: '127.0.0.1', PGLITE_DIR: 'memory://', CACHE_DIR: 'memory://', LOG_LEVEL: 'silent', SHUTDOWN_GRACE_MS: '5000' });
    const svc = await startService(cfg, { store: slow, source: staticModelSource(tinyBundle(ids, NOW)), defaultMetrics: false });
    // the server answers with the app's dispatcher (the listener the API tests drive), not the bare Express app
    expect(svc.server.listeners('request')).toEqual([svc.app.listener]);
    const inFlight = fetch(`${svc.url}/v1/customers/${ids.tea}/recommendations?limit=2`, { headers: { 'x-api-key': KEYS.storefront } });
    await new Promise((r) => setTimeout(r, 100));
    const closing = svc.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: { sku: string }[] }).items.map((i) => i.sku)).toEqual(['TEA-3', 'TEA-2']);
    await closing;
    await expect(fetch(`${svc.url}/healthz`)).rejects.toThrow();
  });

  it('publish and rollback over HTTP; requests during a swap all succeed with one version each', async () => {
    const modelDir = mkdtempSync(join(tmpdir(), 'omnirec-serve-'));
    const location = `memory://serve-swap-${process.pid}-${Date.now()}`;
    const keys = cacheKeys('swaptest');
    const v1 = tinyBundle(ids, NOW, 'tiny-1');
    const v2 = tinyBundle(ids, NOW, 'tiny-2');
    // in v2, TEA-1's only neighbour is MUG-3: a response's first item tells which version produced it
    v2.neighbours = { ...v2.neighbours, indptr: v2.neighbours.indptr.slice(), indices: v2.neighbours.indices.slice(), scores: v2.neighbours.scores.slice() };
    v2.neighbours.indices[0] = 5;
    v2.neighbours.indices[1] = 5;
    await writeBundle(modelDir, v1);
    await writeBundle(modelDir, v2);
    const adminCache = new MemoryCache(location);
    const source = await new CacheModelSource(new MemoryCache(location), keys, { ownsCache: true }).start();
    const admin = cacheModelAdmin({ cache: async () => adminCache, keys, modelDir, refresh: (v) => source.refresh(v) });
    const w = await serveTinyWorld(store, { ids, source, admin });
    const server = await new Promise<Server>((r) => {
      const s = createServer(w.listener).listen(0, '127.0.0.1', () => r(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const call = (method: string, path: string, key = KEYS.admin, body?: unknown) =>
      fetch(url + path, { method, headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const firstOf = { 'tiny-1': 'TEA-2', 'tiny-2': 'MUG-3' } as Record<string, string>;
    try {
      expect((await call('GET', '/readyz')).status).toBe(503);
      const p1 = await call('POST', '/v1/admin/models/tiny-1/publish');
      expect(p1.status).toBe(200);
      expect(await p1.json()).toMatchObject({ version: 'tiny-1', previous: null });
      const similar = async () => {
        const r = await call('GET', '/v1/items/TEA-1/similar?limit=1', KEYS.storefront);
        return { status: r.status, body: (await r.json()) as { items: { sku: string }[]; model: { version: string } } };
      };
      expect((await similar()).body.model.version).toBe('tiny-1');

      const during: Promise<Awaited<ReturnType<typeof similar>>>[] = [];
      const publishing = call('POST', '/v1/admin/models/tiny-2/publish');
      for (let i = 0; i < 150; i++) {
        during.push(similar());
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      expect((await publishing).status).toBe(200);
      const results = await Promise.all(during);
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(r.body.items[0].sku).toBe(firstOf[r.body.model.version]);
      }
      const after = await similar();
      expect(after.body).toMatchObject({ model: { version: 'tiny-2' }, items: [{ sku: 'MUG-3' }] });

      const list = (await (await call('GET', '/v1/admin/models')).json()) as { current: string; versions: { version: string }[] };
      expect(list.current).toBe('tiny-2');
      expect(list.versions.map((v) => v.version).sort()).toEqual(['tiny-1', 'tiny-2']);

      const rb = await call('POST', '/v1/admin/models/rollback', KEYS.admin, {});
      expect(rb.status).toBe(200);
      expect(await rb.json()).toMatchObject({ from: 'tiny-2', to: 'tiny-1' });
      expect((await similar()).body).toMatchObject({ model: { version: 'tiny-1' }, items: [{ sku: 'TEA-2' }] });

      const missing = await call('POST', '/v1/admin/models/tiny-9/publish');
      expect(missing.status).toBe(404);
      expect((await similar()).body.model.version).toBe('tiny-1');
      expect((await call('GET', '/v1/admin/models', KEYS.storefront)).status).toBe(403);
    } finally {
      await new Promise((r) => server.close(r));
      await source.close();
      await adminCache.close();
      rmSync(modelDir, { recursive: true, force: true });
    }
  });

  it('Redis outage: lists keep answering from memory, personal falls back, /readyz degraded; recovers by itself', async () => {
    const redis = await startRedisServer();
    const prefix = 'omnirec_serve_outage';
    const keys = cacheKeys(prefix);
    const publisher = await RedisCache.open(redis.url, { require: true, connectTimeoutMs: 500 });
    const bundle = tinyBundle(ids, NOW);
    await publishBundle(publisher, keys, bundle);
    // no LRU: every personal request reads Redis
    const source = await openModelSource({ REDIS_URL: redis.url, CACHE_DIR: 'unused', CACHE_PREFIX: prefix, CUSTOMER_LRU_SIZE: 0 }, { connectTimeoutMs: 500, pointerPollMs: 0 });
    const w = await serveTinyWorld(store, { ids, source });
    const get = (path: string) => request(w.listener).get(path).set('x-api-key', KEYS.storefront);
    try {
      expect((await get(`/v1/customers/${ids.tea}/recommendations?limit=2`).expect(200)).body).toMatchObject({ model: { source: 'factors' }, fallback: false });

      await redis.stop();
      await until(() => (source.status().cache === 'degraded' ? true : undefined));
      const ready = await request(w.listener).get('/readyz').set('x-api-key', KEYS.admin).expect(200);
      expect(ready.body).toMatchObject({ status: 'degraded', model: { version: 'tiny-1' }, cache: { status: 'degraded' } });
      expect(ready.body.cache.detail).toMatch(/Redis/);
      const similar = await get('/v1/items/TEA-1/similar?limit=2').expect(200);
      expect(similar.body).toMatchObject({ model: { version: 'tiny-1', source: 'neighbours' }, items: [{ sku: 'TEA-2' }, { sku: 'TEA-3' }] });
      const t0 = performance.now();
      const personal = await get(`/v1/customers/${ids.tea}/recommendations?limit=2`).expect(200);
      expect(performance.now() - t0).toBeLessThan(1000);
      // history from the store instead (tea bought TEA-1): its neighbours
      expect(personal.body).toMatchObject({ fallback: true, fallbackReason: 'cache_unavailable', model: { source: 'neighbours' } });
      expect(personal.body.items.map((i: { sku: string }) => i.sku)).toEqual(['TEA-2', 'TEA-3']);
      const metrics = (await request(w.listener).get('/metrics').expect(200)).text;
      expect(metrics).toMatch(/omnirec_redis_errors_total [1-9]/);
      expect(metrics).toContain('omnirec_fallbacks_total{endpoint="personal",reason="cache_unavailable"} 1');

      await redis.start();
      expect(await publisher.waitReady(5000)).toBe(true);
      await publishBundle(publisher, keys, bundle);
      await until(() => (source.status().cache === 'ok' ? true : undefined));
      expect((await get(`/v1/customers/${ids.tea}/recommendations?limit=2`).expect(200)).body).toMatchObject({ model: { source: 'factors' }, fallback: false });
      expect((await request(w.listener).get('/readyz').expect(200)).body.status).toBe('ready');
    } finally {
      await source.close();
      await publisher.close();
      await redis.stop();
    }
  });
});
