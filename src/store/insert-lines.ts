import type { ImportPlan } from './import-plan.js';
import type { SqlExecutor } from './sql-client.js';

const COLUMNS = 'order_id, line_no, sku, quantity, unit_price, cancels';
const UNIQUE_VIOLATION = '23505';

/**
 * Writes a batch's order lines, encoded for COPY under the orders' reserved ids (import-plan.ts). When every order now has its reserved id (created by this batch, or by an earlier
 * batch of the same reader) and the batch's line keys are unique, the bytes go straight into
 * order_lines by COPY, the cheapest way in; should a line already be there (the same order imported
 * concurrently), that COPY is undone and the batch takes the careful path: COPY into a staging
 * table, then INSERT ... SELECT with reserved ids mapped to the orders' real ids, ON CONFLICT DO
 * NOTHING (an idempotent re-import, an order that existed before the import).
 * `ordersCommitted`: the orders were committed by an earlier transaction (Store.importPlanPipelined),
 * so other writers may have seen them and written lines to them already.
 * Returns the number of lines written.
 */
export async function insertLines(
  tx: SqlExecutor,
  plan: ImportPlan,
  existingOrders: ReadonlyMap<string, string>,
  options: { ordersCommitted?: boolean } = {},
): Promise<number> {
  if (plan.lineCount === 0) return 0;
  const bytes = Buffer.from(plan.copy.buffer, plan.copy.byteOffset, plan.copy.byteLength);
  const moved: { reserved: number; actual: string }[] = [];
  plan.orders.forEach((o, i) => {
    const actual = existingOrders.get(o.sourceId);
    if (actual !== undefined && actual !== String(plan.orderIds[i])) moved.push({ reserved: plan.orderIds[i], actual });
  });
  if (moved.length === 0 && plan.uniqueLines) {
    const copy = `COPY order_lines (${COLUMNS}) FROM STDIN WITH (FORMAT csv)`;
    // orders all created by this transaction: their lines cannot exist yet
    if (existingOrders.size === 0 && !options.ordersCommitted) return tx.copyFrom(copy, bytes);
    await tx.exec('SAVEPOINT import_lines');
    try {
      const n = await tx.copyFrom(copy, bytes);
      await tx.exec('RELEASE SAVEPOINT import_lines');
      return n;
    } catch (e) {
      if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
      await tx.exec('ROLLBACK TO SAVEPOINT import_lines');
    }
  }
  // emptied at every commit; lives as long as the connection
  await tx.exec(`CREATE TEMP TABLE IF NOT EXISTS import_lines_stage (LIKE order_lines) ON COMMIT DELETE ROWS`);
  await tx.copyFrom(`COPY import_lines_stage (${COLUMNS}) FROM STDIN WITH (FORMAT csv)`, bytes);
  const r = await tx.query(
    `INSERT INTO order_lines (${COLUMNS})
       SELECT coalesce(m.actual, s.order_id), s.line_no, s.sku, s.quantity, s.unit_price, s.cancels
         FROM import_lines_stage s
         LEFT JOIN unnest($1::bigint[], $2::bigint[]) AS m(reserved, actual) ON m.reserved = s.order_id
     ON CONFLICT DO NOTHING`,
    [moved.map((m) => m.reserved), moved.map((m) => m.actual)],
  );
  return r.rowCount;
}
