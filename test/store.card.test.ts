/**
 * The store's reads for the clienteling card and the console's product views (Store.customerCard,
 * productTitles, searchProducts, productDetail), against every backend available.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Identifier, OrderLine } from '../src/core/records.js';
import type { Store } from '../src/store/store.js';
import { type OpenedStore, storeBackends } from './helpers/backends.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const email: Identifier = { kind: 'email', value: 'nina@example.com' };
const phone: Identifier = { kind: 'phone', value: '447700900123' };
const card: Identifier = { kind: 'loyalty', value: 'L-42' };

function line(orderId: string, lineNo: number, day: number, channel: Channel, storeId: string | null, identifiers: Identifier[], sku: string, quantity: number, unitPrice: number): OrderLine {
  const cat = sku.split('-')[0].toLowerCase();
  return { orderId, lineNo, channel, storeId, time: T0 + day * DAY, identifiers, sku, title: `${cat} ${sku}`, category: cat, quantity, unitPrice, cancels: null };
}

for (const backend of storeBackends()) {
  describe(`store: clienteling reads (${backend.name})`, () => {
    let opened: OpenedStore;
    let store: Store;
    let nina: string;
    let merged: string;
    beforeAll(async () => {
      opened = await backend.open();
      store = opened.store;
      await store.importLines([
        line('W1', 1, 0, 'web', null, [email], 'TEA-1', 2, 3),
        line('W1', 2, 0, 'web', null, [email], 'MUG-1', 1, 8),
        line('A1', 1, 10, 'app', null, [email], 'TEA-2', 1, 4),
        line('S1', 1, 20, 'store', 'S1', [card], 'TEA-1', 1, 3),
        line('S2', 1, 30, 'store', 'S2', [card], 'SOAP-1', 1, 2),
        line('S3', 1, 40, 'store', 'S2', [card], 'TEA-3', 3, 1),
        // a return of one mug, an order of returns only
        line('R1', 1, 45, 'web', null, [email], 'MUG-1', -1, 8),
        line('G1', 1, 5, 'store', 'S1', [], 'MUG-2', 1, 9),
      ]);
      merged = (await store.findCustomer(card))!;
      // an order carrying email, phone and card merges the card's customer into the email's
      await store.importLines([line('S4', 1, 50, 'store', 'S2', [email, phone, card], 'TEA-2', 1, 4)]);
      nina = (await store.findCustomer(email))!;
      await store.setConsent(nina, 'personalisation', false, 'web', new Date(T0));
      await store.setConsent(nina, 'personalisation', true, 'till', new Date(T0 + DAY));
      await store.setConsent(nina, 'email', false, 'web', new Date(T0));
      await store.saveSegments([{ customerId: nina, segment: 'loyal' }]);
      await store.setInventory([
        { storeId: 'S1', sku: 'TEA-1', quantity: 4 },
        { storeId: 'S2', sku: 'TEA-1', quantity: 0 },
      ]);
    });
    afterAll(async () => {
      await opened?.cleanup();
    });

    it('customerCard: one customer across channels, merged-away ids resolving to them', async () => {
      expect(merged).not.toBe(nina);
      const c = (await store.customerCard(merged))!;
      expect(c).not.toBeNull();
      expect(c.customerId).toBe(nina);
      expect(c.identifiers).toEqual([email, card, phone]);
      expect(c.segment).toBe('loyal');
      // 6 orders with a bought line (R1 is returns only); spend net of the return
      expect(c.orders).toBe(6);
      expect(c.spend).toBe(6 + 8 + 4 + 3 + 2 + 3 + 4 - 8);
      expect(c.firstOrderAt).toBe(T0);
      expect(c.lastOrderAt).toBe(T0 + 50 * DAY);
      expect(c.channels).toEqual({ web: { orders: 1, spend: 6 }, app: { orders: 1, spend: 4 }, store: { orders: 4, spend: 12 } });
      expect(c.favouriteStore).toEqual({ storeId: 'S2', name: null, orders: 3 });
      // tea in 4 orders, then mug and soap in 1 each (mug spent more)
      expect(c.favouriteCategories).toEqual([
        { category: 'tea', orders: 5, spend: 6 + 4 + 3 + 3 + 4 },
        { category: 'mug', orders: 1, spend: 8 },
        { category: 'soap', orders: 1, spend: 2 },
      ]);
      expect(c.recentPurchases.map((p) => p.sku)).toEqual(['TEA-2', 'TEA-3', 'SOAP-1', 'TEA-1', 'TEA-2', 'TEA-1', 'MUG-1']);
      expect(c.recentPurchases[0]).toEqual({ time: T0 + 50 * DAY, channel: 'store', storeId: 'S2', sku: 'TEA-2', title: 'tea TEA-2', quantity: 1, unitPrice: 4 });
      // every purpose, recorded ones with their time and source, the rest by the configured default (refused here)
      expect(c.consent).toEqual([
        { purpose: 'personalisation', granted: true, basis: 'recorded', time: new Date(T0 + DAY).toISOString(), source: 'till' },
        { purpose: 'email', granted: false, basis: 'recorded', time: new Date(T0).toISOString(), source: 'web' },
        { purpose: 'sms', granted: false, basis: 'default' },
        { purpose: 'push', granted: false, basis: 'default' },
      ]);
    });

    it('customerCard: limits, unknown and malformed ids', async () => {
      const c = (await store.customerCard(nina, { recent: 2, categories: 1 }))!;
      expect(c.recentPurchases.map((p) => p.sku)).toEqual(['TEA-2', 'TEA-3']);
      expect(c.favouriteCategories.map((x) => x.category)).toEqual(['tea']);
      expect(await store.customerCard('999999')).toBeNull();
      expect(await store.customerCard('abc')).toBeNull();
    });

    it('customerCard: a customer without orders has zeros, no favourite store, empty lists', async () => {
      const id = await store.resolveIdentity([{ kind: 'email', value: 'new@example.com' }]);
      const c = (await store.customerCard(id))!;
      expect(c).toMatchObject({ customerId: id, orders: 0, spend: 0, firstOrderAt: null, lastOrderAt: null, favouriteStore: null, favouriteCategories: [], recentPurchases: [], segment: null });
      expect(c.consent.map((x) => [x.purpose, x.granted, x.basis])).toEqual([
        ['personalisation', false, 'default'],
        ['email', false, 'default'],
        ['sms', false, 'default'],
        ['push', false, 'default'],
      ]);
      expect(c.channels).toEqual({ web: { orders: 0, spend: 0 }, app: { orders: 0, spend: 0 }, store: { orders: 0, spend: 0 } });
    });

    it('customerCard: an erased customer is unknown', async () => {
      const id = await store.resolveIdentity([{ kind: 'email', value: 'gone@example.com' }]);
      await store.eraseCustomer(id);
      expect(await store.customerCard(id)).toBeNull();
    });

    it('productTitles, searchProducts, productDetail', async () => {
      expect(await store.productTitles(['TEA-1', 'NOPE', 'TEA-1'])).toEqual(new Map([['TEA-1', 'tea TEA-1']]));
      expect(await store.productTitles([])).toEqual(new Map());
      expect((await store.searchProducts('tea', 10)).map((p) => p.sku)).toEqual(['TEA-1', 'TEA-2', 'TEA-3']);
      expect((await store.searchProducts('tea-2', 10)).map((p) => p.sku)).toEqual(['TEA-2']);
      // title match anywhere; an exact sku first
      expect((await store.searchProducts('MUG-1', 10)).map((p) => p.sku)).toEqual(['MUG-1']);
      expect((await store.searchProducts('ug', 10)).map((p) => p.sku)).toEqual(['MUG-1', 'MUG-2']);
      expect((await store.searchProducts('%', 10)).map((p) => p.sku)).toEqual([]);
      expect(await store.searchProducts('  ', 10)).toEqual([]);
      expect((await store.searchProducts('t', 2)).length).toBe(2);
      expect(await store.productDetail('TEA-1')).toEqual({
        sku: 'TEA-1',
        title: 'tea TEA-1',
        category: 'tea',
        price: 3,
        active: true,
        stock: [
          { storeId: 'S1', name: null, quantity: 4 },
          { storeId: 'S2', name: null, quantity: 0 },
        ],
      });
      expect((await store.productDetail('SOAP-1'))!.stock).toEqual([]);
      expect(await store.productDetail('NOPE')).toBeNull();
    });
  });
}
