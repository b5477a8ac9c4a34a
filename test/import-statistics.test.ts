/**
 * An import keeps the planner's statistics of `customers` up as the table grows (SqlStore.watchCustomerStatistics).
 * The foreign-key checks of each order and identifier written look a customer up by a plan each connection makes once:
 * made while the statistics said the table was (nearly) empty, as a first import of a tiny file leaves them, it stayed a
 * sequential scan while the table grew, and the shared file's import took 4.6-4.8 s instead of 3.1 (BENCHMARKS.md).
 * ANALYZE invalidates those plans: an import runs `ANALYZE customers` each time the table has doubled since its
 * statistics were taken (from 256 new customers), and never on a table whose statistics were never taken.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../src/ingest/import-file.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { hookStore } from './helpers/hooked-client.js';

const HEADER = 'order_id,line_no,channel,time,email,sku,title,category,quantity,unit_price';

/** Every statement the store runs from now on, in order (its transactions' too). */
function recordStatements(store: Store): string[] {
  const seen: string[] = [];
  hookStore(store, (sql) => {
    seen.push(sql);
  });
  return seen;
}

for (const backend of storeBackends()) {
  describe(`an import keeps the statistics of customers up as it grows (${backend.name})`, () => {
    let dir: string;
    let empty: string;
    let orders: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'omnirec-statistics-'));
      empty = join(dir, 'empty.csv');
      await writeFile(empty, `${HEADER}\n`);
      // 2,000 customers, one order each
      const rows = [HEADER];
      for (let c = 0; c < 2000; c++) rows.push([`O${c}`, 1, 'web', new Date(Date.UTC(2024, 0, 1, 0, c)).toISOString(), `c${c}@shop.example`, `S${c % 50}`, 'Item', 'Cat', 1, 2].join(','));
      orders = join(dir, 'orders.csv');
      await writeFile(orders, `${rows.join('\n')}\n`);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const midImport = (seen: string[]) => seen.filter((s) => s.trim() === 'ANALYZE customers').length;

    it('after a first import of an empty file (statistics: empty), ANALYZE customers as the table doubles', async () => {
      const opened = await backend.open();
      try {
        await importFiles(opened.store, [empty]);
        const seen = recordStatements(opened.store);
        const summary = await importFiles(opened.store, [orders], { batchSize: 250 });
        expect(summary.imported).toBe(2000);
        // at >= 256, >= 512, >= 1,024 new customers (one ANALYZE at a time: at least two of them)
        expect(midImport(seen)).toBeGreaterThanOrEqual(2);
        expect(midImport(seen)).toBeLessThanOrEqual(4);
        // the import's own ANALYZE at the end as before
        expect(seen.some((s) => s.startsWith('ANALYZE customers, customer_identifiers'))).toBe(true);
      } finally {
        await opened.cleanup();
      }
    });

    it('an ANALYZE of customers that fails (or times out) does not fail the import', async () => {
      const opened = await backend.open();
      try {
        await importFiles(opened.store, [empty]);
        let refused = 0;
        hookStore(opened.store, (sql) => {
          if (sql.trim() === 'ANALYZE customers') {
            refused++;
            throw new Error('canceling statement due to statement timeout');
          }
        });
        const summary = await importFiles(opened.store, [orders], { batchSize: 250 });
        expect(refused).toBeGreaterThanOrEqual(1);
        expect(summary.imported).toBe(2000);
        expect(await opened.store.totals()).toMatchObject({ customers: 2000, orders: 2000, lines: 2000 });
      } finally {
        await opened.cleanup();
      }
    });

    it('on a database whose statistics were never taken, or a small growth, none', async () => {
      const opened = await backend.open();
      try {
        const seen = recordStatements(opened.store);
        await importFiles(opened.store, [orders], { batchSize: 250 });
        expect(midImport(seen)).toBe(0);
        // 2,000 customers analyzed at the end: importing 200 more (all new) does not double them
        const more = join(dir, 'more.csv');
        const rows = [HEADER];
        for (let c = 0; c < 200; c++) rows.push([`M${c}`, 1, 'web', new Date(Date.UTC(2024, 1, 1, 0, c)).toISOString(), `m${c}@shop.example`, 'S1', 'Item', 'Cat', 1, 2].join(','));
        await writeFile(more, `${rows.join('\n')}\n`);
        seen.length = 0;
        await importFiles(opened.store, [more], { batchSize: 50 });
        expect(midImport(seen)).toBe(0);
      } finally {
        await opened.cleanup();
      }
    });
  });
}
