/**
 * Existing databases upgrade: orders written before order identity became (source, order id)
 * (migration 003) take their channel as source, so re-importing the same file finds them; every
 * import ends with its run recorded (import_runs, migration 004: the synchronous last commit) and
 * fresh planner statistics (ANALYZE).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importFile } from '../src/ingest/import-file.js';
import { loadMigrations, migrate } from '../src/store/migrate.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { storeBackends } from './helpers/backends.js';
import { decide, traceOf } from '../src/core/offers/decide.js';
import { prepareOffers } from '../src/core/offers/screen.js';
import { prepareDecision, preparedRow } from '../src/store/sql-offers.js';
import type { DecisionLogEntry, DecisionToLog } from '../src/store/store.js';
import { context as testContext, offer as testOffer, stats as testStats, subject as testSubject } from './helpers/offers.js';

const fx = (name: string) => join(import.meta.dirname, 'fixtures', name);

for (const backend of storeBackends()) {
  describe(`upgrading and finishing imports on ${backend.name}`, () => {
    it('a database from before migration 003: its orders keep their lines and a re-import adds nothing', async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        const db = (store as SqlStore).db;
        const all = loadMigrations();
        const before = all.filter((m) => m.name < '003');
        expect(await migrate(db, before)).toEqual(before.map((m) => m.name));
        // an order as the old schema held it (no source column)
        await db.exec(`INSERT INTO products (sku) VALUES ('85123A');
          INSERT INTO orders (id, source_id, channel, placed_at) VALUES (1, '536365', 'web', '2010-12-01 08:26:00+00');
          INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price) VALUES (1, 1, '85123A', 6, 2.55)`);
        await db.exec(`SELECT setval(pg_get_serial_sequence('orders', 'id'), 1)`);
        expect(await migrate(db, all)).toEqual(all.filter((m) => m.name >= '003').map((m) => m.name));
        const r = await db.query<{ source: string }>('SELECT source FROM orders');
        expect(r.rows).toEqual([{ source: 'web' }]);
        // the fixture's first line is that order's first line: found, not written again
        const s = await importFile(store, fx('uci-online-retail.csv'));
        expect({ imported: s.imported, duplicates: s.duplicates, orders: s.orders }).toEqual({ imported: 4, duplicates: 1, orders: 4 });
        expect((await store.checkInvariants()).ok).toBe(true);
      } finally {
        await cleanup();
      }
    });

    it('a database from before migration 011: response counts keep their impressions as exposure, and new impressions add theirs', async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        const db = (store as SqlStore).db;
        const all = loadMigrations();
        const before = all.filter((m) => m.name < '011');
        expect(await migrate(db, before)).toEqual(before.map((m) => m.name));
        await db.exec(`INSERT INTO offer_counts (offer_id, impressions, accepted, declined, ignored) VALUES ('A', 40, 3, 5, 2);
          INSERT INTO offer_response_stats (offer_id, segment, channel, impressions, accepted, declined, ignored) VALUES
            ('A', 'vip', 'web', 30, 2, 5, 2), ('A', 'guest', 'store', 10, 1, 0, 0)`);
        expect(await migrate(db, all)).toEqual(all.filter((m) => m.name >= '011').map((m) => m.name));
        expect((await store.offerCounts()).get('A')).toEqual({ impressions: 40, accepted: 3, declined: 5, ignored: 2, exposure: 40 });
        expect(await store.offerResponseStats()).toEqual([
          { offerId: 'A', segment: 'guest', channel: 'store', impressions: 10, accepted: 1, declined: 0, ignored: 0, exposure: 10 },
          { offerId: 'A', segment: 'vip', channel: 'web', impressions: 30, accepted: 2, declined: 5, ignored: 2, exposure: 30 },
        ]);
        const c = await store.resolveIdentity([{ kind: 'email', value: 'up@x' }]);
        const content = 'x';
        await store.recordOfferEvents([{ eventId: 'u1', decisionId: null, offerId: 'A', customerId: c, channel: 'web', type: 'impression', time: Date.UTC(2026, 0, 1), segment: 'vip', content, exposure: 0.5 }]);
        expect((await store.offerCounts()).get('A')).toMatchObject({ impressions: 41, exposure: 40.5 });
        expect((await store.offerResponseStats()).find((x) => x.segment === 'vip')).toMatchObject({ impressions: 31, exposure: 30.5 });
      } finally {
        await cleanup();
      }
    });

    it('a database from before migration 012: its logged decisions (written out, and compact over their offer set) move to the compact log and read back the same', async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        const db = (store as SqlStore).db;
        const all = loadMigrations();
        const before = all.filter((m) => m.name < '012');
        expect(await migrate(db, before)).toEqual(before.map((m) => m.name));
        const c = await store.resolveIdentity([{ kind: 'email', value: 'log@x' }]);
        const T0 = Date.UTC(2026, 0, 10);
        const offers = prepareOffers(Array.from({ length: 8 }, (_, i) => testOffer(`u${i}`, { value: 4 + i, targets: { skus: [`s${i % 3}`], categories: [] } })));
        const logged: DecisionLogEntry[] = [];
        const rows: string[] = [];
        for (let k = 0; k < 3; k++) {
          const d = decide(offers, testSubject(), testContext({ limit: 2, holdoutShare: 0.05 }, 90 + k), testStats());
          const entry: DecisionToLog = {
            decisionId: `old-${k}`,
            time: T0 + k * 1000,
            customerId: k === 1 ? null : c,
            context: { channel: 'web', store: k === 2 ? 'S\'1"\\' : null, limit: 2 },
            // the first written out with its probabilities, the others compact (probabilities computed on reading)
            considered: k === 0 ? d.considered : traceOf(d)!,
            shown: d.offers.map((o, position) => ({ offerId: o.offerId, position, score: o.score, propensity: o.propensity, ...(k === 0 ? { probability: o.probability } : {}) })),
            policy: { name: 'thompson', version: '1' },
            holdout: d.holdout,
          };
          logged.push({ ...entry, considered: d.considered, shown: d.offers.map((o, position) => ({ offerId: o.offerId, position, probability: o.probability, score: o.score, propensity: o.propensity })) });
          // the row as the log wrote it before migration 012 (offer_decisions, one JSON document per batch)
          const p = prepareDecision(entry);
          if (p.set) {
            await db.query('INSERT INTO offer_decision_sets (id, offer_ids, conflicts, value_weights) VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb) ON CONFLICT (id) DO NOTHING', [
              p.set.key,
              JSON.stringify(p.set.ids),
              p.set.conflicts === null ? null : JSON.stringify(p.set.conflicts),
              p.set.vw === null ? null : JSON.stringify(Array.from(p.set.vw)),
            ]);
          }
          rows.push(JSON.stringify({ i: entry.decisionId, t: entry.time, c: entry.customerId, ...JSON.parse(preparedRow(p).doc) }));
        }
        await db.query(
          `INSERT INTO offer_decisions (id, at, customer_id, context, considered, shown, policy_name, policy_version, holdout, choice)
             SELECT i, to_timestamp(t / 1000.0), c, x, k, s, pn, pv, h, ch
               FROM jsonb_to_recordset($1::jsonb) AS u(i text, t float8, c bigint, x jsonb, k jsonb, s jsonb, pn text, pv text, h boolean, ch jsonb)`,
          [`[${rows.join(',')}]`],
        );
        expect(await migrate(db, all)).toEqual(all.filter((m) => m.name >= '012').map((m) => m.name));
        expect(await store.decisionLog()).toEqual(logged);
        expect((await store.decisionLog({ customerId: c })).map((d) => d.decisionId)).toEqual(['old-0', 'old-2']);
        expect((await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'offer_decisions'`)).rows).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it("a database from before migration 014: a product's values keep seen_at as their time; a re-import moves them on to its lines'", async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        const db = (store as SqlStore).db;
        const all = loadMigrations();
        const before = all.filter((m) => m.name < '014');
        await migrate(db, before);
        await db.exec(`INSERT INTO products (sku, title, price, seen_at) VALUES ('85123A', 'OLD TITLE', 9, '2010-11-01 00:00:00+00'), ('71053', NULL, NULL, '-infinity')`);
        await migrate(db, all);
        const rows = async () =>
          (await db.query<{ sku: string; title: string | null; price: string | null; title_at: string; category_at: string; price_at: string; seen_at: string }>(
            `SELECT sku, title, price::text AS price, title_at::text, category_at::text, price_at::text, seen_at::text FROM products ORDER BY sku`,
          )).rows;
        expect(await rows()).toEqual([
          { sku: '71053', title: null, price: null, title_at: '-infinity', category_at: '-infinity', price_at: '-infinity', seen_at: '-infinity' },
          { sku: '85123A', title: 'OLD TITLE', price: '9.0000', title_at: '2010-11-01 00:00:00+00', category_at: '-infinity', price_at: '2010-11-01 00:00:00+00', seen_at: '2010-11-01 00:00:00+00' },
        ]);
        await importFile(store, fx('uci-online-retail.csv'));
        const [a, b] = (await rows()).filter((r) => r.sku === '71053' || r.sku === '85123A');
        expect(a).toMatchObject({ title: 'WHITE METAL LANTERN', price: '3.3900', seen_at: '2010-12-01 08:26:00+00' });
        expect(b).toMatchObject({ title: 'WHITE HANGING HEART T-LIGHT HOLDER', price: '2.5500', title_at: '2010-12-01 08:26:00+00', seen_at: '2010-12-01 08:26:00+00' });
      } finally {
        await cleanup();
      }
    });

    it('pending migrations apply together: one that fails leaves none of them applied; run again, all are', async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        const db = (store as SqlStore).db;
        const all = loadMigrations();
        const broken = [...all.slice(0, 3), { name: '002a_broken', sql: 'ALTER TABLE no_such_table ADD COLUMN x int' }, ...all.slice(3)];
        await expect(migrate(db, broken)).rejects.toThrow(/no_such_table/);
        // nothing left behind, not even the record table (created in the migrations' transaction)
        for (const table of ['schema_migrations', 'orders']) {
          expect((await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, [table])).rows).toEqual([]);
        }
        expect(await migrate(db, all)).toEqual(all.map((m) => m.name));
        expect(await migrate(db, all)).toEqual([]);
        expect((await db.query('SELECT count(*)::int AS n FROM schema_migrations')).rows).toEqual([{ n: all.length }]);
        expect(await store.totals()).toMatchObject({ orders: 0, lines: 0 });
      } finally {
        await cleanup();
      }
    });

    it('two starters migrating a fresh database at once: each migration applied once, both starts succeed', async () => {
      const { store, twin, cleanup } = await backend.open({ migrate: false });
      try {
        const all = loadMigrations();
        const other = await twin();
        const [a, b] = await Promise.all([migrate((store as SqlStore).db, all), migrate((other as SqlStore).db, all)]);
        // one of them applied every migration, the other found them applied (under the lock)
        expect([a, b].sort((x, y) => x.length - y.length)).toEqual([[], all.map((m) => m.name)]);
        const db = (store as SqlStore).db;
        expect((await db.query('SELECT count(*)::int AS n FROM schema_migrations')).rows).toEqual([{ n: all.length }]);
        expect(await migrate(db, all)).toEqual([]);
      } finally {
        await cleanup();
      }
    });

    it("migrations commit durably unless the caller ends with its own synchronous commit (an import: durable false)", async () => {
      const { store, cleanup } = await backend.open({ migrate: false });
      try {
        const db = (store as SqlStore).db;
        // each migration reads the setting its transaction commits under
        const probe = (name: string) => ({ name, sql: `CREATE TABLE ${name} AS SELECT current_setting('synchronous_commit') AS s` });
        expect(await migrate(db, [probe('m001_probe')])).toEqual(['m001_probe']);
        expect(await migrate(db, [probe('m001_probe'), probe('m002_probe')], { durable: false })).toEqual(['m002_probe']);
        const setting = async (t: string) => (await db.query<{ s: string }>(`SELECT s FROM ${t}`)).rows[0].s;
        if (backend.name === 'postgres') {
          expect(await setting('m001_probe')).toBe('on');
          expect(await setting('m002_probe')).toBe('off');
        } else expect(await setting('m001_probe')).toBe(await setting('m002_probe')); // one connection: moot
      } finally {
        await cleanup();
      }
    });

    it('an import ends with its run recorded (after every batch, by a synchronous commit) and statistics refreshed', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const db = (store as SqlStore).db;
        const s = await importFile(store, fx('uci-online-retail.csv'), { strict: true });
        const runs = await db.query<Record<string, unknown>>('SELECT files, rows::int, imported::int, duplicates::int, rejected::int, skipped::int, ok FROM import_runs');
        expect(runs.rows).toEqual([{ files: [fx('uci-online-retail.csv')], rows: 16, imported: 5, duplicates: 0, rejected: 8, skipped: 3, ok: false }]);
        expect(s.ok).toBe(false);
        const analyzed = await db.query<{ relname: string }>(
          `SELECT relname FROM pg_stat_user_tables WHERE relname IN ('orders', 'order_lines') AND schemaname = current_schema() AND last_analyze IS NOT NULL ORDER BY relname`,
        );
        expect(analyzed.rows.map((x) => x.relname)).toEqual(['order_lines', 'orders']);
      } finally {
        await cleanup();
      }
    });
  });
}
