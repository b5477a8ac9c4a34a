/**
 * The recommendation logic behind every list endpoint: pin the model version in service,
 * resolve the customer (merges, consent), gather candidates from the endpoint's sources in
 * order (primary first, then the fallbacks), filter them on the stream, and say which source
 * answered and why it fell back. Never throws for unknown items or customers; throws
 * UnavailableError only when no model is loaded at all.
 */
import type { LoadedModel, ModelSource } from '../cache/model-source.js';
import type { CustomerRecord } from '../core/bundle.js';
import { type BlendParams, blendScores } from '../core/blend.js';
import { UnavailableError } from '../core/errors.js';
import { foldInFactored } from '../core/fold-in.js';
import { type BuyAgainRanking, listUses, OWNED_BASE, ownedOrder, type ServedPerson, scoreListInto, specNeeds, topAccepted } from '../core/served-model.js';
import type { Segment } from '../core/records.js';
import type { Store } from '../store/store.js';
import { buyAgain } from './buy-again.js';
import {
  aggregateLists,
  type Candidate,
  explainingSeed,
  factorCandidates,
  factorScores,
  popular,
} from './candidate-sources.js';
import { preparedOf, type Trend } from './prepared-model.js';
import type { CustomerAccess, CustomerAccessCache } from './customer-access.js';
import type { ChainStep } from './fallback-chain.js';
import { ItemFilter, type ListOptions } from './item-filter.js';
import { ListCache } from './list-cache.js';
import type { InventorySnapshot } from './inventory-snapshot.js';
import type { FallbackReason, ListSource, RecItem, RecList } from './rec-list.js';

/** How many recent purchases seed "neighbours of recent purchases". */
const RECENT_SEEDS = 20;

export interface RecommendationServiceDeps {
  source: ModelSource;
  store: Pick<Store, 'customerSkus'>;
  access: CustomerAccessCache;
  inventory: InventorySnapshot;
  chain: ChainStep[];
  /** Called once per list that fell back (metrics). */
  onFallback?: (endpoint: string, reason: FallbackReason) => void;
  onStoreError?: (err: unknown) => void;
  now?: () => number;
  /** Catalogues above this many items score factors over a candidate set (default FULL_SCAN_MAX_ITEMS). */
  fullScanMaxItems?: number;
  /** Personal lists kept per instance (see ListCache; default 10,000 like the record LRU, 0 = none). */
  listCacheSize?: number;
}

/** A list being assembled from several sources in order. */
class ListBuilder {
  readonly items: RecItem[] = [];
  source: ListSource | null = null;
  constructor(
    readonly model: LoadedModel,
    readonly filter: ItemFilter,
    readonly limit: number,
  ) {}
  get remaining(): number {
    return this.limit - this.items.length;
  }
  /** Appends candidates (deduplicated); returns how many were added. */
  add(source: ListSource, candidates: Candidate[]): number {
    let added = 0;
    for (const c of candidates) {
      if (this.items.length >= this.limit) break;
      if (this.filter.excluded.has(c.item)) continue;
      this.filter.excluded.add(c.item);
      this.items.push({ sku: this.model.items[c.item], score: round(c.score), reason: c.reason, category: this.model.itemCategories[c.item] ?? null });
      added++;
    }
    if (added > 0 && this.source === null) this.source = source;
    return added;
  }
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * The trending items that can still make a blended list of k: candidates of their own (accepted by
 * the filter, not learned picks: those score as picks) score learnedWeight · trendWeight · t_j, which
 * does not increase along a descending trend list; once k of them that are not owned (owned items
 * score as owned) are listed, a later one ranks below all k unless it ties the k-th, so the list stops
 * at the first lower trend. The blend then ranks exactly as with all 200, on a quarter of the work.
 */
function trendCandidates(trend: Trend, params: BlendParams, picks: ReadonlySet<number>, owned: ReadonlyMap<number, unknown>, filter: ItemFilter, k: number): number[] {
  const out: number[] = [];
  const prefix = trend.descending && params.learnedWeight * params.trendWeight > 0;
  let counted = 0;
  let cut = -Infinity;
  for (const j of trend.items) {
    if (picks.has(j) || !filter.accepts(j)) continue;
    const v = trend.value(j);
    if (prefix && counted >= k && v < cut) break;
    out.push(j);
    if (!owned.has(j) && ++counted === k) cut = v;
  }
  return out;
}

/** A record's items, most recent first (records are immutable and LRU-cached: sort once per record). */
const recentFirst = new WeakMap<CustomerRecord, number[]>();

const popularityOf = (model: LoadedModel): ((item: number) => number) => {
  const table = preparedOf(model).popularity;
  return (i) => table[i];
};

export class RecommendationService {
  private readonly now: () => number;
  /** Personal lists, served again while model, access answer, record and stock set are the same objects. */
  private readonly lists: ListCache;

