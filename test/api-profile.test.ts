/**
 * The clienteling card (GET /v1/customers/{id}/profile), product search and the product card, over a
 * real history store (every backend available) and the tiny bundle (test/helpers/tiny-bundle.ts).
 * The tiny world's `tea` bought TEA-1 on the web and twice in store S1 (once as loyalty card L-777,
 * merged into them); S1 stocks TEA-1 and MUG-1.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientelingService, type OfferDecision } from '../src/serve/clienteling-service.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { KEYS, NOW, type ServedWorld, serveTinyWorld } from './helpers/serve-fixture.js';

const CONTRACT_KEYS = [
  'customerId', 'identifiers', 'segment', 'rfm', 'lifetimeValue', 'orders', 'averageOrderValue', 'channels', 'favouriteStore',
  'favouriteCategories', 'recentPurchases', 'consent', 'buyAgain', 'recommendations', 'nextBestOffer',
];

for (const backend of storeBackends()) {
  describe(`clienteling card (${backend.name})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let w: ServedWorld;
    const get = (path: string, key = KEYS.associate) => request(w.listener).get(path).set('x-api-key', key);

    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      w = await serveTinyWorld(store);
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it('one call: the whole card, from a merged-away id, not cached', async () => {
      const r = await get(`/v1/customers/${w.ids.merged}/profile?store=S1`).expect(200);
      expect(r.headers['cache-control']).toBe('no-store');
      const c = r.body;
      expect(Object.keys(c)).toEqual(expect.arrayContaining(CONTRACT_KEYS));
      expect(c.customerId).toBe(w.ids.tea);
      expect(c.identifiers).toEqual([
        { kind: 'email', value: 't•••@example.com' },
        { kind: 'loyalty', value: 'L-777' },
      ]);
      // segment from the model's record (the store has none saved)
      expect(c.segment).toBe('vip');
      expect(c.orders).toBe(3);
      expect(c.lifetimeValue).toBe(7.5);
      expect(c.averageOrderValue).toBe(2.5);
      expect(c.rfm.frequency).toBe(3);
      expect(c.rfm.monetary).toBe(7.5);
      expect(c.rfm.recencyDays).toBeCloseTo((NOW - Date.parse(c.lastPurchaseAt)) / 86_400_000, 1);
      expect(c.channels).toEqual({ web: { orders: 1, spend: 2.5 }, app: { orders: 0, spend: 0 }, store: { orders: 2, spend: 5 } });
      expect(c.favouriteStore).toEqual({ storeId: 'S1', name: null, orders: 2 });
      expect(c.favouriteCategories).toEqual([{ category: 'tea', orders: 3, spend: 7.5 }]);
      expect(c.recentPurchases).toHaveLength(3);
      expect(c.recentPurchases[0]).toMatchObject({ channel: 'store', store: 'S1', sku: 'TEA-1', title: 'tea-1', quantity: 1, unitPrice: 2.5 });
      expect(c.recentPurchases[2]).toMatchObject({ channel: 'web', store: null });
      expect(c.consent.personalisation).toMatchObject({ granted: true, basis: 'recorded', source: 'test' });
      expect(c.consent.email).toEqual({ granted: false, basis: 'default', at: null, source: null });
      // in stock in S1 and not bought yet: MUG-1 only (TEA-1 is theirs)
      expect(c.recommendations).toMatchObject({ store: 'S1', fallback: false, model: { version: 'tiny-1', source: 'factors' } });
      expect(c.recommendations.items.map((i: { sku: string }) => i.sku)).toEqual(['MUG-1']);
      expect(c.recommendations.items[0]).toMatchObject({ title: 'mug-1', why: expect.any(String) });
      expect(c.buyAgain.items).toHaveLength(1);
      expect(c.buyAgain.items[0]).toMatchObject({ sku: 'TEA-1', title: 'tea-1', inStock: true, reason: { type: 'buy_again', purchases: 3 } });
      expect(c.buyAgain.items[0].why).toMatch(/^Bought 3 times, last on \d{4}-\d\d-\d\d; due in 1 day$/);
      expect(c.nextBestOffer).toEqual({ available: false, reason: 'offers_not_configured' });
    });

    it('limit and store: without a store the recommendations are not filtered by stock', async () => {
      const r = await get(`/v1/customers/${w.ids.tea}/profile?limit=2`).expect(200);
      expect(r.body.recommendations.store).toBeNull();
      expect(r.body.recommendations.items).toHaveLength(2);
      expect(r.body.recommendations.items.every((i: { sku: string }) => i.sku !== 'TEA-1')).toBe(true);
      expect(r.body.buyAgain.items[0].inStock).toBeNull();
    });

    it('no personalisation consent: no recommendations, no buy-again, and it says why', async () => {
      const r = await get(`/v1/customers/${w.ids.nocons}/profile?store=S1`).expect(200);
      expect(r.body.consent.personalisation).toMatchObject({ granted: false });
      expect(r.body.recommendations).toEqual({ store: 'S1', items: [], reason: 'no_consent' });
      expect(r.body.buyAgain).toEqual({ items: [], reason: 'no_consent' });
      // the history is still theirs to see
      expect(r.body.recentPurchases.map((p: { sku: string }) => p.sku)).toEqual(['TEA-2']);
    });

    it('scopes associate and admin; storefront 403; unknown 404; bad limit 400', async () => {
      await get(`/v1/customers/${w.ids.tea}/profile`, KEYS.admin).expect(200);
      const f = await get(`/v1/customers/${w.ids.tea}/profile`, KEYS.storefront).expect(403);
      expect(f.body.error).toBe('forbidden');
      await request(w.listener).get(`/v1/customers/${w.ids.tea}/profile`).expect(401);
      const nf = await get('/v1/customers/987654/profile').expect(404);
      expect(nf.headers['cache-control']).toBe('no-store');
      await get('/v1/customers/not-an-id/profile').expect(404);
      const bad = await get(`/v1/customers/${w.ids.tea}/profile?limit=0`).expect(400);
      expect(JSON.stringify(bad.body)).toContain('query.limit');
    });

    it('product search and the product card', async () => {
      const s = await get('/v1/products?q=mug&limit=2').expect(200);
      expect(s.body.items.map((p: { sku: string }) => p.sku)).toEqual(['MUG-1', 'MUG-2']);
      await get('/v1/products').expect(400);
      await get('/v1/products?q=tea', KEYS.storefront).expect(403);
      const p = await get('/v1/products/TEA-1?limit=2').expect(200);
      expect(p.body).toMatchObject({ sku: 'TEA-1', title: 'tea-1', category: 'tea', stock: [{ storeId: 'S1', quantity: 5 }] });
      expect(p.body.similar.items.map((i: { sku: string }) => i.sku)).toEqual(['TEA-2', 'TEA-3']);
      expect(p.body.similar.items[0]).toMatchObject({ title: 'tea-2', why: 'Similar to tea-1' });
      expect(p.body.boughtTogether.items.map((i: { sku: string }) => i.sku)).toEqual(['MUG-1', 'SOAP-1']);
      expect(p.body.boughtTogether.items[0].why).toBe('Often bought with tea-1');
      const inS1 = await get('/v1/products/TEA-2?store=S1').expect(200);
      expect(inS1.body.similar.items.map((i: { sku: string }) => i.sku)).toEqual(['TEA-1', 'MUG-1']);
      await get('/v1/products/NOPE').expect(404);
    });

    it('reads the store twice: the card statement (which also answers consent for the lists), then the titles', async () => {
      const calls: string[] = [];
      const counting = new Proxy(store, {
        get(target, key, receiver) {
          const v = Reflect.get(target, key, receiver);
          return typeof v === 'function' ? (...args: unknown[]) => (calls.push(String(key)), v.apply(target, args)) : v;
        },
      });
      const w2 = await serveTinyWorld(counting, { ids: w.ids });
      // the first card also loads the offers (none configured here: the card then asks nothing more of them)
      await request(w2.listener).get(`/v1/customers/${w.ids.novec}/profile`).set('x-api-key', KEYS.associate).expect(200);
      calls.length = 0;
      const r = await request(w2.listener).get(`/v1/customers/${w.ids.mug}/profile?store=S1`).set('x-api-key', KEYS.associate).expect(200);
      expect(r.body.recommendations.items.length).toBeGreaterThan(0);
      expect(calls).toEqual(['customerCard', 'productTitles']);
      // the lists asked next for them find the consent answer the card left
      calls.length = 0;
      await request(w2.listener).get(`/v1/customers/${w.ids.mug}/recommendations`).set('x-api-key', KEYS.storefront).expect(200);
      expect(calls).toEqual([]);
    });

    it('the next best offer: the decision for channel store, with its reason in words; none and why otherwise', async () => {
      const asked: unknown[] = [];
      const decision: OfferDecision = {
        offers: [
          {
            offerId: 'tea-10',
            title: '10% off tea',
            kind: 'percent_off',
            score: 1.2,
            propensity: 0.3,
            value: 4,
            reason: { type: 'affinity', details: [{ type: 'affinity', sku: 'TEA-2', affinity: 0.9 }, { type: 'vip' }] },
          },
        ],
        decisionId: 'd-1',
        policy: { name: 'thompson', version: '1' },
        fallback: false,
      };
      let answer = decision;
      const cards = new ClientelingService({
        store,
        service: w.service,
        access: w.access,
        source: w.source,
        inventory: w.inventory,
        now: () => NOW,
        nextBestOffer: async (id, options) => (asked.push([id, options]), answer),
      });
      const c = (await cards.card(w.ids.tea, { store: 'S1', limit: 3 }))!;
      expect(asked).toEqual([[w.ids.tea, { channel: 'store', store: 'S1', limit: 1 }]]);
      expect(c.nextBestOffer).toEqual({
        available: true,
        offers: [{ ...decision.offers[0], why: 'They like tea-2; a VIP customer' }],
        decisionId: 'd-1',
        policy: { name: 'thompson', version: '1' },
        fallback: false,
      });
      answer = { offers: [], decisionId: 'd-2', fallback: true, fallbackReason: 'no_consent' };
      expect((await cards.card(w.ids.nocons, { limit: 3 }))!.nextBestOffer).toEqual({ available: false, reason: 'no_consent', decisionId: 'd-2' });
      // a failing decision leaves the card whole, without an offer, saying so
      const failing = new ClientelingService({ store, service: w.service, access: w.access, source: w.source, inventory: w.inventory, nextBestOffer: async () => Promise.reject(new Error('down')) });
      expect((await failing.card(w.ids.tea, { limit: 3 }))!.nextBestOffer).toEqual({ available: false, reason: 'offers_unavailable' });
    });

    it('offer stats for the console: admin only', async () => {
      expect((await get('/v1/admin/offer-stats', KEYS.admin).expect(200)).body).toEqual({ cells: [] });
      await get('/v1/admin/offer-stats').expect(403);
    });

    it('the bundles route answers 501 without publishing, 403 for an associate', async () => {
      await get('/v1/admin/bundles', KEYS.admin).expect(501);
      await get('/v1/admin/bundles').expect(403);
    });

    it('serves the console: its three files with their types and a self-only CSP, no key needed; nothing else under /console', async () => {
      const page = await request(w.listener).get('/console').expect(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'self'; style-src 'self';/);
      expect(page.text).toContain('<script type="module" src="/console/console.js">');
      expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
      await request(w.listener).get('/console/').expect(200).expect('content-type', /text\/html/);
      await request(w.listener).get('/console/console.js').expect(200).expect('content-type', 'text/javascript; charset=utf-8');
      await request(w.listener).get('/console/console.css').expect(200).expect('content-type', 'text/css; charset=utf-8');
      await request(w.listener).head('/console').expect(200);
      await request(w.listener).get('/console/secrets.json').expect(404);
    });

    it('the OpenAPI document declares the routes', async () => {
      const doc = (await request(w.listener).get('/openapi.json').expect(200)).body;
      expect(doc.paths['/v1/customers/{id}/profile'].get['x-scopes']).toEqual(['associate', 'admin']);
      expect(Object.keys(doc.paths['/v1/customers/{id}/profile'].get.responses['200'].content['application/json'].schema.properties)).toEqual(
        expect.arrayContaining(CONTRACT_KEYS),
      );
      expect(doc.paths['/v1/products/{sku}'].get).toBeDefined();
      expect(doc.paths['/v1/products'].get).toBeDefined();
    });
  });
}
