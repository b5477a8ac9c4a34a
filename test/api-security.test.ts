/**
 * The API under hostile clients: the key is checked before the body is read; hashed keys; customer
 * tokens (a key flagged `token` reads only its own customer's lists, after merges); rate limits per
 * key (429 + Retry-After, shared through Redis when there is one, in memory otherwise and while
 * Redis is away); helmet's headers, CORS and no-store on personal answers; on both dispatchers.
 */
import { startRedisServer } from './helpers/redis-server.js';
import { gzipSync } from 'node:zlib';
import { SignJWT } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashedEntry, parseApiKeys } from '../src/api/api-keys.js';
import { subjectRef } from '../src/api/customer-token.js';
import { keyRateLimiter, limiterRedis, parseRateLimits } from '../src/api/rate-limit.js';
import { authFromConfig } from '../src/api/start-service.js';
import { createLogger } from '../src/api/logger.js';
import { parseConfig } from '../src/config.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { API_KEYS, KEYS, type ServedWorld, serveTinyWorld } from './helpers/serve-fixture.js';

const backend = storeBackends().at(-1)!;
const SECRET = 'test-customer-token-secret-0123456789abcdef';
const MOBILE = 'mobile-app-key-0001';
const HASHED = 'hashed-server-key-0001';
const TABLET = 'tablet-token-key-0001';
const keys = parseApiKeys(`${API_KEYS},${MOBILE}:storefront+token,${TABLET}:associate+token,${hashedEntry(HASHED, ['storefront', 'associate'])}`);

const token = (sub: string | undefined, options: { secret?: string; exp?: number | string; alg?: string } = {}) => {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt();
  if (sub !== undefined) jwt.setSubject(sub);
  if (options.exp !== 0) jwt.setExpirationTime(options.exp ?? '10m');
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
};

