/**
 * The history store: the unified purchase histories in PostgreSQL (or the embedded
 * PGlite default). One interface with one implementation in SQL (sql-store.ts) over a narrow
 * SqlClient (sql-client.ts) with one tiny adapter per backend (pg-client.ts, pglite-client.ts);
 * open it with openStore (open-store.ts). The storage contract suite
 * (test/store.contract.test.ts) runs against every backend available.
 * Customer ids are decimal strings; ids merged away keep resolving to their survivor.
 */
import type {
  Channel,
  ConsentPurpose,
  HistoryLine,
  Identifier,
  OrderLine,
  Product,
  Segment,
} from '../core/records.js';
import type { ContactState, Decision, Offer, OfferChannel, StatsSegment } from '../core/offers/types.js';
import type { ConsideredTrace } from '../core/offers/screen.js';
import type { StoreCheck } from './check-store.js';
import type { ImportPlan } from './import-plan.js';

export interface ImportBatchResult {
  /** Lines newly written. */
  imported: number;
  /** Lines already present (same source order id, line number), skipped for idempotence. */
  duplicates: number;
  /** Customer merges caused by this batch. */
  merges: number;
  /** Identity links refused by the conflict policy (a second account or loyalty id, or past the identifier cap); absent: none. */
  conflicts?: number;
  /** Records skipped because an identifier they carry was erased after their time (their lines are kept as a guest's); absent: none. */
  erased?: number;
}

/** What one import run did, as recorded in import_runs (Store.finishImport). */
export interface ImportRun {
  files: string[];
  rows: number;
  imported: number;
  duplicates: number;
  rejected: number;
  skipped: number;
  /** False when --strict and rows were rejected. */
  ok: boolean;
  /** Epoch ms. */
  startedAt: number;
}

export interface StoreTotals {
  customers: number;
  products: number;
  orders: number;
  lines: number;
  stores: number;
}

/**
 * The consent in force for one purpose: the latest choice recorded ("recorded"; time null when it came
 * without one), or, with none recorded, the configured default of the purpose ("default": CONSENT_DEFAULTS).
 */
export interface ConsentRecord {
  purpose: ConsentPurpose;
  granted: boolean;
  basis: 'recorded' | 'default';
  time?: string | null;
  source?: string;
}

export interface CustomerProfile {
  customerId: string;
  identifiers: Identifier[];
  firstOrderAt: string | null;
  lastOrderAt: string | null;
  orders: number;
  revenue: number;
  channels: Partial<Record<Channel, number>>;
  segment: Segment | null;
  consent: ConsentRecord[];
}

/** Orders and net spend in one channel (CustomerCardData). */
export interface ChannelActivity {
  orders: number;
  spend: number;
}

/** One bought line of a customer's history, with the product's title (CustomerCardData.recentPurchases). */
export interface PurchaseLine {
  /** Epoch ms. */
  time: number;
  channel: Channel;
  storeId: string | null;
  sku: string;
  title: string | null;
  quantity: number;
  unitPrice: number;
}

/**
 * What the clienteling card (GET /v1/customers/{id}/profile) needs from the history store, read in
 * one statement (Store.customerCard). Orders are those with at least one bought line (an order of
 * returns only does not count); spend is net of returns.
 */
export interface CustomerCardData {
  /** The surviving id (merges followed). */
  customerId: string;
  identifiers: Identifier[];
  segment: Segment | null;
  /** Epoch ms of the first and last order with a bought line, null without any. */
  firstOrderAt: number | null;
  lastOrderAt: number | null;
  orders: number;
  spend: number;
  channels: Record<Channel, ChannelActivity>;
  /** The store of most of their store orders (latest order breaks ties), null without store orders. */
  favouriteStore: { storeId: string; name: string | null; orders: number } | null;
  /** Categories by orders that contained them, then spend (at most `categories`). */
  favouriteCategories: { category: string; orders: number; spend: number }[];
  /** The last `recent` bought lines across channels, newest first. */
  recentPurchases: PurchaseLine[];
  /** The choice in force per purpose (purposes never recorded are absent). */
  consent: ConsentRecord[];
}

