/**
 * What a store associate's tablet asks for, each in one call: the customer card (who this person
 * is across channels, what to suggest from this store's shelves, which offer fits) and the product
 * card (similar items, frequently bought together, stock by store). Reads the history store once or
 * twice (Store.customerCard / productDetail, then the titles of the items recommended) and the served
 * model through RecommendationService, so the lists are exactly those of the list endpoints.
 */
import type { ModelSource } from '../cache/model-source.js';
import { maskIdentifier } from '../core/mask-identifier.js';
import type { OfferReason } from '../core/offers/types.js';
import { CONSENT_PURPOSES, type ConsentPurpose, type Identifier, type Product, type Segment } from '../core/records.js';
import type { ChannelActivity, CustomerCardData, ProductDetail, Store } from '../store/store.js';
import { explainOfferReason, explainReason } from './explain-reason.js';
import type { CustomerAccessCache } from './customer-access.js';
import type { InventorySnapshot } from './inventory-snapshot.js';
import type { RecommendationService } from './recommendation-service.js';
import type { FallbackReason, Reason, RecItem, RecList } from './rec-list.js';

const DAY_MS = 86_400_000;
/** Buy-again items on the card. */
const BUY_AGAIN_ITEMS = 5;

/** A list item as people read it: the product's title and the reason in words (`why`). */
export interface DescribedItem extends RecItem {
  title: string | null;
  why: string;
}

/** A list on a card: the items, or none and why (`reason`). */
export interface CardList {
  items: DescribedItem[];
  /** Why the list is empty or not from its primary source (no_consent, no_model, no_history, …). */
  reason?: FallbackReason | 'no_model';
  model?: RecList['model'];
  fallback?: boolean;
  warnings?: string[];
}

/** What the next-best-offer decision answers (src/serve/offer-service.ts), as far as the card reads it. */
export interface OfferDecision {
  offers: { offerId: string; title: string; kind: string; score: number; propensity: number; value: number; reason: { type: string; details: OfferReason[] } }[];
  decisionId: string;
  policy?: { name: string; version: string };
  fallback: boolean;
  fallbackReason?: string;
}

/** The next-best-offer part of the card: the decision's offers with their reasons in words, or none and why. */
export type NextBestOfferPart =
  | { available: false; reason: string; decisionId?: string }
  | { available: true; offers: (OfferDecision['offers'][number] & { why: string })[]; decisionId: string; policy?: OfferDecision['policy']; fallback: boolean; fallbackReason?: string };

/**
 * Decides the next best offer for a customer (the card asks for channel `store`); null when no offer is
 * configured. A failure (decisions not configured, store down) leaves the card without an offer, saying so.
 */
export type NextBestOfferFn = (customerId: string, options: { channel: 'store'; store?: string; limit: number }) => Promise<OfferDecision | null>;

export interface CustomerCard {
  customerId: string;
  identifiers: Identifier[];
  segment: Segment | null;
  rfm: { recencyDays: number | null; frequency: number; monetary: number };
  lifetimeValue: number;
  orders: number;
  averageOrderValue: number | null;
  channels: Record<'web' | 'app' | 'store', ChannelActivity>;
  favouriteStore: CustomerCardData['favouriteStore'];
  favouriteCategories: CustomerCardData['favouriteCategories'];
  firstPurchaseAt: string | null;
  lastPurchaseAt: string | null;
  recentPurchases: { date: string; channel: string; store: string | null; sku: string; title: string | null; quantity: number; unitPrice: number }[];
  /** Per purpose: the choice in force, recorded (at, source) or the configured default (CONSENT_DEFAULTS). */
  consent: Record<ConsentPurpose, { granted: boolean; basis: 'recorded' | 'default'; at: string | null; source: string | null }>;
  buyAgain: CardList & { items: (DescribedItem & { inStock: boolean | null })[] };
  recommendations: CardList & { store: string | null };
  nextBestOffer: NextBestOfferPart;
}

export interface ProductCard extends Product {
  stock: ProductDetail['stock'];
  similar: CardList;
  boughtTogether: CardList;
}

