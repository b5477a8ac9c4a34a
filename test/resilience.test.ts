/**
 * The service under slow and failing dependencies and hostile input (issue 14):
 *  - a history store that hangs (a proxy that accepts and never answers, in front of a real
 *    PostgreSQL when DATABASE_URL is set; every call pending forever on the embedded store) or
 *    refuses: events, lookup and erasure answer 503 with Retry-After within the request deadline,
 *    storefront lists 200 from what is at hand with a fallback reason; all recover once it answers;
 *  - Redis paused (SIGSTOP of a private redis-server): a purchase is recorded and answered within the
 *    deadline, an erasure answers 503 and erases nothing;
 *  - control characters: 400 naming the field; purchase re-posts that contradict the order: 409;
 *  - the fallback history most recent first; body errors counted on their route;
 *  - shutdown under load: every request in flight completes, new connections are refused.
 * No timed assertions: a deadline shows as a 503 (or a 200) where, without it, the request would hang
 * past the test's timeout.
 */
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from '../src/api/start-service.js';
import { cacheKeys } from '../src/cache/keys.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { openModelSource } from '../src/cache/open-model-source.js';
import { publishBundle } from '../src/cache/publish.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { parseConfig } from '../src/config.js';
import { guardedStore } from '../src/store/guarded-store.js';
import { isUnavailable } from '../src/store/pg-client.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { startRedisServer } from './helpers/redis-server.js';
import { API_KEYS, type Ids, KEYS, NOW, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';
import { type ProxyMode, startTcpProxy } from './helpers/tcp-proxy.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const DEADLINES = { requestDeadlineMs: 400, listWaitMs: 50 };
let orderNo = 0;
const newOrder = () => `res-${process.pid}-${Date.now()}-${++orderNo}`;

interface FaultyStore {
  store: Store;
  setMode(mode: ProxyMode): Promise<void>;
  cleanup(): Promise<void>;
}

/** PostgreSQL behind a switchable TCP proxy, with a serving instance's timeouts. */
async function proxiedPostgres(url: string): Promise<FaultyStore> {
  const name = `omnirec_t_res_${process.pid}_${Date.now()}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  u.pathname = `/${name}`;
  const store = await openStore({ DATABASE_URL: u.toString(), PGLITE_DIR: 'memory://' }, { timeouts: { connectTimeoutMs: 300, statementTimeoutMs: 600 } });
  return {
    store,
    setMode: (mode) => proxy.setMode(mode),
    async cleanup() {
      await proxy.setMode('pass');
      await store.close().catch(() => {});
      await proxy.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** The embedded store, whose calls hang (never settle) or fail as pg fails when PostgreSQL refuses. */
async function faultyEmbedded(): Promise<FaultyStore> {
  const { store, cleanup } = await storeBackends()[0].open();
  let mode: ProxyMode = 'pass';
  const faulty = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (mode === 'hang') return new Promise(() => {});
        if (mode === 'refuse') return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: faulty, setMode: async (m) => void (mode = m), cleanup };
}

const faultyStores: { name: string; open: () => Promise<FaultyStore> }[] = [{ name: 'pglite', open: faultyEmbedded }];
if (process.env.DATABASE_URL) faultyStores.push({ name: 'postgres', open: () => proxiedPostgres(process.env.DATABASE_URL!) });

async function until<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const backend of faultyStores) {
  describe(`history store hung or refusing (${backend.name})`, () => {
    let fs: FaultyStore;
    let ids: Ids;
    beforeAll(async () => {
      fs = await backend.open();
      ids = await seedStore(fs.store);
    });
    afterAll(async () => {
      await fs?.cleanup();
    });

    for (const mode of ['hang', 'refuse'] as const) {
      it(`${mode}: events, lookup and erasure answer 503 with Retry-After; lists answer 200 with a fallback reason; all recover`, async () => {
        // a fresh instance: nothing about the customers cached yet
        const w = await serveTinyWorld(fs.store, { ids, deadlines: DEADLINES });
        const as = (key: string) => ({ 'x-api-key': key });
        await fs.setMode(mode);
        try {
          const unavailable = (r: request.Response) => {
            expect(r.status).toBe(503);
            expect(r.headers['retry-after']).toMatch(/^\d+$/);
            expect(r.body).toMatchObject({ error: 'unavailable', message: expect.any(String), reqId: expect.any(String) });
            return r.body.message as string;
          };
          const event = await request(w.listener)
            .post('/v1/events/purchases')
            .set(as(KEYS.events))
            .send({ orderId: newOrder(), channel: 'web', customerId: ids.mug, lines: [{ sku: 'TEA-1', quantity: 1 }] });
          const msg = unavailable(event);
          // hung: the store call's own limit (the deadline), the request deadline, or (an event reads two things at
          // once, so it may need a second connection) the pool's connect timeout (300 ms), whichever fires first
          expect(msg).toMatch(mode === 'hang' ? /history store did not answer within 400 ms|request deadline \(400 ms\)|timeout exceeded when trying to connect/ : /unavailable: .*ECONNREFUSED/);
          unavailable(await request(w.listener).get('/v1/customers/lookup?email=mug@example.com').set(as(KEYS.associate)));
          unavailable(await request(w.listener).delete(`/v1/customers/${ids.mug}`).set(as(KEYS.admin)));

          const personal = await request(w.listener).get(`/v1/customers/${ids.mug}/recommendations?limit=2`).set(as(KEYS.storefront)).expect(200);
          expect(personal.body).toMatchObject({ fallback: true, fallbackReason: 'store_unavailable', model: { source: 'popular' } });
          expect(personal.body.items).toHaveLength(2);
          const similar = await request(w.listener).get(`/v1/items/TEA-1/similar?limit=2&customerId=${ids.tea}`).set(as(KEYS.storefront)).expect(200);
          expect(similar.body.items.length).toBeGreaterThan(0);
          await request(w.listener).post('/v1/baskets/recommendations').set(as(KEYS.storefront)).send({ items: ['TEA-1'], customerId: ids.tea, limit: 2 }).expect(200);
          await request(w.listener).get(`/v1/customers/${ids.mug}/buy-again`).set(as(KEYS.storefront)).expect(200);
        } finally {
          await fs.setMode('pass');
        }
        // recovered: the store answers again, and the erasure answered 503 erased nothing
        const found = await until(async () => {
          const r = await request(w.listener).get('/v1/customers/lookup?email=mug@example.com').set(as(KEYS.associate));
          return r.status === 200 ? r.body : undefined;
        });
        expect(found.customerId).toBe(ids.mug);
        const personal = await until(async () => {
          const r = await request(w.listener).get(`/v1/customers/${ids.mug}/recommendations?limit=2`).set(as(KEYS.storefront));
          return r.body.fallbackReason === 'store_unavailable' ? undefined : r.body;
        });
        expect(personal).toMatchObject({ fallback: false, model: { source: 'factors' } });
      });
    }
  });
}

describe('PostgreSQL errors that mean "retry later"', () => {
  it('classifies refused, reset and timed-out connections and server shutdown or statement timeout as unavailable, not other errors', () => {
    const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    expect(isUnavailable(err('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe(true);
    expect(isUnavailable(err('read ECONNRESET', 'ECONNRESET'))).toBe(true);
    expect(isUnavailable(err('timeout exceeded when trying to connect'))).toBe(true);
    expect(isUnavailable(err('Query read timeout'))).toBe(true);
    expect(isUnavailable(err('Connection terminated unexpectedly'))).toBe(true);
    expect(isUnavailable(err('canceling statement due to statement timeout', '57014'))).toBe(true);
    expect(isUnavailable(err('terminating connection due to administrator command', '57P01'))).toBe(true);
    expect(isUnavailable(err('connection failure', '08006'))).toBe(true);
    expect(isUnavailable(err('duplicate key value violates unique constraint', '23505'))).toBe(false);
    expect(isUnavailable(err('invalid byte sequence for encoding "UTF8": 0x00', '22021'))).toBe(false);
    expect(isUnavailable(null)).toBe(false);
  });
});

describe('the store behind a circuit breaker (request paths)', () => {
  it('after enough slow or unavailable calls in a row, calls fail at once without reaching the store; one call later tries again and closes it', async () => {
    let calls = 0;
    let hang = true;
    const fake = { findCustomer: () => (calls++, hang ? new Promise(() => {}) : Promise.resolve('42')), close: async () => {} } as unknown as Store;
    const changes: string[] = [];
    const guarded = guardedStore(fake, { slowMs: 30, failures: 2, openMs: 200, onChange: (s) => changes.push(s) });
    const find = () => guarded.findCustomer({ kind: 'email', value: 'a@b.c' });
    await expect(find()).rejects.toThrow(/did not answer within 30 ms/);
    await expect(find()).rejects.toThrow(/did not answer within 30 ms/);
    expect(changes).toEqual(['open']);
    // open: fails at once, the store is not asked
    await expect(find()).rejects.toMatchObject({ name: 'UnavailableError', message: expect.stringMatching(/not answering/) });
    expect(calls).toBe(2);
    // an answer that is not "unavailable" (here: a value) after the open time closes it again
    hang = false;
    await until(async () => ((await find().catch(() => undefined)) === '42' ? true : undefined));
    expect(changes).toEqual(['open', 'closed']);
    // errors that are answers (not found, constraints) never open it
    const notFound = guardedStore({ findCustomer: async () => { throw new Error('duplicate key'); } } as unknown as Store, { slowMs: 30, failures: 1, openMs: 60_000 });
    for (let i = 0; i < 3; i++) await expect(notFound.findCustomer({ kind: 'email', value: 'x' })).rejects.toThrow('duplicate key');
  });
});

describe("lists' store reads behind a bulkhead", () => {
  it('at most listStoreReads of them run at once; the others answer at once from what is at hand and never reach the store; the store stays free for events', async () => {
    const { store, cleanup } = await storeBackends()[0].open();
    try {
      const ids = await seedStore(store);
      // customer access and a list's history reads wait at a gate: the store is slow for them
      let running = 0;
      let most = 0;
      let started = 0;
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const slow = new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          // one read per customer (no statement for many): each counts against the bulkhead
          if (prop === 'customerAccessMany') return undefined;
          if (prop !== 'customerAccess' && prop !== 'customerSkus') return typeof v === 'function' ? v.bind(target) : v;
          return async (...args: unknown[]) => {
            started++;
            most = Math.max(most, ++running);
            try {
              await gate;
              return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            } finally {
              running--;
            }
          };
        },
      });
      // (a long request deadline: on a busy machine the first requests' timers may fire late)
      const w = await serveTinyWorld(slow, { ids, deadlines: { requestDeadlineMs: 10_000, listWaitMs: 50 }, deps: { listStoreReads: 2 } });
      // twelve customers at once (distinct ids: no shared read)
      const lists = await Promise.all(
        Array.from({ length: 12 }, (_, i) => request(w.listener).get(`/v1/customers/${900_001 + i}/recommendations?limit=2`).set({ 'x-api-key': KEYS.storefront })),
      );
      for (const r of lists) {
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body.fallbackReason).toBe('store_unavailable');
      }
      expect(most).toBe(2);
      // the queued reads' lists have answered without them: when the gate opens, they are not started
      open();
      await new Promise((r) => setTimeout(r, 100));
      expect(started).toBe(2);
      // events read and write the store outside the bulkhead
      await request(w.listener)
        .post('/v1/events/purchases')
        .set({ 'x-api-key': KEYS.events })
        .send({ orderId: newOrder(), channel: 'web', customerId: ids.mug, lines: [{ sku: 'TEA-1', quantity: 1 }] })
        .expect(200);
    } finally {
      await cleanup();
    }
  });
});

describe('Redis paused (SIGSTOP of a private redis-server)', () => {
  it('a purchase is recorded and answered within the deadline (refresh skipped); an erasure answers 503 and erases nothing; both work once it answers', async () => {
    const { store, cleanup } = await storeBackends()[0].open();
    const ids = await seedStore(store);
    const redis = await startRedisServer();
    const prefix = 'omnirec_res_pause';
    const publisher = await RedisCache.open(redis.url, { require: true, connectTimeoutMs: 500 });
    await publishBundle(publisher, cacheKeys(prefix), tinyBundle(ids, NOW));
    const source = await openModelSource(
      { REDIS_URL: redis.url, CACHE_DIR: 'unused', CACHE_PREFIX: prefix, CUSTOMER_LRU_SIZE: 0 },
      { connectTimeoutMs: 500, pointerPollMs: 0, commandTimeoutMs: 100, writeTimeoutMs: 200, breakerMs: 300 },
    );
    const w = await serveTinyWorld(store, { ids, source, deadlines: { requestDeadlineMs: 1500, listWaitMs: 50 } });
    const post = (orderId: string) =>
      request(w.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).send({ orderId, channel: 'app', customerId: ids.mug, lines: [{ sku: 'TEA-2', quantity: 1 }] });
    try {
      redis.pause();
      const orderId = newOrder();
      const r = await post(orderId).expect(200);
      expect(r.body).toMatchObject({ customerId: ids.mug, imported: 1, recordRefreshed: false, refreshSkipped: 'cache_unavailable' });
      expect((await store.recordedOrder(orderId))?.lines).toEqual([{ sku: 'TEA-2', quantity: 1, unitPrice: 0 }]);
      // a second one while the breaker is open answers at once, the same way
      expect((await post(newOrder()).expect(200)).body).toMatchObject({ imported: 1, refreshSkipped: 'cache_unavailable' });
      const erase = await request(w.listener).delete(`/v1/customers/${ids.novec}`).set('x-api-key', KEYS.admin).expect(503);
      expect(erase.headers['retry-after']).toMatch(/^\d+$/);
      expect(erase.body.message).toMatch(/model cache/);
      expect(await store.customerIds(ids.novec)).toEqual([ids.novec]);
      // storefront lists answer meanwhile
      await request(w.listener).get(`/v1/customers/${ids.tea}/recommendations?limit=2`).set('x-api-key', KEYS.storefront).expect(200);
    } finally {
      redis.resume();
    }
    try {
      // posting the same order again once Redis answers refreshes the record (the retry README promises)
      const again = await until(async () => {
        const r = await post(`${newOrder()}-after`);
        return r.status === 200 && r.body.recordRefreshed ? r.body : undefined;
      });
      expect(again).toMatchObject({ recordRefreshed: true, modelVersion: 'tiny-1' });
      await request(w.listener).delete(`/v1/customers/${ids.novec}`).set('x-api-key', KEYS.admin).expect(200);
    } finally {
      await source.close();
      await publisher.close();
      await redis.stop();
      await cleanup();
    }
  });
});

describe('hostile input and contradicting re-posts (pglite)', () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let ids: Ids;
  let w: Awaited<ReturnType<typeof serveTinyWorld>>;
  beforeAll(async () => {
    ({ store, cleanup } = await storeBackends()[0].open());
    ids = await seedStore(store);
    w = await serveTinyWorld(store, { ids });
  });
  afterAll(async () => {
    await cleanup?.();
  });
  const post = (body: unknown) => request(w.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).send(body as object);
  const field = (r: request.Response) => {
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    expect(r.body.message).toMatch(/control character \(U\+00/);
    return r.body.fields[0].field as string;
  };

  it('a NUL or other control character in any string of the body, query or path is a 400 naming the field', async () => {
    const order = { orderId: newOrder(), channel: 'web', customerId: ids.tea, lines: [{ sku: 'TEA-1', quantity: 1 }] };
    expect(field(await post({ ...order, lines: [{ sku: 'TEA\u00001', quantity: 1 }] }))).toBe('body.lines.0.sku');
    expect(field(await post({ ...order, customerId: undefined, identifiers: { email: 'a\u0000b@x.com' } }))).toBe('body.identifiers.email');
    expect(field(await post({ ...order, orderId: 'REV\u001b1' }))).toBe('body.orderId');
    const lookup = await request(w.listener).get('/v1/customers/lookup?email=a%00b@x.com').set('x-api-key', KEYS.associate);
    expect(field(lookup)).toBe('query.email');
    const sf = (path: string) => request(w.listener).get(path).set('x-api-key', KEYS.storefront);
    expect(field(await sf('/v1/customers/12%00/recommendations'))).toBe('params.id');
    expect(field(await sf('/v1/items/TEA-1%7F/similar'))).toBe('params.sku');
    expect(field(await sf('/v1/items/TEA-1/similar?category=tea%0a'))).toBe('query.category');
    const key = await request(w.listener).post('/v1/baskets/recommendations').set('x-api-key', KEYS.storefront).set('content-type', 'application/json').send('{"items":["TEA-1"],"a\\u0000":1}');
    expect(field(key)).toBe('body."a\\u0000"');
    // a deeply nested body is walked without recursion: a 4xx or 2xx, never a 500
    const deep = `{"items":["TEA-1"],"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const r = await request(w.listener).post('/v1/baskets/recommendations').set('x-api-key', KEYS.storefront).set('content-type', 'application/json').send(deep);
    expect(r.status).toBeLessThan(500);
    // nothing was recorded by the refused events
    expect(await store.recordedOrder(order.orderId)).toBeNull();
  });

  it('re-posting an order id: the same order is a duplicate; other lines or another customer is a 409 naming the conflict', async () => {
    const orderId = newOrder();
    const lines = [{ sku: 'TEA-1', quantity: 2, unitPrice: 3.5 }, { sku: 'MUG-1', quantity: 1 }];
    expect((await post({ orderId, channel: 'web', customerId: ids.tea, lines }).expect(200)).body).toMatchObject({ imported: 2, duplicates: 0 });
    // the same order, by another of the customer's identifiers, at another time: recorded once
    const same = await post({ orderId, channel: 'web', identifiers: { loyalty: 'L-777' }, time: new Date(NOW).toISOString(), lines }).expect(200);
    expect(same.body).toMatchObject({ customerId: ids.tea, imported: 0, duplicates: 2 });

    const otherLines = await post({ orderId, channel: 'web', customerId: ids.tea, lines: [...lines, { sku: 'SOAP-1', quantity: 1 }] }).expect(409);
    expect(otherLines.body).toMatchObject({ error: 'conflict', conflict: 'lines', message: expect.stringContaining(orderId) });
    await post({ orderId, channel: 'web', customerId: ids.tea, lines: [{ ...lines[0], quantity: 3 }, lines[1]] }).expect(409, /"conflict":"lines"/);
    const otherCustomer = await post({ orderId, channel: 'web', customerId: ids.mug, lines }).expect(409);
    expect(otherCustomer.body).toMatchObject({ error: 'conflict', conflict: 'customer' });
    await post({ orderId, channel: 'web', identifiers: { email: 'someone-new@example.com' }, lines }).expect(409, /"conflict":"customer"/);
    // claiming two customers at once (one of them the owner) is no re-post either
    await post({ orderId, channel: 'web', identifiers: { email: 'tea@example.com', loyalty: 'L-777' }, customerId: ids.mug, lines }).expect(409);
    // what was recorded is untouched, and no customer was created for the unknown email
    expect(await store.recordedOrder(orderId)).toEqual({ customerId: ids.tea, lines: [{ sku: 'TEA-1', quantity: 2, unitPrice: 3.5 }, { sku: 'MUG-1', quantity: 1, unitPrice: 0 }] });
    expect(await store.findCustomer({ kind: 'email', value: 'someone-new@example.com' })).toBeNull();
  });

  it('an event cannot claim an imported invoice id (a guest order): events are their own source, so it records an order of its own', async () => {
    const invoice = `INV-${process.pid}-${Date.now()}`;
    await store.importLines([
      { orderId: invoice, channel: 'store', storeId: 'S1', time: NOW - 86_400_000, identifiers: [], sku: 'MUG-2', title: null, category: null, quantity: 1, unitPrice: 4, cancels: null, lineNo: 1 },
    ]);
    const event = await post({ orderId: invoice, channel: 'store', customerId: ids.tea, lines: [{ sku: 'MUG-2', quantity: 1, unitPrice: 4 }] }).expect(200);
    expect(event.body).toMatchObject({ customerId: ids.tea, imported: 1 });
    // the imported invoice is untouched: still a guest order of source 'store'
    expect((await store.recordedOrder(invoice, 'store'))?.customerId).toBeNull();
    expect((await store.recordedOrder(invoice))?.customerId).toBe(ids.tea);
  });

  it('body errors are counted on their route, not as "unmatched" (both dispatchers)', async () => {
    const w = await serveTinyWorld(store, { ids });
    const bad = (target: typeof w.listener | typeof w.app) =>
      request(target).post('/v1/baskets/recommendations').set('x-api-key', KEYS.storefront).set('content-type', 'application/json').send('{"items": [');
    await bad(w.listener).expect(400);
    await bad(w.app).expect(400);
    await request(w.listener).post('/v1/sessions/recommendations').set('x-api-key', KEYS.storefront).set('content-type', 'application/json').send(`{"items":["${'x'.repeat(70_000)}"]}`).expect(413);
    const text = (await request(w.listener).get('/metrics')).text;
    expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/v1\/baskets\/recommendations",status="400"\} 2/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/v1\/sessions\/recommendations",status="413"\} 1/);
    expect(text).not.toMatch(/route="unmatched",status="4/);
  });

  it('the fallback history is most recent first (the seeds of "because you bought")', async () => {
    const day = 86_400_000;
    const at = (sku: string, daysAgo: number, quantity = 1) => ({
      orderId: `hist-${process.pid}-${sku}-${daysAgo}`,
      channel: 'web' as const,
      storeId: null,
      time: NOW - daysAgo * day,
      identifiers: [{ kind: 'email' as const, value: 'history@example.com' }],
      sku,
      title: null,
      category: null,
      quantity,
      unitPrice: 1,
      cancels: null,
      lineNo: 1,
    });
    await store.importLines([at('AAA-OLD', 300), at('ZZZ-NEW', 2), at('MUG-1', 40), at('TEA-9', 10), at('TEA-9', 1, -1)]);
    const id = (await store.findCustomer({ kind: 'email', value: 'history@example.com' }))!;
    // TEA-9 was returned (net 0): not held
    expect(await store.customerSkus(id)).toEqual(['ZZZ-NEW', 'MUG-1', 'AAA-OLD']);
  });
});

