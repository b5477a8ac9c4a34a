/**
 * The clienteling card's per-customer aggregates, kept in customer_summaries (migration 008) so that
 * a card reads one row instead of every line of the customer's history: orders (with a bought
 * line), spend net of returns, first and last order, per-channel orders and spend, the favourite
 * store and the favourite categories (the first CARD_CATEGORIES).
 *
 * A summary is served only while it is current: its rev equals customers.rev and its catalogue
 * equals summary_catalogue.rev. Writers bump those in the transaction that changes what the
 * aggregates are made of (bumpCustomersOfOrders: an import batch's lines and attached guest
 * orders; mergeCustomers: the survivor; writeBatch: a product's category). A summary computed from
 * an older snapshot than a concurrent write carries the older rev, so it is never served after
 * that write commits. Summaries are computed from the lines on read (computeSummary, for one
 * customer) and for every customer without a current one at the end of an import
 * (refreshSummaries). check-store.ts verifies that every current summary matches the lines.
 */
import { EPOCH_MS, type SqlExecutor } from './sql-client.js';
import type { Channel } from '../core/records.js';

/** Favourite categories kept per customer (the card asks for at most this many). */
export const CARD_CATEGORIES = 20;

/**
 * work_mem of a transaction refreshing many summaries: the per-order sums of Online Retail (21,788
 * orders) take ~8 MB of hash table, which at the default 4 MB spills to disk.
 */
const SUMMARY_WORK_MEM = '32MB';

/** What a summary holds (customer_summaries.data). */
export interface SummaryData {
  orders: number;
  spend: number;
  /** Epoch ms of the first and last order with a bought line. */
  first: number | null;
  last: number | null;
  channels: { channel: Channel; orders: number; spend: number }[];
  store: { storeId: string; orders: number } | null;
  categories: { category: string; orders: number; spend: number }[];
}

/**
 * The statement computing the summaries of the customers `targets` selects (a query returning
 * `id` and `rev` columns): rows (id, rev, catalogue, data). Every part from the customers' lines
 * read once (l) and their orders once (po); sums in numeric, cast once (the same figures whatever
 * the order rows are read in, so a recomputation compares equal).
 *
 * `everyLine`: the per-order sums taken over every line of the table first, then joined with the
 * targets' orders (for targets holding most customers, as at the end of a first import): each line
 * is added into its order's sums once instead of first being looked up in a hash of the targets'
 * orders (~60 ms less server CPU for the 538,914 lines of Online Retail, BENCHMARKS.md import-4x-11).
 * The same rows either way (orders of the targets with at least one line, the same exact sums); for
 * a few targets the default reads only their lines, by index.
 */
