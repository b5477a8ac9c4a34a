import type { IdentityAssignment } from './resolve-identities.js';
import { orderKey, type PlannedOrder, type PlannedProduct } from './import-plan.js';
import type { ProductState } from './known-products.js';
import { EPOCH_MS, type SqlExecutor } from './sql-client.js';

/** Everything one import batch writes once identities are assigned. */
export interface BatchWrite {
  identity: IdentityAssignment;
  stores?: string[];
  /** Merged into the table by its rule (product-rule.ts): in any grouping and order, the same rows. */
  products?: PlannedProduct[];
  /** Orders, indexed like the identity assignment's records. */
  orders?: PlannedOrder[];
  /** Per order: the id reserved for it (Store.reserveOrderIds), used when the order is created. */
  orderIds?: number[];
  /**
   * Existing customers whose card summaries stop being current (customers.rev + 1: their orders gain
   * lines in this transaction; customer-summaries.ts), bumped by the same statement.
   */
  bumpCustomers?: readonly string[];
}

export interface BatchWritten {
  /** Ids of the customers created, by new-customer index. */
  newCustomerIds: string[];
  /** Product rows inserted or changed, as now stored. */
  products: ProductState[];
  /** Orders of the batch that existed before (not created): orderKey(source, source id) → order id. */
  existingOrders: Map<string, string>;
  /** Ids of guest orders now attached to a customer. */
  attachedOrders: string[];
}


/**
 * Writes a batch's customers, identifiers, stores, products and orders in ONE statement (one
 * round trip; data-modifying CTEs): new customers and their identifiers, stores, products (each
 * field keeps its most recent non-null value, seen_at the latest time; only rows that change are rewritten), orders
 * (those the identity lookup found are skipped; the caller holds the identity lock). Returns what the caller needs next: new customer ids, product
 * rows as stored, the orders that already existed (the others now have their reserved ids; their
 * lines are then COPYed: insert-lines.ts).
 */
