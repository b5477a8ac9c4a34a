/**
 * Every list endpoint with its options and fallbacks, over a real history store (every backend
 * available) and the hand-made tiny bundle (see test/helpers/tiny-bundle.ts for the numbers).
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { KEYS, type ServedWorld, serveTinyWorld } from './helpers/serve-fixture.js';

type Item = { sku: string; score: number; reason: Record<string, unknown> };
const skus = (body: { items: Item[] }) => body.items.map((i) => i.sku);

for (const backend of storeBackends()) {
  describe(`list endpoints (${backend.name})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let w: ServedWorld;
    const get = (path: string) => request(w.listener).get(path).set('x-api-key', KEYS.storefront);
    const post = (path: string, body: unknown) => request(w.listener).post(path).set('x-api-key', KEYS.storefront).send(body as object);

    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      w = await serveTinyWorld(store);
    });
    afterAll(async () => {
      await cleanup?.();
    });

    describe('GET /v1/items/{sku}/similar', () => {
      it('answers from the neighbours, then fills with popular, never the item itself', async () => {
        const r = await get('/v1/items/TEA-1/similar?limit=4').expect(200);
        expect(skus(r.body)).toEqual(['TEA-2', 'TEA-3', 'SOAP-1', 'MUG-1']);
        expect(r.body.items[0]).toMatchObject({ score: 0.9, reason: { type: 'similar_to', sku: 'TEA-1' }, category: 'tea' });
        expect(r.body.items[2].reason).toEqual({ type: 'popular', scope: 'global' });
        expect(r.body.model).toEqual({ version: 'tiny-1', source: 'neighbours' });
        expect(r.body.fallback).toBe(false);
      });
      it('an unknown item falls back to popular and says so', async () => {
        const r = await get('/v1/items/NOPE/similar?limit=3').expect(200);
        expect(skus(r.body)).toEqual(['SOAP-1', 'TEA-1', 'MUG-1']);
        expect(r.body).toMatchObject({ fallback: true, fallbackReason: 'unknown_item', model: { source: 'popular' } });
      });
      it('store: only items in stock there (S1 stocks TEA-1, MUG-1; SOAP-1 at 0)', async () => {
        const r = await get('/v1/items/TEA-2/similar?store=S1').expect(200);
        // neighbours TEA-1 (in stock) and TEA-3 (not); then S1's popular list has nothing in stock; global gives MUG-1
        expect(skus(r.body)).toEqual(['TEA-1', 'MUG-1']);
        expect(r.body.fallback).toBe(false);
        const none = await get('/v1/items/TEA-1/similar?store=S1').expect(200);
        expect(skus(none.body)).toEqual(['MUG-1']);
        expect(none.body).toMatchObject({ fallback: true, fallbackReason: 'no_candidates', model: { source: 'popular' } });
      });
      it('a store with no inventory on record is not filtered, with a warning', async () => {
        const r = await get('/v1/items/TEA-1/similar?store=S9&limit=2').expect(200);
        expect(skus(r.body)).toEqual(['TEA-2', 'TEA-3']);
        expect(r.body.warnings).toEqual(['unknown_store']);
      });
      it('category and excludeCategory filter the stream', async () => {
        const ex = await get('/v1/items/TEA-1/similar?excludeCategory=tea&limit=3').expect(200);
        expect(skus(ex.body)).toEqual(['SOAP-1', 'MUG-1', 'SOAP-2']);
        const inc = await get('/v1/items/TEA-1/similar?category=mug&category=soap&limit=3').expect(200);
        expect(skus(inc.body)).toEqual(['SOAP-1', 'MUG-1', 'SOAP-2']);
        const csv = await get('/v1/items/TEA-1/similar?category=mug,tea&limit=3').expect(200);
        expect(skus(csv.body)).toEqual(['TEA-2', 'TEA-3', 'MUG-1']);
      });
      it('with customerId, excludePurchased (default on) leaves out what they bought', async () => {
        const on = await get(`/v1/items/TEA-2/similar?customerId=${w.ids.tea}&limit=1`).expect(200);
        expect(skus(on.body)).toEqual(['TEA-3']);
        const off = await get(`/v1/items/TEA-2/similar?customerId=${w.ids.tea}&limit=1&excludePurchased=false`).expect(200);
        expect(skus(off.body)).toEqual(['TEA-1']);
      });
    });

    describe('POST /v1/baskets/recommendations', () => {
      it('frequently bought together first, by lift, with the basket item as reason', async () => {
        const r = await post('/v1/baskets/recommendations', { items: ['TEA-1'], limit: 4 }).expect(200);
        expect(skus(r.body)).toEqual(['MUG-1', 'SOAP-1', 'TEA-2', 'TEA-3']);
        expect(r.body.items[0]).toMatchObject({ score: 3, reason: { type: 'bought_with', sku: 'TEA-1' } });
        expect(r.body.items[2].reason).toEqual({ type: 'similar_to', sku: 'TEA-1' });
        expect(r.body).toMatchObject({ model: { source: 'fbt' }, fallback: false });
      });
      it('several basket items add up; basket items never come back', async () => {
        const r = await post('/v1/baskets/recommendations', { items: ['TEA-1', 'MUG-1'], limit: 3 }).expect(200);
        // fbt: TEA-1→MUG-1 (in basket), SOAP-1 1.5; MUG-1→TEA-1 (in basket). Then neighbours: TEA-2 .9, MUG-2 .9 (ties: lower index)
        expect(skus(r.body)).toEqual(['SOAP-1', 'TEA-2', 'MUG-2']);
      });
      it('a known customer: excludePurchased leaves out what they bought', async () => {
        const on = await post('/v1/baskets/recommendations', { items: ['TEA-1'], customerId: w.ids.mug, limit: 1 }).expect(200);
        expect(skus(on.body)).toEqual(['SOAP-1']);
        const off = await post('/v1/baskets/recommendations', { items: ['TEA-1'], customerId: w.ids.mug, limit: 1, excludePurchased: false }).expect(200);
        expect(skus(off.body)).toEqual(['MUG-1']);
      });
      it('no fbt list → neighbours (fallback); unknown items → popular', async () => {
        const nb = await post('/v1/baskets/recommendations', { items: ['SOAP-1'], limit: 2 }).expect(200);
        expect(skus(nb.body)).toEqual(['SOAP-2', 'TEA-1']);
        expect(nb.body).toMatchObject({ model: { source: 'neighbours' }, fallback: true, fallbackReason: 'no_candidates' });
        const unknown = await post('/v1/baskets/recommendations', { items: ['NOPE', 'NADA'], limit: 2 }).expect(200);
        expect(skus(unknown.body)).toEqual(['SOAP-1', 'TEA-1']);
        expect(unknown.body).toMatchObject({ model: { source: 'popular' }, fallback: true, fallbackReason: 'unknown_item' });
      });
      it('store: in stock there only', async () => {
        const r = await post('/v1/baskets/recommendations', { items: ['TEA-1'], store: 'S2' }).expect(200);
        expect(skus(r.body)).toEqual(['TEA-2']);
        expect(r.body.model.source).toBe('neighbours');
      });
    });

    describe('GET /v1/customers/{id}/recommendations', () => {
      it('factor scores x·y blended with the item trend (core/blend.ts), already-bought left out, reasons', async () => {
        const r = await get(`/v1/customers/${w.ids.tea}/recommendations?limit=3`).expect(200);
        // x = (1, 0): TEA-2 .9, TEA-3 .8, mugs 0 (TEA-1 bought); trend t: MUG-3 1, TEA-3 .5 (trending list 2, 1).
        // blend 0.5·(m/max m + 0.5·t): TEA-3 .5·(.8/.9 + .25) = .569444, TEA-2 .5, MUG-3 .25
        expect(skus(r.body)).toEqual(['TEA-3', 'TEA-2', 'MUG-3']);
        expect(r.body.items.map((i: Item) => i.score)).toEqual([0.569444, 0.5, 0.25]);
        expect(r.body.items[0].reason).toEqual({ type: 'because_you_bought', sku: 'TEA-1' });
        expect(r.body.items[2].reason).toEqual({ type: 'personal' });
        expect(r.body).toMatchObject({ model: { version: 'tiny-1', source: 'factors' }, fallback: false });
        expect(r.body.fallbackReason).toBeUndefined();
      });
      it('excludePurchased=false blends buy-again with the factors as evaluation does (core/blend.ts)', async () => {
        const r = await get(`/v1/customers/${w.ids.tea}/recommendations?limit=3&excludePurchased=false`).expect(200);
        // owned TEA-1: 1·3 purchases + 0.5·trend 0 + 0.01·popularity 7/8 = 3.00875;
        // learned 0.5·(m/best + 0.5·t) with best = TEA-1's 1: TEA-3 .5·(.8 + .25) = .525, TEA-2 .45
        expect(skus(r.body)).toEqual(['TEA-1', 'TEA-3', 'TEA-2']);
        expect(r.body.items.map((i: Item) => i.score)).toEqual([3.00875, 0.525, 0.45]);
        expect(r.body.items[0].reason).toMatchObject({ type: 'buy_again', purchases: 3, expectedInDays: 1 });
        expect(r.body.model.source).toBe('factors');
      });
      it('a merged-away id answers for the surviving customer', async () => {
        const r = await get(`/v1/customers/${w.ids.merged}/recommendations?limit=3`).expect(200);
        expect(skus(r.body)).toEqual(['TEA-3', 'TEA-2', 'MUG-3']);
        expect(r.body.customerId).toBe(w.ids.tea);
      });
      it('no consent: popular only, never their history, and says so', async () => {
        const r = await get(`/v1/customers/${w.ids.nocons}/recommendations?limit=3`).expect(200);
        // nocons bought TEA-2; not excluded, not used
        expect(skus(r.body)).toEqual(['SOAP-1', 'TEA-1', 'MUG-1']);
        expect(r.body).toMatchObject({ fallback: true, fallbackReason: 'no_consent', model: { source: 'popular' } });
        expect(r.body.items.every((i: Item) => i.reason.type === 'popular')).toBe(true);
      });
      it('no consent with a store: popular in store (segment-free), in stock', async () => {
        const r = await get(`/v1/customers/${w.ids.nocons}/recommendations?store=S1`).expect(200);
        expect(skus(r.body)).toEqual(['TEA-1', 'MUG-1']);
        expect(r.body.fallbackReason).toBe('no_consent');
      });
      it('an unknown customer is not an error: popular, unknown_customer', async () => {
        const r = await get('/v1/customers/nobody-here/recommendations?limit=2').expect(200);
        expect(skus(r.body)).toEqual(['SOAP-1', 'TEA-1']);
        expect(r.body).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer' });
      });
      it('no vector: neighbours of recent purchases, then popular', async () => {
        const r = await get(`/v1/customers/${w.ids.novec}/recommendations?limit=3`).expect(200);
        expect(skus(r.body)).toEqual(['SOAP-2', 'TEA-1', 'MUG-1']);
        expect(r.body.items[0].reason).toEqual({ type: 'because_you_bought', sku: 'SOAP-1' });
        expect(r.body).toMatchObject({ fallback: true, fallbackReason: 'no_vector', model: { source: 'neighbours' } });
      });
      it('category filter applies to factor scores', async () => {
        const r = await get(`/v1/customers/${w.ids.tea}/recommendations?category=mug`).expect(200);
        // factor scores all 0 for mugs: the trend decides (MUG-3), then ties by index
        expect(skus(r.body)).toEqual(['MUG-3', 'MUG-1', 'MUG-2']);
        expect(r.body.model.source).toBe('factors');
      });
      it('the chain is configurable: without personal, a vip gets neighbours then their segment', async () => {
        const alt = await serveTinyWorld(store, { ids: w.ids, chain: 'neighbours,segment,popular' });
        const r = await request(alt.listener).get(`/v1/customers/${w.ids.tea}/recommendations?limit=3`).set('x-api-key', KEYS.storefront).expect(200);
        // neighbours of TEA-1: TEA-2 .9, TEA-3 .8; segment vip: TEA-3 (dup), MUG-3
        expect(skus(r.body)).toEqual(['TEA-2', 'TEA-3', 'MUG-3']);
        expect(r.body.items[2].reason).toEqual({ type: 'popular', scope: 'segment', segment: 'vip' });
        expect(r.body.model.source).toBe('neighbours');
      });
    });

    describe('POST /v1/sessions/recommendations', () => {
      it('folds the session in with the item factors (ALS closed form)', async () => {
        const r = await post('/v1/sessions/recommendations', { items: ['MUG-1'], limit: 3 }).expect(200);
        // x = (YᵀY + (c−1)yyᵀ + λI)⁻¹ c y with y = (0, 1), c = 2, λ = .1 → x ≈ (−0.026, 0.544):
        // MUG-2 .49, MUG-3 .44, SOAP-1 .155
        expect(skus(r.body)).toEqual(['MUG-2', 'MUG-3', 'SOAP-1']);
        expect(r.body.items[0].score).toBeCloseTo((0.9 * 2.68 * 2) / (2.68 * 3.68 - 0.13 * 0.13), 4);
        expect(r.body.items[0].reason).toEqual({ type: 'similar_to', sku: 'MUG-1' });
        expect(r.body).toMatchObject({ model: { source: 'factors' }, fallback: false });
      });
      it('unknown session items → popular', async () => {
        const r = await post('/v1/sessions/recommendations', { items: ['NOPE'], limit: 1 }).expect(200);
        expect(r.body).toMatchObject({ items: [{ sku: 'SOAP-1' }], fallback: true, fallbackReason: 'unknown_item' });
      });
      it('store and category options apply', async () => {
        const r = await post('/v1/sessions/recommendations', { items: ['MUG-1'], store: 'S1' }).expect(200);
        expect(skus(r.body)).toEqual(['TEA-1']);
        const c = await post('/v1/sessions/recommendations', { items: ['MUG-1'], category: ['soap'] }).expect(200);
        expect(skus(c.body)).toEqual(['SOAP-1', 'SOAP-2']);
      });
    });

    describe('GET /v1/customers/{id}/buy-again', () => {
      it('repeated items by expected repurchase, then items bought once', async () => {
        const r = await get(`/v1/customers/${w.ids.mug}/buy-again`).expect(200);
        expect(skus(r.body)).toEqual(['SOAP-2', 'MUG-1']);
        expect(r.body.items[0].reason).toMatchObject({ type: 'buy_again', expectedInDays: 25, purchases: 2 });
        expect(r.body.items[1].reason).toMatchObject({ type: 'buy_again', expectedInDays: null, purchases: 1 });
        expect(r.body).toMatchObject({ model: { source: 'repeat' }, fallback: false });
      });
      it('expected time from the last purchase and the mean interval', async () => {
        const r = await get(`/v1/customers/${w.ids.tea}/buy-again`).expect(200);
        expect(r.body.items).toHaveLength(1);
        expect(r.body.items[0].reason).toMatchObject({ type: 'buy_again', expectedInDays: 1, purchases: 3 });
      });
      it('filters apply (category)', async () => {
        const r = await get(`/v1/customers/${w.ids.mug}/buy-again?category=mug`).expect(200);
        expect(skus(r.body)).toEqual(['MUG-1']);
      });
      it('no consent / unknown customer → popular, never their history', async () => {
        const nc = await get(`/v1/customers/${w.ids.nocons}/buy-again?limit=2`).expect(200);
        expect(nc.body).toMatchObject({ fallback: true, fallbackReason: 'no_consent', model: { source: 'popular' } });
        expect(skus(nc.body)).toEqual(['SOAP-1', 'TEA-1']);
        const un = await get('/v1/customers/nobody/buy-again?limit=1').expect(200);
        expect(un.body).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer' });
      });
    });
  });
}