/** A product with its stock per store (Store.productDetail). */
export interface ProductDetail extends Product {
  /** Every store with a stock record for the sku, by store id (quantity 0 included). */
  stock: { storeId: string; name: string | null; quantity: number }[];
}

/** One consent event as files carry it: the person by identifiers (see Store.importConsent). */
export interface ConsentEvent {
  identifiers: Identifier[];
  purpose: ConsentPurpose;
  granted: boolean;
  /** Epoch ms; null → now. */
  time: number | null;
  source: string;
}

/** A customer id as serving sees it (Store.customerAccess). */
export interface CustomerAccess {
  canonicalId: string;
  personalisation: boolean;
}

export interface MergeLogEntry {
  survivor: string;
  merged: string;
  reason: Identifier;
  at: string;
}

/** An order as recorded: its customer (null: a guest's, or an erased customer's) and its lines in position order. */
export interface RecordedOrder {
  customerId: string | null;
  lines: { sku: string; quantity: number; unitPrice: number }[];
}

export interface Store extends OfferStore {
  readonly backend: 'postgres' | 'pglite';
  /**
   * Applies pending migrations; returns the names applied. Idempotent. `durable: false`: the commit does not
   * wait for the disk, for a caller that ends with a synchronous commit of its own (src/store/migrate.ts).
   */
  migrate(options?: { durable?: boolean }): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Writes a batch of order lines: resolves identities (merging customers), upserts products
   * and stores, inserts orders and lines; lines already present are skipped. Durable: committed
   * synchronously (synchronous_commit = on) before it resolves, so a purchase event's 200 survives a crash.
   * Calls made while one is being written are written together next (one transaction, each told its
   * own counts); a call whose `signal` is aborted before its turn is dropped (rejected with the reason). */
  importLines(lines: OrderLine[], options?: { signal?: AbortSignal }): Promise<ImportBatchResult>;
  /**
   * importLines for lines already planned and encoded under reserved order ids
   * (src/store/import-plan.ts PlanBuilder, e.g. in a reader thread), in one transaction: a batch's
   * orders are never committed without their lines.
   * With deferProductUpdates, changes to products this store has already written are kept in
   * memory until flushProductUpdates (bulk imports call it at the end of each file but the last, whose
   * updates finishImport writes, and on failure).
   * With `after` (the previous batch's importPlan), the batch is resolved and committed only once that
   * one has been, and not at all when it failed; meanwhile PostgreSQL already copies this batch's
   * lines, in this batch's transaction (on another connection, beside the previous batch's writes)
   * when every order of the plan has an id reserved for this batch alone (ImportPlan.freshIds).
   */
  importPlan(plan: ImportPlan, options?: { deferProductUpdates?: boolean; durable?: boolean; after?: Promise<unknown> }): Promise<ImportBatchResult>;
  /** Reserves n order ids (from the orders id sequence) for planning (OrderIdAllocator). */
  reserveOrderIds(n: number): Promise<number[]>;
  /** Writes the product updates importPlan deferred; returns the rows changed. */
  flushProductUpdates(): Promise<number>;
  /**
   * Refreshes the planner statistics of the tables imports write (ANALYZE: plans chosen on an empty
   * table's statistics are far off after a bulk load). Bulk imports start it as their last batch is
   * written (on PostgreSQL it then runs on another connection, beside that batch).
   */
  analyzeImport(): Promise<void>;
  /**
   * Ends a bulk import: writes the product updates still deferred (flushProductUpdates), refreshes the
   * card summaries and records the run (import_runs) with a synchronous commit, so that once it resolves
   * every batch the import committed, and those updates, are durable.
   */
  finishImport(run: ImportRun): Promise<void>;
  /** The unified customer id for these identifiers, creating or merging customers as needed. */
  resolveIdentity(identifiers: Identifier[]): Promise<string>;
  setConsent(customerId: string, purpose: ConsentPurpose, granted: boolean, source: string, at?: Date): Promise<void>;
  setInventory(rows: { storeId: string; sku: string; quantity: number }[]): Promise<void>;
  saveSegments(rows: { customerId: string; segment: Segment }[]): Promise<void>;
  /**
   * Records many consent events in one transaction, resolving each person by identifiers (creating
   * or merging customers like importLines); events without identifiers are skipped. Returns the
   * number recorded. Same effect as resolveIdentity + setConsent per event, set-based. Idempotent: an event
   * identical to one recorded (same customer, purpose, granted, time, source) is skipped, not counted; so is an
   * undated event (time null) that repeats the choice in force (same granted and source).
   * `counts`, when given, is incremented by the events skipped as erased and the identity conflicts.
   */
  importConsent(events: ConsentEvent[], counts?: { erased: number; conflicts: number }): Promise<number>;

