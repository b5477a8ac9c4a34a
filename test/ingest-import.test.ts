import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { InvalidArgumentError, NotFoundError } from '../src/core/errors.js';
import { columnProducts, importBatches, productColumns, type ImportBatch } from '../src/ingest/import-batches.js';
import { importFile, importFiles, type ImportSummary } from '../src/ingest/import-file.js';
import type { ImportPlan } from '../src/store/import-plan.js';
import { EPOCH_MS } from '../src/store/sql-client.js';
import { SqlStore } from '../src/store/sql-store.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { withBadLastLine } from './helpers/broken-plan.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const fx = (name: string) => join(import.meta.dirname, 'fixtures', name);
const tmp = mkdtempSync(join(tmpdir(), 'omnirec-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// a generated-style directory: canonical orders + inventory + consent (given out of order on purpose)
const dir = join(tmp, 'multi');
mkdirSync(dir);
for (const f of ['consent.csv', 'inventory.csv', 'canonical-orders.csv']) copyFileSync(fx(f), join(dir, f));

/** The store, except that the lines of the second batch it is given fail to COPY. */
function failingSecondBatch(store: Store): Store {
  let batch = 0;
  return new Proxy(store, {
    get(target, key) {
      if (key === 'importPlan') {
        return (plan: ImportPlan, o?: { deferProductUpdates?: boolean }) => target.importPlan(++batch === 2 ? withBadLastLine(plan) : plan, o);
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

for (const backend of storeBackends()) {
  describe(`importFile on ${backend.name}`, () => {
    it('Online Retail: counts rows, rejections and skips; totals from the store; a second import changes nothing', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const s = await importFile(store, fx('uci-online-retail.csv'), { batchSize: 2 });
        expect(s.rows).toBe(16);
        expect(s.imported).toBe(5);
        expect(s.duplicates).toBe(0);
        expect(s.rejected).toEqual({ bad_date: 1, bad_number: 2, zero_quantity: 1, missing_sku: 1, missing_order_id: 1, malformed_row: 1, bad_identifier: 1 });
        expect(s.skipped).toEqual({ non_product: 3 });
        expect(s.samples[0]).toMatchObject({ row: 8, reason: 'bad_date' });
        // customers 17850, 15311, 13047; products 85123A 71053 22633 35004C 22086; orders 536365 536366 C536383 536371
        expect({ customers: s.customers, products: s.products, orders: s.orders, lines: s.lines }).toEqual({ customers: 3, products: 5, orders: 4, lines: 5 });
        expect(s.ok).toBe(true);
        const again = await importFile(store, fx('uci-online-retail.csv'), { strict: true });
        expect(again.imported).toBe(0);
        expect(again.duplicates).toBe(5);
        expect(again.ok).toBe(false); // strict and rows were rejected
        expect({ customers: again.customers, products: again.products, orders: again.orders, lines: again.lines }).toEqual({ customers: 3, products: 5, orders: 4, lines: 5 });
      } finally {
        await cleanup();
      }
    });

    it("a batch failing mid-import: the import fails, no order is left without lines; importing again gives a clean import's store", async () => {
      const { store, cleanup } = await backend.open();
      const clean = await backend.open();
      try {
        await expect(importFile(failingSecondBatch(store), fx('uci-online-retail.csv'), { batchSize: 2 })).rejects.toThrow();
        // the first batch is committed whole; nothing of the second (its orders roll back with its lines)
        expect(await store.totals()).toMatchObject({ orders: 1, lines: 2 });
        expect((await store.checkInvariants()).failures).toEqual([]);
        const again = await importFile(store, fx('uci-online-retail.csv'), { batchSize: 2 });
        expect({ imported: again.imported, duplicates: again.duplicates }).toEqual({ imported: 3, duplicates: 2 });
        await importFile(clean.store, fx('uci-online-retail.csv'), { batchSize: 2 });
        const state = async (s: Store) => {
          const history = [];
          for await (const b of s.historyLines()) history.push(...b.map((h) => ({ ...h, customerId: h.customerId !== null })));
          return { totals: await s.totals(), history, products: await s.products() };
        };
        expect(await state(store)).toEqual(await state(clean.store));
        expect((await store.checkInvariants()).ok).toBe(true);
      } finally {
        await cleanup();
        await clean.cleanup();
      }
    });

    it("a product's seen_at is the source time of its latest line, whatever the batches; an import after a partial one (a crash) gives a fresh import's", async () => {
      // 84000's price: 1.00, then 2.00, then 1.00 again, then a return (no price) the day after; one order per batch
      const lines = [1, 2, 1].map((price, i) => `54000${i + 1},84000,BLUE MUG,1,2011-01-0${i + 3} 10:00:00,${price.toFixed(2)},17001,United Kingdom`);
      lines.push('C540004,84000,,-1,2011-01-06 10:00:00,1.50,17001,United Kingdom');
      const file = (n: number) => {
        const f = join(tmp, `price-back-${n}.csv`);
        writeFileSync(f, ['InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country', ...lines.slice(0, n)].join('\n') + '\n');
        return f;
      };
      const product = async (s: Store) => {
        const r = await (s as SqlStore).db.query<{ price: number; title: string; at: number; priceAt: number; titleAt: number }>(
          `SELECT price::float8 AS price, title, ${EPOCH_MS('seen_at')} AS at, ${EPOCH_MS('price_at')} AS "priceAt", ${EPOCH_MS('title_at')} AS "titleAt"
             FROM products WHERE sku = '84000'`,
        );
        return r.rows[0];
      };
      const day = (d: number) => Date.parse(`2011-01-0${d}T10:00:00Z`);
      const fresh = await backend.open();
      const crashed = await backend.open();
      try {
        await importFile(fresh.store, file(4), { batchSize: 1 });
        expect(await product(fresh.store)).toEqual({ price: 1, title: 'BLUE MUG', at: day(6), priceAt: day(5), titleAt: day(5) });
        // the first two lines imported (their deferred update flushed), then the whole file by another process
        await importFile(crashed.store, file(2), { batchSize: 1 });
        expect(await product(crashed.store)).toEqual({ price: 2, title: 'BLUE MUG', at: day(4), priceAt: day(4), titleAt: day(4) });
        await importFile(new SqlStore((crashed.store as SqlStore).db), file(4), { batchSize: 1 });
        expect(await product(crashed.store)).toEqual(await product(fresh.store));
      } finally {
        await fresh.cleanup();
        await crashed.cleanup();
      }
    });

    it('two importers of the same file at the same time (a second store over the same database) write it once', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const other = new SqlStore((store as SqlStore).db); // its own product cache and lines queue, like another process
        const both = await Promise.all([store, other].map((s) => importFile(s, fx('uci-online-retail.csv'), { batchSize: 2 })));
        expect(both[0].imported + both[1].imported).toBe(5);
        expect(both[0].duplicates + both[1].duplicates).toBe(5);
        expect(await store.totals()).toMatchObject({ customers: 3, products: 5, orders: 4, lines: 5 });
      } finally {
        await cleanup();
      }
    });

    it('imports ending together (each refreshes the card summaries in the transaction of its run record): every summary current and matching the lines', async () => {
      const { store, cleanup } = await backend.open();
      try {
        // like separate processes: each its own product cache; their ends (finishImport) overlap
        const stores = [store, ...[1, 2, 3].map(() => new SqlStore((store as SqlStore).db))];
        await Promise.all(stores.map((s, i) => importFile(s, fx(i % 2 ? 'canonical-orders.csv' : 'uci-online-retail.csv'), { batchSize: 2 })));
        const customers = (await store.totals()).customers;
        const current = await (store as SqlStore).db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM customer_summaries s JOIN customers c ON c.id = s.customer_id
            WHERE s.rev = c.rev AND s.catalogue = (SELECT rev FROM summary_catalogue)`,
        );
        expect(customers).toBeGreaterThan(3);
        expect(current.rows[0].n).toBe(customers);
        expect((await store.checkInvariants()).ok).toBe(true);
      } finally {
        await cleanup();
      }
    });

    it('a batch handed over while the one before is written (after): committed only once that one is, never when it failed', async () => {
      const { store, cleanup } = await backend.open();
      try {
        // one planned batch per order: 536365 (2 lines), 536366, C536383, 536371
        const plans: ImportPlan[] = [];
        for await (const b of importBatches(fx('uci-online-retail.csv'), { batchSize: 1, firstBatchSize: 1, worker: false, reserveOrderIds: (n) => store.reserveOrderIds(n) })) {
          if (b.kind === 'orders' && b.plan.lineCount > 0) plans.push(b.plan);
        }
        expect(plans.map((p) => [p.orders.length, p.lineCount, p.freshIds, p.uniqueLines])).toEqual([
          [1, 2, true, true],
          [1, 1, true, true],
          [1, 1, true, true],
          [1, 1, true, true],
        ]);
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        const first = store.importPlan(plans[0], { after: held });
        await new Promise((r) => setTimeout(r, 300));
        // not committed while the batch before is not done (on PostgreSQL its lines are copied meanwhile)
        expect(await store.totals()).toMatchObject({ orders: 0, lines: 0 });
        const second = store.importPlan(plans[1], { after: first });
        release();
        expect(await second).toMatchObject({ imported: 1, duplicates: 0 });
        expect(await first).toMatchObject({ imported: 2, duplicates: 0 });
        expect(await store.totals()).toMatchObject({ orders: 2, lines: 3 });
        // the batch before failed: nothing of this one is committed, and it says why
        const failed = new Promise((_, reject) => setTimeout(() => reject(new Error('the batch before broke')), 100));
        await expect(store.importPlan(plans[2], { after: failed })).rejects.toThrow('the batch before broke');
        expect(await store.totals()).toMatchObject({ orders: 2, lines: 3 });
        expect((await store.checkInvariants()).failures).toEqual([]);
        // written again (its reserved ids were never used): whole
        expect(await store.importPlan(plans[2], { after: Promise.resolve() })).toMatchObject({ imported: 1 });
        expect(await store.importPlan(plans[3])).toMatchObject({ imported: 1 });
        expect(await store.totals()).toMatchObject({ orders: 4, lines: 5 });
        expect((await store.checkInvariants()).ok).toBe(true);
      } finally {
        await cleanup();
      }
    });

    it('a batch whose lines were copied ahead finds its order already stored under another id: the copied lines go, the order gets only new lines', async () => {
      const { store, cleanup } = await backend.open();
      try {
        await importFile(store, fx('uci-online-retail.csv'), { batchSize: 2 });
        const before = await store.totals();
        const ids: number[] = [];
        // planned by a new reader: fresh reserved ids for orders the store holds under others
        const plans: ImportPlan[] = [];
        for await (const b of importBatches(fx('uci-online-retail.csv'), { batchSize: 1, firstBatchSize: 1, worker: false, reserveOrderIds: async (n) => { const r = await store.reserveOrderIds(n); ids.push(...r); return r; } })) {
          if (b.kind === 'orders' && b.plan.lineCount > 0) plans.push(b.plan);
        }
        let w: Promise<unknown> = Promise.resolve();
        const results = [];
        for (const p of plans) {
          const r = store.importPlan(p, { after: w });
          r.catch(() => undefined);
          w = r;
          results.push(r);
        }
        expect((await Promise.all(results)).map((r) => (r as { imported: number }).imported)).toEqual([0, 0, 0, 0]);
        expect(await store.totals()).toEqual(before);
        // no line under the ids reserved for the second reading
        const [, lines] = await Promise.all([store.totals(), (store as SqlStore).db.query<{ n: number }>('SELECT count(*)::int AS n FROM order_lines WHERE order_id = ANY($1::bigint[])', [ids])]);
        expect(lines.rows[0].n).toBe(0);
        expect((await store.checkInvariants()).ok).toBe(true);
      } finally {
        await cleanup();
      }
    });

    it('an import begun before the store is migrated (storeReady): no store call until it is; a failed migration fails the import, writing nothing', async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        let migrated = false;
        const early: string[] = [];
        const watched = new Proxy(store, {
          get(target, key) {
            const v = Reflect.get(target, key, target) as unknown;
            if (typeof v !== 'function') return v;
            return (...args: unknown[]) => {
              if (!migrated) early.push(String(key));
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }) as Store;
        const ready = new Promise((r) => setTimeout(r, 50))
          .then(() => store.migrate())
          .then(() => {
            migrated = true;
          });
        const s = await importFile(watched, fx('uci-online-retail.csv'), { storeReady: ready });
        expect(early).toEqual([]);
        expect({ rows: s.rows, imported: s.imported }).toEqual({ rows: 16, imported: 5 });
        expect((await store.checkInvariants()).ok).toBe(true);
        const before = await store.totals();
        await expect(importFile(store, fx('canonical-orders.csv'), { storeReady: Promise.reject(new Error('migration failed')) })).rejects.toThrow('migration failed');
        expect(await store.totals()).toEqual(before);
      } finally {
        await cleanup();
      }
    });

    it('a directory: orders first, then inventory and consent; identities unified; consent and stock applied', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const s = await importFiles(store, [dir]);
        expect(s.files.map((f) => f.kind)).toEqual(['orders', 'inventory', 'consent']);
        expect(s.rejected).toEqual({
          bad_channel: 1, bad_identifier: 2, bad_date: 2, bad_number: 3, zero_quantity: 1, missing_order_id: 1, missing_sku: 2, malformed_row: 1, missing_store: 1, bad_value: 2,
        });
        // people: {AC1, jane.doe@example.com} and {phone 447700900123, loyalty L-9}; G1 is a guest, and so
        // is X2, whose only identifier does not parse (dropped and counted, the line kept)
        expect(s.customers).toBe(2);
        expect(s.orders).toBe(7);
        expect(s.lines).toBe(8);
        expect(s.droppedIdentifiers).toEqual({ invalid_identifier: 1 });
        const jane = await store.findCustomer({ kind: 'email', value: 'jane.doe@example.com' });
        const ac1 = await store.findCustomer({ kind: 'account', value: 'AC1' });
        const phone = await store.findCustomer({ kind: 'phone', value: '447700900123' });
        const loyal = await store.findCustomer({ kind: 'loyalty', value: 'L-9' });
        expect(jane).not.toBeNull();
        expect(jane).toBe(ac1);
        expect(phone).toBe(loyal);
        expect(phone).not.toBe(jane);
        expect(await store.hasConsent(jane!, 'personalisation')).toBe(true);
        expect(await store.hasConsent(phone!, 'personalisation')).toBe(false);
        const stock = await store.inventory();
        expect([...(stock.get('S01') ?? [])]).toEqual(['SKU1']); // SKU2 is out of stock
        // the return W1-R nets SKU2 out of jane's skus
        expect((await store.customerSkus(jane!)).sort()).toEqual(['SKU1']);
        // the same directory again: no new consent rows, every consent event counted as a duplicate
        const consentFile = s.files[2];
        expect(consentFile.imported).toBeGreaterThan(0);
        const again = await importFiles(store, [dir]);
        expect(again.files[2]).toMatchObject({ kind: 'consent', imported: 0, duplicates: consentFile.imported + consentFile.duplicates });
        expect(await store.hasConsent(jane!, 'personalisation')).toBe(true);
        expect(await store.hasConsent(phone!, 'personalisation')).toBe(false);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('reading and planning in a worker thread', () => {
  const [backend] = storeBackends(); // the embedded default: the reader thread is the same on every backend
  const strip = (s: ImportSummary) => ({ ...s, seconds: 0, files: s.files.map((f) => ({ ...f, seconds: 0 })) });

  it('imports exactly what the main-thread reader imports (batches of 2 split orders across batches)', async () => {
    const results = [];
    for (const worker of [false, true]) {
      const { store, cleanup } = await backend.open();
      try {
        const s = await importFiles(store, [fx('uci-online-retail.csv'), dir], { batchSize: 2, worker });
        const history = [];
        for await (const b of store.historyLines()) history.push(...b.map((h) => [h.orderId, h.customerId !== null, h.sku, h.quantity]));
        results.push({ summary: strip(s), history, products: await store.products() });
      } finally {
        await cleanup();
      }
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0].summary.lines).toBe(13);
  }, 60_000);

  it('gives the same batches as the main-thread reader, plans field by field (products cross as columns)', async () => {
    const collect = async (worker: boolean) => {
      let next = 1;
      const reserve = async (n: number) => Array.from({ length: n }, () => next++);
      const out: ImportBatch[] = [];
      for await (const b of importBatches(fx('uci-online-retail.csv'), { worker, batchSize: 1, firstBatchSize: 1, reserveOrderIds: reserve })) out.push(b);
      return out;
    };
    const [here, there] = [await collect(false), await collect(true)];
    expect(here.length).toBeGreaterThan(2);
    const products = here.flatMap((b) => (b.kind === 'orders' ? b.plan.products : []));
    expect(products.some((p) => p.title !== null) && products.some((p) => p.price === null)).toBe(true);
    // (the COPY bytes arrive as a Uint8Array over a transferred buffer: compared as bytes)
    const norm = (bs: ImportBatch[]) => bs.map((b) => (b.kind === 'orders' ? { ...b, plan: { ...b.plan, copy: Buffer.from(b.plan.copy).toString('hex') } } : b));
    expect(norm(there)).toEqual(norm(here));
  }, 60_000);

  it('productColumns / columnProducts give the products back as they were; a NaN price is not put in columns', () => {
    const ps = [
      { sku: '85123A', title: 'WHITE HANGING HEART', titleAt: 1291191960000, category: null, categoryAt: -Infinity, price: 2.55, priceAt: 1291191960000, time: 1291191960000 },
      { sku: 'x', title: null, titleAt: -Infinity, category: 'c', categoryAt: -1, price: null, priceAt: -Infinity, time: -1 },
      { sku: '', title: '', titleAt: 0, category: '', categoryAt: 0, price: 0, priceAt: 0, time: 0 },
      { sku: 'big', title: 't', titleAt: 5, category: null, categoryAt: -Infinity, price: 1e21, priceAt: 7, time: 8.64e15 },
    ];
    const c = productColumns(ps)!;
    expect(c.price).toBeInstanceOf(Float64Array);
    expect(columnProducts(c)).toEqual(ps);
    expect(columnProducts(productColumns([])!)).toEqual([]);
    expect(productColumns([...ps, { sku: 'n', title: null, titleAt: -Infinity, category: null, categoryAt: -Infinity, price: NaN, priceAt: 1, time: 1 }])).toBeNull();
  });

  it("passes the reader's typed errors on (missing file, unknown format)", async () => {
    const reserve = async (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    const drain = async (path: string) => {
      for await (const _ of importBatches(path, { worker: true, reserveOrderIds: reserve })) void _;
    };
    await expect(drain(join(tmp, 'missing.csv'))).rejects.toBeInstanceOf(NotFoundError);
    const odd = join(tmp, 'odd.csv');
    writeFileSync(odd, 'a,b,c\n1,2,3\n');
    await expect(drain(odd)).rejects.toBeInstanceOf(InvalidArgumentError);
  }, 60_000);
});

describe('npm run import (embedded store in a data directory)', () => {
  // the embedded cache in tmp: consent imports announce on it (never on a shared Redis)
  const env = { ...process.env, PGLITE_DIR: join(tmp, 'pglite'), DATABASE_URL: '', REDIS_URL: '', REDIS_CLUSTER_NODES: '', CACHE_DIR: join(tmp, 'cache'), CACHE_PREFIX: 'imp' };
  // as `npm run import` runs it: the script compiled ahead of time (scripts/run.mjs)
  const cli = (...args: string[]) => run(process.execPath, ['scripts/run.mjs', 'scripts/import.ts', ...args], { cwd: root, env });
  type Failed = { code: number; stdout: string; stderr: string };

  it('imports with a readable summary; again with --json imports 0 new lines; --strict fails after reporting', async () => {
    const { stdout } = await cli(fx('uci-online-retail-ii.csv'));
    expect(stdout).toMatch(/rows 4: imported 4, already present 0, skipped 0, rejected 0/);
    expect(stdout).toMatch(/store now holds: customers 2, products 4, orders 3, lines 4/);
    // second run: the same file again (nothing new) plus a file with rejected rows, strict
    const r = (await cli(fx('uci-online-retail-ii.csv'), fx('uci-online-retail.csv'), '--json', '--strict', '--quiet').catch((e: Failed) => e)) as Failed;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--strict: 8 rows rejected/);
    const s = JSON.parse(r.stdout);
    expect(s.files[0]).toMatchObject({ rows: 4, imported: 0, duplicates: 4 });
    expect(s.files[1]).toMatchObject({ rows: 16, imported: 5, duplicates: 0 });
    expect(s).toMatchObject({ ok: false, rows: 20, imported: 5, duplicates: 4, skipped: { non_product: 3 } });
    expect(s.rejected).toEqual({ bad_date: 1, bad_number: 2, zero_quantity: 1, missing_sku: 1, missing_order_id: 1, malformed_row: 1, bad_identifier: 1 });
    // totals after both files: 2 + 3 customers, 4 + 5 products, 3 + 4 orders, 4 + 5 lines
    expect(s).toMatchObject({ customers: 5, products: 9, orders: 7, lines: 9 });
  }, 180_000); // two CLI runs, each starting the embedded PostgreSQL: slow on a loaded machine

  it('a consent import tells serving instances to forget every customer (they cache consent answers)', async () => {
    const server = new MemoryCache(env.CACHE_DIR, { isolated: true, pollMs: 20 }); // as the server process reads it
    const heard: string[] = [];
    const off = await server.subscribe('imp:customer-changes', (m) => heard.push(m));
    try {
      const { stdout } = await cli(fx('consent.csv'), '--quiet');
      expect(stdout).toMatch(/consent/);
      for (let i = 0; i < 250 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(heard.map((m) => JSON.parse(m))).toEqual([{ from: 'import', ids: [] }]);
    } finally {
      await off();
      await server.close();
    }
  }, 120_000);

  it('bad usage exits 2; a missing file exits 1 with a message', async () => {
    const usage = (await cli().catch((e: Failed) => e)) as Failed;
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/expected at least 1 argument/);
    const missing = (await cli(join(tmp, 'nope.csv')).catch((e: Failed) => e)) as Failed;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file or directory/);
  }, 120_000);
});
