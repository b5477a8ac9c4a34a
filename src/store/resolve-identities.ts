import { IdentityResolver, type IdentityPolicy } from '../core/identity-graph.js';
import { identifierKey } from '../core/identity.js';
import type { Identifier, IdentifierKind } from '../core/records.js';
import { mergeCustomers } from './merge-customers.js';
import type { SqlExecutor } from './sql-client.js';
import { objectList } from '../core/object-list.js';

/** The source and source id of an order key (src/store/import-plan.ts orderKey). */
function splitOrderKey(key: string): [string, string] {
  const at = key.indexOf('\u0001');
  return at < 0 ? ['', key] : [key.slice(0, at), key.slice(at + 1)];
}

/** One record to resolve: a line's (or an event's) identifiers and the order it belongs to. */
export interface IdentityRecord {
  identifiers: readonly Identifier[];
  /** Key of the order the record belongs to (orderKey(source, source id): lines of one order are one person's); none for consent. */
  order?: string | null;
  /** Epoch ms of the record (erasure: a record dated before an identifier's erasure is skipped), or null (now). */
  time?: number | null;
}

/**
 * Who each record (and each order) of a batch is, before anything new is written: an existing
 * customer, or the k-th customer to create; and which identifiers are new and whose they become.
 * write-batch.ts writes the new customers and identifiers in the same statement as the orders.
 */
export interface IdentityAssignment {
  /** Per record: the existing (surviving) customer id, or null. */
  customer: (string | null)[];
  /** Per record: index of the new customer it belongs to, or null (existing customer, or no identifiers). */
  newCustomer: (number | null)[];
  /** Per order of `options.orders` (order keys): its customer, existing or new (both null: a guest order). */
  orderCustomer: (string | null)[];
  orderNewCustomer: (number | null)[];
  /** How many customers to create; new customer k gets the k-th smallest new id (oldest first). */
  newCustomers: number;
  /** Identifiers to insert, each owned by an existing customer or by new customer `newIndex`. */
  newIdentifiers: { kind: string[]; value: string[]; customer: (string | null)[]; newIndex: (number | null)[] };
  /** Orders that existed as guest orders and now belong to someone (a later line identified them). */
  attachOrders: { source: string[]; sourceId: string[]; customer: (string | null)[]; newIndex: (number | null)[] };
  /**
   * Orders already in the store, of `options.orders` and of the records: order key → order id. Looked
   * up by the same statement as the people (one lookup a batch): write-batch.ts creates the others.
   */
  existingOrders: Map<string, string>;
  /** Customers merged away while assigning. */
  merges: number;
  /** Links refused by the conflict policy (two values of a unique kind, or past the identifier cap). */
  conflicts: number;
  /** Records skipped because an identifier they carry was erased after their time. */
  erased: number;
  /**
   * With options.perRecord: per record, the merges (of existing customers) and refused links it
   * caused, and whether it was skipped as erased (1) — what a batch of separate writes reports to
   * each of them (src/store/sql-store.ts, purchase events in one transaction).
   */
  perRecord?: { merges: Int32Array; conflicts: Int32Array; erased: Uint8Array };
}

/** An assignment for a write without records (products only). */
export const NO_IDENTITIES: IdentityAssignment = {
  customer: [],
  newCustomer: [],
  orderCustomer: [],
  orderNewCustomer: [],
  newCustomers: 0,
  newIdentifiers: { kind: [], value: [], customer: [], newIndex: [] },
  attachOrders: { source: [], sourceId: [], customer: [], newIndex: [] },
  existingOrders: new Map(),
  merges: 0,
  conflicts: 0,
  erased: 0,
};

export interface AssignOptions extends IdentityPolicy {
  /** Orders (orderKey(source, source id)) whose customer the caller needs (orderCustomer). */
  orders?: readonly string[];
  /** Erasure times (epoch ms) of the records' identifiers that were erased, by identifierKey (src/store/erasure-list.ts). */
  erasedAt?: (identifiers: readonly Identifier[]) => Promise<Map<string, number>>;
  /** Logs each refused link (conflict policy). */
  onConflict?: (message: string) => void;
  /** Count merges, conflicts and erasures per record too (IdentityAssignment.perRecord). */
  perRecord?: boolean;
}

