/**
 * Purchase events (POST /v1/events/purchases): one order, recorded in the history store through the
 * import path (identity resolution, merges, idempotent by order id), then the buyer's record in the
 * model version in service refreshed at once (src/train/customer-refresh.ts: their whole history,
 * training's weighting, ALS fold-in), so "recommended for you" and "buy it again" reflect the purchase
 * before the next training run. No personalisation consent: recorded, no record written.
 */
import type { LoadedModel, ModelSource } from '../cache/model-source.js';
import { ConflictError, NotFoundError, UnavailableError } from '../core/errors.js';
import type { Channel, Identifier, OrderLine } from '../core/records.js';
import type { CustomerAccess, RecordedOrder, Store } from '../store/store.js';
import { refreshCustomer } from '../train/customer-refresh.js';

export interface PurchaseEvent {
  orderId: string;
  channel: Channel;
  store?: string;
  /** Epoch ms. */
  time: number;
  customerId?: string;
  /** Normalised identifiers of the buyer. */
  identifiers: Identifier[];
  lines: { sku: string; quantity: number; unitPrice?: number }[];
}

/** Why the customer's record was not refreshed. */
export type RefreshSkipped = 'no_model' | 'no_consent' | 'cache_unavailable' | 'erased';

export interface PurchaseResult {
  customerId: string;
  orderId: string;
  /** Lines newly recorded; 0 when the order was posted before. */
  imported: number;
  /** Lines already recorded (same order id and line position). */
  duplicates: number;
  /** Customers merged into this one because the event carried identifiers of several. */
  merges: number;
  /** The model version whose record was refreshed (null when none was). */
  modelVersion: string | null;
  /** The customer's record (history, buy-again data) was rewritten in that version. */
  recordRefreshed: boolean;
  /** The record carries a vector folded in from the history (false: no factors, or no sku of the model). */
  vectorRefreshed: boolean;
  refreshSkipped?: RefreshSkipped;
}

export interface PurchaseDeps {
  store: Store;
  source: ModelSource;
  /** Forgets what this instance and every other caches about these customer ids (see routes.ts invalidateCustomers). */
  invalidate: (ids: string[]) => Promise<void>;
}

/**
 * Refreshes of one customer run one after another in this instance, so that the last one reads every
 * order committed before it (across instances, a customer's next event or training settles a race).
 */
const refreshes = new Map<string, Promise<unknown>>();
function oneAtATime<T>(key: string, run: () => Promise<T>): Promise<T> {
  const next = (refreshes.get(key) ?? Promise.resolve()).catch(() => undefined).then(run);
  refreshes.set(key, next);
  const forget = () => {
    if (refreshes.get(key) === next) refreshes.delete(key);
  };
  next.then(forget, forget);
  return next;
}

/**
 * Records one purchase event and refreshes the buyer's record. `signal` (the request's deadline):
 * an event still waiting for its turn at the store when it aborts is not written at all.
 */
export async function recordPurchase(deps: PurchaseDeps, e: PurchaseEvent, signal?: AbortSignal): Promise<PurchaseResult> {
  const { store, source } = deps;
  // a known customer id joins the order by one of its identifiers: the import path resolves it back
  // (the two reads at once: each round trip counts against the request's deadline)
  const identifiers = [...e.identifiers];
  const [known, recorded] = await Promise.all([e.customerId === undefined ? null : store.customerIdentifiers(e.customerId), store.recordedOrder(e.orderId, EVENT_SOURCE)]);
  if (known !== null) {
    if (known.length === 0) throw new NotFoundError(`unknown customer ${e.customerId}`, { field: 'customerId', customerId: e.customerId });
    identifiers.unshift(known[0]);
  }
  await checkRepost(store, e, identifiers, recorded);
  const lines: OrderLine[] = e.lines.map((l, i) => ({
    orderId: e.orderId,
    source: EVENT_SOURCE, // events are their own source: a file's order with the same id is another order
    channel: e.channel,
    storeId: e.store ?? null,
    time: e.time,
    identifiers,
    sku: l.sku,
    title: null,
    category: null,
    quantity: l.quantity,
    unitPrice: l.unitPrice ?? 0,
    cancels: null,
    lineNo: i + 1,
  }));
  const imported = await store.importLines(lines, { signal });
  const found = await store.findCustomer(identifiers[0]);
  if (found === null) {
    // the buyer was erased after the order's time (or while this event ran): the order is recorded as
    // a guest's (counted erased), and no one's record is refreshed
    throw new NotFoundError('the buyer is erased: the order is recorded as a guest order', { field: e.customerId !== undefined ? 'customerId' : 'identifiers', erased: imported.erased ?? 0 });
  }
  const customerId = found;
  const model = source.current();
  const [ids, access] = await Promise.all([store.customerIds(customerId), model ? store.customerAccess(customerId) : null]);
  const changed = [...new Set([...ids, ...(e.customerId ? [e.customerId] : [])])];
  const result: PurchaseResult = {
    customerId,
    orderId: e.orderId,
    imported: imported.imported,
    duplicates: imported.duplicates,
    merges: imported.merges,
    modelVersion: null,
    recordRefreshed: false,
    vectorRefreshed: false,
  };
  try {
    return await refreshRecord(deps, customerId, result, model, access);
  } finally {
    // once the record is rewritten (or not): an instance that forgets them now re-reads the new one
    await deps.invalidate(changed);
  }
}

