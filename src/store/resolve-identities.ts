import type { Identifier } from '../core/records.js';
import { groupIdentities, identifierKey } from './import-plan.js';
import { mergeCustomers } from './merge-customers.js';
import type { SqlExecutor } from './sql-client.js';

/**
 * Resolves many records' identifiers to unified customer ids inside the caller's transaction,
 * set-based: one lookup of every identifier, one insert of the new customers, one insert of the
 * new identifiers; only groups that touch two or more existing customers are merged, one by one
 * (survivor: the oldest, i.e. smallest, id). Returns each record's customer (null when it has
 * no identifiers) and the number of customers merged away.
 */
export async function resolveIdentities(
  tx: SqlExecutor,
  records: readonly (readonly Identifier[])[],
): Promise<{ customers: (string | null)[]; merges: number }> {
  const distinct = new Map<string, Identifier>();
  for (const r of records) for (const i of r) distinct.set(identifierKey(i), i);
  if (distinct.size === 0) return { customers: records.map(() => null), merges: 0 };

  const all = [...distinct.values()];
  const found = await tx.query<{ kind: string; value: string; id: string }>(
    `SELECT ci.kind, ci.value, ci.customer_id::text AS id
       FROM unnest($1::text[], $2::text[]) AS u(kind, value)
       JOIN customer_identifiers ci ON ci.kind = u.kind AND ci.value = u.value`,
    [all.map((i) => i.kind), all.map((i) => i.value)],
  );
  const owners = new Map<string, string>();
  for (const r of found.rows) owners.set(`${r.kind}\u0001${r.value}`, r.id);

  const { groups, recordGroup } = groupIdentities(records, owners);
  const groupCustomer: string[] = new Array(groups.length);

  const fresh = groups.map((g, i) => (g.customers.length === 0 ? i : -1)).filter((i) => i >= 0);
  if (fresh.length > 0) {
    const ids = await tx.query<{ id: string }>(
      'INSERT INTO customers (created_at) SELECT now() FROM generate_series(1, $1::int) RETURNING id::text AS id',
      [fresh.length],
    );
    const sorted = ids.rows.map((r) => r.id).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
    fresh.forEach((g, k) => (groupCustomer[g] = sorted[k]));
  }

  let merges = 0;
  for (let g = 0; g < groups.length; g++) {
    const { customers, identifiers } = groups[g];
    if (customers.length === 0) continue;
    const survivor = customers[0];
    groupCustomer[g] = survivor;
    if (customers.length > 1) {
      const merged = customers.slice(1).map((id) => ({
        id,
        reason: identifiers.find((x) => x.owner === id)!.identifier,
      }));
      await mergeCustomers(tx, survivor, merged);
      merges += merged.length;
    }
  }

  const newKinds: string[] = [];
  const newValues: string[] = [];
  const newOwners: string[] = [];
  groups.forEach((g, gi) => {
    for (const { identifier, owner } of g.identifiers) {
      if (owner !== null) continue;
      newKinds.push(identifier.kind);
      newValues.push(identifier.value);
      newOwners.push(groupCustomer[gi]);
    }
  });
  if (newKinds.length > 0) {
    await tx.query(
      `INSERT INTO customer_identifiers (kind, value, customer_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING`,
      [newKinds, newValues, newOwners],
    );
  }
  return { customers: Array.from(recordGroup, (g) => (g < 0 ? null : groupCustomer[g])), merges };
}