/**
 * Resolves many records inside the caller's transaction (which holds the identity lock), as if they
 * came one at a time (src/core/identity-graph.ts): one query loads everything the store knows about
 * the people the batch touches (the owners of its identifiers and of its orders, with every
 * identifier they hold), the rules run in memory, then the merges they call for are written
 * (survivor: the oldest, i.e. smallest, id).
 */
export async function assignIdentities(
  tx: SqlExecutor,
  records: readonly IdentityRecord[],
  options: AssignOptions = {},
): Promise<IdentityAssignment> {
  const orders = options.orders ?? [];
  const out: IdentityAssignment = {
    customer: records.map(() => null),
    newCustomer: records.map(() => null),
    orderCustomer: orders.map(() => null),
    orderNewCustomer: orders.map(() => null),
    newCustomers: 0,
    // (arrays of strings and nulls: objectList)
    newIdentifiers: { kind: objectList(), value: objectList(), customer: objectList(), newIndex: objectList() },
    attachOrders: { source: objectList(), sourceId: objectList(), customer: objectList(), newIndex: objectList() },
    existingOrders: new Map(),
    merges: 0,
    conflicts: 0,
    erased: 0,
  };
  const { distinct, recordOrders, lookup } = batchKeys(records, orders);
  if (distinct.size === 0 && lookup.length === 0) return out;

  // one statement: the people the batch touches, every order of the batch already stored, and
  // whether anything was ever erased (then the records' identifiers are looked up on the list).
  // Each order key is probed in orders_source_order (LATERAL ... LIMIT 1: the key is unique, so the
  // same rows; the subquery is not flattened into a join): during a first import the orders' statistics
  // lag behind the table, and a join was planned as a hash of every stored order, rebuilt by every batch
  // (0.13 s of server CPU over the shared file's 29 batches against 0.09 s probing; BENCHMARKS.md import-4x-12)
  const all = [...distinct.values()];
  const split = lookup.map(splitOrderKey);
  const checkErased = distinct.size > 0 && options.erasedAt !== undefined;
  const known = await tx.query<{ t: 'i' | 'o' | 'x' | 'e'; kind: string | null; value: string | null; id: string | null }>(
    `WITH o AS (SELECT o.source, o.source_id, o.customer_id, o.id, k.n <= $5::int AS rec
                  FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS k(src, sid, n)
                  CROSS JOIN LATERAL (SELECT source, source_id, customer_id, id FROM orders
                                       WHERE source = k.src AND source_id = k.sid LIMIT 1) o),
     touched AS (
       SELECT ci.customer_id FROM unnest($1::text[], $2::text[]) AS u(kind, value)
         JOIN customer_identifiers ci ON ci.kind = u.kind AND ci.value = u.value
       UNION SELECT customer_id FROM o WHERE rec AND customer_id IS NOT NULL)
     SELECT 'i' AS t, ci.kind, ci.value, ci.customer_id::text AS id
       FROM customer_identifiers ci WHERE ci.customer_id IN (SELECT customer_id FROM touched)
     UNION ALL
     SELECT CASE WHEN rec THEN 'o' ELSE 'x' END, id::text, source || chr(1) || source_id, customer_id::text FROM o
     UNION ALL
     SELECT 'e', NULL, NULL, NULL WHERE $6::boolean AND EXISTS (SELECT 1 FROM erasure_list)`,
    [all.map((i) => i.kind), all.map((i) => i.value), split.map((k) => k[0]), split.map((k) => k[1]), recordOrders.size, checkErased],
  );
  // erased identifiers: a record dated before the erasure is skipped; after it, the value is new again
  const erasedAt = checkErased && known.rows.some((r) => r.t === 'e') ? await options.erasedAt!(all) : new Map<string, number>();
  const resolver = new IdentityResolver(options);
  const guestOrders = seedKnown(resolver, known.rows, out.existingOrders);

  const recordPerson = new Int32Array(records.length).fill(-1);
  const per = options.perRecord ? { merges: new Int32Array(records.length), conflicts: new Int32Array(records.length), erased: new Uint8Array(records.length) } : undefined;
  /** Per entry of resolver.merges: the record that caused it (perRecord only). */
  const mergedBy: number[] = [];
  out.erased += resolveRecords(resolver, records, erasedAt, recordPerson, per, mergedBy);
  if (per) out.perRecord = per;

  // merges, in the order they happened: each merged customer that existed goes into its survivor
  for (let j = 0; j < resolver.merges.length; j++) {
    const m = resolver.merges[j];
    const merged = resolver.existingId(m.merged);
    if (merged === null) continue; // created in this batch: nothing written yet
    const survivor = resolver.existingId(m.survivor)!; // older than an existing one: existing too
    await mergeCustomers(tx, survivor, [{ id: merged, reason: m.reason }]);
    out.merges++;
    if (per) per.merges[mergedBy[j]]++;
  }
  for (const c of resolver.conflicts) {
    out.conflicts++;
    options.onConflict?.(
      c.type === 'unique'
        ? `identity conflict: ${c.identifier.kind} ${c.identifier.value} not linked to a customer holding another ${c.kind}`
        : `identity cap: ${c.identifier.kind} ${c.identifier.value} not linked (a customer holds at most ${options.maxIdentifiers ?? 'the maximum'} identifiers)`,
    );
  }

  fillAssignment(out, resolver, records, recordPerson, orders, guestOrders);
  return out;
}

