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
