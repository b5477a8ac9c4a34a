import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { OrderLine } from '../src/core/records.js';
import { readDataFile, readOrderFile, detectFile, type DataBatch } from '../src/ingest/read-data-file.js';
import { readHistoryFile } from '../src/ingest/read-history-file.js';
import { splitCsvRecord } from '../src/ingest/csv-records.js';
import { decodeLines, openText } from '../src/ingest/open-text.js';
import { parseTime } from '../src/ingest/parse-time.js';
import type { ConsentRow, InventoryRow } from '../src/ingest/companion-rows.js';

const fx = (name: string) => join(import.meta.dirname, 'fixtures', name);
const tmp = mkdtempSync(join(tmpdir(), 'omnirec-ingest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readAll(path: string, batchSize?: number) {
  const lines: OrderLine[] = [];
  const inventory: InventoryRow[] = [];
  const consent: ConsentRow[] = [];
  const rejects: { row: number; reason: string }[] = [];
  const skipped: Record<string, number> = {};
  let rows = 0;
  let batches = 0;
  let kind = '';
  let lastBytes = 0;
  let total = 0;
  for await (const b of readDataFile(path, { batchSize }) as AsyncGenerator<DataBatch>) {
    batches++;
    kind = b.kind;
    rows += b.rowsRead;
    lastBytes = b.bytesRead;
    total = b.totalBytes;
    if (b.kind === 'orders') lines.push(...b.lines);
    if (b.kind === 'inventory') inventory.push(...b.inventory);
    if (b.kind === 'consent') consent.push(...b.consent);
    rejects.push(...b.rejects.map((r) => ({ row: r.row, reason: r.reason })));
    for (const [k, v] of Object.entries(b.skipped)) skipped[k] = (skipped[k] ?? 0) + (v ?? 0);
  }
  const byReason: Record<string, number> = {};
  for (const r of rejects) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  return { lines, inventory, consent, rejects, byReason, skipped, rows, batches, kind, lastBytes, total };
}

describe('parseTime', () => {
  it('reads ISO 8601 with and without offset, date only, and M/D/YYYY H:MM', () => {
    expect(parseTime('2010-12-01 08:26:00')).toBe(Date.UTC(2010, 11, 1, 8, 26));
    expect(parseTime('12/1/2010 8:26')).toBe(Date.UTC(2010, 11, 1, 8, 26));
    expect(parseTime('2024-03-05T15:30:00+01:00')).toBe(Date.UTC(2024, 2, 5, 14, 30));
    expect(parseTime('2024-03-05T15:30:00.250Z')).toBe(Date.UTC(2024, 2, 5, 15, 30, 0, 250));
    expect(parseTime('2024-03-09')).toBe(Date.UTC(2024, 2, 9));
  });
  it('rejects impossible dates and other text', () => {
    for (const s of ['2011-02-30 10:00:00', '2010-13-45 08:34:00', '31/31/2024', 'yesterday', '', '2024-03-05T25:00:00Z']) {
      expect(parseTime(s), s).toBeNaN();
    }
  });
});

describe('splitCsvRecord', () => {
  it('handles quotes, doubled quotes, separators and line breaks inside quotes', () => {
    expect(splitCsvRecord('a,"b, c","say ""hi""",')).toEqual(['a', 'b, c', 'say "hi"', '']);
    expect(splitCsvRecord('"x\ny",2')).toEqual(['x\ny', '2']);
    expect(splitCsvRecord('plain,row')).toEqual(['plain', 'row']);
  });
});

describe('Online Retail reader', () => {
  it('keeps good lines, counts every rejection reason with its row, skips non-product codes', async () => {
    const r = await readAll(fx('uci-online-retail.csv'));
    expect(r.kind).toBe('orders');
    expect(r.rows).toBe(16);
    expect(r.lines.map((l) => `${l.orderId}/${l.sku}`)).toEqual(['536365/85123A', '536365/71053', '536366/22633', 'C536383/35004C', '536371/22086']);
    expect(r.skipped).toEqual({ non_product: 3 });
    expect(r.byReason).toEqual({
      bad_date: 1,
      bad_number: 2,
      zero_quantity: 1,
      missing_sku: 1,
      missing_order_id: 1,
      malformed_row: 1,
      bad_identifier: 1,
    });
    expect(r.rejects.find((x) => x.reason === 'bad_date')?.row).toBe(8);
    expect(r.rejects.find((x) => x.reason === 'malformed_row')?.row).toBe(14);
    expect(r.rejects.find((x) => x.reason === 'bad_identifier')?.row).toBe(15);
    // every data row is accounted for
    expect(r.lines.length + r.rejects.length + r.skipped.non_product).toBe(r.rows);
  });

  it('maps fields: both date formats, 17850.0 → account 17850, guests, cancellations, quoted descriptions', async () => {
    const { lines } = await readAll(fx('uci-online-retail.csv'));
    const [a, b, guest, cancel, quoted] = lines;
    expect(a).toMatchObject({ channel: 'web', storeId: null, quantity: 6, unitPrice: 2.55, identifiers: [{ kind: 'account', value: '17850' }], lineNo: 1, cancels: null });
    expect(b.time).toBe(a.time);
    expect(b).toMatchObject({ identifiers: [{ kind: 'account', value: '17850' }], lineNo: 2 });
    expect(guest).toMatchObject({ identifiers: [], title: 'HAND WARMER UNION JACK, RED' });
    expect(cancel).toMatchObject({ orderId: 'C536383', quantity: -1, sku: '35004C' });
    expect(quoted).toMatchObject({ title: 'PAPER CHAIN KIT 50\'S "CHRISTMAS"', time: Date.UTC(2011, 11, 13, 15, 7), quantity: 80 });
  });

  it('reads the Online Retail II header, CRLF line ends and a quoted line break', async () => {
    const r = await readAll(fx('uci-online-retail-ii.csv'));
    expect(r.rejects).toEqual([]);
    expect(r.lines).toHaveLength(4);
    expect(r.lines[0]).toMatchObject({ orderId: '489434', sku: '85048', unitPrice: 6.95, identifiers: [{ kind: 'account', value: '13085' }], time: Date.UTC(2009, 11, 1, 7, 45) });
    expect(r.lines[1].time).toBe(r.lines[0].time);
    expect(r.lines[2]).toMatchObject({ orderId: 'C489449', quantity: -12, identifiers: [{ kind: 'account', value: '16321' }] });
    expect(r.lines[3]).toMatchObject({ title: 'DOORMAT\nFANCY FONT', identifiers: [], quantity: 10 });
  });

  it('detects gzip by magic bytes whatever the file name, and reports compressed progress', async () => {
    const gz = join(tmp, 'retail-without-gz-suffix.csv');
    const raw = readFileSync(fx('uci-online-retail.csv'));
    writeFileSync(gz, gzipSync(raw));
    const plain = await readAll(fx('uci-online-retail.csv'));
    const zipped = await readAll(gz);
    expect(zipped.lines).toEqual(plain.lines);
    expect(zipped.byReason).toEqual(plain.byReason);
    expect((await detectFile(gz)).gzip).toBe(true);
    expect(zipped.lastBytes).toBe(zipped.total);
    expect(zipped.total).toBeLessThan(raw.length);
  });

  it('batches never exceed batchSize and numbering lines within orders survives batch boundaries', async () => {
    const rows = ['InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'];
    for (let o = 0; o < 30; o++) for (let j = 0; j < 7; j++) rows.push(`5${o},SKU${j},x,1,2011-01-01 10:00:00,1,1${o},UK`);
    const path = join(tmp, 'many.csv');
    writeFileSync(path, rows.join('\n') + '\n');
    let max = 0;
    const all: OrderLine[] = [];
    for await (const b of readOrderFile(path, { batchSize: 16 })) {
      max = Math.max(max, b.lines.length);
      all.push(...b.lines);
    }
    expect(max).toBeLessThanOrEqual(16);
    expect(all).toHaveLength(210);
    expect(all.filter((l) => l.orderId === '529').map((l) => l.lineNo)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('canonical order format', () => {
  it('CSV: normalises identifiers, channels, offsets, returns; counts every rejection', async () => {
    const r = await readAll(fx('canonical-orders.csv'));
    expect(r.rows).toBe(15);
    expect(r.byReason).toEqual({
      bad_channel: 1,
      bad_date: 1,
      bad_number: 1,
      zero_quantity: 1,
      missing_order_id: 1,
      missing_sku: 1,
      malformed_row: 1,
    });
    expect(r.lines.map((l) => l.orderId)).toEqual(['W1', 'W1', 'T7', 'A3', 'W1-R', 'T8', 'X2', 'G1']);
    const [w1, w1b, t7, a3, ret, t8, x2, g1] = r.lines;
    // an email that does not parse is dropped (counted by the import), not the row: a guest's line
    expect(x2.identifiers).toEqual([]);
    expect(w1.identifiers).toEqual([
      { kind: 'account', value: 'AC1' },
      { kind: 'email', value: 'jane.doe@example.com' },
    ]);
    expect(w1).toMatchObject({ channel: 'web', storeId: null, title: 'Coffee beans', category: 'Coffee', quantity: 2, unitPrice: 4.5, lineNo: 1 });
    expect(w1b).toMatchObject({ title: 'Mug, large', lineNo: 2 });
    expect(t7).toMatchObject({ channel: 'store', storeId: 'S01', time: Date.UTC(2024, 2, 5, 14, 30), title: null });
    expect(t7.identifiers).toEqual([
      { kind: 'phone', value: '447700900123' },
      { kind: 'loyalty', value: 'L-9' },
    ]);
    expect(a3).toMatchObject({ channel: 'app', identifiers: [{ kind: 'loyalty', value: 'L-9' }] });
    expect(ret).toMatchObject({ quantity: -1, cancels: 'W1' });
    expect(t8).toMatchObject({ channel: 'store', time: Date.UTC(2024, 2, 9), unitPrice: 0, identifiers: [{ kind: 'phone', value: '447700900123' }] });
    expect(g1.identifiers).toEqual([]);
  });

  it('NDJSON: flat or nested identifiers, numbers as numbers; bad lines are malformed rows', async () => {
    const r = await readAll(fx('canonical-orders.ndjson'));
    expect(r.rows).toBe(6);
    expect(r.byReason).toEqual({ malformed_row: 2, bad_channel: 1 });
    expect(r.rejects.filter((x) => x.reason === 'malformed_row').map((x) => x.row)).toEqual([3, 4]);
    expect(r.rejects.find((x) => x.reason === 'bad_channel')?.row).toBe(7);
    const csv = await readAll(fx('canonical-orders.csv'));
    expect(r.lines[0]).toEqual(csv.lines[0]);
    expect(r.lines[1]).toEqual({ ...csv.lines[2], lineNo: 1 });
    expect(r.lines[2]).toMatchObject({ orderId: 'W1-R', quantity: -1, cancels: 'W1', identifiers: [{ kind: 'account', value: 'AC1' }] });
  });

  it('readOrderFile refuses a non-order file', async () => {
    await expect(async () => {
      for await (const _ of readOrderFile(fx('inventory.csv'))) void _;
    }).rejects.toThrow(/inventory file, not an order file/);
  });

  it('a BOM before the header is ignored; a header-only file has no rows; an empty file is an error', async () => {
    const bom = join(tmp, 'bom.csv');
    writeFileSync(bom, '\ufeffstore_id,sku,quantity\r\nS01,SKU1,3\r\n');
    const r = await readAll(bom);
    expect(r.inventory).toEqual([{ storeId: 'S01', sku: 'SKU1', quantity: 3 }]);
    const headerOnly = join(tmp, 'header-only.csv');
    writeFileSync(headerOnly, 'order_id,sku,time,quantity\n');
    const h = await readAll(headerOnly);
    expect(h.kind).toBe('orders');
    expect(h.rows).toBe(0);
    expect(h.lines).toEqual([]);
    const empty = join(tmp, 'empty.csv');
    writeFileSync(empty, '');
    await expect(readAll(empty)).rejects.toThrow(/empty file/);
    await expect(readAll(join(tmp, 'missing.csv'))).rejects.toThrow(/cannot read/);
  });

  it('multi-byte characters survive the reader\'s chunk boundaries (3 MB of accented and astral titles)', async () => {
    const titles = ['Crème brûlée dish', 'Ζεστό τσάι', '茶杯 set', 'Gift 🎁 box'];
    const rows = ['order_id,sku,time,quantity,title'];
    for (let i = 0; i < 60_000; i++) rows.push(`O${i},S${i % 50},2024-01-01,1,${titles[i % titles.length]} ${i}`);
    const big = join(tmp, 'multibyte.csv.gz');
    writeFileSync(big, gzipSync(rows.join('\n') + '\n'));
    const r = await readAll(big, 20_000);
    expect(r.lines).toHaveLength(60_000);
    r.lines.forEach((l, i) => expect(l.title).toBe(`${titles[i % titles.length]} ${i}`));
  });

  it('an unknown header is an error naming the file', async () => {
    const p = join(tmp, 'weird.csv');
    writeFileSync(p, 'a,b,c\n1,2,3\n');
    await expect(detectFile(p)).rejects.toThrow(/weird\.csv: unrecognised header/);
  });
});

describe('companion formats', () => {
  it('inventory: rows with 0 = out of stock; rejects counted', async () => {
    const r = await readAll(fx('inventory.csv'));
    expect(r.kind).toBe('inventory');
    expect(r.inventory).toEqual([
      { storeId: 'S01', sku: 'SKU1', quantity: 5 },
      { storeId: 'S01', sku: 'SKU2', quantity: 0 },
    ]);
    expect(r.byReason).toEqual({ bad_number: 2, missing_store: 1, missing_sku: 1 });
  });

  it('consent: normalised identifiers, flags, optional time; rejects counted', async () => {
    const r = await readAll(fx('consent.csv'));
    expect(r.kind).toBe('consent');
    expect(r.consent).toEqual([
      { identifiers: [{ kind: 'email', value: 'jane.doe@example.com' }], purpose: 'personalisation', granted: true, time: Date.UTC(2024, 2, 1, 10), source: 'web' },
      { identifiers: [{ kind: 'phone', value: '447700900123' }], purpose: 'personalisation', granted: false, time: Date.UTC(2024, 2, 2, 10), source: 'till' },
      { identifiers: [{ kind: 'loyalty', value: 'L-9' }], purpose: 'email', granted: true, time: null, source: 'app' },
    ]);
    expect(r.byReason).toEqual({ bad_identifier: 2, bad_value: 2, bad_date: 1 });
  });
});

describe('readHistoryFile', () => {
  it('Online Retail: customer = account id, guests null, cancellations negative', async () => {
    const h = await readHistoryFile(fx('uci-online-retail.csv'));
    expect(h.lines.map((l) => l.customerId)).toEqual(['17850', '17850', null, '15311', '13047']);
    expect(h.lines[3].quantity).toBe(-1);
    expect(h.rejected.bad_number).toBe(2);
    expect(h.skipped).toEqual({ non_product: 3 });
    expect(h.customers).toBe(3);
  });

  it('canonical: identifiers unified by the identity graph (phone ↔ loyalty across store and app)', async () => {
    const h = await readHistoryFile(fx('canonical-orders.csv'));
    const byOrder = new Map(h.lines.map((l) => [l.orderId, l.customerId]));
    expect(byOrder.get('W1')).toBe('AC1');
    expect(byOrder.get('W1-R')).toBe('AC1');
    expect(byOrder.get('T7')).toBe('phone:447700900123');
    expect(byOrder.get('A3')).toBe('phone:447700900123');
    expect(byOrder.get('T8')).toBe('phone:447700900123');
    expect(byOrder.get('G1')).toBeNull();
    expect(h.customers).toBe(2);
  });
});

describe('openText chunks', () => {
  // lines of every length around the chunk size, empty lines, CRLF, multi-byte characters and a BOM
  const text = '\ufeffhead\r\n' + Array.from({ length: 60 }, (_, i) => (i % 7 === 3 ? '' : 'é'.repeat(i % 13) + 'x'.repeat(i))).join('\n') + '\r\nlast';
  const expected = text.slice(1).split('\n').map((l) => l.replace(/\r$/, ''));
  for (const gzip of [false, true]) {
    it(`yields every line once, whatever the chunk size (${gzip ? 'gzip' : 'plain'})`, async () => {
      const path = join(tmp, gzip ? 'chunks.txt.gz' : 'chunks.txt');
      writeFileSync(path, gzip ? gzipSync(text) : text);
      for (const chunkSize of [1, 2, 3, 5, 7, 16, 64, 65, 100, 4096]) {
        const lines: string[] = [];
        for await (const c of (await openText(path, { chunkSize })).chunks) lines.push(...decodeLines(c.bytes));
        expect(lines, `chunk size ${chunkSize}`).toEqual(expected);
      }
    });
  }
});

describe('detachTitles: false (the import reader thread)', () => {
  const readLines = async (path: string, detachTitles?: boolean) => {
    const out: OrderLine[] = [];
    for await (const b of readOrderFile(path, { detachTitles })) out.push(...b.lines);
    return out;
  };
  for (const f of ['uci-online-retail.csv', 'uci-online-retail-ii.csv', 'canonical-orders.csv', 'canonical-orders.ndjson']) {
    it(`${f}: the same lines as with titles copied (the default)`, async () => {
      const copied = await readLines(fx(f));
      const kept = await readLines(fx(f), false);
      expect(copied.length).toBeGreaterThan(0);
      expect(copied.some((l) => l.title !== null)).toBe(true);
      expect(kept).toEqual(copied);
      expect(await readLines(fx(f), true)).toEqual(copied);
    });
  }
});