/*
 * assignIdentities' loops are the small synchronous functions below, each optimized by V8 on its own: as one async
 * function with every loop inside, it was optimized whole (the resolver's methods inlined) and again after a
 * deoptimization, ~0.4-0.6 s of compile threads' time per import of the shared file.
 */

/** The batch's distinct identifiers (by identifierKey), the records' orders, and every order to look up (the records' first). */
function batchKeys(records: readonly IdentityRecord[], orders: readonly string[]): { distinct: Map<string, Identifier>; recordOrders: Set<string>; lookup: string[] } {
  const distinct = new Map<string, Identifier>();
  for (const r of records) for (const i of r.identifiers) distinct.set(identifierKey(i), i);
  // the records' orders (their owners are people of the batch), then the other orders asked about
  const recordOrders = new Set(records.flatMap((r) => (r.order ? [r.order] : [])));
  const lookup = [...recordOrders];
  for (const k of orders) if (!recordOrders.has(k)) lookup.push(k);
  return { distinct, recordOrders, lookup };
}

/**
 * What the store knows, seeded into the resolver: the touched customers with their identifiers, their orders, and the
 * stored orders (into `existingOrders`: key → id). Returns the keys of the records' orders stored as guest orders.
 */
function seedKnown(
  resolver: IdentityResolver,
  rows: readonly { t: 'i' | 'o' | 'x' | 'e'; kind: string | null; value: string | null; id: string | null }[],
  existingOrdersOut: Map<string, string>,
): string[] {
  const held = new Map<string, Identifier[]>();
  const existingOrders: { key: string; id: string | null }[] = [];
  for (const r of rows) {
    if (r.t === 'e') continue;
    if (r.t === 'o' || r.t === 'x') {
      existingOrdersOut.set(r.value!, r.kind!);
      if (r.t === 'o') existingOrders.push({ key: r.value!, id: r.id });
    } else {
      let l = held.get(r.id!);
      if (!l) held.set(r.id!, (l = []));
      l.push({ kind: r.kind as IdentifierKind, value: r.value! });
    }
  }
  const personOf = new Map<string, number>();
  for (const [id, ids] of held) personOf.set(id, resolver.addExisting(id, ids));
  const guestOrders: string[] = [];
  for (const o of existingOrders) {
    if (o.id === null) guestOrders.push(o.key);
    else {
      // an order of a customer without identifiers (all erased, say): a person with none
      let p = personOf.get(o.id);
      if (p === undefined) personOf.set(o.id, (p = resolver.addExisting(o.id, [])));
      resolver.addOrder(o.key, p);
    }
  }
  for (const key of guestOrders) resolver.addOrder(key, -1);
  return guestOrders;
}

