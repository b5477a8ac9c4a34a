/**
 * Auth and scopes, validation on every route, 404/413, request ids and logs, /healthz, /readyz,
 * /metrics, /openapi.json, associate lookup and erasure — over a real history store (PGlite, and
 * PostgreSQL when DATABASE_URL is set).
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheModelSource } from '../src/cache/cache-model-source.js';
import { cacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { parseApiKeys } from '../src/api/api-keys.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { KEYS, type ServedWorld, serveTinyWorld } from './helpers/serve-fixture.js';

const backend = storeBackends().at(-1)!;

describe(`operations and protection (${backend.name})`, () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let w: ServedWorld;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
    w = await serveTinyWorld(store);
  });
  afterAll(async () => {
    await cleanup?.();
  });

  describe('API keys and scopes', () => {
    it('parses API_KEYS and names a bad entry', () => {
      const keys = parseApiKeys('abcdefgh:storefront+associate, ijklmnop:admin');
      expect([...keys.find('abcdefgh')!.scopes]).toEqual(['storefront', 'associate']);
      expect(keys.find('abcdefgX')).toBeUndefined();
      expect(() => parseApiKeys('abcdefgh:root')).toThrow(InvalidArgumentError);
      expect(() => parseApiKeys('abcdefgh:root')).toThrow(/API_KEYS.*root/);
      expect(() => parseApiKeys('short:admin')).toThrow(/API_KEYS/);
    });
    it('401 without a key or with an unknown one, with a JSON body', async () => {
      const none = await request(w.listener).get('/v1/items/TEA-1/similar').expect(401);
      expect(none.body).toEqual({ error: 'unauthorized', message: expect.stringContaining('x-api-key') });
      const bad = await request(w.listener).get('/v1/items/TEA-1/similar').set('x-api-key', 'nope-nope').expect(401);
      expect(bad.body.message).toMatch(/unknown API key/);
    });
    it('403 with a key of the wrong scope; associate keys may read storefront lists', async () => {
      const r = await request(w.listener).get('/v1/admin/models').set('x-api-key', KEYS.storefront).expect(403);
      expect(r.body).toMatchObject({ error: 'forbidden', message: expect.stringContaining('admin') });
      await request(w.listener).get('/v1/customers/lookup?email=tea@example.com').set('x-api-key', KEYS.storefront).expect(403);
      await request(w.listener).delete(`/v1/customers/${w.ids.tea}`).set('x-api-key', KEYS.associate).expect(403);
      await request(w.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.events).expect(403);
      await request(w.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.associate).expect(200);
    });
    it('auth disabled: no key needed', async () => {
      const open = await serveTinyWorld(store, { ids: w.ids, apiKeys: null });
      await request(open.listener).get('/v1/items/TEA-1/similar').expect(200);
    });
    it('operations routes need no key', async () => {
      await request(w.listener).get('/healthz').expect(200, { status: 'ok' });
      await request(w.listener).get('/openapi.json').expect(200);
    });
  });

  describe('validation: a bad request gets a 4xx naming the field, never a 500', () => {
    const sf = (r: request.Test) => r.set('x-api-key', KEYS.storefront);
    const cases: [string, () => request.Test, number, string][] = [
      ['limit=0', () => sf(request(w.listener).get('/v1/items/TEA-1/similar?limit=0')), 400, 'query.limit'],
      ['limit=101', () => sf(request(w.listener).get(`/v1/customers/${w.ids.tea}/recommendations?limit=101`)), 400, 'query.limit'],
      ['limit=abc', () => sf(request(w.listener).get(`/v1/customers/${w.ids.tea}/buy-again?limit=abc`)), 400, 'query.limit'],
      ['channel=fax', () => sf(request(w.listener).get('/v1/items/TEA-1/similar?channel=fax')), 400, 'query.channel'],
      ['excludePurchased=maybe', () => sf(request(w.listener).get(`/v1/customers/${w.ids.tea}/recommendations?excludePurchased=maybe`)), 400, 'query.excludePurchased'],
      ['sku too long', () => sf(request(w.listener).get(`/v1/items/${'X'.repeat(200)}/similar`)), 400, 'params.sku'],
      ['id too long', () => sf(request(w.listener).get(`/v1/customers/${'9'.repeat(200)}/buy-again`)), 400, 'params.id'],
      ['basket without items', () => sf(request(w.listener).post('/v1/baskets/recommendations').send({})), 400, 'body.items'],
      ['basket items empty', () => sf(request(w.listener).post('/v1/baskets/recommendations').send({ items: [] })), 400, 'body.items'],
      ['basket item not a string', () => sf(request(w.listener).post('/v1/baskets/recommendations').send({ items: [123] })), 400, 'body.items.0'],
      // one schema for query and body options: a body's limit may be its text ("5"), not any other string
      ['basket limit not a number', () => sf(request(w.listener).post('/v1/baskets/recommendations').send({ items: ['TEA-1'], limit: '5 items' })), 400, 'body.limit'],
      ['basket limit true', () => sf(request(w.listener).post('/v1/baskets/recommendations').send({ items: ['TEA-1'], limit: true })), 400, 'body.limit'],
      ['basket excludePurchased not boolean', () => sf(request(w.listener).post('/v1/baskets/recommendations').send({ items: ['TEA-1'], excludePurchased: 'yes' })), 400, 'body.excludePurchased'],
      ['session body an array', () => sf(request(w.listener).post('/v1/sessions/recommendations').send([1, 2])), 400, 'body'],
      ['session 101 items', () => sf(request(w.listener).post('/v1/sessions/recommendations').send({ items: Array(101).fill('TEA-1') })), 400, 'body.items'],
      ['session channel', () => sf(request(w.listener).post('/v1/sessions/recommendations').send({ items: ['TEA-1'], channel: 'tv' })), 400, 'body.channel'],
      ['lookup with nothing', () => request(w.listener).get('/v1/customers/lookup').set('x-api-key', KEYS.associate), 400, 'query.loyalty'],
      ['lookup with two identifiers', () => request(w.listener).get('/v1/customers/lookup?email=a@b.c&phone=123').set('x-api-key', KEYS.associate), 400, 'query.loyalty'],
      ['lookup with a bad email', () => request(w.listener).get('/v1/customers/lookup?email=not-an-email').set('x-api-key', KEYS.associate), 400, 'query.email'],
      ['publish bad version', () => request(w.listener).post('/v1/admin/models/bad$version/publish').set('x-api-key', KEYS.admin), 400, 'params.version'],
      ['rollback bad version', () => request(w.listener).post('/v1/admin/models/rollback').set('x-api-key', KEYS.admin).send({ version: 'a b' }), 400, 'body.version'],
      ['erase id too long', () => request(w.listener).delete(`/v1/customers/${'x'.repeat(200)}`).set('x-api-key', KEYS.admin), 400, 'params.id'],
    ];
    for (const [name, call, status, field] of cases) {
      it(`${name} → ${status} naming ${field}`, async () => {
        const r = await call().expect(status);
        expect(r.body.error).toBe('invalid_request');
        expect(r.body.message).toContain(field);
        expect(r.body.fields.map((f: { field: string }) => f.field)).toContain(field);
      });
    }
    it('malformed JSON → 400, too large → 413, unknown route → 404 JSON', async () => {
      const bad = await request(w.listener)
        .post('/v1/baskets/recommendations')
        .set('x-api-key', KEYS.storefront)
        .set('content-type', 'application/json')
        .send('{"items": [')
        .expect(400);
      expect(bad.body).toMatchObject({ error: 'invalid_json', fields: [{ field: 'body' }] });
      const big = await request(w.listener)
        .post('/v1/sessions/recommendations')
        .set('x-api-key', KEYS.storefront)
        .send({ items: ['TEA-1'], pad: 'x'.repeat(100_000) })
        .expect(413);
      expect(big.body.error).toBe('payload_too_large');
      const nf = await request(w.listener).get('/v1/nothing/here').expect(404);
      expect(nf.body).toEqual({ error: 'not_found', message: 'no route GET /v1/nothing/here' });
    });
  });

  describe('request ids and logs', () => {
    it('echoes x-request-id, or makes one; one JSON log line per request', async () => {
      const given = await request(w.listener).get('/healthz').set('x-request-id', 'abc-123').expect(200);
      expect(given.headers['x-request-id']).toBe('abc-123');
      const made = await request(w.listener).get('/healthz').expect(200);
      expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const line = w.logs.find((l) => l.reqId === 'abc-123')!;
      expect(line).toMatchObject({ level: 'info', msg: 'request', method: 'GET', path: '/healthz', status: 200 });
      expect(typeof line.ms).toBe('number');
      expect(typeof line.time).toBe('string');
    });
  });

  describe('/readyz', () => {
    it('200 with store/cache/inventory status when a model is loaded (details for an admin key only)', async () => {
      const anyone = await request(w.listener).get('/readyz').set('x-api-key', KEYS.storefront).expect(200);
      expect(anyone.body).toEqual({ status: 'ready' });
      expect((await request(w.listener).get('/readyz').expect(200)).body).toEqual({ status: 'ready' });
      const r = await request(w.listener).get('/readyz').set('x-api-key', KEYS.admin).expect(200);
      expect(r.body).toMatchObject({
        status: 'ready',
        model: { version: 'tiny-1' },
        cache: { status: 'ok' },
        store: { status: 'ok' },
        inventory: { status: 'ok', stores: 2 },
      });
    });
    it('503 with no model; list endpoints 503 too, health still 200', async () => {
      const cache = new MemoryCache(`memory://readyz-${Date.now()}`);
      const source = await new CacheModelSource(cache, cacheKeys('t'), { ownsCache: true }).start();
      const empty = await serveTinyWorld(store, { ids: w.ids, source });
      const r = await request(empty.listener).get('/readyz').set('x-api-key', KEYS.admin).expect(503);
      expect(r.body).toMatchObject({ status: 'unavailable', model: { version: null } });
      expect((await request(empty.listener).get('/readyz').expect(503)).body).toEqual({ status: 'unavailable' });
      const list = await request(empty.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.storefront).expect(503);
      expect(list.body).toMatchObject({ error: 'unavailable', message: expect.stringContaining('no model') });
      expect(list.headers['retry-after']).toBe('5');
      await request(empty.listener).get('/healthz').expect(200);
      await source.close();
    });
    it('503 while draining', async () => {
      const d = await serveTinyWorld(store, { ids: w.ids });
      d.drain();
      const r = await request(d.listener).get('/readyz').set('x-api-key', KEYS.admin).expect(503);
      expect(r.body.detail).toBe('shutting down');
    });
  });

  describe('history store down', () => {
    it('lists still answer (non-personal), /readyz says degraded, errors are counted', async () => {
      // fault injection: every store call fails as it would with PostgreSQL unreachable
      const down = new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (typeof v !== 'function') return v;
          return async () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
          };
        },
      });
      const d = await serveTinyWorld(down, { ids: w.ids });
      const sf = (path: string) => request(d.listener).get(path).set('x-api-key', KEYS.storefront);
      const personal = await sf(`/v1/customers/${w.ids.tea}/recommendations?limit=2`).expect(200);
      expect(personal.body).toMatchObject({ fallback: true, fallbackReason: 'store_unavailable', model: { source: 'popular' }, items: [{ sku: 'SOAP-1' }, { sku: 'TEA-1' }] });
      await sf('/v1/items/TEA-1/similar?limit=1').expect(200, /TEA-2/);
      const ready = await request(d.listener).get('/readyz').set('x-api-key', KEYS.admin).expect(200);
      expect(ready.body).toMatchObject({ status: 'degraded', store: { status: 'degraded', detail: expect.stringContaining('ECONNREFUSED') } });
      // without the admin key: the status, not the database's address or error
      const plain = await request(d.listener).get('/readyz').expect(200);
      expect(plain.body).toEqual({ status: 'degraded' });
      expect(plain.text).not.toContain('ECONNREFUSED');
      const text = (await request(d.listener).get('/metrics')).text;
      expect(text).toContain('omnirec_postgres_errors_total 3');
    });
  });

  describe('/metrics', () => {
    it('exposes latency per route, fallbacks by reason, cache hit ratio and the model version', async () => {
      const m = await serveTinyWorld(store, { ids: w.ids });
      const sf = (path: string) => request(m.listener).get(path).set('x-api-key', KEYS.storefront);
      await sf('/v1/items/NOPE/similar').expect(200);
      await sf('/v1/items/NOPE/similar').expect(200);
      await sf(`/v1/customers/${w.ids.tea}/recommendations`).expect(200); // record found
      await sf('/v1/customers/nobody/recommendations').expect(200); // unknown in the store: no lookup
      const text = (await request(m.listener).get('/metrics').expect(200)).text;
      expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/items\/\{sku\}\/similar",status="200"\} 2/);
      expect(text).toContain('omnirec_fallbacks_total{endpoint="similar",reason="unknown_item"} 2');
      expect(text).toContain('omnirec_fallbacks_total{endpoint="personal",reason="unknown_customer"} 1');
      expect(text).toContain('omnirec_model_version_info{version="tiny-1"} 1');
      // the static source found 1 record and missed none → ratio 1
      expect(text).toContain('omnirec_customer_cache_hit_ratio 1');
      expect(text).toContain('omnirec_customer_lookups_total{result="cache_hit"} 1');
      expect(text).toContain('omnirec_redis_errors_total 0');
      expect(text).toContain('omnirec_postgres_errors_total 0');
    });
  });

  describe('/openapi.json', () => {
    it('is OpenAPI 3.1 and lists every route with its parameters and scopes', async () => {
      const doc = (await request(w.listener).get('/openapi.json').expect(200)).body;
      expect(doc.openapi).toBe('3.1.0');
      for (const r of w.routes) expect(doc.paths[r.path]?.[r.method], `${r.method} ${r.path}`).toBeDefined();
      for (const p of ['/v1/items/{sku}/similar', '/v1/baskets/recommendations', '/v1/customers/{id}/recommendations', '/v1/sessions/recommendations', '/v1/customers/{id}/buy-again', '/healthz', '/readyz', '/metrics', '/openapi.json']) {
        expect(doc.paths[p], p).toBeDefined();
      }
      const similar = doc.paths['/v1/items/{sku}/similar'].get;
      const limit = similar.parameters.find((p: { name: string }) => p.name === 'limit');
      expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } });
      expect(similar.parameters.find((p: { name: string }) => p.name === 'sku')).toMatchObject({ in: 'path', required: true });
      expect(similar['x-scopes']).toEqual(['storefront', 'associate']);
      expect(Object.keys(similar.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403']));
      const basket = doc.paths['/v1/baskets/recommendations'].post;
      expect(basket.requestBody.content['application/json'].schema.required).toContain('items');
      expect(doc.components.securitySchemes.apiKey).toEqual({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    });
  });

  describe('associate lookup and erasure', () => {
    it('finds a customer by email (normalised), phone or loyalty card, with profile and segment', async () => {
      const r = await request(w.listener).get('/v1/customers/lookup?email=%20TEA@Example.COM').set('x-api-key', KEYS.associate).expect(200);
      expect(r.body.customerId).toBe(w.ids.tea);
      expect(r.body.profile.identifiers).toEqual(expect.arrayContaining([{ kind: 'email', value: 'tea@example.com' }, { kind: 'loyalty', value: 'L-777' }]));
      expect(r.body.profile.orders).toBeGreaterThanOrEqual(3);
      expect(r.body.profile.segment).toBe('vip'); // from the model's record (the store has none saved)
      const byCard = await request(w.listener).get('/v1/customers/lookup?loyalty=L-777').set('x-api-key', KEYS.associate).expect(200);
      expect(byCard.body.customerId).toBe(w.ids.tea);
      const none = await request(w.listener).get('/v1/customers/lookup?loyalty=NOPE').set('x-api-key', KEYS.associate).expect(404);
      expect(none.body.error).toBe('not_found');
    });
    it('erasure removes the customer from the store and the model in service', async () => {
      const e = await serveTinyWorld(store, { ids: w.ids });
      const sf = (path: string) => request(e.listener).get(path).set('x-api-key', KEYS.storefront);
      expect((await sf(`/v1/customers/${w.ids.novec}/buy-again`).expect(200)).body.fallback).toBe(false);
      const r = await request(e.listener).delete(`/v1/customers/${w.ids.novec}`).set('x-api-key', KEYS.admin).expect(200);
      expect(r.body).toEqual({ customerId: w.ids.novec, erased: true, versions: ['tiny-1'] });
      expect(await e.source.customer(w.ids.novec, e.source.current()!)).toBeNull();
      const after = await sf(`/v1/customers/${w.ids.novec}/buy-again`).expect(200);
      expect(after.body).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer' });
      await request(e.listener).delete(`/v1/customers/${w.ids.novec}`).set('x-api-key', KEYS.admin).expect(404);
    });
    it('admin model endpoints answer 501 when publishing is not configured', async () => {
      const r = await request(w.listener).get('/v1/admin/models').set('x-api-key', KEYS.admin).expect(501);
      expect(r.body.error).toBe('not_supported');
    });
  });
});
