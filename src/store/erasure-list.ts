/**
 * The erasure list in the history store (table erasure_list, migration 005): keyed hashes of every
 * identifier and customer id of the people erased, with the time of their erasure. Keyed (HMAC-SHA256
 * under ERASURE_KEY) so that the list cannot be reversed by hashing candidate emails or phone numbers
 * without the key. Used by
 * - imports and purchase events (src/store/resolve-identities.ts): a record dated before the erasure
 *   of an identifier it carries is skipped (counted `erased`); after it, the value is new again;
 * - publishing (src/cache/publish.ts): a bundle's erased customers are never written to a cache, and
 *   the cache's own list (P:erased) is told of them, even in a fresh Redis;
 * - purchase events: a record refresh of an erased customer is refused.
 *
 * Writes keyed by a customer that are made off the identity lock (the decision log, offer events and
 * their contact counters: src/store/sql-offers.ts) cannot race an erasure: each is one transaction that
 * takes ERASURE_LOCK shared and then keeps only the rows of customers still present (absentCustomers),
 * while an erasure takes it exclusively before it deletes (SqlStore.eraseCustomer). Either the write
 * commits first (the erasure, waiting, then deletes what it wrote) or it runs after the erasure's commit
 * (and finds the customer gone). PGlite runs one transaction at a time: the same holds without a lock.
 */
import { createHmac } from 'node:crypto';
import { identifierKey } from '../core/identity.js';
import type { Identifier } from '../core/records.js';
import type { SqlExecutor } from './sql-client.js';

export class ErasureHasher {
  constructor(private readonly key: string) {}