/**
 * The records resolved one by one, in order, into `recordPerson` (with `per` and `mergedBy`: what each caused).
 * Returns the number of records skipped as erased.
 */
function resolveRecords(
  resolver: IdentityResolver,
  records: readonly IdentityRecord[],
  erasedAt: ReadonlyMap<string, number>,
  recordPerson: Int32Array,
  per: { conflicts: Int32Array; erased: Uint8Array } | undefined,
  mergedBy: number[],
): number {
  let erased = 0;
  records.forEach((r, i) => {
    // an identifier erased after the record's time: the record is skipped (its order, if new, is a
    // guest's); erased before it, the value was deleted with the person and is no one's: a new customer
    if (erasedAt.size > 0) {
      const time = r.time ?? -Infinity; // undated: it may predate the erasure
      if (r.identifiers.some((x) => (erasedAt.get(identifierKey(x)) ?? -Infinity) > time)) {
        erased++;
        if (per) per.erased[i] = 1;
        return;
      }
    }
    const conflictsBefore = resolver.conflictCount;
    recordPerson[i] = resolver.resolve(r.identifiers, r.order ?? null);
    if (per) {
      per.conflicts[i] = resolver.conflictCount - conflictsBefore;
      while (mergedBy.length < resolver.merges.length) mergedBy.push(i);
    }
  });
  return erased;
}

/** The assignment's people: new customers numbered, each record's, order's, guest order's and new identifier's customer. */
function fillAssignment(
  out: IdentityAssignment,
  resolver: IdentityResolver,
  records: readonly IdentityRecord[],
  recordPerson: Int32Array,
  orders: readonly string[],
  guestOrders: readonly string[],
): void {
  // people created here that survived, in order of creation, are the new customers 0, 1, …
  const newIndex = new Map<number, number>();
  const who = (p: number): { customer: string | null; newIndex: number | null } => {
    if (p < 0) return { customer: null, newIndex: null };
    const r = resolver.find(p);
    const existing = resolver.existingId(r);
    if (existing !== null) return { customer: existing, newIndex: null };
    let k = newIndex.get(r);
    if (k === undefined) newIndex.set(r, (k = newIndex.size));
    return { customer: null, newIndex: k };
  };
  for (let p = 0; p < resolver.people; p++) if (resolver.find(p) === p && resolver.existingId(p) === null) who(p);
  out.newCustomers = newIndex.size;
  records.forEach((_, i) => {
    const w = who(recordPerson[i]);
    out.customer[i] = w.customer;
    out.newCustomer[i] = w.newIndex;
  });
  orders.forEach((key, i) => {
    const w = who(resolver.orderOwner(key) ?? -1);
    out.orderCustomer[i] = w.customer;
    out.orderNewCustomer[i] = w.newIndex;
  });
  for (const key of guestOrders) {
    const owner = resolver.orderOwner(key);
    if (owner === undefined || owner < 0) continue;
    const w = who(owner);
    const [source, sourceId] = splitOrderKey(key);
    out.attachOrders.source.push(source);
    out.attachOrders.sourceId.push(sourceId);
    out.attachOrders.customer.push(w.customer);
    out.attachOrders.newIndex.push(w.newIndex);
  }
  const n = out.newIdentifiers;
  for (const { identifier, person } of resolver.attached) {
    const w = who(person);
    n.kind.push(identifier.kind);
    n.value.push(identifier.value);
    n.customer.push(w.customer);
    n.newIndex.push(w.newIndex);
  }
}
