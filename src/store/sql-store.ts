import { DEV_ERASURE_KEY } from '../config-store.js';
import { CONSENT_PURPOSES } from '../core/records.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../core/errors.js';
import type { Channel, ConsentPurpose, HistoryLine, Identifier, OrderLine, Product, Segment } from '../core/records.js';
import { checkStore, type StoreCheck } from './check-store.js';
import { OrderIdAllocator, orderKey, planImport, type ImportPlan } from './import-plan.js';
import { KnownProducts, type ProductState } from './known-products.js';
import { migrate } from './migrate.js';
import { assignIdentities, NO_IDENTITIES, type AssignOptions } from './resolve-identities.js';
import { writeBatch } from './write-batch.js';
import { ERASURE_LOCK, ERASURE_LOCK_WAIT_MS, ErasureHasher, erasedCustomerIds, erasedIdentifiers, listErased } from './erasure-list.js';
import { canCopyLines, copyLines, insertLines, isDuplicateKey } from './insert-lines.js';
import { GroupCommit, type Settled } from './group-commit.js';
import { RETRY_AFTER_S } from '../core/deadline.js';
import { bumpCustomersOfOrders, CARD_CATEGORIES, computeSummary, refreshSummaries, type SummaryData } from './customer-summaries.js';
import { EPOCH_MS, type SqlClient, type SqlExecutor } from './sql-client.js';
import type { Offer } from '../core/offers/types.js';
import type {
  DecisionLogEntry,
  DecisionToLog,
  LoggedDecisions,
  PreparedDecision,
  OfferEventInput,
  ConsentEvent,
  ConsentRecord,
  CustomerAccess,
  CustomerCardData,
  CustomerProfile,
  ProductDetail,
  ImportBatchResult,
  ImportRun,
  MergeLogEntry,
  RecordedOrder,
  Store,
  StoreTotals,
} from './store.js';

/** Advisory lock key serialising writers that resolve identities (PostgreSQL only). */
const IDENTITY_LOCK = 7262541;

/** Waits for the batch before (importPlan's `after`); its failure is this batch's too (nothing of it is committed). */
function afterPrevious(after: Promise<unknown>): Promise<void> {
  return after.then(
    () => undefined,
    (e: unknown) => {
      throw new Error(`not written: an earlier batch of the import failed (${(e as Error)?.message ?? String(e)})`);
    },
  );
}

/**
 * The existing customers whose orders an assignment's batch adds lines to (every order of it, on the
 * fast path) or attaches to them: their card summaries are no longer current. (Customers created by
 * the batch have none yet.)
 */
function customersOfOrders(identity: { orderCustomer: readonly (string | null)[]; attachOrders: { customer: readonly (string | null)[] } }): string[] {
  const out = new Set<string>();
  for (const c of identity.orderCustomer) if (c !== null) out.add(c);
  for (const c of identity.attachOrders.customer) if (c !== null) out.add(c);
  return [...out];
}
/** A batch's result; conflicts and erased only when there were some. */
function batchResult(imported: number, duplicates: number, identity: { merges: number; conflicts: number; erased: number }): ImportBatchResult {
  return {
    imported,
    duplicates,
    merges: identity.merges,
    ...(identity.conflicts > 0 ? { conflicts: identity.conflicts } : {}),
    ...(identity.erased > 0 ? { erased: identity.erased } : {}),
  };
}
const CUSTOMER_ID = /^[1-9][0-9]{0,17}$/;
/**
 * CTE `c`: the customer $1 stands for (itself, or the survivor it was merged into), no row when
 * unknown; so that a read by customer id is one statement (one round trip, one snapshot).
 */
const CANONICAL = `c AS (SELECT id FROM customers WHERE id = $1::bigint
       UNION ALL SELECT survivor_id FROM customer_aliases WHERE merged_id = $1::bigint LIMIT 1)`;
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
/** Money to 4 decimals (the column's scale): sums in float8 carry binary noise. */
const money = (x: number) => Math.round(x * 10_000) / 10_000;

export interface SqlStoreOptions {
  /** Most identifiers one customer collects (MAX_IDENTIFIERS_PER_CUSTOMER; default 20). */
  maxIdentifiers?: number;
  /** Purposes granted to a customer with no record of them (CONSENT_DEFAULTS); unlisted: refused. */
  consentDefaults?: Partial<Record<ConsentPurpose, boolean>>;
  /** Key of the erasure list's hashes (ERASURE_KEY; default: the public development key). */
  erasureKey?: string;
  /** Called with each link refused by the identity conflict policy (logged by the caller). */
  onConflict?: (message: string) => void;
}

/**
 * The Store in SQL, over any SqlClient (pg pool or PGlite): same migrations, same queries.
 * Customer ids are decimal bigint strings; merged-away ids resolve through aliases.
 */
export class SqlStore implements Store {
  /** Customers this store added (import batches, purchase events) since the table's statistics were taken (watchCustomerStatistics). */
  private customerStats: { analyzed: Promise<number>; added: number; running: Promise<void> | null } | null = null;
  readonly backend: 'postgres' | 'pglite';
  /** Product rows this store last wrote: import batches send only the ones that change. */
  private readonly known = new KnownProducts();

  constructor(
    readonly db: SqlClient,
    private readonly options: SqlStoreOptions = {},
  ) {
    this.backend = db.dialect;
    this.hasher = new ErasureHasher(options.erasureKey ?? DEV_ERASURE_KEY);
  }

  private readonly hasher: ErasureHasher;

  /** The identity rules' options for one resolution inside `tx` (cap, erasure list, conflict log). */
  private identityOptions(tx: SqlExecutor, orders?: readonly string[]): AssignOptions {
    return {
      maxIdentifiers: this.options.maxIdentifiers,
      onConflict: this.options.onConflict,
      orders,
      erasedAt: (ids) => erasedIdentifiers(tx, this.hasher, ids),
    };
  }

  /** Whether a purpose counts as granted for a customer with no record of it (CONSENT_DEFAULTS). */
  consentDefault(purpose: ConsentPurpose): boolean {
    return this.options.consentDefaults?.[purpose] === true;
  }

  migrate(options: { durable?: boolean } = {}): Promise<string[]> {
    return migrate(this.db, undefined, options);
  }