export function summarySql(targets: string, everyLine = false): string {
  const perOrder = everyLine
    ? `(SELECT l.order_id, sum(l.quantity * l.unit_price) AS spend, bool_or(l.quantity > 0) AS bought
                FROM order_lines l GROUP BY l.order_id) x
        JOIN orders o ON o.id = x.order_id JOIN t ON t.id = o.customer_id`
    : `(SELECT l.order_id, sum(l.quantity * l.unit_price) AS spend, bool_or(l.quantity > 0) AS bought
                FROM t JOIN orders o ON o.customer_id = t.id JOIN order_lines l ON l.order_id = o.id
               GROUP BY l.order_id) x
        JOIN orders o ON o.id = x.order_id`;
  return `t AS (${targets}),
    po AS MATERIALIZED (
      SELECT o.customer_id, o.id AS order_id, o.channel, o.store_id, o.placed_at, x.spend, x.bought
        FROM ${perOrder}),
    tot AS (
      SELECT customer_id, count(*) FILTER (WHERE bought) AS orders, sum(spend) AS spend,
             min(placed_at) FILTER (WHERE bought) AS first, max(placed_at) FILTER (WHERE bought) AS last
        FROM po GROUP BY customer_id),
    ch AS (
      SELECT customer_id, json_agg(json_build_object('channel', channel, 'orders', n, 'spend', s) ORDER BY channel) AS channels
        FROM (SELECT customer_id, channel, count(*) FILTER (WHERE bought) AS n, sum(spend)::float8 AS s FROM po GROUP BY customer_id, channel) x
       GROUP BY customer_id),
    fs AS (
      SELECT DISTINCT ON (customer_id) customer_id, store_id, n
        FROM (SELECT customer_id, store_id, count(*) AS n, max(placed_at) AS latest FROM po
               WHERE bought AND channel = 'store' AND store_id IS NOT NULL GROUP BY customer_id, store_id) x
       ORDER BY customer_id, n DESC, latest DESC, store_id),
    cat AS (
      SELECT customer_id, json_agg(json_build_object('category', category, 'orders', n, 'spend', s) ORDER BY k) AS categories
        FROM (SELECT customer_id, category, n, s, row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, s DESC, category) AS k
                FROM (SELECT customer_id, category, count(*) AS n, sum(s)::float8 AS s
                        FROM (SELECT o.customer_id, p.category, l.order_id, sum(l.quantity * l.unit_price) AS s
                                FROM t JOIN orders o ON o.customer_id = t.id JOIN order_lines l ON l.order_id = o.id
                                JOIN products p ON p.sku = l.sku
                               WHERE l.quantity > 0 AND p.category IS NOT NULL
                               GROUP BY o.customer_id, p.category, l.order_id) w
                       GROUP BY customer_id, category) y) z
       WHERE k <= ${CARD_CATEGORIES}
       GROUP BY customer_id),
    computed AS (
      SELECT t.id, t.rev, (SELECT rev FROM summary_catalogue) AS catalogue,
             jsonb_build_object(
               'orders', coalesce(tot.orders, 0), 'spend', coalesce(tot.spend, 0)::float8,
               'first', ${EPOCH_MS('tot.first')}, 'last', ${EPOCH_MS('tot.last')},
               'channels', coalesce(ch.channels, '[]'::json),
               'store', CASE WHEN fs.store_id IS NULL THEN NULL ELSE json_build_object('storeId', fs.store_id, 'orders', fs.n) END,
               'categories', coalesce(cat.categories, '[]'::json)) AS data
        FROM t LEFT JOIN tot ON tot.customer_id = t.id LEFT JOIN ch ON ch.customer_id = t.id
               LEFT JOIN fs ON fs.customer_id = t.id LEFT JOIN cat ON cat.customer_id = t.id)`;
}

/** Customers whose summary is missing or not current (a WHERE clause on customers c). */
const NOT_CURRENT = `NOT EXISTS (SELECT 1 FROM customer_summaries s WHERE s.customer_id = c.id AND s.rev = c.rev
                                   AND s.catalogue = (SELECT rev FROM summary_catalogue))`;

/** An upsert keeping the newer of two summaries (one computed from an older snapshot loses). */
const UPSERT = `ON CONFLICT (customer_id) DO UPDATE SET rev = excluded.rev, catalogue = excluded.catalogue, data = excluded.data
  WHERE excluded.rev >= customer_summaries.rev AND excluded.catalogue >= customer_summaries.catalogue`;

/**
 * Whether at least half of the customers have no current summary (summarySql's `everyLine` then
 * reads fewer rows than looking up every line's order among theirs). Only a choice of plan: the
 * summaries are the same either way, whatever changes between this count and the statement.
 */
export async function mostNotCurrent(db: SqlExecutor): Promise<boolean> {
  const r = await db.query<{ stale: string; total: string }>(
    `SELECT (SELECT count(*) FROM customers c WHERE ${NOT_CURRENT})::text AS stale, (SELECT count(*) FROM customers)::text AS total`,
  );
  const { stale, total } = r.rows[0];
  return Number(stale) > 0 && 2 * Number(stale) >= Number(total);
}