  totals(): Promise<StoreTotals>;
  /** Checks the store's invariants (src/store/check-store.ts: no order without lines, no duplicate keys, …). */
  checkInvariants(): Promise<StoreCheck>;
  /** Unified id for one identifier (merged-away ids resolve to their survivor), or null. */
  findCustomer(identifier: Identifier): Promise<string | null>;
  /** Follows merges: the surviving id of a customer id, or null if unknown or erased. */
  canonicalCustomerId(customerId: string): Promise<string | null>;
  /**
   * What serving needs to know about a customer id, in one round trip: the surviving id (merges
   * followed) and whether personalisation consent is in force; null if unknown or erased.
   * Same answer as canonicalCustomerId + hasConsent(…, 'personalisation').
   */
  customerAccess(customerId: string): Promise<CustomerAccess | null>;
  /** customerAccess of many ids in one statement, by the id asked for (unknown ones left out). */
  customerAccessMany(customerIds: readonly string[]): Promise<Map<string, CustomerAccess>>;
  customerProfile(customerId: string): Promise<CustomerProfile | null>;
  /**
   * Everything the clienteling card reads from the store, in one statement: identifiers, segment,
   * orders and spend per channel, favourite store and categories, the last `recent` (default 10)
   * bought lines with titles, consent in force. Merged-away ids resolve; null if unknown or erased.
   */
  customerCard(customerId: string, options?: { recent?: number; categories?: number }): Promise<CustomerCardData | null>;
  /** Titles of these skus (skus without a product row are absent). */
  productTitles(skus: readonly string[]): Promise<Map<string, string | null>>;
  /**
   * Products whose sku starts with `query` or whose title contains it (case-insensitive), an exact
   * sku first, then by sku; at most `limit`.
   */
  searchProducts(query: string, limit: number): Promise<Product[]>;
  /** One product with its stock per store, or null when the sku is not in the catalogue. */
  productDetail(sku: string): Promise<ProductDetail | null>;
  hasConsent(customerId: string, purpose: ConsentPurpose): Promise<boolean>;
  /** Skus the customer holds net of returns, most recently bought first. */
  customerSkus(customerId: string): Promise<string[]>;
  /**
   * The order recorded under this order id of `source` (default 'event': a purchase event's orderId;
   * orders are keyed by source and order id), or null.
   */
  recordedOrder(orderId: string, source?: string): Promise<RecordedOrder | null>;
  /** The surviving id of a customer id first, then every id merged into it; [] if unknown or erased. */
  customerIds(customerId: string): Promise<string[]>;
  /** The customer's identifiers (merges followed), by kind then value; [] if unknown or erased. */
  customerIdentifiers(customerId: string): Promise<Identifier[]>;
  /** Every line of the customer's orders (merges followed, returns included), in time order. */
  customerHistory(customerId: string): Promise<HistoryLine[]>;
  mergeLog(customerId: string): Promise<MergeLogEntry[]>;
  /** Store id → skus with quantity > 0. */
  inventory(): Promise<Map<string, Set<string>>>;
  products(): Promise<Product[]>;
  /** The unified history in time order, in batches (constant memory). */
  historyLines(options?: { from?: Date; to?: Date; batchSize?: number }): AsyncIterable<HistoryLine[]>;
  /**
   * Erases a customer everywhere in the store (identifiers, orders re-attributed to guests, consent,
   * segment, aliases, merge log) and lists their identifiers and ids (merged ones too) on the erasure
   * list, as keyed hashes, in the same durable transaction.
   */
  eraseCustomer(customerId: string): Promise<boolean>;
  /** Those of these customer ids that are on the erasure list. */
  erasedCustomerIds(customerIds: readonly string[]): Promise<Set<string>>;
}

