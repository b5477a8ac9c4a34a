import { describe, expect, it } from 'vitest';
import type { OrderLine } from '../src/core/records.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetFromFile, datasetFromStore, readHistory } from '../src/train/history-input.js';
import { DEFAULT_WEIGHTING } from '../src/train/weighting.js';
import { storeBackends } from './helpers/backends.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1);

function ol(orderId: string, day: number, identifiers: OrderLine['identifiers'], sku: string, quantity: number, extra: Partial<OrderLine> = {}): OrderLine {
  return { orderId, channel: 'web', storeId: null, time: T0 + day * DAY, identifiers, sku, title: null, category: null, quantity, unitPrice: 3, cancels: null, ...extra };
}

/**
 * One person buys online (account a1 + email) and in store (same email + loyalty card): one customer.
 * They return S2 entirely. A second customer buys S3; a guest buys S1 and S3.
 */
const LINES: OrderLine[] = [
  ol('o1', 0, [{ kind: 'account', value: 'a1' }, { kind: 'email', value: 'x@example.com' }], 'S1', 2, { category: 'cups', lineNo: 1 }),
  ol('o1', 0, [{ kind: 'account', value: 'a1' }, { kind: 'email', value: 'x@example.com' }], 'S2', 1, { lineNo: 2 }),
  ol('o2', 5, [{ kind: 'email', value: 'x@example.com' }, { kind: 'loyalty', value: 'L1' }], 'S1', 1, { channel: 'store', storeId: 'st1', lineNo: 1 }),
  ol('g1', 5, [], 'S1', 1, { lineNo: 1 }),
  ol('g1', 5, [], 'S3', 1, { lineNo: 2 }),
  ol('r1', 6, [{ kind: 'account', value: 'a1' }], 'S2', -1, { cancels: 'o1', lineNo: 1 }),
  ol('o4', 7, [{ kind: 'account', value: 'a2' }], 'S3', 1, { lineNo: 1 }),
];

for (const backend of storeBackends()) {
  describe(`training data from the store (${backend.name})`, () => {
    it('reads unified histories: identities merged, returns netted, guests in baskets only, categories kept', async () => {
      const { store, cleanup } = await backend.open();
      try {
        await store.importLines(LINES);
        const { dataset: d, itemCategories, source } = await datasetFromStore(store, { ...DEFAULT_WEIGHTING, scheme: 'lines' });
        expect(source).toBe(`store:${store.backend}`);
        expect(d.customers).toHaveLength(2);
        expect([...d.items].sort()).toEqual(['S1', 'S2', 'S3']);
        // the merged customer holds S1 (2 lines); S2 was returned in full; the other holds S3
        expect(d.summary.pairs).toBe(2);
        expect(d.summary.cancelledPairs).toBe(1);
        const s1 = d.items.indexOf('S1');
        const rowOf = (item: number) => {
          for (let c = 0; c < d.customers.length; c++) {
            for (let p = d.counts.indptr[c]; p < d.counts.indptr[c + 1]; p++) if (d.counts.indices[p] === item) return { c, count: d.counts.data[p] };
          }
          return null;
        };
        expect(rowOf(s1)?.count).toBe(2);
        expect(rowOf(d.items.indexOf('S2'))).toBeNull();
        // baskets: o1, o2, g1, o4 (the return is no basket)
        expect(d.baskets.rows).toBe(4);
        expect(d.summary.guestLines).toBe(2);
        expect(itemCategories[s1]).toBe('cups');
        expect(d.stores).toEqual(['st1']);
      } finally {
        await cleanup();
      }
    }, 60_000);

    it('groups baskets by (source, order id) as the store keys orders: web order 1001 and till order 1001 are two', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const who = [{ kind: 'account' as const, value: 'a9' }];
        await store.importLines([
          ol('1001', 0, who, 'S1', 1, { source: 'web', lineNo: 1 }),
          ol('1001', 0, who, 'S2', 1, { source: 'web', lineNo: 2 }),
          ol('1001', 3, who, 'S3', 1, { source: 'till', channel: 'store', storeId: 'st1', lineNo: 1 }),
        ]);
        const { dataset: d } = await datasetFromStore(store, { ...DEFAULT_WEIGHTING, scheme: 'lines' });
        expect(d.customers).toHaveLength(1);
        expect(d.baskets.rows).toBe(2);
        const basket = (o: number) => Array.from(d.baskets.indices.subarray(d.baskets.indptr[o], d.baskets.indptr[o + 1])).map((i) => d.items[i]).sort();
        expect([basket(0), basket(1)]).toEqual([['S1', 'S2'], ['S3']]);
        expect(d.customerStats.orders[0]).toBe(2);
      } finally {
        await cleanup();
      }
    }, 60_000);

    it('keepLines: one read gives the dataset and every line, equal to what readHistory reads (strings shared)', async () => {
      const { store, cleanup } = await backend.open();
      try {
        await store.importLines(LINES);
        const one = await datasetFromStore(store, { ...DEFAULT_WEIGHTING, scheme: 'lines' }, undefined, { keepLines: true });
        const plain = await datasetFromStore(store, { ...DEFAULT_WEIGHTING, scheme: 'lines' });
        const read = await readHistory({ store });
        expect(plain.lines).toBeUndefined();
        expect(one.lines).toHaveLength(LINES.length);
        expect(one.lines).toStrictEqual(read.lines);
        // the dataset is the one the plain read builds
        expect(one.dataset.customers).toEqual(plain.dataset.customers);
        expect(Array.from(one.dataset.counts.data)).toEqual(Array.from(plain.dataset.counts.data));
        expect(Array.from(one.dataset.baskets.indices)).toEqual(Array.from(plain.dataset.baskets.indices));
        // every line's values as the store holds them
        const byOrder = new Map(read.lines.map((l) => [`${l.orderId}|${l.sku}|${l.quantity}`, l]));
        for (const l of LINES) {
          const h = byOrder.get(`${l.orderId}|${l.sku}|${l.quantity}`);
          expect(h).toBeDefined();
          expect([h!.time, h!.channel, h!.storeId, h!.unitPrice]).toEqual([l.time, l.channel, l.storeId, l.unitPrice]);
        }
        expect(new Set(read.lines.map((l) => l.customerId)).size).toBe(3); // two customers and the guest (null)
      } finally {
        await cleanup();
      }
    }, 60_000);
  });
}

describe('training data from a file', () => {
  it('groups baskets by (source, order id): a web order 1001 and a store order 1001 are two', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'omnirec-baskets-'));
    try {
      const path = join(dir, 'orders.csv');
      writeFileSync(
        path,
        'order_id,channel,store_id,time,account,sku,quantity,unit_price\n' +
          '1001,web,,2024-03-01T10:00:00Z,A1,S1,1,2\n' +
          '1001,web,,2024-03-01T10:00:00Z,A1,S2,1,2\n' +
          '1001,store,st1,2024-03-04T10:00:00Z,A1,S3,1,2\n',
      );
      const { dataset: d } = await datasetFromFile(path, { ...DEFAULT_WEIGHTING, scheme: 'lines' });
      expect(d.customers).toHaveLength(1);
      expect(d.baskets.rows).toBe(2);
      const basket = (o: number) => Array.from(d.baskets.indices.subarray(d.baskets.indptr[o], d.baskets.indptr[o + 1])).map((i) => d.items[i]).sort();
      expect([basket(0), basket(1)]).toEqual([['S1', 'S2'], ['S3']]);
      expect(d.customerStats.orders[0]).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