describe(`security (${backend.name})`, () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let w: ServedWorld;
  // both dispatchers: the API's own (listener) and Express (app)
  const paths = () => [
    ['dispatcher', w.listener],
    ['express', w.app],
  ] as const;

  beforeAll(async () => {
    ({ store, cleanup } = await backend.open());
    w = await serveTinyWorld(store, { apiKeys: keys, deps: { customerTokenSecret: SECRET, corsOrigins: ['https://shop.example.com'] } });
  });
  afterAll(async () => {
    await cleanup?.();
  });

  describe('the API key is checked before the body is read', () => {
    const bodies: [string, Record<string, string>, string | Buffer][] = [
      ['malformed JSON', { 'content-type': 'application/json' }, '{"items": ['],
      ['a body over the limit', { 'content-type': 'application/json' }, JSON.stringify({ items: ['TEA-1'], pad: 'x'.repeat(200_000) })],
      ['a gzip body that is not gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not gzip at all'],
      ['a gzip bomb', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(50_000_000, 0x20))],
      ['a wrong content type', { 'content-type': 'text/plain' }, 'hello'],
    ];
    for (const [what, headers, body] of bodies) {
      it(`no key / unknown key with ${what} → 401, wrong scope → 403 (both dispatchers)`, async () => {
        for (const [, l] of paths()) {
          const none = await request(l).post('/v1/sessions/recommendations').set(headers).send(body).expect(401);
          expect(none.body).toMatchObject({ error: 'unauthorized' });
          await request(l).post('/v1/sessions/recommendations').set(headers).set('x-api-key', 'not-a-key-at-all').send(body).expect(401);
          const scope = await request(l).post('/v1/sessions/recommendations').set(headers).set('x-api-key', KEYS.events).send(body).expect(403);
          expect(scope.body.error).toBe('forbidden');
        }
      });
    }
    it('with a good key the same bodies are read and refused as before (400, 413)', async () => {
      await request(w.listener).post('/v1/sessions/recommendations').set('x-api-key', KEYS.storefront).set('content-type', 'application/json').send('{"items": [').expect(400);
      await request(w.listener)
        .post('/v1/sessions/recommendations')
        .set('x-api-key', KEYS.storefront)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ items: ['TEA-1'], pad: 'x'.repeat(200_000) }))
        .expect(413);
      await request(w.listener).post('/v1/sessions/recommendations').set({ 'x-api-key': KEYS.storefront, 'content-type': 'application/json', 'content-encoding': 'gzip' }).send('not gzip').expect(400);
    });
    it('a refused request is logged and counted under its route', async () => {
      await request(w.listener).post('/v1/baskets/recommendations').send('{"items": [').set('content-type', 'application/json').expect(401);
      const line = w.logs.filter((l) => l.msg === 'request').at(-1)!;
      expect(line).toMatchObject({ route: '/v1/baskets/recommendations', status: 401 });
    });
  });

  describe('API keys', () => {
    it('sha256:<hex>:scopes entries: the key is found by its hash, in any hex case', async () => {
      const entry = hashedEntry(HASHED, ['storefront']);
      expect(entry).toMatch(/^sha256:[0-9a-f]{64}:storefront$/);
      // what `printf %s abc | sha256sum` prints
      expect(hashedEntry('abc', ['storefront'])).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad:storefront');
      const upper = parseApiKeys(entry.replace(/:([0-9a-f]{64}):/, (_, h: string) => `:${h.toUpperCase()}:`));
      expect(upper.find(HASHED)?.scopes.has('storefront')).toBe(true);
      expect(upper.find(`${HASHED}x`)).toBeUndefined();
      expect(upper.find(entry)).toBeUndefined(); // the configured text is not a usable key
      await request(w.listener).get('/v1/items/TEA-1/similar').set('x-api-key', HASHED).expect(200);
      await request(w.listener).get('/v1/customers/lookup?email=tea@example.com').set('x-api-key', HASHED).expect(200);
    });
    it('ids are the first 12 hex digits of the hash; bad entries are named', () => {
      const k = parseApiKeys(`${KEYS.storefront}:storefront`).list()[0];
      expect(k.id).toBe(hashedEntry(KEYS.storefront, []).slice(7, 19));
      expect(() => parseApiKeys('sha256:abc:storefront')).toThrow(/sha256:<64 hex digits>/);
      expect(() => parseApiKeys(`${KEYS.storefront}:storefront,${hashedEntry(KEYS.storefront, ['admin'])}`)).toThrow(/twice/);
      expect(() => parseApiKeys('abcdefgh:token')).toThrow(/no scopes/);
      expect(() => parseApiKeys('abcdefgh:storefront+tokn')).toThrow(/tokn/);
    });
    it('a key flagged token needs CUSTOMER_TOKEN_SECRET (32+ characters)', () => {
      const logger = createLogger('silent');
      expect(() => authFromConfig({ API_KEYS: `${MOBILE}:storefront+token`, AUTH_DISABLED: false, CUSTOMER_TOKEN_SECRET: undefined }, logger)).toThrow(/CUSTOMER_TOKEN_SECRET/);
      expect(authFromConfig({ API_KEYS: `${MOBILE}:storefront+token`, AUTH_DISABLED: false, CUSTOMER_TOKEN_SECRET: SECRET }, logger)?.size).toBe(1);
      expect(() => parseConfig({ CUSTOMER_TOKEN_SECRET: 'short' })).toThrow(/CUSTOMER_TOKEN_SECRET.*32/);
      expect(parseConfig({ RATE_LIMITS: 'storefront=5', CORS_ORIGINS: 'https://a.example' }).RATE_LIMITS).toBe('storefront=5');
    });
  });

  describe('customer tokens (a key flagged token)', () => {
    const mobile = (l: ServedWorld['listener'] | ServedWorld['app'], path: string, bearer?: string) => {
      const r = request(l).get(path).set('x-api-key', MOBILE);
      return bearer === undefined ? r : r.set('authorization', `Bearer ${bearer}`);
    };
    it('no token on a call about a customer → 401 customer_token_required (both dispatchers)', async () => {
      for (const [, l] of paths()) {
        for (const path of [`/v1/customers/${w.ids.tea}/recommendations`, `/v1/customers/${w.ids.tea}/buy-again`, `/v1/items/TEA-1/similar?customerId=${w.ids.tea}`]) {
          const r = await mobile(l, path).expect(401);
          expect(r.body).toEqual({ error: 'customer_token_required', message: expect.stringContaining('Authorization: Bearer') });
        }
        const basket = await request(l).post('/v1/baskets/recommendations').set('x-api-key', MOBILE).send({ items: ['TEA-1'], customerId: w.ids.tea }).expect(401);
        expect(basket.body.error).toBe('customer_token_required');
      }
    });
    it('calls about nobody need no token', async () => {
      await mobile(w.listener, '/v1/items/TEA-1/similar').expect(200);
      await request(w.listener).post('/v1/sessions/recommendations').set('x-api-key', MOBILE).send({ items: ['TEA-1'] }).expect(200);
      await request(w.listener).post('/v1/baskets/recommendations').set('x-api-key', MOBILE).send({ items: ['TEA-1'] }).expect(200);
    });
    it("the customer's own token: their lists; by id, by an identifier, by a merged-away id (both dispatchers)", async () => {
      for (const [, l] of paths()) {
        for (const sub of [w.ids.tea, w.ids.merged, 'email:TEA@example.com', 'loyalty:L-777']) {
          const r = await mobile(l, `/v1/customers/${w.ids.tea}/buy-again`, await token(sub)).expect(200);
          expect(r.headers['cache-control']).toBe('no-store');
        }
        // and asking by the merged-away id with the survivor's token
        await mobile(l, `/v1/customers/${w.ids.merged}/recommendations`, await token(w.ids.tea)).expect(200);
        await request(l)
          .post('/v1/baskets/recommendations')
          .set({ 'x-api-key': MOBILE, authorization: `Bearer ${await token(w.ids.tea)}` })
          .send({ items: ['TEA-1'], customerId: w.ids.tea })
          .expect(200);
      }
    });
    it("another customer's lists → 403, whatever the ids asked", async () => {
      for (const [, l] of paths()) {
        const mug = await token(w.ids.mug);
        for (const id of [w.ids.tea, w.ids.merged, w.ids.novec, '999999', 'nobody']) {
          const r = await mobile(l, `/v1/customers/${id}/buy-again`, mug).expect(403);
          expect(r.body).toEqual({ error: 'forbidden', message: 'the customer token is for another customer' });
        }
        const ghost = await mobile(l, `/v1/customers/${w.ids.tea}/buy-again`, await token('email:nobody@example.com')).expect(403);
        expect(ghost.body.message).toMatch(/no known customer/);
      }
    });
    it('expired, wrongly signed, unsigned, other algorithms, no exp or sub, not a bearer → 401 invalid_customer_token', async () => {
      const path = `/v1/customers/${w.ids.tea}/recommendations`;
      const cases: [string, string, RegExp][] = [
        ['expired', await token(w.ids.tea, { exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/],
        ['other secret', await token(w.ids.tea, { secret: `${SECRET}-other` }), /signature/],
        ['HS512', await token(w.ids.tea, { alg: 'HS512' }), /malformed|HS256/],
        ['no exp', await token(w.ids.tea, { exp: 0 }), /exp/],
        ['no sub', await token(undefined), /sub/],
        ['garbage', 'abc.def.ghi', /malformed/],
      ];
      const [h, p] = (await token(w.ids.tea)).split('.');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
      cases.push(['alg none', none, /malformed|HS256/], ['payload swapped', `${h}.${Buffer.from(JSON.stringify({ sub: w.ids.mug, exp: 4e9 })).toString('base64url')}.${(await token(w.ids.tea)).split('.')[2]}`, /signature/]);
      for (const [, l] of paths()) {
        for (const [name, t, message] of cases) {
          const r = await mobile(l, path, t);
          expect({ name, status: r.status, error: r.body.error }).toEqual({ name, status: 401, error: 'invalid_customer_token' });
          expect(r.body.message).toMatch(message);
        }
        const basic = await request(l).get(path).set({ 'x-api-key': MOBILE, authorization: 'Basic abc' }).expect(401);
        expect(basic.body.error).toBe('invalid_customer_token');
      }
    });
    it('a key without the flag (a storefront backend) needs no token, and a token does not widen a key', async () => {
      await request(w.listener).get(`/v1/customers/${w.ids.tea}/buy-again`).set('x-api-key', KEYS.storefront).expect(200);
      await request(w.listener)
        .get('/v1/customers/lookup?email=tea@example.com')
        .set({ 'x-api-key': MOBILE, authorization: `Bearer ${await token(w.ids.tea)}` })
        .expect(403);
    });
    it('a lookup is about the person looked up', async () => {
      const look = (q: string, t?: string) => {
        const r = request(w.listener).get(`/v1/customers/lookup?${q}`).set('x-api-key', TABLET);
        return t === undefined ? r : r.set('authorization', `Bearer ${t}`);
      };
      expect((await look('email=tea@example.com').expect(401)).body.error).toBe('customer_token_required');
      await look('email=TEA@example.com', await token(w.ids.tea)).expect(200);
      await look('loyalty=L-777', await token('email:tea@example.com')).expect(200);
      await look('email=mug@example.com', await token(w.ids.tea)).expect(403);
      // routes added later under /v1/customers/{id}/ are about that customer by default (the clienteling card)
      const card = (id: string) => request(w.listener).get(`/v1/customers/${id}/profile`).set('x-api-key', TABLET);
      expect((await card(w.ids.tea).expect(401)).body.error).toBe('customer_token_required');
      await card(w.ids.tea).set('authorization', `Bearer ${await token(w.ids.tea)}`).expect(200);
      await card(w.ids.mug).set('authorization', `Bearer ${await token(w.ids.tea)}`).expect(403);
    });
    it('sub: identifiers by kind, anything else a customer id', () => {
      expect(subjectRef('email:a@b.c')).toEqual({ kind: 'email', value: 'a@b.c' });
      expect(subjectRef('1042')).toEqual({ id: '1042' });
      expect(subjectRef('x:1042')).toEqual({ id: 'x:1042' });
    });
  });

  describe('found by the fuzzer (test/api-fuzz.test.ts)', () => {
    it("a store named like an Object.prototype member is just an unknown store (was a 500)", async () => {
      for (const store of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
        const r = await request(w.listener).get(`/v1/customers/${w.ids.tea}/recommendations?store=${store}`).set('x-api-key', KEYS.storefront).expect(200);
        expect(r.body.items.length).toBeGreaterThan(0);
        await request(w.listener).get(`/v1/items/TEA-1/similar?store=${store}`).set('x-api-key', KEYS.storefront).expect(200);
        await request(w.listener).post('/v1/sessions/recommendations').set('x-api-key', KEYS.storefront).send({ items: ['TEA-1'], store }).expect(200);
      }
    });
    it('a model version cannot name a folder outside MODEL_DIR', async () => {
      for (const v of ['..', '.', '.hidden']) {
        const r = await request(w.listener).post(`/v1/admin/models/${v}/publish`).set('x-api-key', KEYS.admin).expect(400);
        expect(r.body.fields[0].field).toBe('params.version');
      }
      const r = await request(w.listener).post('/v1/admin/models/rollback').set('x-api-key', KEYS.admin).send({ version: '..' }).expect(400);
      expect(r.body.fields[0].field).toBe('body.version');
    });
  });

  describe('headers', () => {
    it("helmet's headers on every answer, on both dispatchers and on 404s", async () => {
      for (const [, l] of paths()) {
        for (const r of [
          await request(l).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.storefront),
          await request(l).get('/v1/items/TEA-1/similar'),
          await request(l).get('/v1/nowhere'),
          await request(l).get('/healthz'),
        ]) {
          expect(r.headers).toMatchObject({
            'content-security-policy': "default-src 'none';frame-ancestors 'none'",
            'x-content-type-options': 'nosniff',
            'strict-transport-security': expect.stringContaining('max-age='),
            'referrer-policy': 'no-referrer',
            'x-frame-options': 'SAMEORIGIN',
          });
        }
      }
    });
    it('Cache-Control: no-store on personal answers (lists, buy-again, lookup, events, refusals of them), not on item lists', async () => {
      const sf = KEYS.storefront;
      const personal = [
        request(w.listener).get(`/v1/customers/${w.ids.tea}/recommendations`).set('x-api-key', sf),
        request(w.listener).get(`/v1/customers/${w.ids.tea}/buy-again`).set('x-api-key', sf),
        request(w.listener).get(`/v1/customers/${w.ids.tea}/buy-again`),
        request(w.listener).get('/v1/customers/lookup?email=tea@example.com').set('x-api-key', KEYS.associate),
        request(w.listener).get(`/v1/customers/${w.ids.tea}/profile`).set('x-api-key', KEYS.associate),
        request(w.listener).get(`/v1/items/TEA-1/similar?customerId=${w.ids.tea}`).set('x-api-key', sf),
        request(w.listener).post('/v1/baskets/recommendations').set('x-api-key', sf).send({ items: ['TEA-1'], customerId: w.ids.tea }),
        request(w.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).send({ orderId: 'SEC-1', channel: 'web', customerId: w.ids.mug, lines: [{ sku: 'TEA-1', quantity: 1 }] }),
      ];
      for (const r of await Promise.all(personal)) expect({ status: r.status, cc: r.headers['cache-control'] }).toEqual({ status: r.status, cc: 'no-store' });
      const item = await request(w.listener).get('/v1/items/TEA-1/similar').set('x-api-key', sf).expect(200);
      expect(item.headers['cache-control']).toBeUndefined();
    });
    it('CORS: the configured origin is allowed (both dispatchers, preflight), others get no allow-origin', async () => {
      for (const [, l] of paths()) {
        const ok = await request(l).get('/v1/items/TEA-1/similar').set({ 'x-api-key': KEYS.storefront, origin: 'https://shop.example.com' }).expect(200);
        expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example.com');
        expect(ok.headers['access-control-expose-headers']).toContain('retry-after');
        const other = await request(l).get('/v1/items/TEA-1/similar').set({ 'x-api-key': KEYS.storefront, origin: 'https://evil.example' }).expect(200);
        expect(other.headers['access-control-allow-origin']).toBeUndefined();
        const pre = await request(l)
          .options('/v1/customers/42/recommendations')
          .set({ origin: 'https://shop.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key,authorization' })
          .expect(204);
        expect(pre.headers['access-control-allow-headers']).toContain('x-api-key');
        expect(pre.headers['access-control-allow-headers']).toContain('authorization');
        expect(pre.headers['access-control-allow-origin']).toBe('https://shop.example.com');
      }
    });
  });

  describe('rate limits per key', () => {
    it('parses RATE_LIMITS and names a bad entry', () => {
      const l = parseRateLimits('storefront=500, associate=50,key:0123456789ab=7');
      expect(l.byScope).toEqual({ storefront: 500, associate: 50 });
      expect(l.byKey.get('0123456789ab')).toBe(7);
      for (const bad of ['root=5', 'storefront=0', 'storefront=fast', 'key:xyz=5']) expect(() => parseRateLimits(bad)).toThrow(InvalidArgumentError);
    });
    it('over the limit → 429 with Retry-After and a JSON body; other keys unaffected; an own entry beats the scope (both dispatchers)', async () => {
      const assoc = parseApiKeys(`${KEYS.associate}:associate`).list()[0].id;
      // a 60 s window: nothing here depends on timing
      const limited = await serveTinyWorld(store, {
        ids: w.ids,
        apiKeys: keys,
        deps: { customerTokenSecret: SECRET, rateLimit: keyRateLimiter(parseRateLimits(`storefront=3,associate=1,key:${assoc}=5`), { windowS: 60 }) },
      });
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await request(i % 2 ? limited.app : limited.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.storefront)).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const r = await request(limited.listener).post('/v1/sessions/recommendations').set('x-api-key', KEYS.storefront).send('{"broken').expect(429);
      expect(r.body).toEqual({ error: 'rate_limited', message: expect.stringContaining('3 requests') });
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 5; i++) await request(limited.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.associate).expect(200);
      await request(limited.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.associate).expect(429);
      // admin and events keys: no scope of theirs listed → not limited; operations routes never
      await request(limited.listener).get('/healthz').expect(200);
    });
    it('Redis unreachable: each instance counts in memory (insurance), nothing fails open or closed', async () => {
      const redis = limiterRedis('redis://127.0.0.1:1');
      redis.on('error', () => {});
      try {
        const limited = await serveTinyWorld(store, { ids: w.ids, apiKeys: keys, deps: { customerTokenSecret: SECRET, rateLimit: keyRateLimiter(parseRateLimits('storefront=2'), { redis, windowS: 60, prefix: `t${Date.now()}` }) } });
        const codes = [];
        for (let i = 0; i < 3; i++) codes.push((await request(limited.listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.storefront)).status);
        expect(codes).toEqual([200, 200, 429]);
      } finally {
        redis.disconnect();
      }
    });
    it('with Redis the count is shared by every instance (REDIS_URL, else a throwaway redis-server)', async () => {
      const own = process.env.REDIS_URL ? null : await startRedisServer();
      const url = process.env.REDIS_URL ?? own!.url;
      const clients = [limiterRedis(url), limiterRedis(url)];
      try {
        await Promise.all(clients.map((c) => new Promise((r) => (c.status === 'ready' ? r(null) : c.once('ready', r)))));
        const prefix = `omnirec_t_rl_${Date.now()}`;
        const instances = await Promise.all(
          clients.map((redis) => serveTinyWorld(store, { ids: w.ids, apiKeys: keys, deps: { customerTokenSecret: SECRET, rateLimit: keyRateLimiter(parseRateLimits('storefront=4'), { redis, windowS: 60, prefix }) } })),
        );
        const codes = [];
        for (let i = 0; i < 6; i++) codes.push((await request(instances[i % 2].listener).get('/v1/items/TEA-1/similar').set('x-api-key', KEYS.storefront)).status);
        expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
      } finally {
        for (const c of clients) c.disconnect();
        await own?.stop();
      }
    });
  });
});
