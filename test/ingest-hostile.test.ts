/**
 * Hostile files, as a retailer's data engineer sends them: every row is accounted for
 * (rows = imported + duplicates + rejected + skipped), every rejection names its line and reason,
 * no bad value aborts an import, a file that cannot be read fails with a message naming it, and
 * after each import (failed or not) the store's invariants hold (Store.checkInvariants).
 * Most files are generated here; a few small ones are in test/fixtures/hostile/.
 * Runs on PGlite always and on PostgreSQL when DATABASE_URL is set.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { importFiles, unaccounted, type ImportOptions, type ImportSummary } from '../src/ingest/import-file.js';
import { LineCounter } from '../src/ingest/order-rows.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';

const tmp = mkdtempSync(join(tmpdir(), 'omnirec-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const fx = (name: string) => join(import.meta.dirname, 'fixtures', 'hostile', name);

const UCI_HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
/** Online Retail row i: its own invoice, one of 50 products, one of 100 customers. */
const uciRow = (i: number, o: { invoice?: string; desc?: string; qty?: string; date?: string; price?: string } = {}) =>
  `${o.invoice ?? 536000 + i},SKU${i % 50},${o.desc ?? `Thing ${i % 50}`},${o.qty ?? 1 + (i % 5)},${o.date ?? '2010-12-01 08:26:00'},${o.price ?? '2.55'},${17000 + (i % 100)},United Kingdom`;
const CANON_HEADER = 'order_id,line_no,channel,store_id,time,email,phone,sku,title,quantity,unit_price';

let n = 0;
/** Writes a file (text, or bytes as they are) into the test's directory. */
function file(name: string, content: string | Buffer): string {
  const path = join(tmp, `${++n}-${name}`);
  writeFileSync(path, content);
  return path;
}
const lines = (...rows: string[]) => rows.join('\n') + '\n';

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

