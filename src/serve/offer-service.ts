/**
 * Next best offer, the service side: builds what the pure decision core (`decide`, src/core/offers/)
 * needs from what the service already has, calls it, logs the decision and answers; records offer
 * responses and keeps every instance's in-memory counters in step.
 *
 * Per request nothing is read from PostgreSQL: offers, counts per offer and response counts per
 * offer × segment × channel live in memory (loaded at start, re-read every `reloadMs`, kept current by
 * announces on P:offer-changes); a customer's facts (consent per purpose, orders, spend, last order,
 * contact counters) are read once (one query) and kept for `subjectTtlMs`, refreshed in the background,
 * dropped when the customer's access answer changes (a purchase, a consent change, an erasure: see
 * CustomerAccessCache) and when a response of theirs is recorded, here or announced (their next decision
 * reads the counters the response was committed to). Decisions are
 * logged in batches (DecisionLogWriter); responses are written in batches too, each batch one
 * transaction committed synchronously before any of its requests is answered (group commit).
 *
 * The subject of a decision:
 *  - customer with personalisation consent: segment (served model's record, else the stored one),
 *    orders, spend, days since the last order, consent per purpose, and affinity to each offer's targets
 *    (src/serve/offer-affinity.ts: their vector against the targets' factors, their purchases in the targets);
 *  - customer without it: the same facts but no segment and no affinity (non-personalised offers only);
 *  - guest session: affinity from the session's items (fold-in, as the session recommendations do);
 *  - unknown customer (or the store unreachable): a guest without items, `fallback: true`.
 */
import { randomUUID } from 'node:crypto';
import type { CacheKeys } from '../cache/keys.js';
import type { LoadedModel, ModelSource } from '../cache/model-source.js';
import { type AnnouncedOfferEvent, announceOfferChange, decodeOfferChange } from '../cache/offer-changes.js';
import type { VectorCache } from '../cache/vector-cache.js';
import type { CustomerRecord } from '../core/bundle.js';
import { NotFoundError, UnavailableError } from '../core/errors.js';
import { foldInFactored } from '../core/fold-in.js';
import type {
  ContactState,
  Decide,
  Decision,
  DecisionContext,
  DecisionMemo,
  DecisionSubject,
  Offer,
  OfferChannel,
  OfferKind,
  ResponseStats,
  ScoredOffer,
} from '../core/offers/types.js';
import { keptReason, keptReasonHead, traceOf } from '../core/offers/decide.js';
import { impressionExposure, stableAffinity, statsSegment } from '../core/offers/propensity.js';
import { prepareOffers } from '../core/offers/screen.js';
import { CellMap } from '../core/offers/response-counts.js';
import { OFFER_CHANNELS, type StatsSegment } from '../core/offers/types.js';
import { prepareDecision } from '../store/sql-offers.js';
import type { OfferCounts, OfferEventInput, OfferEventOutcome, OfferResponseCell, OfferSubjectFacts, Store } from '../store/store.js';
import type { CustomerAccess, CustomerAccessCache } from './customer-access.js';
import { BatchedReads } from './batched-reads.js';
import { DecisionLogWriter } from './decision-log-writer.js';
import type { InventorySnapshot } from './inventory-snapshot.js';
import { normalised, TargetIndex } from './offer-affinity.js';
import { preparedOf } from './prepared-model.js';

const DAY = 86_400_000;
/** The affinity of a subject decided for without it (one function: decide's memo compares affinity functions). */
const NO_AFFINITY: DecisionSubject['affinity'] = () => null;
/** The stock of a store without a snapshot (one set, never changed: what is derived from a stock set is kept per set). */
const NO_STOCK: ReadonlySet<string> = new Set<string>();

export interface NboOptions {
  channel: OfferChannel;
  store?: string;
  /** Offers to answer (default 1). */
  limit?: number;
}

export type NboFallbackReason = 'unknown_customer' | 'store_unavailable' | 'no_consent' | 'no_model';

/** An answered offer: the scored offer's contract fields (score and propensity rounded). */
export type NboOffer = Pick<ScoredOffer, 'offerId' | 'title' | 'kind' | 'score' | 'propensity' | 'value' | 'reason'>;

/** The answer of both next-best-offer endpoints (the contract). */
export interface NboAnswer {
  offers: NboOffer[];
  decisionId: string;
  customerId?: string;
  policy: { name: string; version: string };
  fallback: boolean;
  fallbackReason?: NboFallbackReason;
}

export interface OfferEventBody {
  eventId: string;
  decisionId?: string;
  offerId: string;
  customerId: string;
  channel: OfferChannel;
  type: OfferEventInput['type'];
  /** ISO 8601 as posted (default: now). */
  time?: string;
}

export interface OfferEventAnswer {
  eventId: string;
  /** The unified id the response was recorded for. */
  customerId: string;
  /** false when this event id was recorded before with the same content (nothing changed). */
  recorded: boolean;
  duplicate: boolean;
}

export interface OfferServiceDeps {
  /** The store as request paths use it (behind the circuit breaker of create-app.ts). */
  store: Store;
  /** The store for background work (the decision log, periodic reloads): default `store`. */
  backgroundStore?: Store;
  source: ModelSource;
  access: CustomerAccessCache;
  inventory: InventorySnapshot;
  /** The decision core (src/core/offers/decide.ts); null: decisions answer 503 (not configured). */
  decide: Decide | null;
  /** The cache whose P:offer-changes channel links the instances; null: this instance alone. */
  bus?: { cache: VectorCache; keys: CacheKeys } | null;
  channelConsent: DecisionContext['channelConsent'];
  holdoutShare: number;
  policy?: { name: string; version: string };
  /** Offers and counts are re-read from the store this often (ms; default 30 s; 0: never). */
  reloadMs?: number;
  /** A customer's facts are re-read after this long (ms; default 30 s). */
  subjectTtlMs?: number;
  /** Customers whose facts are kept (default 50,000). */
  maxSubjects?: number;
  /** Customers whose affinity to the offers is kept between decisions (default 2,048). */
  affinityCacheSize?: number;
  /**
   * Customer × channel × store contexts whose decision memo is kept (DecisionContext.memo: what decide derives before
   * anything random, reused while the customer's facts, the offers, the counts, the model and the stock stay; default
   * 4,096, about 10 KB each with 200 offers; 0: none).
   */
  decisionMemos?: number;
  decisionLog?: { intervalMs?: number; batchSize?: number };
  now?: () => number;
  random?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string, context?: Record<string, unknown>) => void;
  onStoreError?: (err: unknown) => void;
  /** Writes left out because their customer was erased meanwhile: decisions (the log's batches) or response events. */
  onErasedDropped?: (kind: 'decision' | 'event', count: number) => void;
}

