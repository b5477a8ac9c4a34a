/**
 * The history store's invariants, checked with read-only queries (npm run check:store, and the
 * tests after every hostile import): what must hold after any import, failed or not, and any
 * merge or erasure. Each check counts the rows that break it and shows a few.
 *
 * @example
 * const r = await checkStore(store.db);
 * r.ok; // false → r.failures: [{ name: 'orders without lines', count: 3, sample: ['536365'] }]
 */
import { SUMMARY_INVARIANTS } from './customer-summaries.js';
import type { SqlClient, SqlExecutor } from './sql-client.js';

export interface InvariantFailure {
  name: string;
  /** Rows breaking it. */
  count: number;
  /** A few of them (ids or keys), for the report. */
  sample: string[];
}

export interface StoreCheck {
  ok: boolean;
  /** Names of the invariants checked, in order. */
  checked: string[];
  failures: InvariantFailure[];
}

/** Each invariant: a query returning one text column `k` per offending row. */
const INVARIANTS: { name: string; sql: string; wholeTables?: boolean }[] = [
  { name: 'orders without lines', sql: `SELECT o.source || ':' || o.source_id AS k FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)` },
  { name: 'lines of a missing order', sql: `SELECT l.order_id || '/' || l.line_no AS k FROM order_lines l WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = l.order_id)` },
  { name: 'lines of a missing product', sql: `SELECT DISTINCT l.sku AS k FROM order_lines l WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = l.sku)` },
  { name: 'lines with zero quantity', sql: `SELECT l.order_id || '/' || l.line_no AS k FROM order_lines l WHERE l.quantity = 0` },
  { name: 'orders of a missing customer', sql: `SELECT o.source || ':' || o.source_id AS k FROM orders o WHERE o.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)` },
  { name: 'orders of a missing store', sql: `SELECT o.source || ':' || o.source_id AS k FROM orders o WHERE o.store_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores s WHERE s.id = o.store_id)` },
  { name: 'orders dated before 1900', sql: `SELECT o.source || ':' || o.source_id AS k FROM orders o WHERE o.placed_at < '1900-01-01'` },
  // keys the primary and unique indexes should make impossible: counted from the tables, not the indexes
  { name: 'duplicate order keys (source, source_id)', sql: `SELECT source || ':' || source_id AS k FROM orders GROUP BY source, source_id HAVING count(*) > 1` },
  { name: 'duplicate order ids', sql: `SELECT id::text AS k FROM orders GROUP BY id HAVING count(*) > 1` },
  { name: 'duplicate line keys (order, line_no)', sql: `SELECT order_id || '/' || line_no AS k FROM order_lines GROUP BY order_id, line_no HAVING count(*) > 1` },
  { name: 'duplicate skus', sql: `SELECT sku AS k FROM products GROUP BY sku HAVING count(*) > 1` },
  { name: 'duplicate customer ids', sql: `SELECT id::text AS k FROM customers GROUP BY id HAVING count(*) > 1` },
  { name: 'duplicate identifiers', sql: `SELECT kind || ':' || value AS k FROM customer_identifiers GROUP BY kind, value HAVING count(*) > 1` },
  { name: 'identifiers of a missing customer', sql: `SELECT i.kind || ':' || i.value AS k FROM customer_identifiers i WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = i.customer_id)` },
  { name: 'consent of a missing customer', sql: `SELECT k.customer_id::text AS k FROM consent k WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = k.customer_id)` },
  { name: 'segments of a missing customer', sql: `SELECT s.customer_id::text AS k FROM customer_segments s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id)` },
  { name: 'stock of a missing store', sql: `SELECT i.store_id || '/' || i.sku AS k FROM store_inventory i WHERE NOT EXISTS (SELECT 1 FROM stores s WHERE s.id = i.store_id)` },
  { name: 'negative stock', sql: `SELECT store_id || '/' || sku AS k FROM store_inventory WHERE quantity < 0` },
  // merges: a merged id is no customer any more, its alias points straight at a live survivor, and the merge log explains it
  { name: 'merged ids still customers', sql: `SELECT a.merged_id::text AS k FROM customer_aliases a JOIN customers c ON c.id = a.merged_id` },
  { name: 'aliases to a missing survivor', sql: `SELECT a.merged_id::text AS k FROM customer_aliases a WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = a.survivor_id)` },
  { name: 'aliases without a merge log entry', sql: `SELECT a.merged_id::text AS k FROM customer_aliases a WHERE NOT EXISTS (SELECT 1 FROM merge_log m WHERE m.merged_id = a.merged_id)` },
  { name: 'merge log entries without an alias', sql: `SELECT m.merged_id::text AS k FROM merge_log m WHERE NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.merged_id = m.merged_id)` },
  { name: 'customers merged into themselves', sql: `SELECT merged_id::text AS k FROM customer_aliases WHERE merged_id = survivor_id` },
  // identity conflict policy (src/core/identity-graph.ts): one account, one loyalty card per customer at most
  { name: 'customers with two accounts or loyalty cards', sql: `SELECT customer_id || ':' || kind AS k FROM customer_identifiers WHERE kind IN ('account', 'loyalty') GROUP BY customer_id, kind HAVING count(*) > 1` },
  // the clienteling card's summaries (customer-summaries.ts): a current one says what the lines say
  ...SUMMARY_INVARIANTS,
];

const SAMPLE = 5;

/** Runs every invariant check (read-only); ok when none finds a row. */
export async function checkStore(db: SqlExecutor | SqlClient): Promise<StoreCheck> {
  const failures: InvariantFailure[] = [];
  for (const { name, sql, wholeTables } of INVARIANTS) {
    const count = (q: SqlExecutor) =>
      q.query<{ n: number; sample: string[] | null }>(`SELECT count(*)::int AS n, (array_agg(k ORDER BY k))[1:${SAMPLE}] AS sample FROM (${sql}) bad`);
    // a check reading whole tables is planned without nested loops, whatever the estimates say
    // (misestimated, the summaries' recomputation joined its parts by nested loops: quadratic)
    const r =
      wholeTables && 'transaction' in db
        ? await db.transaction(async (tx) => {
            await tx.exec('SET LOCAL enable_nestloop = off');
            return count(tx);
          })
        : await count(db);
    const { n, sample } = r.rows[0];
    if (n > 0) failures.push({ name, count: n, sample: sample ?? [] });
  }
  return { ok: failures.length === 0, checked: INVARIANTS.map((i) => i.name), failures };
}