  constructor(private readonly deps: RecommendationServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.lists = new ListCache(deps.listCacheSize ?? 10_000);
    // another instance changed these customers: the source dropped their records; their access answers
    // go too, and with both objects replaced no cached list of theirs is served again (ListCache)
    deps.source.onCustomersChanged((ids) => deps.access.invalidate(...ids));
  }

  /**
   * Builds the per-model tables (YᵀY for fold-in, the SIMD copy of the item factors, popularity
   * and trend) off the request path: call on every swap, so the first request after it is not slow.
   */
  prepare(model: LoadedModel): void {
    this.lists.clear();
    preparedOf(model);
  }

  /** The model in service, pinned for the whole request. */
  model(): LoadedModel {
    const m = this.deps.source.current();
    if (!m) throw new UnavailableError('no model version is loaded yet', { retryAfterS: 5 });
    return m;
  }

  private builder(model: LoadedModel, options: ListOptions, excluded: Iterable<number> = []): { b: ListBuilder; warnings: string[] } {
    const warnings: string[] = [];
    let inStock: ReadonlySet<string> | undefined;
    if (options.store) {
      inStock = this.deps.inventory.inStock(options.store);
      if (!inStock) warnings.push('unknown_store');
    }
    const filter = new ItemFilter({
      skus: model.items,
      categories: model.itemCategories,
      inStock,
      include: options.category,
      exclude: options.excludeCategory,
      excluded,
    });
    return { b: new ListBuilder(model, filter, options.limit), warnings };
  }

  private finish(
    endpoint: string,
    b: ListBuilder,
    primary: ListSource,
    warnings: string[],
    failure: FallbackReason | null,
    extra: Partial<RecList> = {},
  ): RecList {
    const source = b.source ?? primary;
    const fallback = source !== primary || failure !== null;
    const reason: FallbackReason | undefined = fallback ? (failure ?? 'no_candidates') : undefined;
    if (reason) this.deps.onFallback?.(endpoint, reason);
    return {
      items: b.items,
      model: { version: b.model.version, source },
      fallback,
      ...(reason ? { fallbackReason: reason } : {}),
      ...(warnings.length ? { warnings } : {}),
      ...extra,
    };
  }

  /** Popular fallbacks that use no personal data: store list when asked, then the channel's, then global. */
  private addPopular(b: ListBuilder, options: ListOptions, segment?: Segment | null): void {
    if (b.remaining > 0 && (options.store || segment)) {
      b.add('popular', popular(b.model, b.filter, b.remaining, { store: options.store, segment, channel: options.channel }));
    }
    if (b.remaining > 0) b.add('popular', popular(b.model, b.filter, b.remaining, { channel: options.channel }));
  }

