import type { Identifier } from '../core/records.js';
import type { SqlExecutor } from './sql-client.js';

/**
 * Merges customers into a survivor inside the caller's transaction: identifiers, orders,
 * consent history (so the latest record per purpose still wins) and the most recent segment
 * move to the survivor; aliases are re-pointed (kept one hop deep) and added for the merged
 * ids; one merge-log row per merged id records the identifier that linked them.
 */
export async function mergeCustomers(
  tx: SqlExecutor,
  survivor: string,
  merged: { id: string; reason: Identifier }[],
): Promise<void> {
  if (merged.length === 0) return;
  const ids = merged.map((m) => m.id);
  await tx.query('UPDATE customer_identifiers SET customer_id = $1 WHERE customer_id = ANY($2::bigint[])', [survivor, ids]);
  // the survivor's card summary is no longer current (customer-summaries.ts); the merged ones' go with them
  await tx.query('UPDATE orders SET customer_id = $1 WHERE customer_id = ANY($2::bigint[])', [survivor, ids]);
  await tx.query('UPDATE customers SET rev = rev + 1 WHERE id = $1', [survivor]);
  // identical events of the people merged are one event (unique consent_event): keep the newest row of each
  await tx.query(
    `DELETE FROM consent c USING consent d
      WHERE c.customer_id = ANY($1::bigint[]) AND d.customer_id = ANY($1::bigint[])
        AND d.purpose = c.purpose AND d.granted = c.granted AND d.at = c.at AND d.source = c.source AND d.id > c.id`,
    [[survivor, ...ids]],
  );
  await tx.query('UPDATE consent SET customer_id = $1 WHERE customer_id = ANY($2::bigint[])', [survivor, ids]);
  await tx.query(
    `INSERT INTO customer_segments (customer_id, segment, updated_at)
       SELECT $1::bigint, segment, updated_at FROM customer_segments
        WHERE customer_id = ANY($2::bigint[]) OR customer_id = $1::bigint
        ORDER BY updated_at DESC, customer_id LIMIT 1
     ON CONFLICT (customer_id) DO UPDATE SET segment = excluded.segment, updated_at = excluded.updated_at`,
    [survivor, ids],
  );
  await tx.query('DELETE FROM customer_segments WHERE customer_id = ANY($1::bigint[])', [ids]);
  await tx.query('UPDATE customer_aliases SET survivor_id = $1 WHERE survivor_id = ANY($2::bigint[])', [survivor, ids]);
  await tx.query('INSERT INTO customer_aliases (merged_id, survivor_id) SELECT unnest($2::bigint[]), $1::bigint', [survivor, ids]);
  await tx.query(
    `INSERT INTO merge_log (survivor_id, merged_id, reason_kind, reason_value)
       SELECT $1::bigint, m, k, v FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(m, k, v)`,
    [survivor, ids, merged.map((m) => m.reason.kind), merged.map((m) => m.reason.value)],
  );
  await tx.query('DELETE FROM customer_summaries WHERE customer_id = ANY($1::bigint[])', [ids]);
  await tx.query('DELETE FROM customers WHERE id = ANY($1::bigint[])', [ids]);
}