export async function writeBatch(tx: SqlExecutor, w: BatchWrite): Promise<BatchWritten> {
  const params: unknown[] = [];
  const $ = (v: unknown, type: string) => {
    params.push(v);
    return `$${params.length}::${type}`;
  };
  const ctes: string[] = [];
  const results: string[] = [];
  const id = w.identity;

  ctes.push(
    `new_c AS (INSERT INTO customers (created_at) SELECT now() FROM generate_series(1, ${$(id.newCustomers, 'int')}) RETURNING id)`,
    `nc AS (SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS g FROM new_c)`,
  );
  results.push(
    `SELECT 'c' AS k, id::text AS sku, NULL::text AS title, NULL::float8 AS title_at, NULL::text AS category, NULL::float8 AS category_at,
            g::float8 AS price, NULL::float8 AS price_at, NULL::float8 AS at FROM nc`,
  );
  const ni = id.newIdentifiers;
  if (ni.kind.length > 0) {
    ctes.push(`ident AS (
      INSERT INTO customer_identifiers (kind, value, customer_id)
      SELECT u.k, u.v, coalesce(u.c, nc.id)
        FROM unnest(${$(ni.kind, 'text[]')}, ${$(ni.value, 'text[]')}, ${$(ni.customer, 'bigint[]')}, ${$(ni.newIndex, 'int[]')}) AS u(k, v, c, g)
        LEFT JOIN nc ON nc.g = u.g
      ON CONFLICT DO NOTHING)`);
  }
  const ao = id.attachOrders;
  if (ao.sourceId.length > 0) {
    // guest orders a later line identified (src/store/resolve-identities.ts)
    ctes.push(`att AS (
      UPDATE orders o SET customer_id = coalesce(u.c, nc.id)
        FROM unnest(${$(ao.source, 'text[]')}, ${$(ao.sourceId, 'text[]')}, ${$(ao.customer, 'bigint[]')}, ${$(ao.newIndex, 'int[]')}) AS u(so, s, c, g)
        LEFT JOIN nc ON nc.g = u.g
       WHERE o.source = u.so AND o.source_id = u.s AND o.customer_id IS NULL
      RETURNING o.id)`);
    results.push(`SELECT 'a', id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM att`);
  }
  if (w.stores && w.stores.length > 0) {
    ctes.push(`st AS (INSERT INTO stores (id) SELECT unnest(${$(w.stores, 'text[]')}) ON CONFLICT DO NOTHING)`);
  }
  const pr = w.products ?? [];
  if (pr.length > 0) {
    // product-rule.ts: a field takes the batch's value when its (time, value) is the greater (the row's null: -infinity)
    const wins = (f: string) =>
      `(u.${f} IS NOT NULL AND (p.${f} IS NULL OR u.${f}_at > p.${f}_at OR (u.${f}_at = p.${f}_at AND u.${f}${f === 'price' ? '' : ' COLLATE "C"'} > p.${f})))`;
    const set = (f: string) => `${f} = CASE WHEN ${wins(f)} THEN u.${f} ELSE p.${f} END, ${f}_at = CASE WHEN ${wins(f)} THEN u.${f}_at ELSE p.${f}_at END`;
    const ms = (col: string) => `to_timestamp(${col} / 1000.0)`;
    ctes.push(
      `pu AS (
        SELECT sku, title, ${ms('ta')} AS title_at, category, ${ms('ca')} AS category_at, price::numeric(14, 4) AS price, ${ms('pa')} AS price_at, ${ms('t')} AS at
          FROM unnest(${$(pr.map((p) => p.sku), 'text[]')}, ${$(pr.map((p) => p.title), 'text[]')}, ${$(pr.map((p) => p.titleAt), 'float8[]')},
                      ${$(pr.map((p) => p.category), 'text[]')}, ${$(pr.map((p) => p.categoryAt), 'float8[]')},
                      ${$(pr.map((p) => p.price), 'float8[]')}, ${$(pr.map((p) => p.priceAt), 'float8[]')}, ${$(pr.map((p) => p.time), 'float8[]')})
               AS u(sku, title, ta, category, ca, price, pa, t))`,
      `p_changed AS (
        UPDATE products p SET ${set('title')}, ${set('category')}, ${set('price')}, seen_at = greatest(p.seen_at, u.at)
          FROM pu u
         WHERE p.sku = u.sku AND (${wins('title')} OR ${wins('category')} OR ${wins('price')} OR u.at > p.seen_at)
        RETURNING p.sku, p.title, ${EPOCH_MS('p.title_at')} AS title_at, p.category, ${EPOCH_MS('p.category_at')} AS category_at,
                  p.price::float8 AS price, ${EPOCH_MS('p.price_at')} AS price_at, ${EPOCH_MS('p.seen_at')} AS at)`,
      `p_added AS (
        INSERT INTO products (sku, title, title_at, category, category_at, price, price_at, seen_at)
          SELECT sku, title, title_at, category, category_at, price, price_at, at FROM pu u WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = u.sku)
        ON CONFLICT (sku) DO NOTHING
        RETURNING sku, title, ${EPOCH_MS('title_at')} AS title_at, category, ${EPOCH_MS('category_at')} AS category_at,
                  price::float8 AS price, ${EPOCH_MS('price_at')} AS price_at, ${EPOCH_MS('seen_at')} AS at)`,
    );
    // favourite categories follow the catalogue: a category changing makes every card summary not
    // current (customer-summaries.ts; rare, unlike titles and prices, which the summaries do not hold)
    ctes.push(`cat_rev AS (
        UPDATE summary_catalogue SET rev = rev + 1
         WHERE EXISTS (SELECT 1 FROM pu u JOIN products p ON p.sku = u.sku WHERE ${wins('category')} AND p.category IS DISTINCT FROM u.category))`);
    results.push(
      `SELECT 'p', sku, title, title_at, category, category_at, price, price_at, at FROM p_changed`,
      `SELECT 'p', sku, title, title_at, category, category_at, price, price_at, at FROM p_added`,
    );
  }
  const o = w.orders ?? [];
  const existing = new Map<string, string>();
  if (o.length > 0) {
    if (w.orderIds?.length !== o.length) throw new Error('writeBatch: one reserved id per order is required');
    // which orders exist was looked up with the people (resolve-identities.ts, asked about every order):
    // orders are only inserted here, by writers holding the identity lock (one connection on PGlite), so
    // it still holds; the others are inserted (no ON CONFLICT, whose speculative insertion cost a
    // quarter of the orders' insert). An order is (source, source id): orders_source_order
    if (id.orderCustomer.length !== o.length) throw new Error('writeBatch: the identity assignment must cover every order (assignIdentities with options.orders)');
    const fresh: number[] = [];
    o.forEach((x, i) => {
      const key = orderKey(x.source, x.sourceId);
      const at = id.existingOrders.get(key);
      if (at === undefined) fresh.push(i);
      else existing.set(key, at);
    });
    if (fresh.length > 0) {
      const pick = <T>(a: readonly T[]) => (fresh.length === o.length ? a : fresh.map((i) => a[i]));
      const fo = pick(o);
      ctes.push(
        `ord AS (
      INSERT INTO orders (id, source, source_id, channel, store_id, placed_at, customer_id)
      SELECT u.id, u.so, u.s, u.c, u.st, to_timestamp(u.t / 1000.0), coalesce(u.cu, nc.id)
        FROM unnest(${$(pick(w.orderIds), 'bigint[]')}, ${$(fo.map((x) => x.source), 'text[]')}, ${$(fo.map((x) => x.sourceId), 'text[]')},
                    ${$(fo.map((x) => x.channel), 'text[]')}, ${$(fo.map((x) => x.storeId), 'text[]')}, ${$(fo.map((x) => x.time), 'float8[]')},
                    ${$(pick(id.orderCustomer), 'bigint[]')}, ${$(pick(id.orderNewCustomer), 'int[]')}) AS u(id, so, s, c, st, t, cu, g)
        LEFT JOIN nc ON nc.g = u.g)`,
      );
    }
  }

  if (w.bumpCustomers && w.bumpCustomers.length > 0) {
    ctes.push(`bump AS (UPDATE customers SET rev = rev + 1 WHERE id = ANY(${$(w.bumpCustomers, 'bigint[]')}))`);
  }

  const r = await tx.query<{
    k: 'c' | 'p' | 'a';
    sku: string;
    title: string | null;
    title_at: number | null;
    category: string | null;
    category_at: number | null;
    price: number | null;
    price_at: number | null;
    at: number | null;
  }>(
    `WITH ${ctes.join(',\n')}\n${results.join('\nUNION ALL ')}`,
    params,
  );
  const out: BatchWritten = { newCustomerIds: new Array(id.newCustomers), products: [], existingOrders: existing, attachedOrders: [] };
  for (const row of r.rows) {
    if (row.k === 'c') out.newCustomerIds[row.price!] = row.sku;
    else if (row.k === 'a') out.attachedOrders.push(row.sku);
    else {
      out.products.push({
        sku: row.sku, title: row.title, titleAt: row.title_at!, category: row.category, categoryAt: row.category_at!, price: row.price, priceAt: row.price_at!, at: row.at!,
      });
    }
  }
  return out;
}
