/**
 * Offer files through the import pipeline (importFiles, as `npm run import` runs it): JSON (an array,
 * or {"offers": [...]} pretty-printed) and CSV, recognised from the content, gzip too; bad offers counted
 * and reported with file, line and the field at fault; a re-import changes nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importFiles } from '../src/ingest/import-file.js';
import { readOfferFile } from '../src/ingest/offer-file.js';
import { detectFile } from '../src/ingest/read-data-file.js';
import type { Store } from '../src/store/store.js';
import { storeBackends, type OpenedStore } from './helpers/backends.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'offers-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const WINBACK = {
  id: 'winback-10', title: '10% off to welcome you back', description: '…', kind: 'percent_off',
  value: 12.5, cost: 2.0, targets: { skus: [], categories: ['Candles'] },
  channels: ['store', 'app', 'email'], stores: [], startsAt: '2026-01-01T00:00:00Z', endsAt: null,
  eligibility: { segments: ['lapsed', 'at_risk'], minOrders: 1, maxOrders: null, minSpend: null, minDaysSinceLastPurchase: 60, newCustomersOnly: false },
  contact: { maxImpressions: 3, perDays: 30, suppressDaysAfterDecline: 14, maxAcceptances: 1000 },
  weight: 1.0,
};

const CSV = [
  'id,title,kind,value,target_skus,target_categories,channels,stores,segments,min_orders,min_days_since_last_purchase,new_customers_only,max_impressions,per_days,weight',
  'vip-perk,VIP early access,service,30,,,store|app,,vip|loyal,,,,2,30,1.5',
  'candles-20,20% off candles,percent_off,8,,Candles,,S1|S2,,,,,,,',
  'bad-kind,Half price,half_price,5,,,,,,,,,,,',
  'bad-value,Ten off,amount_off,ten,,,,,,,,,,,',
  'second-purchase,"Come back, soon",amount_off,5,,,,,new,1,,true,,,',
  'short,row',
].join('\n');

describe('offer files: detection and reading', () => {
  it('recognises JSON arrays, {"offers": [...]} documents and offer CSV headers from the content', async () => {
    expect((await detectFile(file('a.json', JSON.stringify([WINBACK])))).kind).toBe('offers');
    expect((await detectFile(file('b.txt', JSON.stringify({ offers: [WINBACK] }, null, 2)))).kind).toBe('offers');
    expect((await detectFile(file('c.json', JSON.stringify({ offers: [WINBACK] })))).kind).toBe('offers');
    expect(await detectFile(file('d.csv', CSV))).toMatchObject({ kind: 'offers', syntax: 'csv' });
    expect(await detectFile(file('e.gz', gzipSync(JSON.stringify([WINBACK]))))).toMatchObject({ kind: 'offers', gzip: true });
    // an NDJSON order line is still an order file
    expect((await detectFile(file('f.ndjson', '{"order_id": "1", "sku": "A", "time": "2024-01-01", "quantity": 1}\n'))).kind).toBe('orders');
  });

  it('reads the issue\'s example offer unchanged, and names the line of each offer in a JSON document', async () => {
    const doc = JSON.stringify({ offers: [WINBACK, { ...WINBACK, id: 'x', kind: 'nope' }, 7] }, null, 2);
    const r = await readOfferFile(file('g.json', doc));
    expect(r.offers).toEqual([{ ...WINBACK, startsAt: '2026-01-01T00:00:00.000Z' }]);
    expect(r.rows).toBe(3);
    const lines = doc.split('\n');
    const lineOf = (needle: string, from = 0) => lines.findIndex((l, i) => i >= from && l.includes(needle)) + 1;
    expect(r.rejects).toEqual([
      { row: lineOf('"id": "x"') - 1, reason: 'bad_offer', raw: expect.any(String), detail: expect.stringContaining('kind: ') },
      { row: lineOf('    7'), reason: 'malformed_row', raw: '7', detail: 'not a JSON object' },
    ]);
  });

  it('refuses a document that is not an offer list, and unknown CSV columns', async () => {
    await expect(readOfferFile(file('h.json', '[{"id": 1'))).rejects.toThrow(/not a valid JSON document/);
    await expect(readOfferFile(file('i.json', '{"offers": 3}'))).rejects.toThrow(/expected an array of offers/);
    await expect(readOfferFile(file('j.csv', 'id,title,kind,colour\nx,y,service,red\n'))).rejects.toThrow(/unknown offer column colour/);
  });
});

for (const backend of storeBackends()) {
  describe(`offer import (${backend.name})`, () => {
    let opened: OpenedStore;
    let store: Store;
    beforeEach(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    afterEach(async () => {
      await opened.cleanup();
    });

    it('imports the good offers of a CSV file, counts and reports the bad ones with line and field; a re-import changes nothing', async () => {
      const path = file('offers.csv', CSV);
      const s = await importFiles(store, [path]);
      expect(s.files[0]).toMatchObject({ kind: 'offers', format: 'offers-csv', rows: 6, imported: 3, duplicates: 0, rejected: { bad_offer: 2, malformed_row: 1 } });
      expect(s.samples).toEqual([
        { file: path, row: 4, reason: 'bad_offer', raw: expect.stringContaining('bad-kind'), detail: expect.stringMatching(/^kind: /) },
        { file: path, row: 5, reason: 'bad_offer', raw: expect.stringContaining('bad-value'), detail: expect.stringMatching(/^value: /) },
        { file: path, row: 7, reason: 'malformed_row', raw: 'short,row', detail: '2 fields, header has 15' },
      ]);
      const vip = (await store.offer('vip-perk'))!;
      expect(vip).toMatchObject({ kind: 'service', value: 30, channels: ['store', 'app'], weight: 1.5, eligibility: { segments: ['vip', 'loyal'] }, contact: { maxImpressions: 2, perDays: 30 } });
      expect((await store.offer('candles-20'))!).toMatchObject({ targets: { skus: [], categories: ['Candles'] }, stores: ['S1', 'S2'] });
      expect((await store.offer('second-purchase'))!).toMatchObject({ title: 'Come back, soon', eligibility: { segments: ['new'], minOrders: 1, newCustomersOnly: true } });
      const again = await importFiles(store, [path]);
      expect(again.files[0]).toMatchObject({ imported: 0, duplicates: 3 });
    });

    it('imports a gzipped JSON array with the other files of a directory', async () => {
      const sub = mkdtempSync(join(dir, 'dir-'));
      writeFileSync(join(sub, 'offers.json.gz'), gzipSync(JSON.stringify([WINBACK, { ...WINBACK, id: 'winback-20', value: 20 }])));
      writeFileSync(join(sub, 'inventory.csv'), 'store_id,sku,quantity\nS1,A,3\n');
      const s = await importFiles(store, [sub]);
      expect(s.files.map((f) => [f.kind, f.imported])).toEqual([
        ['inventory', 1],
        ['offers', 2],
      ]);
      expect((await store.offers()).map((o) => o.id)).toEqual(['winback-10', 'winback-20']);
    });
  });
}

describe('a directory import', () => {
  it('takes the offer files among its .json files and leaves other JSON (a generator summary) alone', async () => {
    const { expandImportPaths } = await import('../src/ingest/import-file.js');
    const sub = mkdtempSync(join(dir, 'dir-'));
    writeFileSync(join(sub, 'summary.json'), JSON.stringify({ customers: 2000, expectedUnifiedCustomers: 1962 }));
    // the generator writes its summary pretty-printed: a first line "{" alone, as a pretty-printed offer file begins
    writeFileSync(join(sub, 'summary-pretty.json'), JSON.stringify({ customers: 2000, files: { orders: 'orders.csv' } }, null, 1));
    writeFileSync(join(sub, 'offers-pretty.json'), JSON.stringify({ offers: [WINBACK] }, null, 1));
    writeFileSync(join(sub, 'offers.json'), JSON.stringify([WINBACK]));
    writeFileSync(join(sub, 'inventory.csv'), 'store_id,sku,quantity\nS1,A,3\n');
    const skipped: string[] = [];
    const out = await expandImportPaths([sub], (path) => skipped.push(path.slice(sub.length + 1)));
    expect(skipped).toEqual(['summary-pretty.json', 'summary.json']); // said, not silent
    expect(out.map((f) => [f.path.slice(sub.length + 1), f.kind])).toEqual([
      ['inventory.csv', 'inventory'],
      ['offers-pretty.json', 'offers'],
      ['offers.json', 'offers'],
    ]);
    // named explicitly, a JSON file that is no data file still fails loudly
    await expect(expandImportPaths([join(sub, 'summary.json')])).rejects.toThrow();
  });
});
