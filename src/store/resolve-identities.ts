import type { Identifier } from '../core/records.js';
import { groupIdentities, identifierKey } from './import-plan.js';
import { mergeCustomers } from './merge-customers.js';
import type { SqlExecutor } from './sql-client.js';

/**
 * Who each record of a batch is, before anything new is written: an existing customer, or the
 * k-th customer to create; and which identifiers are new and whose they become.
 * write-batch.ts writes the new customers and identifiers in the same statement as the orders.
 */
export interface IdentityAssignment {
  /** Per record: the existing (surviving) customer id, or null. */
  customer: (string | null)[];
  /** Per record: index of the new customer it belongs to, or null (existing customer, or no identifiers). */
  newCustomer: (number | null)[];
  /** How many customers to create; new customer k gets the k-th smallest new id (oldest first). */
  newCustomers: number;
  /** Identifiers to insert, each owned by an existing customer or by new customer `newIndex`. */
  newIdentifiers: { kind: string[]; value: string[]; customer: (string | null)[]; newIndex: (number | null)[] };
  /** Customers merged away while assigning. */
  merges: number;
}

/**
 * Resolves many records' identifiers inside the caller's transaction, set-based: one lookup of
 * every identifier, union-find in memory (import-plan.ts); only groups that touch two or more
 * existing customers are merged, one by one (survivor: the oldest, i.e. smallest, id).
 */
export async function assignIdentities(
  tx: SqlExecutor,
  records: readonly (readonly Identifier[])[],
): Promise<IdentityAssignment> {
  const out: IdentityAssignment = {
    customer: records.map(() => null),
    newCustomer: records.map(() => null),
    newCustomers: 0,
    newIdentifiers: { kind: [], value: [], customer: [], newIndex: [] },
    merges: 0,
  };
  const distinct = new Map<string, Identifier>();
  for (const r of records) for (const i of r) distinct.set(identifierKey(i), i);
  if (distinct.size === 0) return out;

  const all = [...distinct.values()];
  const found = await tx.query<{ kind: string; value: string; id: string }>(
    `SELECT ci.kind, ci.value, ci.customer_id::text AS id
       FROM unnest($1::text[], $2::text[]) AS u(kind, value)
       JOIN customer_identifiers ci ON ci.kind = u.kind AND ci.value = u.value`,
    [all.map((i) => i.kind), all.map((i) => i.value)],
  );
  const owners = new Map<string, string>();
  for (const r of found.rows) owners.set(identifierKey(r as Identifier), r.id);

  const { groups, recordGroup } = groupIdentities(records, owners);
  const survivor: (string | null)[] = new Array(groups.length).fill(null);
  const fresh: (number | null)[] = new Array(groups.length).fill(null);
  for (let g = 0; g < groups.length; g++) {
    const { customers, identifiers } = groups[g];
    if (customers.length === 0) {
      fresh[g] = out.newCustomers++;
      continue;
    }
    survivor[g] = customers[0];
    if (customers.length > 1) {
      const merged = customers.slice(1).map((id) => ({ id, reason: identifiers.find((x) => x.owner === id)!.identifier }));
      await mergeCustomers(tx, customers[0], merged);
      out.merges += merged.length;
    }
  }
  for (let r = 0; r < records.length; r++) {
    const g = recordGroup[r];
    if (g < 0) continue;
    out.customer[r] = survivor[g];
    out.newCustomer[r] = fresh[g];
  }
  const n = out.newIdentifiers;
  groups.forEach((g, gi) => {
    for (const { identifier, owner } of g.identifiers) {
      if (owner !== null) continue;
      n.kind.push(identifier.kind);
      n.value.push(identifier.value);
      n.customer.push(survivor[gi]);
      n.newIndex.push(fresh[gi]);
    }
  });
  return out;
}