  /** The customer's history as item indices, most recent first, and the record when the cache has it. */
  private async history(model: LoadedModel, customerId: string): Promise<{ record: CustomerRecord | null; items: number[] }> {
    const record = await this.deps.source.customer(customerId, model);
    if (record) {
      let items = recentFirst.get(record);
      if (!items) {
        const order = Array.from(record.items.keys()).sort((a, b) => record.lastTime[b] - record.lastTime[a]);
        items = order.map((p) => record.items[p]);
        recentFirst.set(record, items);
      }
      return { record, items };
    }
    try {
      const skus = await this.deps.store.customerSkus(customerId);
      const items = skus.map((s) => model.itemIndex.get(s)).filter((i): i is number => i !== undefined);
      return { record: null, items };
    } catch (err) {
      this.deps.onStoreError?.(err);
      return { record: null, items: [] };
    }
  }

  private accessFailure(access: CustomerAccess): FallbackReason | null {
    if (access.status === 'ok') return null;
    return access.status === 'no_consent' ? 'no_consent' : access.status;
  }

  /** "You may also like": the item's neighbours; fallback popular in its category, then popular. */
  async similar(sku: string, options: ListOptions & { customerId?: string }): Promise<RecList> {
    const model = this.model();
    const item = model.itemIndex.get(sku);
    const excluded: number[] = item === undefined ? [] : [item];
    let customerId: string | undefined;
    if (options.customerId && options.excludePurchased !== false) {
      const access = await this.deps.access.resolve(options.customerId);
      if (access.status === 'ok') {
        customerId = access.customerId;
        excluded.push(...(await this.history(model, access.customerId)).items);
      }
    }
    const { b, warnings } = this.builder(model, options, excluded);
    if (item === undefined) {
      this.addPopular(b, options);
      return this.finish('similar', b, 'neighbours', warnings, 'unknown_item', customerId ? { customerId } : {});
    }
    b.add('neighbours', aggregateLists(model, model.neighbours, [item], b.filter, b.remaining, (s) => ({ type: 'similar_to', sku: s })));
    const category = model.itemCategories[item];
    if (b.remaining > 0 && category) b.add('popular', popular(model, b.filter, b.remaining, { category }));
    this.addPopular(b, options);
    return this.finish('similar', b, 'neighbours', warnings, null, customerId ? { customerId } : {});
  }

  /** "Frequently bought together / complete the basket": fbt lists of the basket items; fallback neighbours, popular. */
  async basket(items: string[], options: ListOptions & { customerId?: string }): Promise<RecList> {
    const model = this.model();
    const seeds = items.map((s) => model.itemIndex.get(s)).filter((i): i is number => i !== undefined);
    const excluded = [...seeds];
    let failure: FallbackReason | null = seeds.length === 0 ? 'unknown_item' : null;
    let segment: Segment | null = null;
    if (options.customerId) {
      const access = await this.deps.access.resolve(options.customerId);
      if (access.status === 'ok') {
        const h = await this.history(model, access.customerId);
        segment = h.record?.segment ?? null;
        if (options.excludePurchased !== false) excluded.push(...h.items);
      }
    }
    const { b, warnings } = this.builder(model, options, excluded);
    if (seeds.length) {
      b.add('fbt', aggregateLists(model, model.fbt, seeds, b.filter, b.remaining, (s) => ({ type: 'bought_with', sku: s })));
      if (b.remaining > 0) {
        b.add('neighbours', aggregateLists(model, model.neighbours, seeds, b.filter, b.remaining, (s) => ({ type: 'similar_to', sku: s })));
      }
    }
    this.addPopular(b, options, segment);
    return this.finish('basket', b, 'fbt', warnings, failure);
  }