/**
 * Computes (in one statement) and stores the summary of every customer without a current one, or
 * of those among `ids`. The caller holds the identity lock (no merge or erasure deletes a customer
 * meanwhile), in a transaction. Returns the number of summaries written.
 */
export async function refreshSummaries(tx: SqlExecutor, ids: readonly string[] | null = null): Promise<number> {
  // (for this transaction only: the per-order sums fit in memory instead of spilling to disk; no parallel
  // workers: at the end of an import ANALYZE and the totals run beside, on a machine of few cores, and the
  // statistics of a table just loaded can be stale enough to plan workers for a few rows)
  await tx.exec(`SET LOCAL work_mem = '${SUMMARY_WORK_MEM}'; SET LOCAL max_parallel_workers_per_gather = 0`);
  const r = await tx.query(
    `WITH ${summarySql(
      `SELECT c.id, c.rev FROM customers c WHERE ($1::bigint[] IS NULL OR c.id = ANY($1::bigint[])) AND ${NOT_CURRENT}`,
      ids === null && (await mostNotCurrent(tx)),
    )}
     INSERT INTO customer_summaries (customer_id, rev, catalogue, data) SELECT id, rev, catalogue, data FROM computed ${UPSERT}`,
    [ids === null ? null : [...ids]],
  );
  return r.rowCount;
}

/**
 * The summary of one customer computed from the lines (read only), then stored for the next
 * reads. A customer erased or merged away meanwhile gets nothing stored (the foreign key refuses
 * it); the computed summary is still returned.
 */
export async function computeSummary(db: SqlExecutor, id: string): Promise<SummaryData | null> {
  const r = await db.query<{ rev: string; catalogue: string; data: SummaryData }>(
    `WITH ${summarySql('SELECT c.id, c.rev FROM customers c WHERE c.id = $1::bigint')}
     SELECT rev::text AS rev, catalogue::text AS catalogue, data FROM computed`,
    [id],
  );
  const row = r.rows[0];
  if (!row) return null;
  try {
    await db.query(
      `INSERT INTO customer_summaries (customer_id, rev, catalogue, data) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::jsonb) ${UPSERT}`,
      [id, row.rev, row.catalogue, JSON.stringify(row.data)],
    );
  } catch (e) {
    if ((e as { code?: string }).code !== '23503') throw e;
  }
  return row.data;
}

/**
 * Marks the summaries of the customers of these orders as not current (in the writer's
 * transaction): their lines, or who they belong to, changed.
 */
export async function bumpCustomersOfOrders(tx: SqlExecutor, orderIds: readonly (string | number)[]): Promise<void> {
  if (orderIds.length === 0) return;
  await tx.query(
    `UPDATE customers SET rev = rev + 1
      WHERE id IN (SELECT DISTINCT customer_id FROM orders WHERE id = ANY($1::bigint[]) AND customer_id IS NOT NULL)`,
    [orderIds.map(String)],
  );
}

/** check-store.ts's invariants on the summaries. */
export const SUMMARY_INVARIANTS: { name: string; sql: string; wholeTables?: boolean }[] = [
  {
    name: 'customer summaries that do not match the lines',
    wholeTables: true,
    sql: `WITH ${summarySql(
      `SELECT c.id, c.rev FROM customers c JOIN customer_summaries s ON s.customer_id = c.id
        WHERE s.rev = c.rev AND s.catalogue = (SELECT rev FROM summary_catalogue)`,
    )}
      SELECT computed.id::text AS k FROM computed JOIN customer_summaries s ON s.customer_id = computed.id WHERE s.data <> computed.data`,
  },
  {
    name: 'customer summaries newer than their customer or the catalogue',
    sql: `SELECT s.customer_id::text AS k FROM customer_summaries s JOIN customers c ON c.id = s.customer_id
           WHERE s.rev > c.rev OR s.catalogue > (SELECT rev FROM summary_catalogue)`,
  },
];