  private hash(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  identifier(id: Identifier): string {
    return this.hash(`identifier\u0000${id.kind}\u0000${id.value}`);
  }

  customer(customerId: string): string {
    return this.hash(`customer\u0000${customerId}`);
  }
}

/** Advisory lock key: an erasure exclusively, writes keyed by a customer shared (PostgreSQL only). */
export const ERASURE_LOCK = 7262542;
/** How long an erasure waits for ERASURE_LOCK before it fails with 55P03 (a 503 to retry). */
export const ERASURE_LOCK_WAIT_MS = 2000;

/** Customers found present, per database client, as of an erasure epoch (erasure_epoch, migration 013). */
const knownPresent = new WeakMap<object, { epoch: bigint; ids: Set<string> }>();
/** At most this many ids remembered per client (then forgotten at once, and looked up again). */
const KNOWN_MAX = 200_000;

/** Those of `ids` (bigint texts) neither a customer nor an id merged into one (customer_aliases): an erasure deletes both. */
const ABSENT_SQL = `ARRAY(SELECT m.i FROM (SELECT (u.n - 1)::int AS i, u.k FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n)
                            WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = u.k) OFFSET 0) m
                     WHERE NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.merged_id = m.k OFFSET 0))`;
// (each customer by its key, and an alias looked up only for the ids no customer has: both OFFSET 0 keep the planner
// from hashing a whole table for a batch's ids)

/**
 * Those of `customerIds` (bigint texts) no longer present (erased): neither a customer nor an id merged into one.
 * Mostly none. Run in a transaction holding ERASURE_LOCK shared (taken before this statement, so that its snapshot sees
 * every erasure committed before, and none commits until this transaction does). One statement: the erasure epoch and
 * the lookup of the ids not found present by `client` at that epoch (remembered: while no erasure happens, a customer
 * present stays present, merges included); when the epoch moved on, the ids found before are looked up again.
 */
export async function absentCustomers(tx: SqlExecutor, client: object, customerIds: readonly string[]): Promise<Set<string>> {
  const absent = new Set<string>();
  if (customerIds.length === 0) return absent;
  const before = knownPresent.get(client);
  const fresh = before ? customerIds.filter((id) => !before.ids.has(id)) : customerIds.slice();
  // (every id known: the epoch alone, a statement without parameters planned once, ~6× cheaper than the lookup's)
  const r = fresh.length
    ? await tx.query<{ epoch: string; absent: number[] }>(`SELECT (SELECT n FROM erasure_epoch)::text AS epoch, ${ABSENT_SQL} AS absent`, [fresh], { name: 'absent_customers' })
    : await tx.query<{ epoch: string; absent?: number[] }>('SELECT n::text AS epoch FROM erasure_epoch', [], { name: 'erasure_epoch' });
  const epoch = BigInt(r.rows[0].epoch);
  for (const i of r.rows[0].absent ?? []) absent.add(fresh[i]);
  let seen = fresh;
  if (before && before.epoch !== epoch) {
    // erasures since these were found: looked up again
    const again = customerIds.filter((id) => before.ids.has(id));
    if (again.length) {
      const a = await tx.query<{ absent: number[] }>(`SELECT ${ABSENT_SQL} AS absent`, [again], { name: 'absent_customers_again' });
      for (const i of a.rows[0].absent) absent.add(again[i]);
      seen = fresh.concat(again);
    }
  }
  // remembered as of this epoch (a client's transactions can interleave: an older epoch's finding never replaces a newer one's)
  const now = knownPresent.get(client);
  let known = now && now.epoch === epoch ? now : null;
  if (!known && (!now || now.epoch < epoch)) knownPresent.set(client, (known = { epoch, ids: new Set() }));
  if (known) {
    if (known.ids.size + seen.length > KNOWN_MAX) known.ids.clear();
    for (const id of seen) if (!absent.has(id)) known.ids.add(id);
  }
  return absent;
}

/** Adds an erased person's identifiers and ids to the list (inside the erasing transaction); erased_at is the transaction's time. */
export async function listErased(tx: SqlExecutor, hasher: ErasureHasher, identifiers: readonly Identifier[], customerIds: readonly string[]): Promise<void> {
  const hashes = [...identifiers.map((i) => hasher.identifier(i)), ...customerIds.map((c) => hasher.customer(c))];
  if (hashes.length === 0) return;
  // erased again later (a new customer with a value erased before): the latest erasure counts
  await tx.query(
    `INSERT INTO erasure_list (hash, erased_at) SELECT DISTINCT unnest($1::text[]), now()
     ON CONFLICT (hash) DO UPDATE SET erased_at = greatest(erasure_list.erased_at, excluded.erased_at)`,
    [hashes],
  );
}

/** Erasure times (epoch ms) of those of `identifiers` that were erased, by identifierKey. */
export async function erasedIdentifiers(tx: SqlExecutor, hasher: ErasureHasher, identifiers: readonly Identifier[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (identifiers.length === 0) return out;
  // most imports meet an empty list: then nothing is hashed (a few identifiers, a purchase event's, are
  // hashed and looked up at once: one round trip either way)
  if (identifiers.length > 64) {
    const any = await tx.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM erasure_list) AS any');
    if (!any.rows[0].any) return out;
  }
  const byHash = new Map<string, string>();
  for (const i of identifiers) byHash.set(hasher.identifier(i), identifierKey(i));
  const r = await tx.query<{ hash: string; at: number }>(
    'SELECT hash, (extract(epoch FROM erased_at) * 1000)::float8 AS at FROM erasure_list WHERE hash = ANY($1::text[])',
    [[...byHash.keys()]],
  );
  for (const row of r.rows) out.set(byHash.get(row.hash)!, row.at);
  return out;
}

/** Those of `customerIds` that were erased. */
export async function erasedCustomerIds(tx: SqlExecutor, hasher: ErasureHasher, customerIds: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (customerIds.length === 0) return out;
  const any = await tx.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM erasure_list) AS any');
  if (!any.rows[0].any) return out;
  const byHash = new Map<string, string>();
  for (const c of customerIds) byHash.set(hasher.customer(c), c);
  const r = await tx.query<{ hash: string }>('SELECT hash FROM erasure_list WHERE hash = ANY($1::text[])', [[...byHash.keys()]]);
  for (const row of r.rows) out.add(byHash.get(row.hash)!);
  return out;
}