  /** "Recommended for you": the fallback chain personal → neighbours → segment/store → popular. */
  async personal(customerId: string, options: ListOptions): Promise<RecList> {
    const model = this.model();
    const access = await this.deps.access.resolve(customerId);
    let failure = this.accessFailure(access);
    if (access.status !== 'ok') {
      // no personal data at all: popular in the store, then global (segment-free for no consent)
      const { b, warnings } = this.builder(model, options);
      this.addPopular(b, options);
      const extra = 'customerId' in access && access.customerId !== customerId ? { customerId: access.customerId } : {};
      return this.finish('personal', b, 'factors', warnings, failure, extra);
    }
    const id = access.customerId;
    const { record, items: hist } = await this.history(model, id);
    // A list depends only on the model, the access answer, the record, the options and the stock set,
    // unless it falls back for a missing vector (then on the cache status) or lists owned items
    // (excludePurchased=false: buy-again reasons depend on the time): cache the rest.
    const cacheKey = record?.vector && options.excludePurchased !== false ? `${customerId}\u0000${JSON.stringify(options)}` : null;
    const inputs = [model, access, record, options.store ? this.deps.inventory.inStock(options.store) : undefined];
    const cached = cacheKey === null ? undefined : this.lists.get(cacheKey, inputs);
    if (cached) {
      if (cached.fallbackReason) this.deps.onFallback?.('personal', cached.fallbackReason);
      return cached;
    }
    const excluded = options.excludePurchased === false ? [] : hist;
    const { b, warnings } = this.builder(model, options, excluded);
    const seeds = hist.slice(0, RECENT_SEEDS);
    for (const step of this.deps.chain) {
      if (b.remaining <= 0) break;
      if (step === 'personal') {
        // the served model (a record suffices unless its list reads the ALS vector), else the factor blend
        const served = preparedOf(model).served;
        const list = options.excludePurchased === false ? 'all' : 'discovery';
        const needsVector = !served || listUses(served.spec[list], 'als');
        if (served && record && (record.vector || !needsVector)) b.add('factors', this.scoreServed(model, record, seeds, b, list));
        else if (!model.als) failure = 'no_factors';
        else if (!record?.vector) failure = this.deps.source.status().cache === 'degraded' ? 'cache_unavailable' : hist.length ? 'no_vector' : 'no_history';
        else b.add('factors', this.scoreFactors(model, record.vector, record, seeds, b, options));
      } else if (step === 'neighbours') {
        // item-kNN as evaluation scores it: every item of the history through the lists it scores with
        if (hist.length) {
          b.add('neighbours', aggregateLists(model, preparedOf(model).knnScoring, hist, b.filter, b.remaining, (s) => ({ type: 'because_you_bought', sku: s })));
        } else failure ??= 'no_history';
      } else if (step === 'segment') {
        if (options.store || record?.segment) {
          b.add('popular', popular(model, b.filter, b.remaining, { store: options.store, segment: record?.segment, channel: options.channel }));
        }
      } else {
        b.add('popular', popular(model, b.filter, b.remaining, { channel: options.channel }));
      }
    }
    if (b.remaining > 0) b.add('popular', popular(model, b.filter, b.remaining, { channel: options.channel }));
    const list = this.finish('personal', b, 'factors', warnings, b.source === 'factors' ? null : failure, id !== customerId ? { customerId: id } : {});
    return cacheKey === null ? list : this.lists.set(cacheKey, inputs, list);
  }

