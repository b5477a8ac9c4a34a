/**
 * The `channel` option: the popular steps of every list use the asking channel's best sellers
 * (distinct buyers in that channel, from training), then global; a channel the bundle has no list
 * for, or a bundle from before per-channel lists, answers with the global list.
 * Tiny bundle (test/helpers/tiny-bundle.ts) plus channel lists: app → MUG-3, TEA-3; web → TEA-2.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticModelSource } from '../src/cache/model-source.js';
import type { RankedList } from '../src/core/bundle.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { type Ids, KEYS, NOW, type ServedWorld, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';
import { TINY_SKUS, tinyBundle } from './helpers/tiny-bundle.js';

type Item = { sku: string; reason: Record<string, unknown> };
const skus = (body: { items: Item[] }) => body.items.map((i) => i.sku);
const ranked = (list: string[]): RankedList => ({
  items: Int32Array.from(list.map((s) => TINY_SKUS.indexOf(s))),
  scores: Float32Array.from(list.map((_, p) => 10 - p)),
});
const APP = { type: 'popular', scope: 'channel', channel: 'app' };
const GLOBAL = { type: 'popular', scope: 'global' };
// global: SOAP-1, TEA-1, MUG-1, SOAP-2, TEA-2, MUG-2, TEA-3, MUG-3

for (const backend of storeBackends()) {
  describe(`channel option (${backend.name})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let ids: Ids;
    let w: ServedWorld;
    let old: ServedWorld;
    const get = (path: string, app = w) => request(app.listener).get(path).set('x-api-key', KEYS.storefront).expect(200);
    const post = (path: string, body: object) => request(w.listener).post(path).set('x-api-key', KEYS.storefront).send(body).expect(200);

    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      ids = await seedStore(store);
      const bundle = tinyBundle(ids, NOW);
      bundle.popular.byChannel = { app: ranked(['MUG-3', 'TEA-3']), web: ranked(['TEA-2']) };
      w = await serveTinyWorld(store, { ids, source: staticModelSource(bundle) });
      old = await serveTinyWorld(store, { ids }); // the tiny bundle as it was: no channel lists
    });
    afterAll(async () => {
      await cleanup?.();
    });

    it("non-personal lists: the channel's best sellers first, then global; reason names the channel", async () => {
      const r = await get(`/v1/customers/${ids.nocons}/recommendations?channel=app&limit=4`);
      expect(skus(r.body)).toEqual(['MUG-3', 'TEA-3', 'SOAP-1', 'TEA-1']);
      expect(r.body.items.map((i: Item) => i.reason)).toEqual([APP, APP, GLOBAL, GLOBAL]);
      expect(r.body).toMatchObject({ fallback: true, fallbackReason: 'no_consent', model: { source: 'popular' } });
      const web = await get(`/v1/customers/${ids.nocons}/recommendations?channel=web&limit=2`);
      expect(skus(web.body)).toEqual(['TEA-2', 'SOAP-1']);
      expect(web.body.items[0].reason).toEqual({ type: 'popular', scope: 'channel', channel: 'web' });
    });

    it('no channel, a channel without a list, or a bundle without channel lists: global', async () => {
      for (const [path, app] of [
        [`/v1/customers/${ids.nocons}/recommendations?limit=3`, w],
        [`/v1/customers/${ids.nocons}/recommendations?channel=store&limit=3`, w],
        [`/v1/customers/${ids.nocons}/recommendations?channel=app&limit=3`, old],
      ] as const) {
        const r = await get(path, app);
        expect(skus(r.body), path).toEqual(['SOAP-1', 'TEA-1', 'MUG-1']);
        expect(r.body.items[0].reason, path).toEqual(GLOBAL);
      }
    });

    it('every list endpoint: unknown customer, unknown item, basket, session, buy-again', async () => {
      expect(skus((await get('/v1/customers/999999/recommendations?channel=app&limit=2')).body)).toEqual(['MUG-3', 'TEA-3']);
      expect(skus((await get('/v1/items/NOPE/similar?channel=app&limit=3')).body)).toEqual(['MUG-3', 'TEA-3', 'SOAP-1']);
      expect(skus((await get('/v1/customers/999999/buy-again?channel=app&limit=1')).body)).toEqual(['MUG-3']);
      expect(skus((await post('/v1/baskets/recommendations', { items: ['NOPE'], channel: 'app', limit: 2 })).body)).toEqual(['MUG-3', 'TEA-3']);
      // a session of unknown items: nothing to fold in, the channel's best sellers
      const s = await post('/v1/sessions/recommendations', { items: ['NOPE'], channel: 'app', limit: 2 });
      expect(skus(s.body)).toEqual(['MUG-3', 'TEA-3']);
      expect(s.body.items[0].reason).toEqual(APP);
    });

    it('filters apply to the channel list (category, stock, exclusions); the store list comes before it', async () => {
      const mugs = await get(`/v1/customers/${ids.nocons}/recommendations?channel=app&category=mug&limit=3`);
      expect(skus(mugs.body)).toEqual(['MUG-3', 'MUG-1', 'MUG-2']);
      // S1 stocks TEA-1 and MUG-1: its own list has nothing in stock, the app list neither; global gives both
      const s1 = await get(`/v1/customers/${ids.nocons}/recommendations?channel=app&store=S1`);
      expect(skus(s1.body)).toEqual(['TEA-1', 'MUG-1']);
      // a store with no stock on record filters nothing and has no list: the app's, then global
      const s9 = await get(`/v1/customers/999999/recommendations?channel=app&store=S9&limit=3`);
      expect(s9.body.warnings).toEqual(['unknown_store']);
      expect(skus(s9.body)).toEqual(['MUG-3', 'TEA-3', 'SOAP-1']);
      // S2 stocks only TEA-2: its own list answers first; the app's items are not in stock there
      const basket = await post('/v1/baskets/recommendations', { items: ['NOPE'], channel: 'app', store: 'S2', limit: 3 });
      expect(basket.body.items.map((i: Item) => [i.sku, i.reason])).toEqual([['TEA-2', { type: 'popular', scope: 'store', store: 'S2' }]]);
      // a personal list: the customer's own items are excluded from the channel list too
      const mug = await get(`/v1/customers/${ids.mug}/recommendations?channel=app&limit=8`);
      expect(skus(mug.body)).not.toContain('MUG-1');
      expect(skus(mug.body)).not.toContain('SOAP-2');
    });
  });
}
