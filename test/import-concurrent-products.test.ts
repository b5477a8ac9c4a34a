/**
 * Two imports at once never deadlock on product rows (issue 13: a bad interleaving must not fail an import). Since
 * products follow product-rule.ts, a file's deferred product updates (flushed after each file and at the end of the
 * import) rewrite nearly every product the file names; every writer of product rows now holds the identity lock (the
 * flushes took none: with two importers, a flush and the other's batch locked the same rows in different orders, and
 * PostgreSQL aborted one with 40P01 in about a third of the rounds of a reviewer's script).
 * The lock is checked directly (the test that fails without it: a timed interleaving would fail only sometimes); the
 * rounds check the outcome: two stores on one database (two pools, as two processes hold them), each importing six
 * files of 300 products seen again at later times, in batches of 300 lines, then the invariants and the products table
 * against one import of the same files alone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../src/ingest/import-file.js';
import { checkStore } from '../src/store/check-store.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { storeBackends } from './helpers/backends.js';
import { hookStore } from './helpers/hooked-client.js';
import { productRows } from './helpers/store-rows.js';

const HEADER = 'order_id,line_no,channel,time,email,sku,title,category,quantity,unit_price';
const SKUS = 900;
/** Rounds per backend (PGlite runs one statement at a time: it cannot deadlock, and is checked for the result only). */
const rounds = (name: string) => (name === 'pglite' ? 1 : 3);

/**
 * Six files for importer `who`: file f has 200 orders of 3 lines over 300 skus (each twice), f * 150 to f * 150 + 299 (of
 * 900), at later times than file f - 1, a tenth of the prices changed. Half of a file's skus are new to its importer
 * (written with the batch), half known (changed only in their times: deferred to the file's end). Importer b takes the
 * files in the other order: its batches write the rows the other's end-of-file flushes rewrite.
 */
function files(who: string): string[] {
  const out: string[] = [];
  for (let f = 0; f < 6; f++) {
    const rows = [HEADER];
    for (let o = 0; o < 200; o++) {
      const time = new Date(Date.UTC(2024, 0, 1 + f, 0, o)).toISOString();
      for (let l = 1; l <= 3; l++) {
        const sku = (f * 150 + ((o * 3 + l - 1) % 300)) % SKUS;
        rows.push([`${who}-${f}-${o}`, l, 'web', time, `${who}${o % 40}@shop.example`, `S${sku}`, `Item ${sku}`, `C${sku % 9}`, 1, 1 + (sku % 5) + (sku % 10 === f ? 0.5 : 0)].join(','));
      }
    }
    out.push(`${rows.join('\n')}\n`);
  }
  return who === 'b' ? out.reverse() : out;
}

for (const backend of storeBackends()) {
  describe(`two imports at once (${backend.name})`, () => {
    let dir: string;
    const paths: Record<string, string[]> = {};
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'omnirec-concurrent-'));
      for (const who of ['a', 'b']) {
        paths[who] = [];
        const texts = files(who);
        for (let f = 0; f < texts.length; f++) {
          const p = join(dir, `${who}-${f}.csv`);
          await writeFile(p, texts[f]);
          paths[who].push(p);
        }
      }
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it(`${rounds(backend.name)} rounds of two importers: none fails, the invariants hold, products as imported alone`, async () => {
      // the products of both importers' files imported one after the other by one store
      const alone = await backend.open();
      let expected: unknown[];
      try {
        await importFiles(alone.store, [...paths.a, ...paths.b], { batchSize: 300 });
        expected = await productRows(alone.store);
      } finally {
        await alone.cleanup();
      }
      for (let round = 0; round < rounds(backend.name); round++) {
        const opened = await backend.open();
        try {
          const twin = await opened.twin();
          const results = await Promise.allSettled([
            importFiles(opened.store, paths.a, { batchSize: 300 }),
            importFiles(twin, paths.b, { batchSize: 300 }),
          ]);
          const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : []));
          expect(failures, `round ${round}`).toEqual([]);
          expect((await checkStore((opened.store as SqlStore).db)).failures).toEqual([]);
          expect(await productRows(opened.store)).toEqual(expected);
        } finally {
          await opened.cleanup();
        }
      }
    }, 120_000);

    // (PostgreSQL: PGlite has one writer and takes no advisory locks)
    if (backend.name !== 'pglite') it('every statement writing product rows runs under the identity lock (the end-of-file flushes too)', async () => {
      const opened = await backend.open();
      try {
        // every statement that writes products (p_changed: writeBatch's products part) notes whether its transaction
        // holds IDENTITY_LOCK (src/store/sql-store.ts)
        const seen: boolean[] = [];
        hookStore(opened.store, async (sql, ex) => {
          if (!sql.includes('p_changed AS (')) return;
          const r = await ex.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 7262541 AND pid = pg_backend_pid() AND granted");
          seen.push(r.rows[0].n > 0);
        });
        await importFiles(opened.store, paths.a, { batchSize: 300 });
        // batches, the flushes after files 1-5 and the last file's at the end: all under the lock
        expect(seen.length).toBeGreaterThan(6);
        expect(seen.filter((h) => !h)).toEqual([]);
      } finally {
        await opened.cleanup();
      }
    });
  });
}