  /**
   * Factor scores x·yᵢ (the top `remaining` + 50 accepted). For a customer, blended exactly as
   * evaluation does (src/core/blend.ts): the learned score normalised by their best candidate plus
   * the item trend (the bundle's trending list), and, with excludePurchased=false, their own items
   * first by purchase count. For a guest session: the factor scores as they are.
   */
  private scoreFactors(
    model: LoadedModel,
    x: Float32Array,
    record: CustomerRecord | null,
    seeds: number[],
    b: ListBuilder,
    options: ListOptions,
    because: 'because_you_bought' | 'similar_to' = 'because_you_bought',
  ): Candidate[] {
    const picks = factorScores(model, x, b.filter, record ? b.remaining + 50 : b.remaining, {
      candidates: () => factorCandidates(model, seeds, options.store),
      fullScanMax: this.deps.fullScanMaxItems,
    });
    const explain = (id: number, score: number): Candidate => {
      const seed = explainingSeed(model, seeds, id);
      return { item: id, score, reason: seed >= 0 ? { type: because, sku: model.items[seed] } : { type: 'personal' } };
    };
    if (!record) return picks.map(({ id, score }) => explain(id, score));
    const owned = options.excludePurchased === false ? buyAgain(model, record, b.filter, Infinity, this.now()) : [];
    const ownedReason = new Map(owned.map((c) => [c.item, c.reason]));
    const pickSet = new Set(picks.map((p) => p.id));
    const { trend, blend: params } = preparedOf(model);
    const trendItems = trendCandidates(trend, params, pickSet, ownedReason, b.filter, b.remaining);
    const blended = blendScores(
      params,
      { items: owned.map((c) => c.item), counts: owned.map((c) => (c.reason as { purchases: number }).purchases) },
      { items: picks.map((p) => p.id), scores: picks.map((p) => p.score) },
      popularityOf(model),
      b.remaining,
      undefined,
      { items: trendItems, value: trend.value },
    );
    return blended.items.map((id, r) => {
      const score = blended.scores[r];
      const reason = ownedReason.get(id);
      if (reason) return { item: id, score, reason };
      if (!pickSet.has(id)) return { item: id, score, reason: { type: 'popular', scope: 'global' } };
      return explain(id, score);
    });
  }

  /**
   * The served model's list (src/core/served-model.ts, the scorer evaluation used): every item scored,
   * the top `remaining` the filter accepts. Reasons: own items "buy again", learned picks the seed that
   * explains them ("because you bought" / "similar to"), the rest trending/popular.
   */
  private scoreServed(
    model: LoadedModel,
    person: ServedPerson & { lastTime?: ArrayLike<number>; intervalDays?: ArrayLike<number> },
    seeds: number[],
    b: ListBuilder,
    list: 'discovery' | 'all',
    because: 'because_you_bought' | 'similar_to' = 'because_you_bought',
  ): Candidate[] {
    const prep = preparedOf(model);
    const served = prep.served!;
    const spec = served.spec[list];
    const top = topAccepted(scoreListInto(served.tables, spec, person, prep.scores, prep.servedScratch), b.remaining, (i) => b.filter.accepts(i));
    const owned = new Map<number, number>();
    if (spec.ownedFirst) for (let q = 0; q < person.items.length; q++) owned.set(person.items[q], q);
    const learned = specNeeds(spec).learned !== null || specNeeds(spec).tifu;
    return top.map(({ id, score }): Candidate => {
      const q = owned.get(id);
      if (q !== undefined && score >= OWNED_BASE) {
        const last = person.lastTime?.[q];
        return {
          item: id,
          score,
          reason: { type: 'buy_again', lastPurchased: last !== undefined ? new Date(last).toISOString() : '', expectedInDays: null, purchases: person.counts[q] },
        };
      }
      const seed = learned ? explainingSeed(model, seeds, id) : -1;
      if (seed >= 0) return { item: id, score, reason: { type: because, sku: model.items[seed] } };
      return { item: id, score, reason: learned ? { type: 'personal' } : { type: 'popular', scope: 'global' } };
    });
  }