/** One decision as the log keeps it (Store.logDecisions): what off-policy evaluation reads. */
export interface DecisionLogEntry {
  decisionId: string;
  /** Epoch ms. */
  time: number;
  /** The unified customer id; null for a guest (or an unknown customer). */
  customerId: string | null;
  /** channel, store, limit, segment, personalised, fallbackReason, … */
  context: Record<string, unknown>;
  /** Every offer considered and what became of it. */
  considered: Decision['considered'];
  /**
   * The offers shown, best first, each with the probability the policy chose it with at its position (as logged, or
   * computed on reading from the logged choice inputs; NaN when those cannot be read).
   */
  shown: { offerId: string; position: number; probability: number; score: number; propensity: number }[];
  policy: { name: string; version: string };
  holdout: boolean;
}

/**
 * A decision to log already encoded as its row (`prepareDecision`, src/store/sql-offers.ts): what the decision log
 * writer queues, so that a decision's objects die young and a write costs one join.
 */
export interface PreparedDecision {
  readonly prepared: true;
  readonly decisionId: string;
  /** Its customer (null: a guest): a batch keeps only the rows of customers still present (erasure). */
  readonly customerId: string | null;
  /**
   * Its row of the log as one line of COPY (text format, UTF-8): id, time, customer, and everything else as one JSON
   * text (`doc`). Bytes, not a string: held off the JavaScript heap while queued (the young generation's collections
   * do not copy it, nor promote it), and written as they are.
   */
  readonly line: Uint8Array;
  /** The offer set its `considered` names (stored once per set), or null. */
  readonly set: { key: string; ids: readonly string[]; conflicts: readonly (readonly number[])[] | null; vw: Float64Array | null } | null;
}

/**
 * A decision to log: `considered` as `decide` traced it (ConsideredTrace, see src/core/offers/screen.ts: stored
 * compactly) or written out. The log reads it back written out (DecisionLogEntry). A shown offer's probability may
 * be left out when the trace carries what it is computed from (`ConsideredTrace.choice`, src/core/offers/choice.ts):
 * the log stores that, and computes the probability when it is read.
 */
export interface DecisionToLog extends Omit<DecisionLogEntry, 'considered' | 'shown'> {
  considered: DecisionLogEntry['considered'] | ConsideredTrace;
  shown: (Omit<DecisionLogEntry['shown'][number], 'probability'> & { probability?: number })[];
}

/** One response to an offer as recorded (Store.recordOfferEvents). */
export interface OfferEventInput {
  eventId: string;
  decisionId: string | null;
  offerId: string;
  /** The unified customer id at the time of the event. */
  customerId: string;
  channel: OfferChannel;
  type: 'impression' | 'accepted' | 'declined' | 'ignored';
  /** Epoch ms. */
  time: number;
  /** The response-stats cell it counts in (StatsSegment): the customer's segment, 'unsegmented' or 'guest'. */
  segment: StatsSegment;
  /** The event as posted (canonical JSON): an id posted again with other content is a conflict. */
  content: string;
  /**
   * What an impression adds to its cell's and offer's `exposure`: the customer's affinity lift for the offer
   * (src/core/offers/propensity.ts, impressionExposure); default 1. Not part of `content` (the service computes it).
   */
  exposure?: number;
}