describe('shutdown under load', () => {
  it('every request in flight when close() begins completes; new connections are refused', async () => {
    const { store, cleanup } = await storeBackends()[0].open();
    const ids = await seedStore(store);
    // lookups wait at a gate inside the store until shutdown has begun
    let arrived = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const gated = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'findCustomer') return async (i: Parameters<Store['findCustomer']>[0]) => (arrived++, await gate, target.findCustomer(i));
        if (prop === 'close') return async () => {};
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const cfg = parseConfig({ API_KEYS, PORT: '0', HOST: '127.0.0.1', PGLITE_DIR: 'memory://', CACHE_DIR: 'memory://', LOG_LEVEL: 'silent', SHUTDOWN_GRACE_MS: '20000', REQUEST_DEADLINE_MS: '20000' });
    const svc = await startService(cfg, { store: gated, source: staticModelSource(tinyBundle(ids, NOW)), defaultMetrics: false });
    const port = Number(new URL(svc.url).port);
    // each on its own connection (no agent): 30 in flight
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, headers: { 'x-api-key': KEYS.associate } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const inFlight = Array.from({ length: 30 }, (_, i) => get(i % 2 ? '/v1/customers/lookup?email=tea@example.com' : '/v1/customers/lookup?loyalty=L-777'));
      await until(async () => (arrived === 30 ? true : undefined));
      const closing = svc.close();
      // refused once shutdown began, while the 30 are still waiting
      await expect(get('/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      open();
      const answers = await Promise.all(inFlight);
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
      expect(answers.every((a) => JSON.parse(a.body).customerId === ids.tea)).toBe(true);
      await closing;
    } finally {
      open();
      await svc.close();
      await cleanup();
    }
  });
});