interface SubjectEntry {
  access: CustomerAccess;
  facts: OfferSubjectFacts;
  loadedAt: number;
  refreshing: boolean;
  /** A response of theirs was recorded since: the contact counters are re-read before the next decision. */
  stale: boolean;
}

/** What an instance holds about responses: counts per offer and per offer × segment × channel. */
class ResponseCounts implements ResponseStats {
  constructor(
    readonly perOffer: Map<string, OfferCounts> = new Map(),
    readonly cells: CellMap<OfferCounts> = new CellMap(),
  ) {}

  /** Bumped by every response applied (ResponseStats.version: decide re-checks what it derived from the counts). */
  version = 0;

  /** The trials of `cells` per offer × segment, by channel index (segmentRow). */
  private readonly rows = new Map<string, Map<string, { accepted: Float64Array; shown: Float64Array }>>();

  /** Cells held (each offer × segment × channel once). */
  private nCells = 0;
  private readonly newCell = (): OfferCounts => {
    this.nCells++;
    return zeroCounts();
  };

  static of(counts: Map<string, OfferCounts>, cells: OfferResponseCell[]): ResponseCounts {
    const r = new ResponseCounts(counts);
    for (const c of cells) {
      const n = Object.assign(r.cells.upsert(c.offerId, c.segment, c.channel, r.newCell), {
        impressions: c.impressions,
        accepted: c.accepted,
        declined: c.declined,
        ignored: c.ignored,
        exposure: c.exposure,
      });
      r.setRow(c.offerId, c.segment, c.channel, n);
    }
    return r;
  }

  apply(e: Pick<AnnouncedOfferEvent, 'offerId' | 'segment' | 'channel' | 'type' | 'exposure'>): void {
    const field = e.type === 'impression' ? 'impressions' : e.type;
    this.version++;
    // an impression's exposure (its affinity lift: what the store adds too); 1 when the announcer did not say
    const g = e.type === 'impression' ? (e.exposure !== undefined && Number.isFinite(e.exposure) && e.exposure >= 0 ? e.exposure : 1) : 0;
    let total = this.perOffer.get(e.offerId);
    if (!total) this.perOffer.set(e.offerId, (total = zeroCounts()));
    total[field]++;
    total.exposure += g;
    const n = this.cells.upsert(e.offerId, e.segment, e.channel, this.newCell);
    n[field]++;
    n.exposure += g;
    this.setRow(e.offerId, e.segment, e.channel, n);
  }

  /**
   * Whether these counts (a reload's) are the ones held: the same offers and cells, each with the same numbers. A
   * reload that reads them keeps this object, and with it its version and everything derived from it (decide's
   * tables and Thompson pools, the decision memos), instead of a burst of recomputation on the requests after it.
   */
  sameAs(counts: Map<string, OfferCounts>, cells: readonly OfferResponseCell[]): boolean {
    if (counts.size !== this.perOffer.size || cells.length !== this.nCells) return false;
    for (const [offerId, x] of counts) if (!sameCounts(x, this.perOffer.get(offerId))) return false;
    for (const c of cells) if (!sameCounts(c, this.cells.get(c.offerId, c.segment, c.channel))) return false;
    return true;
  }

  private setRow(offerId: string, segment: string, channel: OfferChannel, n: OfferCounts): void {
    const ch = OFFER_CHANNELS.indexOf(channel);
    if (ch < 0) return;
    let bySegment = this.rows.get(offerId);
    if (!bySegment) this.rows.set(offerId, (bySegment = new Map()));
    let row = bySegment.get(segment);
    if (!row) bySegment.set(segment, (row = { accepted: new Float64Array(OFFER_CHANNELS.length), shown: new Float64Array(OFFER_CHANNELS.length) }));
    const t = trials(n);
    row.accepted[ch] = t.accepted;
    row.shown[ch] = t.shown;
  }

  segmentRow = (offerId: string, segment: StatsSegment) => this.rows.get(offerId)?.get(segment);

  /** Trials are impressions (at least the acceptances, should a client not report impressions). */
  cell = (offerId: string, segment: StatsSegment, channel: OfferChannel) => trials(this.cells.get(offerId, segment, channel));
  overall = (offerId: string) => trials(this.perOffer.get(offerId));
  acceptances = (offerId: string) => this.perOffer.get(offerId)?.accepted ?? 0;
}

const zeroCounts = (): OfferCounts => ({ impressions: 0, accepted: 0, declined: 0, ignored: 0, exposure: 0 });
const sameCounts = (a: OfferCounts, b: OfferCounts | undefined): boolean =>
  b !== undefined &&
  Object.is(a.impressions, b.impressions) &&
  Object.is(a.accepted, b.accepted) &&
  Object.is(a.declined, b.declined) &&
  Object.is(a.ignored, b.ignored) &&
  Object.is(a.exposure, b.exposure);
/**
 * The trials the learning counts: the impressions' exposure (each impression weighs its affinity lift, see
 * propensity.ts `impressionExposure`), plus one for each acceptance beyond the impressions (a client that does
 * not report impressions).
 */
const trials = (n: OfferCounts | undefined) =>
  n ? { accepted: n.accepted, shown: (Number.isFinite(n.exposure) ? n.exposure : n.impressions) + Math.max(0, n.accepted - n.impressions) } : { accepted: 0, shown: 0 };
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Whether two reads of a customer's record give the same affinity (its vector, items and counts). */
function sameAffinityInputs(a: CustomerRecord, b: CustomerRecord): boolean {
  return a.customerId === b.customerId && sameNumbers(a.vector, b.vector) && sameNumbers(a.items, b.items) && sameNumbers(a.counts, b.counts);
}