/** The source of purchase events' orders (order identity is source and order id). */
const EVENT_SOURCE = 'event';

/** Quantities and prices as the store keeps them (numeric(14,3), numeric(14,4)). */
const sameLine = (a: { sku: string; quantity: number; unitPrice: number }, b: PurchaseEvent['lines'][number]) =>
  a.sku === b.sku && Math.round(a.quantity * 1e3) === Math.round(b.quantity * 1e3) && Math.round(a.unitPrice * 1e4) === Math.round((b.unitPrice ?? 0) * 1e4);

/**
 * Idempotence by order id holds for the same order only: an order id already recorded may be posted
 * again with the same lines (in the same positions) by the same customer (any of their identifiers,
 * none of another customer's), and then records nothing new; anything else is a ConflictError (409)
 * naming what differs, `lines` or `customer` (an event order recorded without a customer, an erased
 * customer's, belongs to no buyer an event could name). Its time, channel and store may differ (a
 * till re-sending without `time` gets "now"). Imported orders live under their own sources: an event
 * with an imported invoice's id is another order.
 */
async function checkRepost(store: Store, e: PurchaseEvent, identifiers: Identifier[], recorded: RecordedOrder | null): Promise<void> {
  if (recorded === null) return;
  const context = { orderId: e.orderId };
  if (recorded.lines.length !== e.lines.length || !recorded.lines.every((l, i) => sameLine(l, e.lines[i]))) {
    throw new ConflictError(`order ${e.orderId} is already recorded with other lines: an order id stands for one order (post a new id for another)`, {
      ...context,
      conflict: 'lines',
    });
  }
  const owners = new Set((await Promise.all(identifiers.map((i) => store.findCustomer(i)))).filter((id): id is string => id !== null));
  if (recorded.customerId === null || owners.size !== 1 || !owners.has(recorded.customerId)) {
    throw new ConflictError(
      recorded.customerId === null
        ? `order ${e.orderId} is already recorded without a customer (an erased customer's): an event cannot claim it`
        : `order ${e.orderId} is already recorded for another customer`,
      { ...context, conflict: 'customer' },
    );
  }
}

/** Rewrites the buyer's record in `model` (the version in service, read after the order was recorded), when there is one and they consented. */
async function refreshRecord(
  { store, source }: PurchaseDeps,
  customerId: string,
  result: PurchaseResult,
  model: LoadedModel | null,
  access: CustomerAccess | null,
): Promise<PurchaseResult> {
  if (!model) return { ...result, refreshSkipped: 'no_model' };
  if (!access?.personalisation) return { ...result, refreshSkipped: 'no_consent' };
  return oneAtATime(customerId, async (): Promise<PurchaseResult> => {
    const [history, previous] = await Promise.all([store.customerHistory(customerId), source.customer(customerId, model)]);
    const refreshed = refreshCustomer(model, customerId, history, previous?.segment ?? null, previous);
    try {
      // erased meanwhile (a DELETE racing this event): the record is not written, whatever the timing
      if (!(await source.putCustomer(customerId, refreshed.record, model))) return { ...result, refreshSkipped: 'erased' };
    } catch (err) {
      // recorded in the store all the same (the source counts the cache error); posting again retries the refresh
      if (err instanceof UnavailableError) return { ...result, refreshSkipped: 'cache_unavailable' };
      throw err;
    }
    return { ...result, modelVersion: model.version, recordRefreshed: true, vectorRefreshed: refreshed.vector };
  });
}