export interface ClientelingDeps {
  store: Pick<Store, 'customerCard' | 'productTitles' | 'searchProducts' | 'productDetail'>;
  service: RecommendationService;
  /** The service's access cache: the card's statement answers its question too (one query fewer). */
  access: CustomerAccessCache;
  source: ModelSource;
  inventory: InventorySnapshot;
  now?: () => number;
  nextBestOffer?: NextBestOfferFn;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export class ClientelingService {
  private readonly now: () => number;
  constructor(private readonly deps: ClientelingDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The customer card, or null when the id is unknown (or erased). Merged-away ids resolve. */
  async card(customerId: string, options: { store?: string; limit: number }): Promise<CustomerCard | null> {
    const { service, source } = this.deps;
    const model = source.current();
    const store = options.store ?? null;
    // the store's statement first: it answers who they are and their consent, so the lists that
    // follow (and every list asked for them in the next seconds) need no query of their own
    const read = this.deps.access.reading();
    // their record read meanwhile (the id asked for is nearly always the surviving one); used only
    // once the statement says they consent
    const early = model ? source.customer(customerId, model).catch(() => null) : null;
    const data = await this.deps.store.customerCard(customerId);
    if (!data) return null;
    const personalisation = data.consent.find((c) => c.purpose === 'personalisation')?.granted === true;
    this.deps.access.remember(customerId, { status: personalisation ? 'ok' : 'no_consent', customerId: data.customerId }, read);
    // with consent, their record once (the segment when the store has none; both lists then find it in the LRU)
    const record = model && personalisation ? (data.customerId === customerId ? await early : await source.customer(data.customerId, model)) : null;
    const segment = data.segment ?? record?.segment ?? null;
    const [recs, again, decision] = await Promise.all([
      personalisation && model ? service.personal(customerId, { limit: options.limit, store: options.store, channel: 'store', excludePurchased: true }) : null,
      personalisation && model ? service.buyAgain(customerId, { limit: BUY_AGAIN_ITEMS }) : null,
      this.deps.nextBestOffer
        ? this.deps.nextBestOffer(customerId, { channel: 'store', store: options.store, limit: 1 }).catch((): 'unavailable' => 'unavailable')
        : null,
    ]);

    const consent = Object.fromEntries(CONSENT_PURPOSES.map((p) => [p, { granted: false, basis: 'default', at: null, source: null }])) as CustomerCard['consent'];
    for (const c of data.consent) consent[c.purpose] = { granted: c.granted, basis: c.basis, at: c.time ?? null, source: c.source ?? null };
    // an instance's own answer may still say no (a withdrawal it heard of first): no personal lists then either
    const noConsent = !personalisation || recs?.fallbackReason === 'no_consent';

    const personal = !noConsent && recs ? recs : null;
    const ownItems = !noConsent && again && again.model.source === 'repeat' ? again.items : [];
    const decided = decision === 'unavailable' ? null : decision;
    const offerSkus = (decided?.offers ?? []).flatMap((o) => o.reason.details.flatMap((d) => (d.type === 'affinity' && d.sku ? [d.sku] : [])));
    const titles = await this.titles([...(personal?.items ?? []), ...ownItems], [], offerSkus);

    const recommendations: CustomerCard['recommendations'] = noConsent
      ? { store, items: [], reason: 'no_consent' }
      : !personal
        ? { store, items: [], reason: 'no_model' }
        : { store, ...this.describe(personal, titles) };
    const inStock = store ? this.deps.inventory.inStock(store) : undefined;
    const buyAgain: CustomerCard['buyAgain'] = noConsent
      ? { items: [], reason: 'no_consent' }
      : !again
        ? { items: [], reason: 'no_model' }
        : ownItems.length === 0
          ? { items: [], reason: again.fallbackReason ?? 'no_history' }
          : { items: this.describeItems(ownItems, titles).map((i) => ({ ...i, inStock: inStock ? inStock.has(i.sku) : null })), model: again.model };

    const name = (sku: string) => titles.get(sku) ?? sku;
    const nextBestOffer: NextBestOfferPart =
      decision === 'unavailable'
        ? { available: false, reason: 'offers_unavailable' }
        : !decided
          ? { available: false, reason: 'offers_not_configured' }
          : decided.offers.length === 0
            ? { available: false, reason: decided.fallbackReason ?? 'no_offer', decisionId: decided.decisionId }
            : {
                available: true,
                offers: decided.offers.map((o) => ({ ...o, why: explainOfferReason(o.reason.details, name) })),
                decisionId: decided.decisionId,
                ...(decided.policy ? { policy: decided.policy } : {}),
                fallback: decided.fallback,
                ...(decided.fallbackReason ? { fallbackReason: decided.fallbackReason } : {}),
              };

    return {
      customerId: data.customerId,
      identifiers: data.identifiers.map(maskIdentifier),
      segment,
      rfm: {
        recencyDays: data.lastOrderAt === null ? null : round(Math.max(0, this.now() - data.lastOrderAt) / DAY_MS, 1),
        frequency: data.orders,
        monetary: data.spend,
      },
      lifetimeValue: data.spend,
      orders: data.orders,
      averageOrderValue: data.orders > 0 ? round(data.spend / data.orders, 2) : null,
      channels: data.channels,
      favouriteStore: data.favouriteStore,
      favouriteCategories: data.favouriteCategories,
      firstPurchaseAt: data.firstOrderAt === null ? null : new Date(data.firstOrderAt).toISOString(),
      lastPurchaseAt: data.lastOrderAt === null ? null : new Date(data.lastOrderAt).toISOString(),
      recentPurchases: data.recentPurchases.map((p) => ({
        date: new Date(p.time).toISOString(),
        channel: p.channel,
        store: p.storeId,
        sku: p.sku,
        title: p.title,
        quantity: p.quantity,
        unitPrice: p.unitPrice,
      })),
      consent,
      buyAgain,
      recommendations,
      nextBestOffer,
    };
  }

  /** The product card, or null when neither the catalogue nor the model knows the sku. */
  async product(sku: string, options: { store?: string; limit: number }): Promise<ProductCard | null> {
    const { service } = this.deps;
    const model = this.deps.source.current();
    const list = { limit: options.limit, store: options.store };
    const [detail, similar, together] = await Promise.all([
      this.deps.store.productDetail(sku),
      model ? service.similar(sku, list) : null,
      model ? service.basket([sku], list) : null,
    ]);
    if (!detail && !model?.itemIndex.has(sku)) return null;
    const titles = await this.titles([...(similar?.items ?? []), ...(together?.items ?? [])], detail ? [detail] : []);
    const part = (l: RecList | null): CardList => (l ? this.describe(l, titles) : { items: [], reason: 'no_model' });
    return {
      sku,
      title: detail?.title ?? null,
      category: detail?.category ?? (model ? (model.itemCategories[model.itemIndex.get(sku) ?? -1] ?? null) : null),
      price: detail?.price ?? null,
      active: detail?.active ?? true,
      stock: detail?.stock ?? [],
      similar: part(similar),
      boughtTogether: part(together),
    };
  }

  searchProducts(query: string, limit: number): Promise<Product[]> {
    return this.deps.store.searchProducts(query, limit);
  }

  /** Titles of the items, of the products their reasons name and of `more`, in one query; `known` are already at hand. */
  private async titles(items: readonly RecItem[], known: readonly Product[] = [], more: readonly string[] = []): Promise<Map<string, string | null>> {
    const skus = new Set<string>(more);
    for (const i of items) {
      skus.add(i.sku);
      if ('sku' in i.reason) skus.add(i.reason.sku);
    }
    for (const p of known) skus.delete(p.sku);
    const titles = skus.size ? await this.deps.store.productTitles([...skus]) : new Map<string, string | null>();
    for (const p of known) titles.set(p.sku, p.title);
    return titles;
  }

  private describeItems(items: readonly RecItem[], titles: Map<string, string | null>): DescribedItem[] {
    const name = (sku: string) => titles.get(sku) ?? sku;
    return items.map((i) => ({ ...i, title: titles.get(i.sku) ?? null, why: explainReason(i.reason as Reason, name) }));
  }

  private describe(list: RecList, titles: Map<string, string | null>): CardList {
    return {
      items: this.describeItems(list.items, titles),
      model: list.model,
      fallback: list.fallback,
      ...(list.fallbackReason ? { reason: list.fallbackReason } : {}),
      ...(list.warnings ? { warnings: list.warnings } : {}),
    };
  }
}