  /** Guests: fold-in of the session items with the model's item factors; fallback neighbours, popular. */
  async session(items: string[], options: ListOptions): Promise<RecList> {
    const model = this.model();
    const seeds = [...new Set(items.map((s) => model.itemIndex.get(s)).filter((i): i is number => i !== undefined))];
    // a session's list depends only on the model, its known items (in order: reasons name the first
    // explaining one), the options and the stock set: served again while those are the same
    const cacheKey = `session\u0000${seeds.join(',')}\u0000${JSON.stringify(options)}`;
    const inputs = [model, options.store ? this.deps.inventory.inStock(options.store) : undefined];
    const cached = this.lists.get(cacheKey, inputs);
    if (cached) {
      if (cached.fallbackReason) this.deps.onFallback?.('session', cached.fallbackReason);
      return cached;
    }
    const { b, warnings } = this.builder(model, options, options.excludePurchased === false ? [] : seeds);
    let failure: FallbackReason | null = seeds.length === 0 ? 'unknown_item' : null;
    const served = preparedOf(model).served;
    if (seeds.length && served) {
      // the served discovery list over the session (items fold in with training's weight of one purchase)
      const vector = model.als ? this.sessionVector(model, seeds, served.foldInWeight) : null;
      b.add('factors', this.scoreServed(model, { items: seeds, counts: seeds.map(() => 1), vector }, seeds, b, 'discovery', 'similar_to'));
    } else if (seeds.length && model.als) {
      const x = this.sessionVector(model, seeds, 1);
      b.add('factors', this.scoreFactors(model, x, null, seeds, b, { ...options, excludePurchased: true }, 'similar_to'));
    } else if (seeds.length) failure = 'no_factors';
    if (seeds.length && b.remaining > 0) {
      b.add('neighbours', aggregateLists(model, model.neighbours, seeds, b.filter, b.remaining, (s) => ({ type: 'similar_to', sku: s })));
    }
    this.addPopular(b, options);
    return this.lists.set(cacheKey, inputs, this.finish('session', b, 'factors', warnings, failure));
  }

  /** A guest's factor vector: the exact ALS fold-in of the session items, each weighted like one purchase line in training. */
  private sessionVector(model: LoadedModel, seeds: readonly number[], weight: number): Float32Array {
    const als = model.als!;
    const p = preparedOf(model);
    return foldInFactored({ itemFactors: als.itemFactors, k: als.k, gram: p.gram!, reg: als.reg, alpha: als.alpha }, p.gramCholesky!, seeds, seeds.map(() => weight), p.solvedItem!);
  }

  /**
   * The order of a customer's own items under a buy-again ranking other than rhythm (a full scoring
   * pass for 'served'), kept per record object: it depends on nothing else than the model and the
   * record, and a changed record is a new object (the model source's LRU), so it can never be stale.
   */
  private ownedOrderOf(model: LoadedModel, served: NonNullable<ReturnType<typeof preparedOf>['served']>, record: CustomerRecord, ranking: Exclude<BuyAgainRanking, 'rhythm'>): number[] {
    const kept = this.ownedOrders.get(record);
    if (kept && kept.model === model && kept.ranking === ranking) return kept.order;
    const order = ownedOrder(served.tables, served.spec, record, ranking);
    this.ownedOrders.set(record, { model, ranking, order });
    return order;
  }
  private readonly ownedOrders = new WeakMap<CustomerRecord, { model: LoadedModel; ranking: string; order: number[] }>();

  /** "Buy it again": the customer's repeat items by expected time to repurchase; fallback popular. */
  async buyAgain(customerId: string, options: ListOptions): Promise<RecList> {
    const model = this.model();
    const access = await this.deps.access.resolve(customerId);
    const { b, warnings } = this.builder(model, options);
    let failure = this.accessFailure(access);
    let extra = {};
    if (access.status === 'ok') {
      if (access.customerId !== customerId) extra = { customerId: access.customerId };
      const record = await this.deps.source.customer(access.customerId, model);
      if (record) {
        // the ranking chosen on validation's buy-again protocol (rhythm by default)
        const served = preparedOf(model).served;
        const ranking = served?.spec.buyAgain ?? 'rhythm';
        const order = served && ranking !== 'rhythm' ? this.ownedOrderOf(model, served, record, ranking) : undefined;
        b.add('repeat', buyAgain(model, record, b.filter, b.remaining, this.now(), order));
      }
      else failure = this.deps.source.status().cache === 'degraded' ? 'cache_unavailable' : 'no_history';
      if (!b.items.length) failure ??= 'no_history';
    }
    // a customer's own list is not padded with strangers' items; popular only when it is empty
    if (b.items.length === 0) this.addPopular(b, options);
    return this.finish('buy_again', b, 'repeat', warnings, b.source === 'repeat' ? null : failure, extra);
  }
}
