import type { LineColumns } from './import-plan.js';
import type { SqlExecutor } from './sql-client.js';

/** Quotes a CSV field for COPY (FORMAT csv): null → unquoted empty, which COPY reads as NULL. */
export const csvField = (v: string | null): string =>
  v === null ? '' : v === '' || /[",\r\n\\]/.test(v) || v.trim() !== v ? `"${v.replace(/"/g, '""')}"` : v;

/**
 * Writes a batch's order lines. Lines of orders this batch created cannot exist yet: they are
 * COPYed straight into order_lines (when their keys are unique within the batch; COPY is the
 * cheapest way in). Lines of orders already present go through INSERT ... ON CONFLICT DO NOTHING
 * (an order split across batches, an idempotent re-import). Returns the number of lines written.
 */
export async function insertLines(tx: SqlExecutor, l: LineColumns, newOrders: ReadonlyMap<string, string>, unique: boolean): Promise<number> {
  const copyRows: string[] = [];
  const rest: number[] = [];
  for (let i = 0; i < l.orderId.length; i++) {
    const id = unique ? newOrders.get(l.orderId[i]) : undefined;
    if (id === undefined) {
      rest.push(i);
      continue;
    }
    copyRows.push(`${id},${l.lineNo[i]},${csvField(l.sku[i])},${l.quantity[i]},${l.unitPrice[i]},${csvField(l.cancels[i])}\n`);
  }
  let written = 0;
  if (copyRows.length > 0) {
    written += await tx.copyFrom(
      'COPY order_lines (order_id, line_no, sku, quantity, unit_price, cancels) FROM STDIN WITH (FORMAT csv)',
      copyRows.join(''),
    );
  }
  if (rest.length > 0) {
    const pick = <T>(a: T[]) => rest.map((i) => a[i]);
    const r = await tx.query(
      `INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, cancels)
         SELECT o.id, u.n, u.sku, u.q, u.p, u.c
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::float8[], $6::text[]) AS u(src, n, sku, q, p, c)
           JOIN orders o ON o.source_id = u.src
       ON CONFLICT DO NOTHING`,
      [pick(l.orderId), pick(l.lineNo), pick(l.sku), pick(l.quantity), pick(l.unitPrice), pick(l.cancels)],
    );
    written += r.rowCount;
  }
  return written;
}