function sameNumbers(a: ArrayLike<number> | null, b: ArrayLike<number> | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Whether two reads of a customer's facts are the same (consent, orders, spend, last order, segment, contacts). */
export function sameFacts(a: OfferSubjectFacts, b: OfferSubjectFacts): boolean {
  if (a.customerId !== b.customerId || !Object.is(a.orders, b.orders) || !Object.is(a.spend, b.spend) || !Object.is(a.lastOrderAt, b.lastOrderAt) || a.segment !== b.segment) return false;
  const ka = Object.keys(a.consent) as (keyof OfferSubjectFacts['consent'])[];
  if (ka.length !== Object.keys(b.consent).length) return false;
  for (const k of ka) if (!Object.hasOwn(b.consent, k) || a.consent[k] !== b.consent[k]) return false;
  if (a.contacts.size !== b.contacts.size) return false;
  for (const [offerId, x] of a.contacts) {
    const y = b.contacts.get(offerId);
    if (y === undefined || !Object.is(x.lastDeclineAt, y.lastDeclineAt) || !sameNumbers(x.impressions, y.impressions)) return false;
  }
  return true;
}

const unitVectors = new WeakMap<CustomerRecord, Float32Array | null>();
function unitVector(record: CustomerRecord): Float32Array | null {
  let v = unitVectors.get(record);
  if (v === undefined) {
    v = record.vector ? normalised(record.vector, record.vector.length) : null;
    unitVectors.set(record, v);
  }
  return v;
}

/** DecisionContext.inStock without a store. */
const IN_STOCK: DecisionContext['inStock'] = () => true;
/** DecisionContext.contacts of a guest. */
const NO_CONTACTS: DecisionContext['contacts'] = () => undefined;
/** DecisionContext.contacts of a customer's contact counters, kept per map. */
const contactFns = new WeakMap<Map<string, ContactState>, DecisionContext['contacts']>();
function contactsOf(contacts: Map<string, ContactState>): DecisionContext['contacts'] {
  let f = contactFns.get(contacts);
  if (f === undefined) contactFns.set(contacts, (f = (offerId) => contacts.get(offerId)));
  return f;
}

/** JSON.stringify of a number. */
const jsonNumber = (x: number): string => (Number.isFinite(x) ? '' + x : 'null');

/** The answer of a decision (both endpoints; JSON.stringify of it is what OfferService.answerText writes). */
export function answerOf(
  decision: Decision,
  decisionId: string,
  policy: NboAnswer['policy'],
  customerId: string | undefined,
  fallbackReason: NboFallbackReason | undefined,
): NboAnswer {
  const offers: NboOffer[] = decision.offers.map((o) => ({
    offerId: o.offerId,
    title: o.title,
    kind: o.kind,
    score: round(o.score),
    propensity: round(o.propensity),
    value: o.value,
    reason: o.reason,
  }));
  const answer: NboAnswer =
    customerId !== undefined
      ? { offers, decisionId, customerId, policy, fallback: fallbackReason !== undefined }
      : { offers, decisionId, policy, fallback: fallbackReason !== undefined };
  if (fallbackReason) answer.fallbackReason = fallbackReason;
  return answer;
}

export class OfferService {
  private offers: Offer[] = [];
  /** The offers held, as JSON (a reload that reads the same keeps them). */
  private offersText: string | null = null;
  private offersById = new Map<string, Offer>();
  /** Bumped whenever the offer set is replaced: TargetIndex is rebuilt for it. */
  private generation = 0;
  private index: { model: LoadedModel; generation: number; index: TargetIndex } | null = null;
  private counts = new ResponseCounts();
  private readonly subjects = new Map<string, SubjectEntry>();
  private readonly memos = new Map<string, { facts: OfferSubjectFacts; stock: ReadonlySet<string> | null; index: TargetIndex | null; memo: DecisionMemo }>();
  /** The counts the memos held were made under. */
  private memosOf: ResponseCounts | null = null;
  private readonly affinities = new Map<string, { record: CustomerRecord; index: TargetIndex; affinity: DecisionSubject['affinity'] }>();
  /** Facts loads in flight per customer; an event for them marks the load stale (its result is used once, not kept). */
  private readonly loads = new Map<string, { promise: Promise<OfferSubjectFacts | null>; stale: boolean }>();
  private readonly decisions: DecisionLogWriter;
  private readonly events: EventWriter;
  /** Customers' facts read together: the loads of a turn of the event loop in one statement, refreshes gathered (100 ms). */
  private readonly factReads: BatchedReads<OfferSubjectFacts>;
  private readonly instanceId = randomUUID();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly policy: { name: string; version: string };
  private started: Promise<void> | null = null;
  /** start() has completed (decisions may be made without awaiting it). */
  private ready = false;
  /** Per offer id, the answer's JSON up to its score (offerId, title, kind), for the offers held (answerText). */
  private heads = new Map<string, { title: string; kind: string; head: string }>();
  /** The policy's JSON (answerText), made again should the policy object say otherwise. */
  private policyText: { name: string; version: string; text: string } | null = null;
  private unsubscribe: (() => Promise<void>) | undefined;
  private offHealth: (() => void) | undefined;
  private offSwap: (() => void) | undefined;
  private offChanges: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Response events not recorded because their customer was erased meanwhile. */
  private eventsErased = 0;

  constructor(private readonly deps: OfferServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.policy = deps.policy ?? { name: 'thompson-beta', version: '1' };
    this.decisions = new DecisionLogWriter(deps.backgroundStore ?? deps.store, {
      prepare: prepareDecision,
      ...deps.decisionLog,
      onError: (err, queued) => {
        deps.onStoreError?.(err);
        deps.log?.('warn', 'decision log write failed; retrying', { queued, error: (err as Error).message });
      },
      // decisions queued before their customer's erasure and written after it, or made on an instance that still
      // held the customer's facts: left out of the log by the store, counted here
      onErased: (count) => {
        deps.onErasedDropped?.('decision', count);
        deps.log?.('info', 'decision log: decisions of erased customers not written', { dropped: count, total: this.decisions.erased });
      },
    });
    this.events = new EventWriter(deps.store, (recorded) => this.recorded(recorded));
    this.factReads = new BatchedReads((ids) => deps.store.offerSubjectFactsMany(ids));
  }

  /** Loads offers and counts, subscribes to offer changes, starts the periodic reload. Idempotent; decisions call it. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.reload();
      const bus = this.deps.bus;
      if (bus) {
        this.unsubscribe = await bus.cache.subscribe(bus.keys.offerChanges, (m) => this.heard(m));
        // announces made while disconnected were lost: re-read everything once reconnected
        let down = !bus.cache.health().ready;
        this.offHealth = bus.cache.onHealth((h) => {
          if (!h.ready) down = true;
          else if (down) {
            down = false;
            this.subjects.clear();
            this.reloadQuietly();
          }
        });
      }
      this.offSwap = this.deps.source.onSwap(() => (this.index = null));
      // another instance changed these customers (a purchase, consent, erasure): their facts are re-read
      this.offChanges = this.deps.source.onCustomersChanged((ids) => this.forgetSubjects(ids));
      const every = this.deps.reloadMs ?? 30_000;
      if (every > 0) {
        this.timer = setInterval(() => this.reloadQuietly(), every);
        this.timer.unref();
      }
      this.ready = true;
    })();
    this.started.catch(() => (this.started = null)); // a failed start is retried by the next call
    return this.started;
  }

  /** Re-reads offers, counts per offer and response counts from the store. */
  async reload(): Promise<void> {
    const store = this.deps.backgroundStore ?? this.deps.store;
    const [offers, counts, cells] = await Promise.all([store.offers(), store.offerCounts(), store.offerResponseStats()]);
    // the same offers as held (the periodic reload, mostly): kept as they are, with everything derived from them
    // (decide's prepared tables, the targets' index, every customer's affinity), instead of rebuilt on the
    // requests that follow, a burst of work every reloadMs on every instance
    const text = JSON.stringify(offers);
    if (text !== this.offersText) {
      this.setOffers(offers);
      this.offersText = text;
    }
    // the same counts as held (the periodic reload with no response missed, mostly): the object is kept, and with it
    // what was derived from it; else replaced (the decision memos go with the counts they were derived from: memoFor)
    if (!this.counts.sameAs(counts, cells)) this.counts = ResponseCounts.of(counts, cells);
  }

  private reloadQuietly(): void {
    if (this.closed) return;
    this.reload().catch((err: unknown) => {
      this.deps.onStoreError?.(err);
      this.deps.log?.('warn', 'offer reload failed; keeping the offers in memory', { error: (err as Error).message });
    });
  }

  private setOffers(offers: Offer[]): void {
    // immutable from here on: decide screens a prepared set through per-context tables
    this.offers = prepareOffers(offers);
    this.offersById = new Map(offers.map((o) => [o.id, o]));
    this.generation++;
    this.index = null;
    this.heads = new Map();
  }

  private targets(model: LoadedModel): TargetIndex {
    const i = this.index;
    if (i && i.model === model && i.generation === this.generation) return i.index;
    const index = new TargetIndex(model, this.offers);
    this.index = { model, generation: this.generation, index };
    return index;
  }

  /**
   * A customer's affinity to the offers, kept for the next decisions while their record and the offer set stay the
   * same (the affinity is a function of both; it remembers each offer's answer once computed), for the
   * `affinityCacheSize` customers decided for last.
   */
  private affinityOf(record: CustomerRecord, index: TargetIndex): DecisionSubject['affinity'] {
    const id = record.customerId;
    const hit = this.affinities.get(id);
    if (hit && hit.index === index && (hit.record === record || sameAffinityInputs(hit.record, record))) {
      // the same record re-read (the model source re-reads records now and then): the same function, so that what
      // decide keeps for it (its answers, the customer's decision memos) holds
      hit.record = record;
      return hit.affinity;
    }
    // memoised per offer (TargetIndex.affinityOf): decide keeps its answers by the offer set's index (stableAffinity)
    const affinity = stableAffinity(index.affinityOf({ vector: unitVector(record), items: record.items, weights: record.counts }));
    this.affinities.delete(id);
    this.affinities.set(id, { record, index, affinity });
    if (this.affinities.size > (this.deps.affinityCacheSize ?? 2048)) this.affinities.delete(this.affinities.keys().next().value!);
    return affinity;
  }

  /**
   * The decision memo of a customer in a context (DecisionContext.memo), kept for the `decisionMemos` contexts decided
   * for last. A new one whenever what the context's inStock, contacts and acceptances read could answer otherwise:
   * other facts (their contact counters: a reload, a response of theirs), another stock snapshot, another model or offer
   * set (the targets' index); the counts are decide's to check (their object, and what it read of them when their
   * version changed).
   */
  private memoFor(customerId: string, facts: OfferSubjectFacts, channel: OfferChannel, store: string | null, stock: ReadonlySet<string> | null, index: TargetIndex | null): DecisionMemo | undefined {
    const max = this.deps.decisionMemos ?? 4096;
    if (max <= 0) return undefined;
    // every memo was derived from other counts once the counts are reloaded with other numbers (decide would derive
    // each afresh): all dropped here, the one place that checks. A response applied (the counts' version bumped) drops
    // none: decide re-checks a memo against the counts it read (the rows of its suitable offers, the acceptance caps),
    // so a memo that did not consider the responded offer (nor was changed by it through the cross-offer prior) holds;
    // the responding customer's memos go with their facts (their contact counters are re-read: other facts)
    if (this.memosOf !== this.counts) {
      this.memos.clear();
      this.memosOf = this.counts;
    }
    const key = store === null ? `${customerId}\u0000${channel}` : `${customerId}\u0000${channel}\u0000${store}`;
    const hit = this.memos.get(key);
    if (hit !== undefined && hit.facts === facts && hit.stock === stock && hit.index === index) {
      // most recently used last (the first is evicted)
      this.memos.delete(key);
      this.memos.set(key, hit);
      return hit.memo;
    }
    const entry = { facts, stock, index, memo: {} };
    this.memos.delete(key);
    this.memos.set(key, entry);
    if (this.memos.size > max) this.memos.delete(this.memos.keys().next().value!);
    return entry.memo;
  }

  private heard(message: string): void {
    const change = decodeOfferChange(message);
    if (!change) {
      this.deps.log?.('warn', 'ignoring a malformed offer-change message');
      return;
    }
    if (change.from === this.instanceId) return;
    if (change.offers) this.reloadQuietly();
    for (const e of change.events ?? []) this.applyEvent(e);
  }

  /**
   * A recorded response (here or announced): added to the counts; the customer's facts are dropped, so
   * that their next decision reads their contact counters from the store, where the response was
   * committed before it was applied or announced (exact: an in-place update could count it twice when
   * a load read it just before the announce arrived).
   */
  private applyEvent(e: AnnouncedOfferEvent): void {
    // (bumps the counts' version: decide re-checks the decision memos against the counts, see memoFor)
    this.counts.apply(e);
    const entry = this.subjects.get(e.customerId);
    if (entry) entry.stale = true;
    const load = this.loads.get(e.customerId);
    if (load) load.stale = true;
  }

  private forgetSubjects(ids: readonly string[]): void {
    if (ids.length === 0) {
      this.subjects.clear();
      for (const l of this.loads.values()) l.stale = true;
      return;
    }
    for (const id of ids) {
      this.subjects.delete(id);
      const l = this.loads.get(id);
      if (l) l.stale = true;
    }
  }

  /** A customer's facts: kept per access answer for subjectTtlMs (refreshed in the background after half of it). */
  private async subject(customerId: string, access: CustomerAccess): Promise<OfferSubjectFacts | null> {
    return this.subjectHeld(customerId, access) ?? this.loadSubject(customerId, access);
  }

  /** subject()'s answer when held (a background refresh started as subject() starts it), else undefined (it loads). */
  private subjectHeld(customerId: string, access: CustomerAccess): OfferSubjectFacts | undefined {
    const ttl = this.deps.subjectTtlMs ?? 30_000;
    const hit = this.subjects.get(customerId);
    if (hit && hit.access === access && !hit.stale) {
      const age = this.now() - hit.loadedAt;
      if (age < ttl / 2) return hit.facts;
      if (age < ttl) {
        if (!hit.refreshing) {
          hit.refreshing = true;
          void this.loadSubject(customerId, access, true)
            .catch((err: unknown) => this.deps.onStoreError?.(err))
            .finally(() => (hit.refreshing = false));
        }
        return hit.facts;
      }
    }
    return undefined;
  }

  private loadSubject(customerId: string, access: CustomerAccess, background = false): Promise<OfferSubjectFacts | null> {
    const inFlight = this.loads.get(customerId);
    if (inFlight && !inFlight.stale) {
      if (!background) this.factReads.hurry();
      return inFlight.promise;
    }
    const at = this.now();
    const load = { promise: this.factReads.read(customerId, background), stale: false };
    this.loads.set(customerId, load);
    return load.promise.then(
      (facts) => {
        if (this.loads.get(customerId) === load) this.loads.delete(customerId);
        if (facts && !load.stale) {
          // facts read again the same (a refresh, mostly): the object held is kept, and with it the decision memos
          const held = this.subjects.get(customerId)?.facts;
          if (held !== undefined && sameFacts(held, facts)) facts = held;
          this.subjects.delete(customerId);
          this.subjects.set(customerId, { access, facts, loadedAt: at, refreshing: false, stale: false });
          if (this.subjects.size > (this.deps.maxSubjects ?? 50_000)) this.subjects.delete(this.subjects.keys().next().value!);
        }
        return facts;
      },
      (err: unknown) => {
        if (this.loads.get(customerId) === load) this.loads.delete(customerId);
        throw err;
      },
    );
  }

  private decideFn(): Decide {
    if (!this.deps.decide) throw new UnavailableError('offer decisions are not configured on this instance');
    return this.deps.decide;
  }

  /**
   * The next best offers for a customer (merged-away ids resolve; unknown ones get a guest's decision,
   * `fallback: true, fallbackReason: "unknown_customer"`). What the profile card and the API call.
   */
  async decideFor(customerId: string, options: NboOptions): Promise<NboAnswer> {
    const decide = this.decideFn();
    await this.start();
    const access = await this.deps.access.resolve(customerId);
    if (access.status === 'unknown_customer' || access.status === 'store_unavailable') return this.guest(decide, [], options, access.status);
    const id = access.customerId;
    let facts: OfferSubjectFacts | null;
    try {
      facts = await this.subject(id, access);
    } catch (err) {
      this.deps.onStoreError?.(err);
      return this.guest(decide, [], options, 'store_unavailable');
    }
    if (!facts) return this.guest(decide, [], options, 'unknown_customer');
    const personalised = access.status === 'ok';
    const model = this.deps.source.current();
    const record = personalised && model ? await this.deps.source.customer(id, model) : null;
    const now = this.now();
    return this.run(decide, this.customerSubject(id, personalised, facts, model, record, now), facts.contacts, options, now, {
      customerId: id,
      fallbackReason: !personalised ? 'no_consent' : !model ? 'no_model' : undefined,
      facts,
    });
  }

  /**
   * decideFor's answer as the route sends it (its JSON text, `answerText`), when it can be made without waiting for
   * anything: started, the customer's access answer and facts held (as decideFor reads them: refreshes started alike)
   * and their record held by the model source. Undefined otherwise (or for a guest's decision): decideFor then.
   * The same decision from the same state; the request just goes on without a promise.
   */
  decideForText(customerId: string, options: NboOptions): string | undefined {
    const decide = this.deps.decide;
    if (!this.ready || !decide) return undefined;
    const access = this.deps.access.held(customerId);
    if (access === undefined || access.status === 'unknown_customer' || access.status === 'store_unavailable') return undefined;
    const id = access.customerId;
    const facts = this.subjectHeld(id, access);
    if (facts === undefined) return undefined;
    const personalised = access.status === 'ok';
    const model = this.deps.source.current();
    let record: CustomerRecord | null = null;
    if (personalised && model) {
      const held = this.deps.source.customerNow?.(id, model);
      if (held === undefined) return undefined;
      record = held;
    }
    const now = this.now();
    const subject = this.customerSubject(id, personalised, facts, model, record, now);
    const fallbackReason: NboFallbackReason | undefined = !personalised ? 'no_consent' : !model ? 'no_model' : undefined;
    const decision = this.decideLogged(decide, subject, facts.contacts, options, now, fallbackReason, undefined, facts);
    return this.answerText(decision, this.lastDecisionId, id, fallbackReason);
  }

  /** The subject of a customer's decision (decideFor): their facts, and segment and affinity when personalised. */
  private customerSubject(id: string, personalised: boolean, facts: OfferSubjectFacts, model: LoadedModel | null, record: CustomerRecord | null, now: number): DecisionSubject {
    const last = facts.lastOrderAt ?? (record && record.lastTime.length ? Math.max(...record.lastTime) : null);
    const subject: DecisionSubject = {
      customerId: id,
      personalised,
      consent: facts.consent,
      segment: personalised ? (record?.segment ?? facts.segment) : null,
      orders: facts.orders,
      spend: facts.spend,
      daysSinceLastPurchase: last === null ? null : Math.max(0, Math.floor((now - last) / DAY)),
      affinity: personalised && model && record ? this.affinityOf(record, this.targets(model)) : NO_AFFINITY,
    };
    return subject;
  }

  /** The next best offers for a guest's session (affinity from the session's items). */
  async decideForGuest(items: readonly string[], options: NboOptions): Promise<NboAnswer> {
    const decide = this.decideFn();
    await this.start();
    return this.guest(decide, items, options);
  }

  /** decideForGuest's answer as the route sends it (answerText) once started, without a promise; else undefined. */
  decideForGuestText(items: readonly string[], options: NboOptions): string | undefined {
    const decide = this.deps.decide;
    if (!this.ready || !decide) return undefined;
    const subject = this.guestSubject(items, undefined);
    const decision = this.decideLogged(decide, subject, null, options, this.now(), undefined, items, undefined);
    return this.answerText(decision, this.lastDecisionId, undefined, undefined);
  }

  private guest(decide: Decide, items: readonly string[], options: NboOptions, fallbackReason?: NboFallbackReason): Promise<NboAnswer> {
    const subject = this.guestSubject(items, fallbackReason);
    return Promise.resolve(this.run(decide, subject, null, options, this.now(), { fallbackReason, items }));
  }

  private guestSubject(items: readonly string[], fallbackReason: NboFallbackReason | undefined): DecisionSubject {
    const model = this.deps.source.current();
    let affinity: DecisionSubject['affinity'] = () => null;
    if (model) {
      const seeds = [...new Set(items.map((s) => model.itemIndex.get(s)).filter((i): i is number => i !== undefined))];
      if (seeds.length) {
        let vector: Float32Array | null = null;
        const prepared = preparedOf(model);
        if (model.als && prepared.gram && prepared.gramCholesky) {
          const { itemFactors, k, reg, alpha } = model.als;
          const x = foldInFactored({ itemFactors, k, gram: prepared.gram, reg, alpha }, prepared.gramCholesky, seeds, seeds.map(() => 1));
          vector = normalised(x, k);
        }
        affinity = this.targets(model).affinityOf({ vector, items: seeds, weights: null });
      }
    }
    const subject: DecisionSubject = {
      customerId: null,
      personalised: items.length > 0 && fallbackReason === undefined,
      consent: {},
      segment: null,
      orders: 0,
      spend: 0,
      daysSinceLastPurchase: null,
      affinity,
      // a guest's decision made for an id nobody knows (or while the store is unreachable) says so
      ...(fallbackReason ? { nonPersonalisedWhy: 'unknown_customer' as const } : {}),
    };
    return subject;
  }

  private run(
    decide: Decide,
    subject: DecisionSubject,
    contacts: Map<string, ContactState> | null,
    options: NboOptions,
    now: number,
    extra: { customerId?: string; fallbackReason?: NboFallbackReason; items?: readonly string[]; facts?: OfferSubjectFacts },
  ): NboAnswer {
    const decision = this.decideLogged(decide, subject, contacts, options, now, extra.fallbackReason, extra.items, extra.facts);
    return answerOf(decision, this.lastDecisionId, this.policy, extra.customerId, extra.fallbackReason);
  }

  /** DecisionContext.inStock of a store's stock set (and the targets' index), kept per set. */
  private readonly inStockFns = new WeakMap<ReadonlySet<string>, { index: TargetIndex | null; inStock: DecisionContext['inStock'] }>();
  private inStockOf(stock: ReadonlySet<string>, index: TargetIndex | null): DecisionContext['inStock'] {
    const held = this.inStockFns.get(stock);
    if (held !== undefined && held.index === index) return held.inStock;
    const inStock: DecisionContext['inStock'] = (offer) =>
      index ? index.inStock(offer, stock) : offer.targets.skus.some((s) => stock.has(s)) || offer.targets.skus.length + offer.targets.categories.length === 0;
    this.inStockFns.set(stock, { index, inStock });
    return inStock;
  }

  /** The id decideLogged gave its last decision (read right after it: no object per decision to carry it). */
  private lastDecisionId = '';

  /** Decides, and logs the decision under a new id (`lastDecisionId`). */
  private decideLogged(
    decide: Decide,
    subject: DecisionSubject,
    contacts: Map<string, ContactState> | null,
    options: NboOptions,
    now: number,
    fallbackReason: NboFallbackReason | undefined,
    items: readonly string[] | undefined,
    facts: OfferSubjectFacts | undefined,
  ): Decision {
    const limit = options.limit ?? 1;
    const store = options.store ?? null;
    const model = this.deps.source.current();
    const stock = store === null ? null : (this.deps.inventory.inStock(store) ?? NO_STOCK);
    const index = model ? this.targets(model) : null;
    // (no closure nor spread object per decision: the context's functions are kept per stock set and contacts map)
    const ctx: DecisionContext = {
      channel: options.channel,
      store,
      now,
      limit,
      // no store: online channels sell from the warehouse, which store inventory does not describe
      inStock: stock === null ? IN_STOCK : this.inStockOf(stock, index),
      contacts: contacts === null ? NO_CONTACTS : contactsOf(contacts),
      acceptances: this.counts.acceptances,
      channelConsent: this.deps.channelConsent,
      holdoutShare: this.deps.holdoutShare,
      random: this.random,
      // a customer's decisions in one context share what decide derives before anything random (see memoFor)
      memo: facts !== undefined && subject.customerId !== null ? this.memoFor(subject.customerId, facts, options.channel, store, stock, index) : undefined,
    };
    const decision = decide(this.offers, subject, ctx, this.counts);
    const trace = traceOf(decision);
    const decisionId = randomUUID();
    // (objects built in their key order, optional keys added last where they come last: no spread objects per decision)
    const context: Record<string, unknown> = {
      channel: options.channel,
      store,
      limit,
      segment: subject.segment,
      personalised: subject.personalised,
    };
    if (fallbackReason) context.fallbackReason = fallbackReason;
    if (items) context.items = items.slice(0, 100);
    const choice = trace?.choice !== undefined;
    this.decisions.add({
      decisionId,
      time: now,
      customerId: subject.customerId,
      context,
      considered: trace ?? decision.considered,
      // the probabilities are computed when the log is read, from what the trace carries (src/core/offers/choice.ts)
      shown: decision.offers.map((o, position) =>
        choice
          ? { offerId: o.offerId, position, score: o.score, propensity: o.propensity }
          : { offerId: o.offerId, position, probability: o.probability, score: o.score, propensity: o.propensity },
      ),
      policy: this.policy,
      holdout: decision.holdout,
    });
    this.lastDecisionId = decisionId;
    return decision;
  }

  /**
   * JSON.stringify(answerOf(…)), made from pieces: each offer's head (offerId, title, kind) kept per offer, the policy's
   * text kept, the numbers and the reason written in place (test/offers-answer-text.test.ts compares the two).
   */
  answerText(decision: Decision, decisionId: string, customerId: string | undefined, fallbackReason: NboFallbackReason | undefined): string {
    const policy = this.policy;
    let p = this.policyText;
    if (p === null || p.name !== policy.name || p.version !== policy.version) this.policyText = p = { name: policy.name, version: policy.version, text: JSON.stringify(policy) };
    let text = '{"offers":[';
    const offers = decision.offers;
    for (let k = 0; k < offers.length; k++) {
      const o = offers[k];
      // (what JSON.stringify would leave out or write otherwise: written by it)
      if (typeof o.title !== 'string' || typeof o.kind !== 'string' || o.reason === undefined) {
        return JSON.stringify(answerOf(decision, decisionId, policy, customerId, fallbackReason));
      }
      let h = this.heads.get(o.offerId);
      if (h === undefined || h.title !== o.title || h.kind !== o.kind) {
        h = { title: o.title, kind: o.kind, head: `{"offerId":${JSON.stringify(o.offerId)},"title":${JSON.stringify(o.title)},"kind":${JSON.stringify(o.kind)},"score":` };
        this.heads.set(o.offerId, h);
      }
      if (k > 0) text += ',';
      text += h.head + jsonNumber(round(o.score));
      // a reason decide made on a memo's kept basis (decide.ts keptReason): propensity, value and the reason up to
      // its sample written once per kept piece, then the sample
      const kept = keptReason(o.reason, k);
      if (kept !== undefined && Object.is(o.propensity, kept.propensity) && Object.is(o.value, kept.value)) {
        const tail = (kept.writerText ??= ',"propensity":' + jsonNumber(round(kept.propensity)) + ',"value":' + jsonNumber(kept.value) + ',"reason":' + keptReasonHead(kept));
        const sample = o.reason.parts.sample;
        text += sample === undefined ? tail + '}}}' : tail + ',"sample":' + jsonNumber(sample) + '}}}';
      } else text += ',"propensity":' + jsonNumber(round(o.propensity)) + ',"value":' + jsonNumber(o.value) + ',"reason":' + JSON.stringify(o.reason) + '}';
    }
    text += '],"decisionId":' + JSON.stringify(decisionId);
    if (customerId !== undefined) text += ',"customerId":' + JSON.stringify(customerId);
    text += ',"policy":' + p.text + ',"fallback":' + (fallbackReason !== undefined ? 'true' : 'false');
    if (fallbackReason) text += ',"fallbackReason":' + JSON.stringify(fallbackReason);
    return text + '}';
  }

  // ---- responses ----

  /**
   * Records one response: stored durably (group commit) before this resolves, applied to this
   * instance's counters and announced to the others. Throws NotFoundError for an unknown customer or
   * offer, ConflictError (via the outcome) when the event id was used for another event.
   */
  async recordEvent(body: OfferEventBody): Promise<OfferEventAnswer & { outcome: 'recorded' | 'duplicate' | 'conflict' }> {
    await this.start();
    const access = await this.deps.access.resolve(body.customerId);
    if (access.status === 'store_unavailable') throw new UnavailableError('history store unavailable: event not recorded, retry');
    if (access.status === 'unknown_customer') throw new NotFoundError(`unknown customer ${body.customerId}`, { field: 'customerId', customerId: body.customerId });
    const offer = this.offersById.get(body.offerId) ?? (await this.deps.store.offer(body.offerId));
    if (offer === null) throw new NotFoundError(`unknown offer ${body.offerId}`, { field: 'offerId', offerId: body.offerId });
    const customerId = access.customerId;
    // the cell the decision counted them in (decide's statsSegment of the subject decideFor builds), and for an
    // impression its exposure: the affinity lift decide applies to this customer and offer (1 when not personalised)
    // (a customer without personalisation consent: 'unsegmented', as statsSegment gives for their decisions)
    let segment: StatsSegment = 'unsegmented';
    let exposure = 1;
    if (access.status === 'ok') {
      const model = this.deps.source.current();
      const record = model ? await this.deps.source.customer(customerId, model) : null;
      // the stored segment: from their facts when held (responses do not change it), else read
      const held = this.subjects.get(customerId);
      const facts = record?.segment ? null : held && held.access === access ? held.facts : await this.subject(customerId, access);
      segment = statsSegment({ personalised: true, customerId, segment: record?.segment ?? facts?.segment ?? null });
      if (body.type === 'impression' && model && record) exposure = impressionExposure(offer, { personalised: true, affinity: this.affinityOf(record, this.targets(model)) });
    }
    const time = body.time === undefined ? this.now() : Date.parse(body.time);
    const content = JSON.stringify([body.decisionId ?? null, body.offerId, body.customerId, body.channel, body.type, body.time ?? null]);
    const outcome = await this.events.submit({
      eventId: body.eventId,
      decisionId: body.decisionId ?? null,
      offerId: body.offerId,
      customerId,
      channel: body.channel,
      type: body.type,
      time,
      segment,
      content,
      ...(body.type === 'impression' ? { exposure } : {}),
    });
    if (outcome === 'erased') {
      // erased after this request resolved the customer (here, or on another instance): nothing was stored
      this.eventsErased++;
      this.forgetSubjects([customerId]);
      this.deps.access.invalidate(customerId, body.customerId);
      this.deps.onErasedDropped?.('event', 1);
      this.deps.log?.('info', 'offer event of an erased customer not recorded', { eventId: body.eventId });
      throw new NotFoundError(`unknown customer ${body.customerId}`, { field: 'customerId', customerId: body.customerId });
    }
    return { eventId: body.eventId, customerId, recorded: outcome === 'recorded', duplicate: outcome === 'duplicate', outcome };
  }

  /** A batch of events was committed: apply the new ones here and tell the other instances. */
  private async recorded(events: OfferEventInput[]): Promise<void> {
    const announced: AnnouncedOfferEvent[] = events.map((e) => ({
      customerId: e.customerId,
      offerId: e.offerId,
      channel: e.channel,
      type: e.type,
      time: e.time,
      segment: e.segment,
      ...(e.exposure !== undefined ? { exposure: e.exposure } : {}),
    }));
    for (const e of announced) this.applyEvent(e);
    await this.announce({ events: announced });
  }

  private async announce(change: { offers?: boolean; events?: AnnouncedOfferEvent[] }): Promise<void> {
    const bus = this.deps.bus;
    if (!bus) return;
    try {
      await announceOfferChange(bus.cache, bus.keys, { from: this.instanceId, ...change });
    } catch (err) {
      this.deps.log?.('warn', 'offer change not announced: other instances catch up at their next reload', { error: (err as Error).message });
    }
  }

  // ---- admin ----

  async listOffers(): Promise<Offer[]> {
    return this.deps.store.offers();
  }

  async getOffer(id: string): Promise<Offer> {
    const o = await this.deps.store.offer(id);
    if (!o) throw new NotFoundError(`unknown offer ${id}`, { offerId: id });
    return o;
  }

  async putOffer(offer: Offer): Promise<{ offer: Offer; created: boolean }> {
    const r = await this.deps.store.putOffers([offer]);
    await this.offersChanged();
    return { offer: (await this.deps.store.offer(offer.id)) ?? offer, created: r.created > 0 };
  }

  async deleteOffer(id: string): Promise<void> {
    if (!(await this.deps.store.deleteOffer(id))) throw new NotFoundError(`unknown offer ${id}`, { offerId: id });
    await this.offersChanged();
  }

  /** Offers changed in the store (here, or by an import): reload them here and on every instance. */
  async offersChanged(): Promise<void> {
    if (this.started) await this.reload().catch((err: unknown) => this.deps.onStoreError?.(err));
    await this.announce({ offers: true });
  }

  /** Decisions queued for the log, events written, and what failed (metrics, tests). */
  stats(): { decisionsQueued: number; decisionsLogged: number; decisionsDropped: number; decisionsErased: number; eventsErased: number; offers: number } {
    return {
      decisionsQueued: this.decisions.pending,
      decisionsLogged: this.decisions.written,
      decisionsDropped: this.decisions.dropped,
      decisionsErased: this.decisions.erased,
      eventsErased: this.eventsErased,
      offers: this.offers.length,
    };
  }

  /** Writes the decisions queued (tests, shutdown). */
  flushDecisions(): Promise<void> {
    return this.decisions.flush();
  }

  /** Stops reloading and listening, then writes every decision still queued (clean shutdown loses none). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.offHealth?.();
    this.offSwap?.();
    this.offChanges?.();
    await this.unsubscribe?.().catch(() => undefined);
    await this.events.idle();
    const left = await this.decisions.close();
    if (left > 0) this.deps.log?.('error', 'decision log: decisions not written at shutdown', { lost: left });
  }
}

/**
 * Group commit of offer events: a request's event waits for the batch being written to finish, then
 * goes with every event queued meanwhile in one transaction (Store.recordOfferEvents, synchronous
 * commit). Every request of a batch is answered once the batch is committed (and applied and announced
 * by `onRecorded`); a failed batch fails each of its requests with UnavailableError (nothing of it is stored).
 */
class EventWriter {
  private queue: { input: OfferEventInput; resolve: (o: OfferEventOutcome) => void; reject: (e: unknown) => void }[] = [];
  /** Batches being written: up to `parallel` at once (PostgreSQL commits them in parallel; PGlite queues them). */
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly store: Pick<Store, 'recordOfferEvents'>,
    private readonly onRecorded: (events: OfferEventInput[]) => Promise<void>,
    private readonly maxBatch = 1000,
    private readonly parallel = 2,
  ) {}

  submit(input: OfferEventInput): Promise<OfferEventOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.running.size < this.parallel) {
        const run: Promise<void> = this.drain().finally(() => this.running.delete(run));
        this.running.add(run);
      }
    });
  }

  private async drain(): Promise<void> {
    // let the requests arriving in this turn of the event loop join the batch
    await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      let outcomes: OfferEventOutcome[];
      try {
        const inputs = batch.map((b) => b.input);
        // a deadlock or serialisation failure rolled the batch back whole: it is retried once
        outcomes = await this.store.recordOfferEvents(inputs).catch((err: { code?: string }) =>
          err?.code === '40P01' || err?.code === '40001' ? this.store.recordOfferEvents(inputs) : Promise.reject(err),
        );
      } catch (err) {
        const e = new UnavailableError(`offer events not recorded: ${(err as Error).message}`);
        for (const b of batch) b.reject(e);
        continue;
      }
      await this.onRecorded(batch.filter((_, i) => outcomes[i] === 'recorded').map((b) => b.input)).catch(() => undefined);
      batch.forEach((b, i) => b.resolve(outcomes[i]));
    }
  }

  /** Resolves once nothing is being written. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running);
  }
}
