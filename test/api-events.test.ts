/**
 * POST /v1/events/purchases over a real history store (every backend available) and the tiny bundle
 * (test/helpers/tiny-bundle.ts): recording through the import path, idempotence, identity resolution,
 * consent, unknown skus, the refreshed record (vector by fold-in, buy-again, exclusions), every error.
 */
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeCustomer } from '../src/cache/codec.js';
import { type ModelSource, staticModelSource } from '../src/cache/model-source.js';
import { foldIn, gramMatrix } from '../src/core/fold-in.js';
import { UnavailableError } from '../src/core/errors.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { type Ids, KEYS, NOW, type ServedWorld, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const DAY = 86_400_000;
type Item = { sku: string; reason: Record<string, unknown> };
const skus = (body: { items: Item[] }) => body.items.map((i) => i.sku);
let orderNo = 0;
const newOrder = () => `ev-${process.pid}-${++orderNo}`;

for (const backend of storeBackends()) {
  describe(`POST /v1/events/purchases (${backend.name})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let ids: Ids;
    let w: ServedWorld;
    const post = (body: unknown, key = KEYS.events) => request(w.listener).post('/v1/events/purchases').set('x-api-key', key).send(body as object);
    const get = (path: string) => request(w.listener).get(path).set('x-api-key', KEYS.storefront);

    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      ids = await seedStore(store);
    });
    afterAll(async () => {
      await cleanup?.();
    });
    // a fresh model source (the bundle as trained) for every test; the store keeps what earlier tests recorded
    beforeEach(async () => {
      w = await serveTinyWorld(store, { ids });
    });

    it('records the order for a known customer and refreshes their record at once (buy-again, exclusions, vector)', async () => {
      const model = w.source.current()!;
      const before = await w.source.customer(ids.mug, model);
      expect(before!.vector![0]).toBe(0); // (0, 1): mugs only
      // mug had nothing but mugs: the popular-free personal list is all mugs, TEA-2 not among the first
      const time = new Date(NOW - DAY).toISOString();
      const r = await post({ orderId: newOrder(), channel: 'app', customerId: ids.mug, time, lines: [{ sku: 'TEA-2', quantity: 2, unitPrice: 3.5 }] }).expect(200);
      expect(r.body).toEqual({
        customerId: ids.mug,
        orderId: expect.any(String),
        imported: 1,
        duplicates: 0,
        merges: 0,
        modelVersion: 'tiny-1',
        recordRefreshed: true,
        vectorRefreshed: true,
      });
      expect(await store.customerSkus(ids.mug)).toContain('TEA-2');
      const after = (await w.source.customer(ids.mug, model))!;
      // the record is rebuilt from the store's history: MUG-1 (seed) and TEA-2 (this event)
      expect(Array.from(after.items).map((i) => model.items[i]).sort()).toEqual(['MUG-1', 'TEA-2']);
      // the vector is the fold-in of those two items with training's default weighting, w = ln(1 + 1)
      const als = model.als!;
      const expected = foldIn({ itemFactors: als.itemFactors, k: als.k, gram: gramMatrix(als.itemFactors, als.k), reg: als.reg, alpha: als.alpha }, [3, 1], [Math.log(2), Math.log(2)]);
      expect(Array.from(after.vector!)).toEqual(Array.from(expected));
      expect(after.vector![0]).toBeGreaterThan(0);
      // buy it again now knows TEA-2, bought at the event's time
      const again = await get(`/v1/customers/${ids.mug}/buy-again`).expect(200);
      expect(skus(again.body)).toContain('TEA-2');
      expect(again.body.items.find((i: Item) => i.sku === 'TEA-2').reason).toMatchObject({ type: 'buy_again', lastPurchased: time, purchases: 1 });
      // recommended for you: the new item is excluded (already bought), and its factor pulls the other teas in
      const recs = await get(`/v1/customers/${ids.mug}/recommendations?limit=4`).expect(200);
      expect(recs.body.model.source).toBe('factors');
      expect(skus(recs.body)).not.toContain('TEA-2');
      expect(skus(recs.body)).not.toContain('MUG-1');
      expect(skus(recs.body)).toContain('TEA-1');
      const withOwn = await get(`/v1/customers/${ids.mug}/recommendations?limit=8&excludePurchased=false`).expect(200);
      expect(skus(withOwn.body)).toContain('TEA-2');
    });

    it('is idempotent by order id: posting the same order again changes nothing', async () => {
      const body = { orderId: newOrder(), channel: 'web', customerId: ids.tea, lines: [{ sku: 'MUG-3', quantity: 1 }, { sku: 'SOAP-2', quantity: 1 }] };
      const first = await post(body).expect(200);
      expect(first.body).toMatchObject({ imported: 2, duplicates: 0 });
      const totals = await store.totals();
      const model = w.source.current()!;
      const record = encodeCustomer((await w.source.customer(ids.tea, model))!);
      const again = await post(body).expect(200);
      expect(again.body).toMatchObject({ customerId: ids.tea, imported: 0, duplicates: 2, recordRefreshed: true });
      expect(await store.totals()).toEqual(totals);
      expect(encodeCustomer((await w.source.customer(ids.tea, model))!).equals(record)).toBe(true);
    });

    it('two orders of one customer posted at once: the record holds both', async () => {
      const [a, b] = await Promise.all([
        post({ orderId: newOrder(), channel: 'web', customerId: ids.novec, lines: [{ sku: 'TEA-3', quantity: 1 }] }),
        post({ orderId: newOrder(), channel: 'app', customerId: ids.novec, lines: [{ sku: 'MUG-3', quantity: 1 }] }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const model = w.source.current()!;
      const items = Array.from((await w.source.customer(ids.novec, model))!.items).map((i) => model.items[i]);
      expect(items).toEqual(expect.arrayContaining(['TEA-3', 'MUG-3', 'SOAP-1']));
    });

    it('resolves the buyer from identifiers as imports do: normalised, merged ids to the survivor', async () => {
      const byEmail = await post({ orderId: newOrder(), channel: 'web', identifiers: { email: '  TEA@Example.com ' }, lines: [{ sku: 'TEA-3', quantity: 1 }] }).expect(200);
      expect(byEmail.body.customerId).toBe(ids.tea);
      const byCard = await post({ orderId: newOrder(), channel: 'store', store: 'S1', identifiers: { loyalty: 'L-777' }, lines: [{ sku: 'TEA-3', quantity: 1 }] }).expect(200);
      expect(byCard.body.customerId).toBe(ids.tea);
      const byMergedId = await post({ orderId: newOrder(), channel: 'web', customerId: ids.merged, lines: [{ sku: 'TEA-3', quantity: 1 }] }).expect(200);
      expect(byMergedId.body.customerId).toBe(ids.tea);
      // an id and an identifier of another customer: one customer, as an import of that record would make
      const phone = await post({ orderId: newOrder(), channel: 'app', customerId: ids.novec, identifiers: { phone: '07700 900999' }, lines: [{ sku: 'SOAP-1', quantity: 1 }] }).expect(200);
      expect(phone.body.customerId).toBe(ids.novec);
      expect(await store.findCustomer({ kind: 'phone', value: '447700900999' })).toBe(ids.novec);
    });

    it('a new buyer is created; without personalisation consent the order is recorded and no record is written', async () => {
      const r = await post({ orderId: newOrder(), channel: 'web', identifiers: { email: 'newbie@example.com' }, lines: [{ sku: 'TEA-1', quantity: 1 }] }).expect(200);
      expect(r.body).toMatchObject({ imported: 1, recordRefreshed: false, vectorRefreshed: false, modelVersion: null, refreshSkipped: 'no_consent' });
      expect(await store.customerSkus(r.body.customerId)).toEqual(['TEA-1']);
      expect(await w.source.customer(r.body.customerId, w.source.current()!)).toBeNull();
      const nc = await post({ orderId: newOrder(), channel: 'web', customerId: ids.nocons, lines: [{ sku: 'MUG-1', quantity: 1 }] }).expect(200);
      expect(nc.body).toMatchObject({ customerId: ids.nocons, imported: 1, recordRefreshed: false, refreshSkipped: 'no_consent' });
      expect(await w.source.customer(ids.nocons, w.source.current()!)).toBeNull();
      const recs = await get(`/v1/customers/${ids.nocons}/recommendations`).expect(200);
      expect(recs.body).toMatchObject({ fallback: true, fallbackReason: 'no_consent' });
    });

    it('skus the model does not know are recorded and left out of the refresh', async () => {
      const r = await post({ orderId: newOrder(), channel: 'web', customerId: ids.novec, lines: [{ sku: 'BRAND-NEW', quantity: 1 }, { sku: 'SOAP-2', quantity: 1 }] }).expect(200);
      expect(r.body).toMatchObject({ imported: 2, recordRefreshed: true, vectorRefreshed: true });
      expect(await store.customerSkus(ids.novec)).toContain('BRAND-NEW');
      const model = w.source.current()!;
      const rec = (await w.source.customer(ids.novec, model))!;
      expect(Array.from(rec.items).map((i) => model.items[i])).not.toContain('BRAND-NEW');
      expect(Array.from(rec.items).map((i) => model.items[i])).toContain('SOAP-2');
      // a consenting buyer whose history holds no sku of the model: a record without a vector
      const fresh = await post({ orderId: newOrder(), channel: 'web', identifiers: { account: 'acct-unknown-skus' }, lines: [{ sku: 'BRAND-NEW', quantity: 1 }] }).expect(200);
      await store.setConsent(fresh.body.customerId, 'personalisation', true, 'test');
      const again = await post({ orderId: newOrder(), channel: 'web', customerId: fresh.body.customerId, lines: [{ sku: 'OTHER-NEW', quantity: 1 }] }).expect(200);
      expect(again.body).toMatchObject({ recordRefreshed: true, vectorRefreshed: false });
      const none = (await w.source.customer(fresh.body.customerId, model))!;
      expect(none.vector).toBeNull();
      expect(none.items.length).toBe(0);
    });

    it('no model in service, or the cache unreachable: recorded, refresh skipped and said why', async () => {
      const base = staticModelSource(tinyBundle(ids, NOW));
      const noModel: ModelSource = { ...base, current: () => null };
      const nm = await serveTinyWorld(store, { ids, source: noModel });
      const r1 = await request(nm.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).send({ orderId: newOrder(), channel: 'web', customerId: ids.tea, lines: [{ sku: 'TEA-2', quantity: 1 }] }).expect(200);
      expect(r1.body).toMatchObject({ imported: 1, recordRefreshed: false, refreshSkipped: 'no_model' });
      const down: ModelSource = { ...base, putCustomer: async () => Promise.reject(new UnavailableError('model cache unreachable')) };
      const cd = await serveTinyWorld(store, { ids, source: down });
      const orderId = newOrder();
      const r2 = await request(cd.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).send({ orderId, channel: 'web', customerId: ids.tea, lines: [{ sku: 'MUG-2', quantity: 1 }] }).expect(200);
      expect(r2.body).toMatchObject({ imported: 1, recordRefreshed: false, refreshSkipped: 'cache_unavailable' });
      // posting again once the cache answers refreshes without recording twice
      const r3 = await post({ orderId, channel: 'web', customerId: ids.tea, lines: [{ sku: 'MUG-2', quantity: 1 }] }).expect(200);
      expect(r3.body).toMatchObject({ imported: 0, duplicates: 1, recordRefreshed: true });
    });

    it('needs the events scope', async () => {
      const body = { orderId: newOrder(), channel: 'web', customerId: ids.tea, lines: [{ sku: 'TEA-1', quantity: 1 }] };
      await request(w.listener).post('/v1/events/purchases').send(body).expect(401);
      await post(body, KEYS.storefront).expect(403);
      await post(body, KEYS.admin).expect(403);
    });

    it('404 for an unknown customer id; 400 naming the field for bad input, nothing recorded', async () => {
      const totals = await store.totals();
      const nf = await post({ orderId: newOrder(), channel: 'web', customerId: '999999', lines: [{ sku: 'TEA-1', quantity: 1 }] }).expect(404);
      expect(nf.body.error).toBe('not_found');
      const ok = { orderId: 'x-1', channel: 'web', customerId: ids.tea, lines: [{ sku: 'TEA-1', quantity: 1 }] };
      const cases: [unknown, string][] = [
        [{ ...ok, orderId: undefined }, 'body.orderId'],
        [{ ...ok, orderId: '  ' }, 'body.orderId'],
        [{ ...ok, channel: 'fax' }, 'body.channel'],
        [{ ...ok, channel: undefined }, 'body.channel'],
        [{ ...ok, lines: [] }, 'body.lines'],
        [{ ...ok, lines: undefined }, 'body.lines'],
        [{ ...ok, lines: [{ sku: 'TEA-1', quantity: 0 }] }, 'body.lines.0.quantity'],
        [{ ...ok, lines: [{ sku: 'TEA-1', quantity: -1 }] }, 'body.lines.0.quantity'],
        [{ ...ok, lines: [{ sku: 'TEA-1', quantity: 1 }, { quantity: 1 }] }, 'body.lines.1.sku'],
        [{ ...ok, lines: [{ sku: 'TEA-1', quantity: 1, unitPrice: -2 }] }, 'body.lines.0.unitPrice'],
        [{ ...ok, time: 'yesterday' }, 'body.time'],
        [{ ...ok, time: new Date(Date.now() + 3 * DAY).toISOString() }, 'body.time'],
        [{ ...ok, customerId: undefined }, 'body.customerId'],
        [{ ...ok, customerId: undefined, identifiers: {} }, 'body.customerId'],
        [{ ...ok, customerId: undefined, identifiers: { email: 'not-an-email' } }, 'body.identifiers.email'],
        [{ ...ok, customerId: undefined, identifiers: { phone: 'call me' } }, 'body.identifiers.phone'],
        [{ ...ok, customerId: undefined, identifiers: { passport: 'X1' } }, 'body.identifiers'],
        [{ ...ok, store: '' }, 'body.store'],
      ];
      for (const [body, field] of cases) {
        const r = await post(body).expect(400);
        expect(r.body.error, field).toBe('invalid_request');
        expect(r.body.fields.map((f: { field: string }) => f.field), JSON.stringify(body)).toContain(field);
      }
      const bad = await request(w.listener).post('/v1/events/purchases').set('x-api-key', KEYS.events).set('content-type', 'application/json').send('{"orderId":').expect(400);
      expect(bad.body.error).toBe('invalid_json');
      expect(await store.totals()).toEqual(totals);
    });

    it('is documented in the OpenAPI document with its scope and body', async () => {
      const doc = (await request(w.listener).get('/openapi.json').expect(200)).body;
      const op = doc.paths['/v1/events/purchases'].post;
      expect(op['x-scopes']).toEqual(['events']);
      expect(Object.keys(op.requestBody.content['application/json'].schema.properties).sort()).toEqual(
        ['channel', 'customerId', 'identifiers', 'lines', 'orderId', 'store', 'time'].sort(),
      );
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '404']));
      expect(doc.paths['/v1/customers/{id}'].delete.responses['200'].content['application/json'].schema.properties.versions).toBeDefined();
    });
  });
}