  /** Throws UnavailableError when the database does not answer. */
  async ping(): Promise<void> {
    try {
      await this.db.query('SELECT 1');
    } catch (e) {
      throw new UnavailableError(`${this.backend} unavailable: ${(e as Error).message}`, { backend: this.backend });
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /**
   * Purchase events: one write at a time per store, the ones that arrive meanwhile grouped into the
   * next transaction (src/store/group-commit.ts): one identity lock and one durable commit for many.
   */
  private readonly events = new GroupCommit<OrderLine[], ImportBatchResult>({
    run: (calls) => this.importCalls(calls),
    keys: (lines) => [...new Set(lines.map((l) => orderKey(l.source ?? l.channel, l.orderId)))],
    maxBatch: 64,
    maxQueued: 2000,
    onFull: () => new UnavailableError('too many purchase events waiting for the history store; retry', { retryAfterS: RETRY_AFTER_S }),
  });

  importLines(lines: OrderLine[], options: { signal?: AbortSignal } = {}): Promise<ImportBatchResult> {
    if (lines.length === 0) return Promise.resolve({ imported: 0, duplicates: 0, merges: 0 });
    return this.events.submit(lines, options.signal);
  }

  /**
   * Several importLines calls (orders of distinct keys) in one transaction, each told its own
   * counts. Identity resolution goes through their records in order, as it would call by call
   * (src/core/identity-graph.ts: the answer does not depend on how records are cut into batches).
   * A batch that fails for another reason than an unavailable store is retried call by call, so
   * one bad write fails alone.
   */
  private async importCalls(calls: OrderLine[][]): Promise<Settled<ImportBatchResult>[]> {
    try {
      return (await this.importTogether(calls)).map((value) => ({ ok: true, value }));
    } catch (error) {
      if (calls.length === 1 || error instanceof UnavailableError) return calls.map(() => ({ ok: false, error }));
      const out: Settled<ImportBatchResult>[] = [];
      for (const c of calls) {
        try {
          out.push({ ok: true, value: (await this.importTogether([c]))[0] });
        } catch (e) {
          out.push({ ok: false, error: e });
        }
      }
      return out;
    }
  }

  private async importTogether(calls: OrderLine[][]): Promise<ImportBatchResult[]> {
    const lines = calls.length === 1 ? calls[0] : calls.flat();
    const callOf = new Map<string, number>();
    calls.forEach((c, i) => {
      for (const l of c) callOf.set(orderKey(l.source ?? l.channel, l.orderId), i);
    });
    const ids = new OrderIdAllocator();
    ids.supply(await this.reserveOrderIds(callOf.size));
    const plan = planImport(lines, ids);
    // acknowledged writes (purchase events): the commit reaches disk before the caller answers
    const d = await this.writePlan(plan, { durable: true }, true);
    const out = calls.map((c) => ({ imported: d.copied ? c.length : 0, merges: 0, conflicts: 0, erased: 0 }));
    const orderCall = plan.orders.map((o) => callOf.get(orderKey(o.source, o.sourceId))!);
    if (!d.copied) {
      plan.orders.forEach((o, i) => {
        const id = d.written.existingOrders.get(orderKey(o.source, o.sourceId)) ?? String(plan.orderIds[i]);
        out[orderCall[i]].imported += d.perOrder.get(id) ?? 0;
      });
    }
    const per = d.perRecord!;
    plan.identityEvents.forEach((e, r) => {
      const c = out[orderCall[e.order]];
      c.merges += per.merges[r];
      c.conflicts += per.conflicts[r];
      c.erased += per.erased[r];
    });
    return out.map((c, i) => batchResult(c.imported, calls[i].length - c.imported, c));
  }

  async reserveOrderIds(n: number): Promise<number[]> {
    if (n <= 0) return [];
    // the sequence's name looked up once (a sub-select is evaluated once), not once per id: a
    // fourth of the server time of a block of 20,000. As one string (split here): parsing a float8[]
    // of 20,000 elements character by character (pg's array parser) took ~4x as long on the main thread
    const r = await this.db.query<{ ids: string }>(
      `SELECT array_to_string(array(SELECT nextval((SELECT pg_get_serial_sequence('orders', 'id'))::regclass) FROM generate_series(1, $1::int)), ',') AS ids`,
      [n],
    );
    return r.rows[0].ids.split(',').map(Number);
  }

  async importPlan(plan: ImportPlan, options: { deferProductUpdates?: boolean; durable?: boolean; after?: Promise<unknown> } = {}): Promise<ImportBatchResult> {
    if (plan.lineCount === 0) {
      if (options.after) await afterPrevious(options.after);
      return { imported: 0, duplicates: 0, merges: 0 };
    }
    const done = await this.writePlan(plan, options, false);
    return batchResult(done.lines, plan.lineCount - done.lines, done);
  }

  /**
   * One transaction a batch, so no order is ever committed without its lines: BEGIN (+ lock),
   * identifier lookup, one write statement, COPY, COMMIT. The commit need not wait for the WAL
   * flush unless `durable` (a batch lost to a crash is re-imported idempotently): finishImport's
   * commit waits for all. With `detail`, also per record and per order what it wrote (importTogether).
   *
   * With `after` (the batch before, still being written), on PostgreSQL, a batch whose orders all have
   * ids reserved for it alone (plan.freshIds: no other transaction can hold a line under them) and
   * whose lines are unique copies its lines first, before the identity lock: the COPY, the largest
   * part of a batch's server work, then runs on another connection while the batch before resolves
   * and writes under the lock; this batch takes the lock once that one has committed (and rolls
   * back if it failed). Lines and orders still commit together, in this batch's transaction.
   */
  private async writePlan(plan: ImportPlan, options: { deferProductUpdates?: boolean; durable?: boolean; after?: Promise<unknown> }, detail: boolean) {
    const keys = plan.orders.map((o) => orderKey(o.source, o.sourceId));
    const records = plan.identityEvents.map((e) => ({ identifiers: e.identifiers, order: keys[e.order], time: e.time }));
    const commit = { asyncCommit: !options.durable, durable: options.durable };
    const locked = (tx: SqlExecutor, copied: boolean, careful: boolean) => this.writeLocked(tx, plan, keys, records, options, detail, copied, careful);
    const write = (careful: boolean) => this.db.transaction((tx) => locked(tx, false, careful), { ...commit, lock: IDENTITY_LOCK });
    const after = options.after;
    let done: Awaited<ReturnType<typeof locked>>;
    if (after !== undefined && this.db.capabilities.concurrentWriters && plan.freshIds && plan.uniqueLines && !detail) {
      done = await this.db
        .transaction(async (tx) => {
          await copyLines(tx, plan);
          await afterPrevious(after);
          await tx.exec(`SELECT pg_advisory_xact_lock(${IDENTITY_LOCK})`);
          return locked(tx, true, false);
        }, commit)
        // (fresh ids: a duplicate line cannot come from the COPY; as below, the batch is written again carefully)
        .catch(async (e) => {
          if (!isDuplicateKey(e)) throw e;
          await afterPrevious(after);
          return write(true);
        });
    } else {
      if (after !== undefined) await afterPrevious(after);
      // a COPY meeting lines another importer wrote meanwhile undoes the batch: written again, carefully
      done = await write(false).catch((e) => (isDuplicateKey(e) ? write(true) : Promise.reject(e)));
    }
    this.known.remember(done.written.products);
    this.watchCustomerStatistics(done.written.newCustomerIds.length);
    return done;
  }

  /**
   * Keeps the planner's statistics of `customers` up with an import that makes it grow. The foreign-key checks of every
   * order and identifier written look a customer up by a plan each connection makes once, by the statistics of the
   * time: on a table analyzed while nearly empty (after a first import of a tiny file, whose closing ANALYZE recorded
   * it so) that plan is a sequential scan, kept as the table grows to thousands of rows (the shared file's import took
   * 4.6-4.8 s instead of 3.1, BENCHMARKS.md customers-statistics). ANALYZE invalidates those plans: run (beside the batches,
   * on another connection) each time the table has doubled since its statistics were taken, from 256 new customers.
   * A table never analyzed needs none (the planner assumes a size at which it uses the index).
   */
  private watchCustomerStatistics(added: number): void {
    if (added === 0) return;
    const w = (this.customerStats ??= {
      analyzed: this.db
        .query<{ n: number }>("SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass('customers')")
        .then((r) => Number(r.rows[0]?.n ?? -1), () => -1),
      added: 0,
      running: null,
    });
    w.added += added;
    if (w.running !== null) return;
    w.running = (async () => {
      const base = await w.analyzed;
      if (base < 0 || w.added < Math.max(256, base)) return;
      const counted = w.added;
      await this.db.exec('ANALYZE customers');
      w.analyzed = Promise.resolve(base + counted);
      w.added -= counted;
    })()
      .catch(() => undefined) // (statistics only: the import goes on)
      .finally(() => {
        w.running = null;
      });
  }

  /**
   * The part of a batch's transaction under the identity lock: identities resolved, the batch's
   * customers, products and orders written (with the rev bump of the customers whose orders gain
   * lines), then the lines, unless `copied` (already COPYed under the reserved ids: when an order
   * turns out to exist under another id, they are deleted and written carefully instead).
   */
  private async writeLocked(
    tx: SqlExecutor,
    plan: ImportPlan,
    keys: string[],
    records: { identifiers: Identifier[]; order: string; time: number }[],
    options: { deferProductUpdates?: boolean },
    detail: boolean,
    copied: boolean,
    careful: boolean,
  ) {
    const products = options.deferProductUpdates ? this.known.defer(plan.products) : this.known.changing(plan.products);
    const identity = await assignIdentities(tx, records, { ...this.identityOptions(tx, keys), perRecord: detail });
    // every order has its reserved id (created now, or by an earlier batch of the same reader), no two lines share a key
    const fast = !careful && canCopyLines(plan, identity.existingOrders);
    // (fresh reserved ids: the lines under them are this transaction's COPY, and nothing else)
    if (copied && !fast) await tx.query('DELETE FROM order_lines WHERE order_id = ANY($1::bigint[])', [plan.orderIds]);
    const written = await writeBatch(tx, {
      identity,
      stores: plan.stores,
      products,
      orders: plan.orders,
      orderIds: plan.orderIds,
      // on the fast path every order gains lines: its customer's card summary is no longer current
      bumpCustomers: fast ? customersOfOrders(identity) : undefined,
    });
    const perOrder = new Map<string, number>();
    let lines: number;
    if (fast && copied) lines = plan.lineCount;
    else lines = await insertLines(tx, plan, written.existingOrders, !fast, detail ? perOrder : undefined);
    if (!fast) {
      // the card summaries of the customers whose orders gained lines or who gained guest orders
      const gained = lines === 0 ? [] : plan.orders.map((o, i) => written.existingOrders.get(orderKey(o.source, o.sourceId)) ?? plan.orderIds[i]);
      await bumpCustomersOfOrders(tx, [...gained, ...written.attachedOrders]);
    }
    return {
      written,
      copied: fast,
      perOrder,
      perRecord: identity.perRecord,
      merges: identity.merges,
      conflicts: identity.conflicts,
      erased: identity.erased,
      lines,
    };
  }

  async flushProductUpdates(): Promise<number> {
    return this.writeProductUpdates(this.known.takePending());
  }

  /** Writes product rows as KnownProducts keeps them (deferred updates) by the products rule; returns the rows changed. */
  private async writeProductRows(tx: SqlExecutor, rows: readonly ProductState[]): Promise<ProductState[]> {
    if (rows.length === 0) return [];
    const products = rows.map(({ sku, title, titleAt, category, categoryAt, price, priceAt, at }) => ({ sku, title, titleAt, category, categoryAt, price, priceAt, time: at }));
    return (await writeBatch(tx, { identity: NO_IDENTITIES, products })).products;
  }

  /**
   * Writes deferred product rows (KnownProducts.takePending) in a transaction of their own; returns the rows changed.
   * Under the identity lock, as every other write of product rows (batches, events, finishImport): a product row is
   * locked by one writer at a time, so that two writers locking rows in different orders cannot deadlock (products
   * follow product-rule.ts: nearly every sku of a file is in its last flush).
   */
  private async writeProductUpdates(rows: ProductState[]): Promise<number> {
    if (rows.length === 0) return 0;
    const written = await this.db.transaction((tx) => this.writeProductRows(tx, rows), { asyncCommit: true, lock: IDENTITY_LOCK });
    this.known.remember(written);
    return written.length;
  }

  /**
   * Planner statistics refreshed after a bulk load (plans chosen on an empty table's statistics are
   * far off, and autovacuum may take a minute). ANALYZE takes a lock that writers' locks do not
   * conflict with: it may run while the last batch is written.
   */
  async analyzeImport(): Promise<void> {
    await this.db.exec('ANALYZE customers, customer_identifiers, products, orders, order_lines');
  }

  /**
   * The end of an import: the run recorded in import_runs by a synchronous commit, which returns
   * only once the WAL holds it and so every batch committed before it (their commits did not wait
   * for the flush).
   */
  async finishImport(run: ImportRun): Promise<void> {
    // (an ANALYZE of customers started by watchCustomerStatistics ends first; the next import reads the statistics again)
    await this.customerStats?.running;
    this.customerStats = null;
    // product updates still deferred (the last file's) are written first, in the same transaction, under the
    // identity lock (writeProductUpdates): the card summaries then read the categories as they now are
    const pending = this.known.takePending();
    let written: ProductState[] = [];
    await this.db.transaction(async (tx) => {
      written = await this.writeProductRows(tx, pending);
      // the card summaries of every customer the import changed, computed once here rather than on their
      // first card (under the identity lock: no merge or erasure deletes a customer meanwhile). One
      // statement: each part of a split (by customer id modulo 2, two connections side by side, as
      // import-4x-5 did) joined every line again and was planned for a hundredth of its customers
      // (nested loops over the lines' index): 1.1-1.25 s of server CPU at the end of the shared file's
      // import against 0.25-0.3 s for the whole at once (BENCHMARKS.md, import-4x-6)
      await refreshSummaries(tx);
      // (their statistics with them: the check of summaries against the lines plans by them)
      await tx.exec('ANALYZE customer_summaries');
      await tx.query(
        `INSERT INTO import_runs (files, rows, imported, duplicates, rejected, skipped, ok, started_at)
         VALUES ($1::text[], $2, $3, $4, $5, $6, $7, to_timestamp($8::float8 / 1000.0))`,
        [run.files, run.rows, run.imported, run.duplicates, run.rejected, run.skipped, run.ok, run.startedAt],
      );
    }, { lock: IDENTITY_LOCK });
    // (after the commit: a failed transaction leaves what this process knows of the rows as it was)
    this.known.remember(written);
  }

  async resolveIdentity(identifiers: Identifier[]): Promise<string> {
    if (identifiers.length === 0) throw new InvalidArgumentError('resolveIdentity needs at least one identifier');
    return this.db.transaction(async (tx) => {
      const identity = await assignIdentities(tx, [{ identifiers, time: Date.now() }], this.identityOptions(tx));
      if (identity.customer[0] !== null && identity.newIdentifiers.kind.length === 0) return identity.customer[0];
      const written = await writeBatch(tx, { identity });
      const id = identity.customer[0] ?? (identity.newCustomer[0] === null ? null : written.newCustomerIds[identity.newCustomer[0]]);
      if (id === null) throw new InvalidArgumentError('these identifiers resolve to no customer (erased, or refused by the conflict policy)');
      return id;
    }, { lock: IDENTITY_LOCK });
  }

  async setConsent(customerId: string, purpose: ConsentPurpose, granted: boolean, source: string, at = new Date()): Promise<void> {
    const id = await this.canonicalCustomerId(customerId);
    if (id === null) throw new NotFoundError(`unknown customer ${customerId}`, { customerId });
    await this.db.query(
      `INSERT INTO consent (customer_id, purpose, granted, at, source) VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000.0), $5)
       ON CONFLICT (customer_id, purpose, at, granted, source) DO NOTHING`,
      [id, purpose, granted, at.getTime(), source],
    ).catch((e: unknown) => {
      // erased (or merged away) since it was looked up: the foreign key refuses the row
      throw (e as { code?: string }).code === '23503' ? new NotFoundError(`unknown customer ${customerId}`, { customerId }) : e;
    });
  }

  async importConsent(events: ConsentEvent[], counts?: { erased: number; conflicts: number }): Promise<number> {
    if (events.length === 0) return 0;
    return this.db.transaction(async (tx) => {
      const identity = await assignIdentities(tx, events.map((e) => ({ identifiers: e.identifiers, time: e.time })), this.identityOptions(tx));
      if (counts) {
        counts.erased += identity.erased;
        counts.conflicts += identity.conflicts;
      }
      const fresh = identity.newCustomers > 0 || identity.newIdentifiers.kind.length > 0 ? await writeBatch(tx, { identity }) : null;
      const cols = { id: [] as string[], purpose: [] as string[], granted: [] as boolean[], at: [] as (number | null)[], source: [] as string[] };
      events.forEach((e, i) => {
        const k = identity.newCustomer[i];
        const id = identity.customer[i] ?? (k !== null ? fresh!.newCustomerIds[k] : null);
        if (id === null) return;
        cols.id.push(id);
        cols.purpose.push(e.purpose);
        cols.granted.push(e.granted);
        cols.at.push(e.time);
        cols.source.push(e.source);
      });
      if (cols.id.length === 0) return 0;
      // an undated choice is recorded as of -infinity: it applies where nothing else is recorded and
      // never overrides a dated one, whenever it is imported (re-importing it changes nothing)
      const r = await tx.query(
        `INSERT INTO consent (customer_id, purpose, granted, at, source)
           SELECT c, p, g, coalesce(to_timestamp(t / 1000.0), '-infinity'::timestamptz), s
             FROM unnest($1::bigint[], $2::text[], $3::boolean[], $4::float8[], $5::text[]) WITH ORDINALITY AS u(c, p, g, t, s, n)
            ORDER BY n
         ON CONFLICT (customer_id, purpose, at, granted, source) DO NOTHING`,
        [cols.id, cols.purpose, cols.granted, cols.at, cols.source],
      );
      return r.rowCount;
    }, { lock: IDENTITY_LOCK });
  }

  async setInventory(rows: { storeId: string; sku: string; quantity: number }[]): Promise<void> {
    if (rows.length === 0) return;
    const last = new Map<string, { storeId: string; sku: string; quantity: number }>();
    for (const r of rows) last.set(`${r.storeId}\u0001${r.sku}`, r);
    const u = [...last.values()];
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO stores (id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING', [u.map((r) => r.storeId)]);
      await tx.query(
        `INSERT INTO store_inventory (store_id, sku, quantity, updated_at)
           SELECT s, k, q, now() FROM unnest($1::text[], $2::text[], $3::int[]) AS u(s, k, q)
         ON CONFLICT (store_id, sku) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at`,
        [u.map((r) => r.storeId), u.map((r) => r.sku), u.map((r) => r.quantity)],
      );
    });
  }

  async saveSegments(rows: { customerId: string; segment: Segment }[]): Promise<void> {
    const ok = rows.filter((r) => CUSTOMER_ID.test(r.customerId));
    if (ok.length === 0) return;
    await this.db.query(
      `INSERT INTO customer_segments (customer_id, segment, updated_at)
         SELECT DISTINCT ON (c.id) c.id, u.seg, clock_timestamp()
           FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(id, seg, n)
           LEFT JOIN customer_aliases a ON a.merged_id = u.id
           JOIN customers c ON c.id = coalesce(a.survivor_id, u.id)
          ORDER BY c.id, u.n DESC
       ON CONFLICT (customer_id) DO UPDATE SET segment = excluded.segment, updated_at = excluded.updated_at`,
      [ok.map((r) => r.customerId), ok.map((r) => r.segment)],
    );
  }

  async totals(): Promise<StoreTotals> {
    const r = await this.db.query<StoreTotals>(
      `SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM products)::int AS products,
              (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_lines)::int AS lines,
              (SELECT count(*) FROM stores)::int AS stores`,
    );
    return r.rows[0];
  }

  checkInvariants(): Promise<StoreCheck> {
    return checkStore(this.db);
  }

  async findCustomer(identifier: Identifier): Promise<string | null> {
    const r = await this.db.query<{ id: string }>(
      'SELECT customer_id::text AS id FROM customer_identifiers WHERE kind = $1 AND value = $2',
      [identifier.kind, identifier.value],
    );
    return r.rows[0]?.id ?? null;
  }

  async canonicalCustomerId(customerId: string): Promise<string | null> {
    if (!CUSTOMER_ID.test(customerId)) return null;
    const r = await this.db.query<{ id: string }>(
      `SELECT id::text AS id FROM customers WHERE id = $1::bigint
       UNION ALL SELECT survivor_id::text FROM customer_aliases WHERE merged_id = $1::bigint LIMIT 1`,
      [customerId],
    );
    return r.rows[0]?.id ?? null;
  }

  async customerAccess(customerId: string): Promise<CustomerAccess | null> {
    if (!CUSTOMER_ID.test(customerId)) return null;
    const r = await this.db.query<{ id: string; granted: boolean | null }>(
      `SELECT c.id::text AS id,
              (SELECT granted FROM consent k WHERE k.customer_id = c.id AND k.purpose = 'personalisation'
                ORDER BY at DESC, id DESC LIMIT 1) AS granted
         FROM (SELECT id FROM customers WHERE id = $1::bigint
               UNION ALL SELECT survivor_id FROM customer_aliases WHERE merged_id = $1::bigint LIMIT 1) c`,
      [customerId],
    );
    const row = r.rows[0];
    return row ? { canonicalId: row.id, personalisation: row.granted ?? this.consentDefault('personalisation') } : null;
  }

  async customerAccessMany(customerIds: readonly string[]): Promise<Map<string, CustomerAccess>> {
    const out = new Map<string, CustomerAccess>();
    const asked = [...new Set(customerIds.filter((id) => CUSTOMER_ID.test(id)))];
    if (asked.length === 0) return out;
    // customerAccess of each, in one statement (one round trip, one snapshot)
    const r = await this.db.query<{ key: string; id: string; granted: boolean | null }>(
      `SELECT q.k::text AS key, c.id::text AS id,
              (SELECT granted FROM consent k WHERE k.customer_id = c.id AND k.purpose = 'personalisation'
                ORDER BY at DESC, id DESC LIMIT 1) AS granted
         FROM unnest($1::bigint[]) AS q(k)
         CROSS JOIN LATERAL (SELECT id FROM customers WHERE id = q.k
                             UNION ALL SELECT survivor_id FROM customer_aliases WHERE merged_id = q.k LIMIT 1) c`,
      [asked],
      // prepared: planned once per connection (planning cost more than running it for the few ids of a batch)
      { name: 'customer_access_many' },
    );
    for (const row of r.rows) out.set(row.key, { canonicalId: row.id, personalisation: row.granted ?? this.consentDefault('personalisation') });
    return out;
  }

  async customerProfile(customerId: string): Promise<CustomerProfile | null> {
    if (!CUSTOMER_ID.test(customerId)) return null;
    // one statement (one pooled connection, one round trip, one snapshot), as customerCard
    const r = await this.db.query<{
      id: string;
      identifiers: Identifier[];
      orders: { n: number; first: number | null; last: number | null };
      channels: { channel: Channel; n: number }[];
      revenue: number;
      segment: Segment | null;
      consent: { purpose: ConsentPurpose; granted: boolean; at: number; source: string }[];
    }>(
      `WITH ${CANONICAL}
       SELECT c.id::text AS id,
         (SELECT coalesce(json_agg(json_build_object('kind', kind, 'value', value) ORDER BY kind, value), '[]'::json)
            FROM customer_identifiers WHERE customer_id = c.id) AS identifiers,
         (SELECT json_build_object('n', count(*), 'first', ${EPOCH_MS('min(placed_at)')}, 'last', ${EPOCH_MS('max(placed_at)')})
            FROM orders WHERE customer_id = c.id) AS orders,
         (SELECT coalesce(json_agg(json_build_object('channel', channel, 'n', n) ORDER BY channel), '[]'::json)
            FROM (SELECT channel, count(*) AS n FROM orders WHERE customer_id = c.id GROUP BY channel) x) AS channels,
         (SELECT coalesce(sum(l.quantity * l.unit_price), 0)::float8
            FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.customer_id = c.id) AS revenue,
         (SELECT segment FROM customer_segments WHERE customer_id = c.id) AS segment,
         (SELECT coalesce(json_agg(json_build_object('purpose', purpose, 'granted', granted, 'at', ${EPOCH_MS('at')}, 'source', source)), '[]'::json)
            FROM (SELECT DISTINCT ON (purpose) purpose, granted, at, source FROM consent WHERE customer_id = c.id
                   ORDER BY purpose, at DESC, id DESC) k) AS consent
       FROM c`,
      [customerId],
    );
    const row = r.rows[0];
    if (!row) return null;
    return {
      customerId: row.id,
      identifiers: row.identifiers,
      firstOrderAt: iso(row.orders.first),
      lastOrderAt: iso(row.orders.last),
      orders: row.orders.n,
      revenue: Math.round(row.revenue * 10_000) / 10_000,
      channels: Object.fromEntries(row.channels.map((x) => [x.channel, x.n])),
      segment: row.segment,
      consent: this.consentInForce(row.consent),
    };
  }

  async customerCard(customerId: string, options: { recent?: number; categories?: number } = {}, retry = true): Promise<CustomerCardData | null> {
    if (!CUSTOMER_ID.test(customerId)) return null;
    const recent = Math.max(0, Math.min(100, Math.floor(options.recent ?? 10)));
    const categories = Math.max(0, Math.min(CARD_CATEGORIES, Math.floor(options.categories ?? 3)));
    type Row = {
      id: string;
      identifiers: Identifier[];
      segment: Segment | null;
      summary: SummaryData | null;
      store_name: string | null;
      recent: CustomerCardData['recentPurchases'];
      consent: { purpose: ConsentPurpose; granted: boolean; at: number; source: string }[];
    };
    // one statement, every part by an index: the aggregates from the customer's summary when it is
    // current (customer-summaries.ts), the last purchases walking their orders newest first
    // (orders_customer backwards, each order's lines by the primary key, stopping at `recent`)
    const r = await this.db.query<Row>(
      `WITH c AS (
         SELECT id, rev FROM customers WHERE id = $1::bigint
         UNION ALL SELECT c.id, c.rev FROM customer_aliases a JOIN customers c ON c.id = a.survivor_id WHERE a.merged_id = $1::bigint
         LIMIT 1),
       s AS (
         SELECT s.data FROM c JOIN customer_summaries s ON s.customer_id = c.id
          WHERE s.rev = c.rev AND s.catalogue = (SELECT rev FROM summary_catalogue))
       SELECT c.id::text AS id,
         (SELECT coalesce(json_agg(json_build_object('kind', kind, 'value', value) ORDER BY kind, value), '[]'::json)
            FROM customer_identifiers WHERE customer_id = c.id) AS identifiers,
         (SELECT segment FROM customer_segments WHERE customer_id = c.id) AS segment,
         (SELECT data FROM s) AS summary,
         (SELECT st.name FROM s JOIN stores st ON st.id = s.data->'store'->>'storeId') AS store_name,
         (SELECT coalesce(json_agg(json_build_object('time', ${EPOCH_MS('placed_at')}, 'channel', channel, 'storeId', store_id, 'sku', sku,
                   'title', title, 'quantity', quantity::float8, 'unitPrice', unit_price::float8)
                   ORDER BY placed_at DESC, order_id DESC, line_no), '[]'::json)
            FROM (SELECT r.*, p.title
                    FROM (SELECT o.placed_at, o.id AS order_id, o.channel, o.store_id, l.line_no, l.sku, l.quantity, l.unit_price
                            FROM orders o JOIN order_lines l ON l.order_id = o.id
                           WHERE o.customer_id = c.id AND l.quantity > 0
                           ORDER BY o.placed_at DESC, o.id DESC, l.line_no LIMIT $2) r
                    LEFT JOIN products p ON p.sku = r.sku) x) AS recent,
         (SELECT coalesce(json_agg(json_build_object('purpose', purpose, 'granted', granted, 'at', ${EPOCH_MS('at')}, 'source', source)
                   ORDER BY purpose), '[]'::json)
            FROM (SELECT DISTINCT ON (purpose) purpose, granted, at, source FROM consent WHERE customer_id = c.id
                   ORDER BY purpose, at DESC, id DESC) k) AS consent
       FROM c`,
      [customerId, recent],
      { name: 'customer_card' },
    );
    const row = r.rows[0];
    if (!row) return null;
    let summary = row.summary;
    let storeName = row.store_name;
    if (!summary) {
      // not current (changed since, or never computed): from the lines, stored for the next cards
      summary = await computeSummary(this.db, row.id);
      // merged or erased in between: once more, from the id asked for
      if (!summary) return retry ? this.customerCard(customerId, options, false) : null;
      storeName = summary.store ? ((await this.db.query<{ name: string | null }>('SELECT name FROM stores WHERE id = $1', [summary.store.storeId])).rows[0]?.name ?? null) : null;
    }
    const channels = { web: { orders: 0, spend: 0 }, app: { orders: 0, spend: 0 }, store: { orders: 0, spend: 0 } };
    for (const ch of summary.channels) channels[ch.channel] = { orders: ch.orders, spend: money(ch.spend) };
    return {
      customerId: row.id,
      identifiers: row.identifiers,
      segment: row.segment,
      firstOrderAt: summary.first,
      lastOrderAt: summary.last,
      orders: summary.orders,
      spend: money(summary.spend),
      channels,
      favouriteStore: summary.store ? { storeId: summary.store.storeId, name: storeName, orders: summary.store.orders } : null,
      favouriteCategories: summary.categories.slice(0, categories).map((c) => ({ ...c, spend: money(c.spend) })),
      recentPurchases: row.recent,
      consent: this.consentInForce(row.consent),
    };
  }

  /** Computes the card summary of every customer without a current one (customer-summaries.ts); returns how many. */
  refreshCardSummaries(): Promise<number> {
    return this.db.transaction((tx) => refreshSummaries(tx), { lock: IDENTITY_LOCK });
  }

  async productTitles(skus: readonly string[]): Promise<Map<string, string | null>> {
    if (skus.length === 0) return new Map();
    const r = await this.db.query<{ sku: string; title: string | null }>('SELECT sku, title FROM products WHERE sku = ANY($1::text[])', [[...new Set(skus)]], {
      name: 'product_titles',
    });
    return new Map(r.rows.map((p) => [p.sku, p.title]));
  }

  async searchProducts(query: string, limit: number): Promise<Product[]> {
    const q = query.trim();
    if (q === '') return [];
    // LIKE patterns: the query's own % and _ are literal
    const like = q.replace(/[\\%_]/g, (ch) => `\\${ch}`);
    const r = await this.db.query<Product>(
      `SELECT sku, title, category, price::float8 AS price, active FROM products
        WHERE sku ILIKE $1 || '%' OR title ILIKE '%' || $1 || '%'
        ORDER BY (upper(sku) = upper($2)) DESC, (sku ILIKE $1 || '%') DESC, sku LIMIT $3`,
      [like, q, Math.max(1, Math.min(100, Math.floor(limit)))],
    );
    return r.rows;
  }

  async productDetail(sku: string): Promise<ProductDetail | null> {
    const r = await this.db.query<Product & { stock: ProductDetail['stock'] }>(
      `SELECT p.sku, p.title, p.category, p.price::float8 AS price, p.active,
              (SELECT coalesce(json_agg(json_build_object('storeId', i.store_id, 'name', s.name, 'quantity', i.quantity) ORDER BY i.store_id), '[]'::json)
                 FROM store_inventory i LEFT JOIN stores s ON s.id = i.store_id WHERE i.sku = p.sku) AS stock
         FROM products p WHERE p.sku = $1`,
      [sku],
    );
    return r.rows[0] ?? null;
  }

  /** Every purpose: the latest choice recorded (rows: one per purpose at most), else the configured default (CONSENT_DEFAULTS). */
  private consentInForce(rows: readonly { purpose: ConsentPurpose; granted: boolean; at: number; source: string }[]): ConsentRecord[] {
    const recorded = new Map(rows.map((c) => [c.purpose, c]));
    return CONSENT_PURPOSES.map((purpose): ConsentRecord => {
      const c = recorded.get(purpose);
      if (!c) return { purpose, granted: this.consentDefault(purpose), basis: 'default' };
      return { purpose, granted: c.granted, basis: 'recorded', time: Number.isFinite(c.at) ? iso(c.at)! : null, source: c.source };
    });
  }

  async hasConsent(customerId: string, purpose: ConsentPurpose): Promise<boolean> {
    const id = await this.canonicalCustomerId(customerId);
    if (id === null) return false;
    const r = await this.db.query<{ granted: boolean }>(
      'SELECT granted FROM consent WHERE customer_id = $1 AND purpose = $2 ORDER BY at DESC, id DESC LIMIT 1',
      [id, purpose],
    );
    return r.rows[0]?.granted ?? this.consentDefault(purpose);
  }

  async customerSkus(customerId: string): Promise<string[]> {
    if (!CUSTOMER_ID.test(customerId)) return [];
    const r = await this.db.query<{ sku: string }>(
      `WITH ${CANONICAL}
       SELECT l.sku FROM c JOIN orders o ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id
        GROUP BY l.sku HAVING sum(l.quantity) > 0
        ORDER BY max(o.placed_at) FILTER (WHERE l.quantity > 0) DESC NULLS LAST, l.sku`,
      [customerId],
    );
    return r.rows.map((x) => x.sku);
  }

  async customerIds(customerId: string): Promise<string[]> {
    if (!CUSTOMER_ID.test(customerId)) return [];
    const r = await this.db.query<{ id: string; merged: string[] }>(
      `WITH ${CANONICAL}
       SELECT c.id::text AS id, array(SELECT merged_id::text FROM customer_aliases WHERE survivor_id = c.id) AS merged FROM c`,
      [customerId],
    );
    const row = r.rows[0];
    return row ? [row.id, ...row.merged] : [];
  }

  async customerIdentifiers(customerId: string): Promise<Identifier[]> {
    if (!CUSTOMER_ID.test(customerId)) return [];
    const r = await this.db.query<Identifier>(
      `WITH ${CANONICAL}
       SELECT ci.kind, ci.value FROM c JOIN customer_identifiers ci ON ci.customer_id = c.id ORDER BY ci.kind, ci.value`,
      [customerId],
    );
    return r.rows.map((x) => ({ kind: x.kind, value: x.value }));
  }

  async customerHistory(customerId: string): Promise<HistoryLine[]> {
    if (!CUSTOMER_ID.test(customerId)) return [];
    const r = await this.db.query<HistoryLine>(
      `WITH ${CANONICAL}
       SELECT o.customer_id::text AS "customerId", o.source_id AS "orderId", o.source, o.channel, o.store_id AS "storeId",
              ${EPOCH_MS('o.placed_at')} AS time, l.sku, l.quantity::float8 AS quantity, l.unit_price::float8 AS "unitPrice"
         FROM c JOIN orders o ON o.customer_id = c.id JOIN order_lines l ON l.order_id = o.id
        ORDER BY o.placed_at, o.id, l.line_no`,
      [customerId],
    );
    return r.rows;
  }

  async recordedOrder(orderId: string, source = 'event'): Promise<RecordedOrder | null> {
    const r = await this.db.query<{ customerId: string | null; sku: string | null; quantity: number | null; unitPrice: number | null }>(
      `SELECT o.customer_id::text AS "customerId", l.sku, l.quantity::float8 AS quantity, l.unit_price::float8 AS "unitPrice"
         FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
        WHERE o.source = $2 AND o.source_id = $1 ORDER BY l.line_no`,
      [orderId, source],
    );
    if (r.rows.length === 0) return null;
    const lines = r.rows.filter((x) => x.sku !== null).map((x) => ({ sku: x.sku!, quantity: x.quantity!, unitPrice: x.unitPrice! }));
    return { customerId: r.rows[0].customerId, lines };
  }

  /** The customer's id and every id merged into it. */
  private async idsOf(tx: SqlExecutor, id: string): Promise<string[]> {
    const r = await tx.query<{ id: string }>('SELECT merged_id::text AS id FROM customer_aliases WHERE survivor_id = $1', [id]);
    return [id, ...r.rows.map((x) => x.id)];
  }

  async mergeLog(customerId: string): Promise<MergeLogEntry[]> {
    const id = await this.canonicalCustomerId(customerId);
    if (id === null) return [];
    const ids = await this.idsOf(this.db, id);
    const r = await this.db.query<{ survivor: string; merged: string; kind: Identifier['kind']; value: string; at: number }>(
      `SELECT survivor_id::text AS survivor, merged_id::text AS merged, reason_kind AS kind, reason_value AS value,
              ${EPOCH_MS('at')} AS at
         FROM merge_log WHERE survivor_id = ANY($1::bigint[]) OR merged_id = ANY($1::bigint[]) ORDER BY at, id`,
      [ids],
    );
    return r.rows.map((m) => ({ survivor: m.survivor, merged: m.merged, reason: { kind: m.kind, value: m.value }, at: iso(m.at)! }));
  }

  async inventory(): Promise<Map<string, Set<string>>> {
    const r = await this.db.query<{ store_id: string; sku: string }>(
      'SELECT store_id, sku FROM store_inventory WHERE quantity > 0 ORDER BY store_id, sku',
    );
    const out = new Map<string, Set<string>>();
    for (const { store_id, sku } of r.rows) {
      let s = out.get(store_id);
      if (!s) out.set(store_id, (s = new Set()));
      s.add(sku);
    }
    return out;
  }

  async products(): Promise<Product[]> {
    const r = await this.db.query<Product>(
      'SELECT sku, title, category, price::float8 AS price, active FROM products ORDER BY sku',
    );
    return r.rows;
  }

  async *historyLines(options: { from?: Date; to?: Date; batchSize?: number } = {}): AsyncIterable<HistoryLine[]> {
    const size = Math.max(1, Math.floor(options.batchSize ?? 10_000));
    const from = options.from?.getTime() ?? null;
    const to = options.to?.getTime() ?? null;
    // keyset pagination over orders by (placed_at, id) on orders_time, each page's lines through the
    // lines' primary key: every page costs its own size, memory stays about two batches
    let cursor: [number, string] | null = null;
    let pageOrders = Math.max(1, Math.ceil(size / 16));
    let buffer: HistoryLine[] = [];
    for (;;) {
      const r: { rows: (Omit<HistoryLine, 'sku'> & { sku: string | null; oid: string })[] } = await this.db.query(
        `WITH o AS (
           SELECT id, customer_id, source, source_id, channel, store_id, placed_at FROM orders
            WHERE ($1::float8 IS NULL OR placed_at >= to_timestamp($1::float8 / 1000.0))
              AND ($2::float8 IS NULL OR placed_at < to_timestamp($2::float8 / 1000.0))
              AND ($3::float8 IS NULL OR (placed_at, id) > (to_timestamp($3::float8 / 1000.0), $4::bigint))
            ORDER BY placed_at, id
            LIMIT $5)
         SELECT o.customer_id::text AS "customerId", o.source_id AS "orderId", o.source, o.channel, o.store_id AS "storeId",
                ${EPOCH_MS('o.placed_at')} AS time, l.sku, l.quantity::float8 AS quantity, l.unit_price::float8 AS "unitPrice", o.id::text AS oid
           FROM o LEFT JOIN order_lines l ON l.order_id = o.id
          ORDER BY o.placed_at, o.id, l.line_no`,
        [from, to, cursor?.[0] ?? null, cursor?.[1] ?? null, pageOrders],
      );
      let orders = 0;
      let prevOid = '';
      for (const { oid, ...h } of r.rows) {
        if (oid !== prevOid) {
          orders++;
          prevOid = oid;
        }
        if (h.sku !== null) buffer.push(h as HistoryLine);
      }
      if (r.rows.length > 0) {
        const last = r.rows[r.rows.length - 1];
        cursor = [last.time, last.oid];
      }
      let start = 0;
      while (buffer.length - start >= size) {
        yield buffer.slice(start, start + size);
        start += size;
      }
      buffer = start > 0 ? buffer.slice(start) : buffer;
      if (orders < pageOrders) break;
      // aim the next page at about one batch of lines
      const perOrder = Math.max(1, r.rows.length / Math.max(1, orders));
      pageOrders = Math.max(1, Math.min(100_000, Math.ceil(size / perOrder)));
    }
    if (buffer.length > 0) yield buffer;
  }

  async eraseCustomer(customerId: string): Promise<boolean> {
    if (!CUSTOMER_ID.test(customerId)) return false;
    return this.db.transaction(async (tx) => {
      // writes keyed by a customer made off the identity lock (the decision log, offer events) hold ERASURE_LOCK
      // shared: those in progress commit first (their rows are deleted below), later ones find the customer gone
      // (waited for at most ERASURE_LOCK_WAIT: while an erasure waits, new shared requests queue behind it; past it the
      // erasure fails with 55P03, a 503 to retry, rather than stall every instance's log and event writes)
      if (this.db.capabilities.concurrentWriters) {
        await tx.exec(`SET LOCAL lock_timeout = '${ERASURE_LOCK_WAIT_MS}ms'; SELECT pg_advisory_xact_lock(${ERASURE_LOCK}); SET LOCAL lock_timeout = DEFAULT`);
      }
      const c = await tx.query<{ id: string }>(
        `SELECT id::text AS id FROM customers WHERE id = $1::bigint
         UNION ALL SELECT survivor_id::text FROM customer_aliases WHERE merged_id = $1::bigint LIMIT 1`,
        [customerId],
      );
      const id = c.rows[0]?.id;
      if (id === undefined) return false;
      const ids = await this.idsOf(tx, id);
      // the erasure list first (same transaction): files and events met later do not bring them back
      const held = await tx.query<Identifier>('SELECT kind, value FROM customer_identifiers WHERE customer_id = $1', [id]);
      await listErased(tx, this.hasher, held.rows, ids);
      await tx.query('DELETE FROM customer_identifiers WHERE customer_id = $1', [id]);
      await tx.query('DELETE FROM consent WHERE customer_id = $1', [id]);
      await tx.query('DELETE FROM customer_segments WHERE customer_id = $1', [id]);
      await tx.query('DELETE FROM customer_summaries WHERE customer_id = $1', [id]);
      await tx.query('DELETE FROM merge_log WHERE survivor_id = ANY($1::bigint[]) OR merged_id = ANY($1::bigint[])', [ids]);
      await tx.query('DELETE FROM customer_aliases WHERE survivor_id = $1', [id]);
      await tx.query('UPDATE orders SET customer_id = NULL WHERE customer_id = $1', [id]);
      // offers: their contact counters, responses and decisions go (a decision's context and per-offer lifts come
      // from the person's history)
      await tx.query('DELETE FROM offer_contacts WHERE customer_id = ANY($1::bigint[])', [ids]);
      await tx.query('DELETE FROM offer_events WHERE customer_id = ANY($1::bigint[])', [ids]);
      await tx.query('DELETE FROM offer_decision_log WHERE customer_id = ANY($1::bigint[])', [ids]);
      await tx.query('DELETE FROM customers WHERE id = $1', [id]);
      // (listErased's insert moved erasure_epoch on (a trigger, migration 013): writers that remember customers found
      // present look them up again, src/store/erasure-list.ts)
      return true;
    }, { lock: IDENTITY_LOCK, durable: true });
  }

  async erasedCustomerIds(customerIds: readonly string[]): Promise<Set<string>> {
    return erasedCustomerIds(this.db, this.hasher, customerIds.filter((c) => CUSTOMER_ID.test(c)));
  }

  // ---- offers (next best offer): src/store/sql-offers.ts ----
  /**
   * The offers' SQL module, loaded on first use: it and the offer logic it imports (src/core/offers/) are a third
   * of the store's modules to load, which a command that never touches offers (npm run import of orders) would
   * load and evaluate before it could start (~10 ms of CPU).
   */
  private offerSqlModule: Promise<typeof import('./sql-offers.js')> | undefined;
  private offerSql(): Promise<typeof import('./sql-offers.js')> {
    return (this.offerSqlModule ??= import('./sql-offers.js'));
  }
  async offers(): Promise<Offer[]> {
    return (await this.offerSql()).listOffers(this.db);
  }
  async offer(id: string): Promise<Offer | null> {
    return (await this.offerSql()).getOffer(this.db, id);
  }
  async putOffers(offers: readonly Offer[]) {
    return (await this.offerSql()).putOffers(this.db, offers);
  }
  async deleteOffer(id: string): Promise<boolean> {
    return (await this.offerSql()).deleteOffer(this.db, id);
  }
  async logDecisions(entries: readonly (DecisionToLog | PreparedDecision)[]): Promise<LoggedDecisions> {
    return (await this.offerSql()).logDecisions(this.db, entries);
  }
  async decisionLog(options?: { from?: Date; to?: Date; customerId?: string; limit?: number }) {
    return (await this.offerSql()).decisionLog(this.db, options);
  }
  async recordOfferEvents(events: readonly OfferEventInput[]) {
    return (await this.offerSql()).recordOfferEvents(this.db, events);
  }
  async offerCounts() {
    return (await this.offerSql()).offerCounts(this.db);
  }
  async offerResponseStats() {
    return (await this.offerSql()).offerResponseStats(this.db);
  }
  async offerSubjectFacts(customerId: string) {
    return (await this.offerSubjectFactsMany([customerId])).get(customerId) ?? null;
  }
  async offerSubjectFactsMany(customerIds: readonly string[]) {
    const many = await (await this.offerSql()).offerSubjectFactsMany(this.db, customerIds);
    // consent in force: a purpose with no record of it takes its default (CONSENT_DEFAULTS)
    for (const facts of many.values()) for (const purpose of CONSENT_PURPOSES) facts.consent[purpose] ??= this.consentDefault(purpose);
    return many;
  }
}
