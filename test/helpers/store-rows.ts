import type { SqlStore } from '../../src/store/sql-store.js';
import type { Store } from '../../src/store/store.js';

/** Every products row with all its columns (whatever the schema has), by sku. */
export async function productRows(store: Store): Promise<unknown[]> {
  const r = await (store as SqlStore).db.query<{ r: unknown }>('SELECT to_jsonb(p) AS r FROM products p ORDER BY sku');
  return r.rows.map((x) => x.r);
}

/** Each customer's card summary content (its rev, which counts writes, left out), keyed by the customer's identifiers. */
export async function summaryContents(store: Store): Promise<[string, unknown][]> {
  const r = await (store as SqlStore).db.query<{ k: string; data: unknown }>(
    `SELECT (SELECT string_agg(kind || ':' || value, ' ' ORDER BY kind, value) FROM customer_identifiers i WHERE i.customer_id = s.customer_id) AS k, s.data
       FROM customer_summaries s`,
  );
  return r.rows.map((x): [string, unknown] => [x.k, x.data]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
