import { orderKey, type ImportPlan } from './import-plan.js';
import type { SqlExecutor } from './sql-client.js';

const COLUMNS = 'order_id, line_no, sku, quantity, unit_price, cancels';

/** The error of a COPY that met a line already present. */
export const isDuplicateKey = (e: unknown): boolean => (e as { code?: string }).code === '23505';

/**
 * Writes a batch's order lines, encoded for COPY under the orders' reserved ids (import-plan.ts),
 * in the caller's transaction. When every order now has its reserved id (created by this batch,
 * or by an earlier batch of the same reader) and the batch's line keys are unique
 * (canCopyLines), the bytes go straight into order_lines by COPY (copyLines), the cheapest way in;
 * otherwise, or with `careful`, the batch takes the careful path (mergeLines). A COPY that meets a
 * line already there (an order an importer of the same file wrote lines of meanwhile) fails with
 * isDuplicateKey, and with it the caller's transaction: the caller then runs the batch again,
 * careful (no savepoint, whose round trips most batches would pay for a rare case). Returns the
 * number of lines written.
 */
export async function insertLines(
  tx: SqlExecutor,
  plan: ImportPlan,
  existingOrders: ReadonlyMap<string, string>,
  careful = false,
  /** Filled, on the careful path, with the lines written per order id (the id it has in the store). */
  perOrder?: Map<string, number>,
): Promise<number> {
  if (plan.lineCount === 0) return 0;
  if (!careful && canCopyLines(plan, existingOrders)) return copyLines(tx, plan);
  return mergeLines(tx, plan, existingOrders, perOrder);
}

/** The batch's orders that existed before under another id than the one reserved for them. */
function movedOrders(plan: ImportPlan, existingOrders: ReadonlyMap<string, string>): { reserved: number; actual: string }[] {
  const moved: { reserved: number; actual: string }[] = [];
  plan.orders.forEach((o, i) => {
    const actual = existingOrders.get(orderKey(o.source, o.sourceId));
    if (actual !== undefined && actual !== String(plan.orderIds[i])) moved.push({ reserved: plan.orderIds[i], actual });
  });
  return moved;
}

/** Whether copyLines can write the batch: every order has its reserved id, and no two lines share a key. */
export function canCopyLines(plan: ImportPlan, existingOrders: ReadonlyMap<string, string>): boolean {
  return plan.uniqueLines && movedOrders(plan, existingOrders).length === 0;
}

/** COPY of the batch's bytes straight into order_lines; fails (isDuplicateKey) when a line is already there. */
export function copyLines(tx: SqlExecutor, plan: ImportPlan): Promise<number> {
  const bytes = Buffer.from(plan.copy.buffer, plan.copy.byteOffset, plan.copy.byteLength);
  return tx.copyFrom(`COPY order_lines (${COLUMNS}) FROM STDIN WITH (FORMAT csv)`, bytes);
}

/**
 * The careful path (an idempotent re-import, an order that existed before the import): COPY
 * into a staging table, then INSERT ... SELECT with reserved ids mapped to the orders' real ids,
 * ON CONFLICT DO NOTHING. Returns the number of lines written.
 */
export async function mergeLines(tx: SqlExecutor, plan: ImportPlan, existingOrders: ReadonlyMap<string, string>, perOrder?: Map<string, number>): Promise<number> {
  const moved = movedOrders(plan, existingOrders);
  const bytes = Buffer.from(plan.copy.buffer, plan.copy.byteOffset, plan.copy.byteLength);
  // emptied at every commit; lives as long as the connection
  await tx.exec(`CREATE TEMP TABLE IF NOT EXISTS import_lines_stage (LIKE order_lines) ON COMMIT DELETE ROWS`);
  await tx.copyFrom(`COPY import_lines_stage (${COLUMNS}) FROM STDIN WITH (FORMAT csv)`, bytes);
  const insert = `INSERT INTO order_lines (${COLUMNS})
       SELECT coalesce(m.actual, s.order_id), s.line_no, s.sku, s.quantity, s.unit_price, s.cancels
         FROM import_lines_stage s
         LEFT JOIN unnest($1::bigint[], $2::bigint[]) AS m(reserved, actual) ON m.reserved = s.order_id
     ON CONFLICT DO NOTHING`;
  const params = [moved.map((m) => m.reserved), moved.map((m) => m.actual)];
  if (!perOrder) return (await tx.query(insert, params)).rowCount;
  const r = await tx.query<{ id: string; n: number }>(`WITH ins AS (${insert} RETURNING order_id) SELECT order_id::text AS id, count(*)::int AS n FROM ins GROUP BY order_id`, params);
  let total = 0;
  for (const row of r.rows) {
    perOrder.set(row.id, row.n);
    total += row.n;
  }
  return total;
}