/**
 * recorded: new; duplicate: the same event was recorded before (nothing changes); conflict: the id was used for another
 * event; erased: its customer is erased (or unknown): nothing of it is stored.
 */
export type OfferEventOutcome = 'recorded' | 'duplicate' | 'conflict' | 'erased';

/** What a write of the decision log did: decisions written, and those left out because their customer is erased. */
export interface LoggedDecisions {
  written: number;
  erased: number;
}

export interface OfferCounts {
  impressions: number;
  /** Σ over the impressions of their exposure (affinity lift; migration 011): the trials the learning counts. */
  exposure: number;
  accepted: number;
  declined: number;
  ignored: number;
}

/** Response counts of one offer × segment × channel (the Beta posteriors' data). */
export interface OfferResponseCell extends OfferCounts {
  offerId: string;
  segment: StatsSegment;
  channel: OfferChannel;
}

/** What a next-best-offer decision reads about a customer from the store (Store.offerSubjectFacts). */
export interface OfferSubjectFacts {
  /** The surviving id. */
  customerId: string;
  /** Consent in force per purpose: the latest choice recorded, else the purpose's default (CONSENT_DEFAULTS). */
  consent: Partial<Record<ConsentPurpose, boolean>>;
  orders: number;
  spend: number;
  /** Epoch ms of the last order, or null. */
  lastOrderAt: number | null;
  /** The segment training stored, or null. */
  segment: Segment | null;
  /** Contact counters per offer id, over the customer and every id merged into them. */
  contacts: Map<string, ContactState>;
}

/**
 * The offer half of the store (next best offer, migration 007_offers.sql); part of Store.
 * Offers are normalised documents (src/core/offer-schema.ts).
 */
export interface OfferStore {
  /** Every offer, by id. */
  offers(): Promise<Offer[]>;
  offer(id: string): Promise<Offer | null>;
  /** Creates or replaces offers by id (the last of several with one id wins). */
  putOffers(offers: readonly Offer[]): Promise<{ created: number; updated: number }>;
  deleteOffer(id: string): Promise<boolean>;
  /**
   * Appends decisions to the log (idempotent by decision id). A decision of a customer no longer present (erased
   * before this write, or while it waited for an erasure to commit) is not written: counted in `erased`.
   */
  logDecisions(entries: readonly (DecisionToLog | PreparedDecision)[]): Promise<LoggedDecisions>;
  /** The decision log in time order. */
  decisionLog(options?: { from?: Date; to?: Date; customerId?: string; limit?: number }): Promise<DecisionLogEntry[]>;
  /**
   * Records offer events in one transaction, committed synchronously (durable when this resolves), and
   * applies the new ones to the contact counters, the counts per offer and the response counts, in the
   * same transaction. One outcome per event, in order: 'erased' for an event of a customer no longer present (an
   * erasure committed before it; one in progress is waited for), which leaves nothing stored.
   */
  recordOfferEvents(events: readonly OfferEventInput[]): Promise<OfferEventOutcome[]>;
  /** Counts per offer id. */
  offerCounts(): Promise<Map<string, OfferCounts>>;
  /** Response counts per offer × segment × channel. */
  offerResponseStats(): Promise<OfferResponseCell[]>;
  /** What a decision needs about a customer (merges followed); null if unknown or erased. */
  offerSubjectFacts(customerId: string): Promise<OfferSubjectFacts | null>;
  /** offerSubjectFacts of many ids in one statement, by the id asked for (unknown or erased ones left out). */
  offerSubjectFactsMany(customerIds: readonly string[]): Promise<Map<string, OfferSubjectFacts>>;
}