for (const backend of storeBackends()) {
  describe(`hostile files on ${backend.name}`, () => {
    /** Imports into a fresh store, checks that every row is accounted for and the invariants hold, then hands the store over. */
    async function imported(paths: string[], options: ImportOptions = {}, then?: (s: ImportSummary, store: Store) => Promise<void>): Promise<ImportSummary> {
      const { store, cleanup } = await backend.open();
      try {
        const s = await importFiles(store, paths, options);
        for (const f of s.files) expect(unaccounted(f), f.path).toBe(0);
        expect(s.rows).toBe(s.imported + s.duplicates + sum(s.rejected) + sum(s.skipped));
        expect((await store.checkInvariants()).failures).toEqual([]);
        await then?.(s, store);
        return s;
      } finally {
        await cleanup();
      }
    }
    /** An import that fails: its message, and the store's invariants after it. */
    async function failed(paths: string[], options: ImportOptions = {}, then?: (store: Store) => Promise<void>): Promise<string> {
      const { store, cleanup } = await backend.open();
      try {
        const e = await importFiles(store, paths, options).then(
          () => null,
          (err: Error) => err,
        );
        expect(e).not.toBeNull();
        expect((await store.checkInvariants()).failures).toEqual([]);
        await then?.(store);
        return e!.message;
      } finally {
        await cleanup();
      }
    }

    it('a stray quote on row 5 of 1,000 costs that row only (999 imported + 1 rejected), naming its line', async () => {
      const rows = Array.from({ length: 1000 }, (_, i) => uciRow(i, i === 4 ? { desc: 'Thing "5 inch' } : {}));
      const s = await imported([file('stray.csv', lines(UCI_HEADER, ...rows))], { maxSamples: 100 });
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 1000, imported: 999, rejected: { unbalanced_quote: 1 } });
      expect(s.samples).toEqual([expect.objectContaining({ row: 6, reason: 'unbalanced_quote', raw: expect.stringContaining('Thing "5 inch') })]);
      expect(s.samples[0].file).toMatch(/stray\.csv$/);
    });

    it('two stray quotes a few rows apart (their quotes balance, into the wrong column count): two rows rejected', async () => {
      const rows = Array.from({ length: 100 }, (_, i) => uciRow(i, i === 4 || i === 19 ? { desc: 'say "hi' } : {}));
      const s = await imported([file('strays.csv', lines(UCI_HEADER, ...rows))]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 100, imported: 98, rejected: { unbalanced_quote: 2 } });
      expect(s.samples.map((r) => r.row)).toEqual([6, 21]);
    });

    it('a quote left open at the end of the file: the last row rejected, the others imported', async () => {
      const rows = Array.from({ length: 20 }, (_, i) => uciRow(i));
      rows.push('537000,SKU1,"never closed,1,2010-12-01 08:26:00,2.55,17001,United Kingdom');
      const s = await imported([file('eof-quote.csv', lines(UCI_HEADER, ...rows).trimEnd())]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 21, imported: 20, rejected: { unbalanced_quote: 1 } });
      expect(s.samples[0].row).toBe(22);
    });

    it('a quoted field over line breaks: one record within the caps, rejected past them (configurable), reading resuming after its first line', async () => {
      const body = lines(UCI_HEADER, '536999,SKU7,"multi', 'line two', 'line three', 'end",1,2010-12-01 08:26:00,1.0,17001,UK', ...Array.from({ length: 10 }, (_, i) => uciRow(i)));
      const path = file('multiline.csv', body);
      const within = await imported([path]);
      expect({ rows: within.rows, imported: within.imported, rejected: within.rejected }).toEqual({ rows: 11, imported: 11, rejected: {} });
      // at most 3 lines: the record's first line is rejected, its next two are read as rows (malformed), and
      // the closing line opens a quote of its own that the cap closes in turn
      const capped = await imported([path], { maxFieldLines: 3 });
      expect({ rows: capped.rows, imported: capped.imported, rejected: capped.rejected }).toEqual({
        rows: 14, imported: 10, rejected: { unbalanced_quote: 2, malformed_row: 2 },
      });
      expect(capped.samples.map((r) => [r.row, r.reason]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([[2, 'unbalanced_quote'], [3, 'malformed_row'], [4, 'malformed_row'], [5, 'unbalanced_quote']]);
      // a byte cap works the same way: 90,000 characters over 3 lines, capped at 70,000
      const wide = file('wide.csv', lines(UCI_HEADER, `536999,SKU7,"${'a'.repeat(30_000)}`, 'b'.repeat(30_000), `${'c'.repeat(30_000)}",1,2010-12-01 08:26:00,1.0,17001,UK`, ...Array.from({ length: 10 }, (_, i) => uciRow(i))));
      expect((await imported([wide])).imported).toBe(11);
      const bytes = await imported([wide], { maxFieldBytes: 70_000 });
      expect({ imported: bytes.imported, rejected: bytes.rejected }).toEqual({ imported: 10, rejected: { unbalanced_quote: 2, malformed_row: 1 } });
    });

    it('a huge field: a line longer than the cap is rejected as too_long without being held in memory', async () => {
      const huge = uciRow(1, { desc: `"${'x'.repeat(3 << 20)}"` });
      const s = await imported([file('huge.csv', lines(UCI_HEADER, uciRow(0), huge, uciRow(2)))]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 3, imported: 2, rejected: { too_long: 1 } });
      expect(s.samples[0]).toMatchObject({ row: 3, reason: 'too_long' });
      expect(s.samples[0].raw!.length).toBeLessThanOrEqual(300);
      // inside a quoted field that runs over lines, a line past the cap ends the field: its first line and the long one are rejected
      const inside = await imported([file('huge-inside.csv', lines(UCI_HEADER, '536999,SKU7,"opens', 'y'.repeat(200_000), uciRow(2), uciRow(3)))], { maxFieldBytes: 100_000 });
      expect({ rows: inside.rows, imported: inside.imported, rejected: inside.rejected }).toEqual({ rows: 4, imported: 2, rejected: { unbalanced_quote: 1, too_long: 1 } });
    });

    it('an id longer than 200 characters (a key of an index) rejects its row instead of failing its batch', async () => {
      const long = randomBytes(1500).toString('hex'); // incompressible: a PostgreSQL index entry of 3,000 bytes would fail
      const orders = file('long-ids.csv', lines(UCI_HEADER, uciRow(0), uciRow(1, { invoice: long }), `536002,${long},Thing,1,2010-12-01 08:26:00,2.55,17002,United Kingdom`, uciRow(3)));
      const s = await imported([orders]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 4, imported: 2, rejected: { too_long: 2 } });
      const canon = file('long-ids-canonical.csv', lines(CANON_HEADER, `A1,1,store,${long},2024-01-09T10:00:00Z,,,SKU1,,1,2`, `A2,1,web,,2024-01-09T10:00:00Z,${long}@example.com,,SKU1,,1,2`, 'A3,1,web,,2024-01-09T10:00:00Z,,,SKU1,,1,2'));
      const c = await imported([canon]);
      // a too-long store id rejects its row; a too-long email is no identifier: dropped (counted), the row kept
      expect({ rows: c.rows, imported: c.imported, rejected: c.rejected, dropped: c.droppedIdentifiers }).toEqual({ rows: 3, imported: 2, rejected: { too_long: 1 }, dropped: { invalid_identifier: 1 } });
      const inv = file('long-ids-inventory.csv', lines('store_id,sku,quantity', `S1,${long},3`, 'S1,A,3'));
      expect((await imported([inv])).rejected).toEqual({ too_long: 1 });
    });

    it('NUL and control characters reject their row', async () => {
      const s = await imported([file('control.csv', lines(UCI_HEADER, uciRow(0), uciRow(1, { desc: 'nul\u0000byte' }), uciRow(2, { desc: 'bell\u0007' }), uciRow(3, { desc: 'esc\u001b[31m' }), uciRow(4, { desc: 'tab\tis fine' })))]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 5, imported: 2, rejected: { control_character: 3 } });
      expect(s.samples.map((r) => r.row)).toEqual([3, 4, 5]);
    });

    it('NDJSON: a control character written as a JSON escape rejects its row too; a line that is not an object is malformed', async () => {
      const o = (sku: string, title: string) => JSON.stringify({ order_id: 'A1', channel: 'app', time: '2024-03-06T09:00:00Z', identifiers: { loyalty: 'L-9' }, sku, title, quantity: 1, unit_price: 3 });
      const s = await imported([file('escapes.ndjson', lines(o('SKU1', 'fine'), o('SKU2', 'nul\u0000inside'), '[1,2]', o('SKU3', 'fine too')))]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 4, imported: 2, rejected: { control_character: 1, malformed_row: 1 } });
    });

    it('invalid UTF-8 rejects its row (a real U+FFFD does not); Latin-1 is rejected, or transcoded with encoding latin1', async () => {
      const bad = Buffer.concat([Buffer.from(lines(UCI_HEADER, uciRow(0))), Buffer.from(uciRow(1, { desc: 'bad \u0001' }).replace('\u0001', '')), Buffer.from([0xff, 0xfe, 10]), Buffer.from(lines(uciRow(2, { desc: 'real \ufffd kept' })))]);
      const s = await imported([file('invalid-utf8.csv', bad)]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 3, imported: 2, rejected: { invalid_utf8: 1 } });
      expect(s.samples[0].row).toBe(3);

      const latin1 = fx('latin1.csv');
      const strict = await imported([latin1]);
      expect({ imported: strict.imported, rejected: strict.rejected }).toEqual({ imported: 1, rejected: { invalid_utf8: 2 } });
      await imported([latin1], { encoding: 'latin1' }, async (t, store) => {
        expect({ imported: t.imported, rejected: t.rejected }).toEqual({ imported: 3, rejected: {} });
        expect((await store.products()).map((p) => p.title)).toEqual(['Café crème', 'Crème brûlée set', 'Plain mug']); // skus L1, L2, L3
      });
    });

    it('numbers are strict decimals within their column: 1e20, hex, binary, octal, a tiny quantity are rejected, never aborting', async () => {
      const bad = ['1e20', '0x10', '0b101', '0o17', 'Infinity', '1_000', '12abc'];
      const rows = [
        uciRow(0),
        ...bad.map((q, i) => uciRow(i + 1, { qty: q })),
        uciRow(10, { qty: '100000000000000000000' }), // 1e20 written out
        uciRow(11, { qty: '0.00001' }), // stored as 0 at numeric(14,3)
        uciRow(12, { price: '0x1F' }),
        uciRow(13, { price: '99999999999' }),
        uciRow(14, { qty: '0' }),
        uciRow(15, { qty: '-2', price: '.5' }),
      ];
      const s = await imported([file('numbers.csv', lines(UCI_HEADER, ...rows))]);
      expect({ rows: s.rows, imported: s.imported }).toEqual({ rows: 14, imported: 2 });
      expect(s.rejected).toEqual({ bad_number: 8, out_of_range: 3, zero_quantity: 1 });
    });

    it('dates before 1900 are rejected: year 0001 does not become 1901', async () => {
      const rows = [uciRow(0, { date: '0001-01-01 00:00:00' }), uciRow(1, { date: '1899-12-31 23:59:59' }), uciRow(2, { date: '1/1/0001 0:00' }), uciRow(3, { date: '1900-01-01 00:00:00' })];
      await imported([file('old-dates.csv', lines(UCI_HEADER, ...rows))], {}, async (s, store) => {
        expect({ imported: s.imported, rejected: s.rejected }).toEqual({ imported: 1, rejected: { bad_date: 3 } });
        const history = [];
        for await (const b of store.historyLines()) history.push(...b);
        expect(history.map((h) => new Date(h.time).toISOString())).toEqual(['1900-01-01T00:00:00.000Z']);
      });
    });

    it('stock must be a non-negative integer within int4: 1.5 and 3000000000 are rejected, the other rows applied', async () => {
      const inv = file('inventory.csv', lines('store_id,sku,quantity', 'S1,A,3', 'S1,B,1.5', 'S1,C,3000000000', 'S1,D,-1', 'S1,E,0', 'S1,F,2147483647'));
      await imported([inv], {}, async (s, store) => {
        expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 6, imported: 3, rejected: { bad_number: 2, out_of_range: 1 } });
        expect([...((await store.inventory()).get('S1') ?? [])].sort()).toEqual(['A', 'F']);
      });
    });

    it('a gzip cut early or mid-file fails the import with a message naming the file; what was committed is whole; a re-import of the full file completes it', async () => {
      const rows = Array.from({ length: 30_000 }, (_, i) => uciRow(Math.floor(i / 3), { invoice: String(600000 + Math.floor(i / 3)) }));
      const gz = gzipSync(lines(UCI_HEADER, ...rows));
      const early = file('early.csv.gz', gz.subarray(0, 20));
      expect(await failed([early])).toMatch(/early\.csv\.gz: the gzip data ends early/);
      const mid = file('mid.csv.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
      const whole = file('whole.csv.gz', gz);
      const message = await failed([mid], { batchSize: 2_000 }, async (store) => {
        const t = await store.totals();
        expect(t.lines).toBeGreaterThan(0);
        expect(t.lines).toBeLessThan(30_000);
        const again = await importFiles(store, [whole], { batchSize: 2_000 });
        expect(again.lines).toBe(30_000);
        expect(again.orders).toBe(10_000);
        expect(again.imported + again.duplicates).toBe(30_000);
        expect((await store.checkInvariants()).failures).toEqual([]);
      });
      expect(message).toMatch(/mid\.csv\.gz: the gzip data ends early \(file cut short\?\) after [\d,]+ bytes/);
      // the same from the reader thread
      expect(await failed([mid], { batchSize: 2_000, worker: true })).toMatch(/mid\.csv\.gz: the gzip data ends early/);
    }, 120_000);

    it('a reader failing while a batch is being written: the import fails with its message (no unhandled rejection, no crash)', async () => {
      const rows = Array.from({ length: 6_000 }, (_, i) => uciRow(i));
      const gz = gzipSync(lines(UCI_HEADER, ...rows));
      const cut = file('cut-during-write.csv.gz', gz.subarray(0, Math.floor(gz.length * 0.5)));
      const { store, cleanup } = await backend.open();
      try {
        // every batch's write takes a while: the read-ahead of the next batch fails meanwhile
        const slow = new Proxy(store, {
          get(target, key) {
            if (key === 'importPlan') return (...a: Parameters<Store['importPlan']>) => new Promise((r) => setTimeout(r, 300)).then(() => target.importPlan(...a));
            const v = Reflect.get(target, key, target) as unknown;
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
        const unhandled: unknown[] = [];
        const onUnhandled = (e: unknown) => unhandled.push(e);
        process.on('unhandledRejection', onUnhandled);
        try {
          await expect(importFiles(slow, [cut], { batchSize: 500, worker: false })).rejects.toThrow(/cut-during-write\.csv\.gz: the gzip data ends early/);
          await new Promise((r) => setTimeout(r, 100));
        } finally {
          process.off('unhandledRejection', onUnhandled);
        }
        expect(unhandled).toEqual([]);
        expect((await store.checkInvariants()).failures).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it('BOM and CRLF line ends (also inside quoted fields) are read as plain lines', async () => {
      const text = '\ufeff' + [UCI_HEADER, uciRow(0), '536001,SKU1,"two\r\nlines",1,2010-12-01 08:26:00,2.55,17001,United Kingdom', uciRow(2)].join('\r\n') + '\r\n';
      await imported([file('bom-crlf.csv', text)], {}, async (s, store) => {
        expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 3, imported: 3, rejected: {} });
        expect((await store.products()).find((p) => p.sku === 'SKU1')?.title).toBe('two\nlines'); // line breaks in fields as \n
      });
    });

    it('an empty file fails with a message naming it; a header only imports nothing; a known column twice in the header fails', async () => {
      expect(await failed([file('empty.csv', '')])).toMatch(/empty\.csv: empty file/);
      const s = await imported([file('header-only.csv', UCI_HEADER + '\n')]);
      expect({ rows: s.rows, imported: s.imported, rejected: s.rejected }).toEqual({ rows: 0, imported: 0, rejected: {} });
      const dup = file('dup-header.csv', lines(`${UCI_HEADER},Quantity`, `${uciRow(0)},7`));
      expect(await failed([dup])).toMatch(/dup-header\.csv: column "Quantity" appears twice in the header \(columns 4 and 9\)/);
    });

    it("an order's lines far apart in a file keep their own line numbers (re-import adds nothing)", async () => {
      // order 700000's lines at the start and the end, with other orders between, batches of 2
      const rows = [uciRow(0, { invoice: '700000' }), ...Array.from({ length: 40 }, (_, i) => uciRow(i + 1)), uciRow(41, { invoice: '700000' }), uciRow(42, { invoice: '700000' })];
      const path = file('far-apart.csv', lines(UCI_HEADER, ...rows));
      await imported([path], { batchSize: 2 }, async (s, store) => {
        expect({ imported: s.imported, orders: s.orders, lines: s.lines }).toEqual({ imported: 43, orders: 41, lines: 43 });
        const again = await importFiles(store, [path], { batchSize: 7 });
        expect({ imported: again.imported, duplicates: again.duplicates, lines: again.lines }).toEqual({ imported: 0, duplicates: 43, lines: 43 });
      });
    });

    it('the same order id from two sources is two orders: by channel, and by --source', async () => {
      const canon = file('two-sources.csv', lines(
        CANON_HEADER,
        '1001,1,web,,2024-01-09T10:00:00Z,ann@example.com,,SKU1,,1,2',
        '1001,2,web,,2024-01-09T10:00:00Z,ann@example.com,,SKU2,,1,2',
        '1001,1,store,S1,2024-01-10T10:00:00Z,,07700 900123,SKU3,,1,2',
        '1001,2,store,S1,2024-01-10T10:00:00Z,,07700 900123,SKU4,,1,2',
      ));
      await imported([canon], {}, async (s, store) => {
        expect({ imported: s.imported, orders: s.orders, lines: s.lines, customers: s.customers }).toEqual({ imported: 4, orders: 2, lines: 4, customers: 2 });
        const ann = await store.findCustomer({ kind: 'email', value: 'ann@example.com' });
        expect((await store.customerHistory(ann!)).map((h) => h.sku)).toEqual(['SKU1', 'SKU2']);
      });
      // two till systems numbering orders alike: --source keeps them apart; the same source finds the same orders
      const till = (sku: string) => file('till.csv', lines(UCI_HEADER, `5001,${sku},Thing,1,2010-12-01 08:26:00,2.55,17001,United Kingdom`));
      const [a, b] = [till('SKUA'), till('SKUB')];
      await imported([a], { source: 'till-north' }, async (_, store) => {
        const other = await importFiles(store, [b], { source: 'till-south' });
        expect({ imported: other.imported, orders: other.orders }).toEqual({ imported: 1, orders: 2 });
        const same = await importFiles(store, [a], { source: 'till-north' });
        expect({ imported: same.imported, duplicates: same.duplicates, orders: same.orders }).toEqual({ imported: 0, duplicates: 1, orders: 2 });
        expect((await store.checkInvariants()).ok).toBe(true);
      });
    });
  });
}

describe('line numbers within orders', () => {
  it('an order seen again after 60,000 others continues its numbering', () => {
    const c = new LineCounter();
    expect(c.next('web', 'X')).toBe(1);
    for (let i = 0; i < 60_000; i++) c.next('web', String(i));
    expect(c.next('web', 'X')).toBe(2);
    expect(c.next('store', 'X')).toBe(1);
    expect(c.next('web', 'X')).toBe(3);
  });
});

describe('npm run import on hostile files (embedded store)', () => {
  const env = { ...process.env, PGLITE_DIR: join(tmp, 'pglite'), DATABASE_URL: '', REDIS_URL: '', REDIS_CLUSTER_NODES: '', CACHE_DIR: join(tmp, 'cache'), CACHE_PREFIX: 'hostile' };
  const root = join(import.meta.dirname, '..');
  const cli = (script: string, ...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, env });
  type Failed = { code: number; stdout: string; stderr: string };

  it('prints the accounting per file, writes every rejection with --rejects, fails a cut gzip with a message and no stack; check:store passes', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => uciRow(i, i === 4 ? { desc: 'Thing "5 inch' } : {}));
    const stray = file('cli-stray.csv', lines(UCI_HEADER, ...rows));
    const rejects = join(tmp, 'rejects.ndjson');
    const { stdout } = await cli('scripts/import.ts', stray, '--quiet', '--rejects', rejects);
    expect(stdout).toMatch(/rows 1,000 = imported 999 \+ duplicates 0 \+ rejected 1 \+ skipped 0/);
    expect(stdout).toMatch(/cli-stray\.csv:6 {2}unbalanced_quote/);
    const written = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(written).toEqual([expect.objectContaining({ row: 6, reason: 'unbalanced_quote', file: stray })]);

    const cut = file('cli-cut.csv.gz', gzipSync(lines(UCI_HEADER, ...rows)).subarray(0, 2000));
    const r = (await cli('scripts/import.ts', cut, '--quiet').catch((e: Failed) => e)) as Failed;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cli-cut\.csv\.gz: the gzip data ends early/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const check = await cli('scripts/check-store.ts', '--json');
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, failures: [] });
  }, 180_000);
});

describe('strict decimals', () => {
  it('strictDecimal accepts exactly what its rule does (plain decimals, surrounding spaces)', async () => {
    const { strictDecimal, DECIMAL_RULE } = await import('../src/ingest/strict-numbers.js');
    const cases = ['12', '-3', '+2', '4.50', '.5', '5.', '-.5', ' 7 ', '0', '', ' ', '.', '-', '+.', '1e20', '0x10', '0b101', '0o17', 'Infinity', 'NaN', '1_000', '12abc', '1.2.3', '--1', '1,5', '١٢'];
    for (const c of cases) {
      const expected = DECIMAL_RULE.test(c.trim()) ? Number(c.trim()) : NaN;
      expect(strictDecimal(c), JSON.stringify(c)).toBe(expected);
    }
  });
});
