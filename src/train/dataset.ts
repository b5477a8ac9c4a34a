/**
 * Unified history lines → TrainingData (src/core/recommender.ts) plus what the bundle and the
 * popularity/segment models need besides the matrices. Lines arrive in batches (constant memory
 * per batch; the builder itself keeps a few typed arrays per line), weighting is src/train/weighting.ts.
 *
 * @example
 * const b = new DatasetBuilder();
 * for await (const batch of store.historyLines()) b.add(batch);
 * const data = b.finish({ ...DEFAULT_WEIGHTING, halfLifeDays: 180 });
 * await model.fit(data);
 */
import type { Csr } from '../core/csr.js';
import { InvalidArgumentError, ModelFitError } from '../core/errors.js';
import { CHANNELS, type HistoryLine } from '../core/records.js';
import type { TrainingData } from '../core/recommender.js';
import { orderKey } from '../store/import-plan.js';
import { DEFAULT_WEIGHTING, type WeightingOptions, interactionWeight, lineContribution, weightingProblems } from './weighting.js';
import { Grow } from '../core/grow.js';

/** Purchase lines (quantity > 0, known item) in columnar form, in input order. */
export interface PurchaseColumns {
  /** Customer index, −1 for a guest. */
  customer: Int32Array;
  item: Int32Array;
  /** Order (basket) index: a row of TrainingData.baskets. */
  order: Int32Array;
  /** Store index into Dataset.stores, −1 when none. */
  store: Int32Array;
  /** Channel index into CHANNELS (src/core/records.ts), NO_CHANNEL when unknown. */
  channel: Uint8Array;
  /** Epoch ms. */
  time: Float64Array;
  quantity: Float32Array;
  unitPrice: Float32Array;
}

/** Per-customer figures for RFM segments (net of returns). */
export interface CustomerStats {
  /** Distinct orders with at least one purchase line. */
  orders: Int32Array;
  /** Σ quantity × unit price over all lines, returns subtracted. */
  revenue: Float64Array;
  /** First and last purchase time (epoch ms; NaN when none). */
  first: Float64Array;
  last: Float64Array;
}

export interface Dataset extends TrainingData {
  /** Aligned with `counts` entries: last purchase time (epoch ms) of each customer-item pair. */
  pairLastTime: Float64Array;
  /** Aligned with `counts` entries: mean days between purchase lines of the pair (NaN when bought once). */
  pairIntervalDays: Float32Array;
  customerStats: CustomerStats;
  purchases: PurchaseColumns;
  /** Store index → store id. */
  stores: string[];
  /** Order index → source order id (orders of different sources may share one: baskets are keyed by source and id). */
  orders: string[];
  weighting: WeightingOptions;
  summary: DatasetSummary;
}

export interface DatasetSummary {
  /** Lines read (all kinds). */
  lines: number;
  purchaseLines: number;
  returnLines: number;
  guestLines: number;
  /** Lines dropped because their item or customer is outside a fixed index, or they fall outside the time window. */
  droppedLines: number;
  customers: number;
  items: number;
  orders: number;
  /** Customer-item pairs with an interaction. */
  pairs: number;
  /** Pairs whose returns cancelled every purchase (no interaction). */
  cancelledPairs: number;
  from: string | null;
  to: string | null;
}

export interface DatasetOptions {
  /** A fixed item index (e.g. the evaluation's); lines of other items are dropped. */
  items?: readonly string[];
  /** A fixed customer index; lines of other customers count as guests' (baskets only). */
  customers?: readonly string[];
  /** Only lines with time < before (epoch ms) are kept. */
  before?: number;
  /** Only lines with time >= after (epoch ms) are kept. */
  after?: number;
}


const i32 = () => new Grow(new Int32Array(1024), (n) => new Int32Array(n));
const f64 = () => new Grow(new Float64Array(1024), (n) => new Float64Array(n));
const f32 = () => new Grow(new Float32Array(1024), (n) => new Float32Array(n));

const DAY_MS = 86_400_000;
/** PurchaseColumns.channel of a line whose channel is none of CHANNELS. */
export const NO_CHANNEL = 255;
const channelIndex = (c: string) => {
  const i = (CHANNELS as readonly string[]).indexOf(c);
  return i < 0 ? NO_CHANNEL : i;
};
/** Orders remembered by id (per generation) while lines stream in. */
const ORDER_WINDOW = 500_000;

/** Accumulates history lines batch by batch; `finish` builds the matrices. */
export class DatasetBuilder {
  private readonly itemIndex = new Map<string, number>();
  private readonly customerIndex = new Map<string, number>();
  /**
   * Order key (orderKey(source, order id)) → index, in two generations: lines of one order arrive together (files list an order's
   * lines in a row, the store reads in time order), so ids older than ORDER_WINDOW orders are
   * forgotten — this keeps the map small on tens of millions of lines.
   */
  private orderIndex = new Map<string, number>();
  private olderOrders = new Map<string, number>();
  private readonly storeIndex = new Map<string, number>();
  private readonly items: string[] = [];
  private readonly customers: string[] = [];
  private readonly orders: string[] = [];
  private readonly stores: string[] = [];
  private readonly fixedItems: boolean;
  private readonly fixedCustomers: boolean;
  // every kept line (purchases and returns)
  private readonly cust = i32();
  private readonly item = i32();
  private readonly order = i32();
  private readonly store = i32();
  private readonly channel = i32();
  private readonly time = f64();
  private readonly qty = f32();
  private readonly price = f32();
  private lines = 0;
  private dropped = 0;
  private minTime = Infinity;
  private maxTime = -Infinity;

  constructor(private readonly options: DatasetOptions = {}) {
    this.fixedItems = options.items !== undefined;
    this.fixedCustomers = options.customers !== undefined;
    options.items?.forEach((s, i) => {
      this.itemIndex.set(s, i);
      this.items.push(s);
    });
    options.customers?.forEach((c, i) => {
      this.customerIndex.set(c, i);
      this.customers.push(c);
    });
  }

  add(batch: readonly HistoryLine[]): void {
    const { before = Infinity, after = -Infinity } = this.options;
    for (const l of batch) {
      this.lines++;
      if (!(l.time < before) || l.time < after || !(l.quantity !== 0) || !Number.isFinite(l.quantity)) {
        this.dropped++;
        continue;
      }
      let it = this.itemIndex.get(l.sku);
      if (it === undefined) {
        if (this.fixedItems || l.quantity < 0) {
          // a return of an item never bought in the window cancels nothing here
          this.dropped++;
          continue;
        }
        it = this.items.length;
        this.itemIndex.set(l.sku, it);
        this.items.push(l.sku);
      }
      let cu = -1;
      if (l.customerId !== null) {
        const c = this.customerIndex.get(l.customerId);
        if (c !== undefined) cu = c;
        else if (!this.fixedCustomers) {
          cu = this.customers.length;
          this.customerIndex.set(l.customerId, cu);
          this.customers.push(l.customerId);
        }
      }
      if (cu < 0 && l.quantity < 0) {
        // guests' returns: baskets hold purchases only
        this.dropped++;
        continue;
      }
      let od = -1;
      if (l.quantity > 0) {
        // a basket is an order of the store: (source, order id), not the order id alone
        const key = orderKey(l.source ?? l.channel, l.orderId);
        od = this.orderIndex.get(key) ?? this.olderOrders.get(key) ?? -1;
        if (od < 0) {
          od = this.orders.length;
          if (this.orderIndex.size >= ORDER_WINDOW) {
            this.olderOrders = this.orderIndex;
            this.orderIndex = new Map();
          }
          this.orderIndex.set(key, od);
          this.orders.push(l.orderId);
        }
      }
      let st = -1;
      if (l.storeId !== null) {
        st = this.storeIndex.get(l.storeId) ?? -1;
        if (st < 0) {
          st = this.stores.length;
          this.storeIndex.set(l.storeId, st);
          this.stores.push(l.storeId);
        }
      }
      this.cust.push(cu);
      this.item.push(it);
      this.order.push(od);
      this.store.push(st);
      this.channel.push(channelIndex(l.channel));
      this.time.push(l.time);
      this.qty.push(l.quantity);
      this.price.push(l.unitPrice);
      if (l.time < this.minTime) this.minTime = l.time;
      if (l.time > this.maxTime) this.maxTime = l.time;
    }
  }

  /**
   * Renames customers before `finish`, merging those that get the same id (e.g. provisional
   * provisional ids resolved once the whole file is read); a null id makes the lines a guest's.
   * Not with a fixed customer index.
   */
  relabelCustomers(rename: (id: string) => string | null): void {
    if (this.fixedCustomers) throw new InvalidArgumentError('cannot relabel a fixed customer index');
    const next = new Map<string, number>();
    const ids: string[] = [];
    const map = new Int32Array(this.customers.length);
    this.customers.forEach((old, c) => {
      const id = rename(old);
      if (id === null) {
        map[c] = -1;
        return;
      }
      let n = next.get(id);
      if (n === undefined) {
        n = ids.length;
        next.set(id, n);
        ids.push(id);
      }
      map[c] = n;
    });
    const cust = this.cust.a;
    for (let p = 0; p < this.cust.length; p++) if (cust[p] >= 0) cust[p] = map[cust[p]];
    this.customers.length = 0;
    for (const id of ids) this.customers.push(id);
    this.customerIndex.clear();
    for (const [id, n] of next) this.customerIndex.set(id, n);
  }

  /** Number of lines added so far. */
  get linesRead(): number {
    return this.lines;
  }

  /** Builds weights, counts, baskets and the side data. */
  finish(weighting: WeightingOptions = DEFAULT_WEIGHTING): Dataset {
    const problems = weightingProblems(weighting);
    if (problems.length) throw new InvalidArgumentError(`bad weighting: ${problems.join('; ')}`, { weighting });
    const n = this.cust.length;
    const cust = this.cust.a;
    const item = this.item.a;
    const order = this.order.a;
    const time = this.time.a;
    const qty = this.qty.a;
    const price = this.price.a;
    const nC = this.customers.length;
    const nI = this.items.length;
    const nO = this.orders.length;
    const now = weighting.now ?? (Number.isFinite(this.maxTime) ? this.maxTime : 0);

    // counting sort of customers' lines by customer (stable: input order kept within a customer)
    const start = new Int32Array(nC + 1);
    for (let p = 0; p < n; p++) if (cust[p] >= 0) start[cust[p] + 1]++;
    for (let c = 0; c < nC; c++) start[c + 1] += start[c];
    const perm = new Int32Array(start[nC]);
    const fill = start.slice(0, nC);
    for (let p = 0; p < n; p++) if (cust[p] >= 0) perm[fill[cust[p]]++] = p;

    const stats: CustomerStats = {
      orders: new Int32Array(nC),
      revenue: new Float64Array(nC),
      first: new Float64Array(nC).fill(NaN),
      last: new Float64Array(nC).fill(NaN),
    };
    const indptr = new Int32Array(nC + 1);
    const outItems = i32();
    const outW = f32();
    const outCount = f32();
    const outLast = f64();
    const outInterval = f32();
    // per-item scratch, reset per customer through `touched`
    const slot = new Int32Array(nI).fill(-1);
    const orderStamp = new Int32Array(nO).fill(-1);
    let touched = new Int32Array(64);
    let sLines = new Float64Array(64);
    let sGross = new Float64Array(64);
    let sNet = new Float64Array(64);
    let sR = new Float64Array(64);
    let sFirst = new Float64Array(64);
    let sLast = new Float64Array(64);
    let cancelledPairs = 0;
    for (let c = 0; c < nC; c++) {
      let m = 0;
      let first = Infinity;
      let last = -Infinity;
      for (let q = start[c]; q < start[c + 1]; q++) {
        const p = perm[q];
        const it = item[p];
        const x = qty[p];
        stats.revenue[c] += x * price[p];
        let s = slot[it];
        if (s < 0) {
          if (m === touched.length) {
            const grow = (a: Float64Array) => {
              const b = new Float64Array(a.length * 2);
              b.set(a);
              return b;
            };
            const t2 = new Int32Array(m * 2);
            t2.set(touched);
            touched = t2;
            sLines = grow(sLines);
            sGross = grow(sGross);
            sNet = grow(sNet);
            sR = grow(sR);
            sFirst = grow(sFirst);
            sLast = grow(sLast);
          }
          s = m++;
          slot[it] = s;
          touched[s] = it;
          sLines[s] = sGross[s] = sNet[s] = sR[s] = 0;
          sFirst[s] = Infinity;
          sLast[s] = -Infinity;
        }
        sNet[s] += x;
        if (x > 0) {
          const t = time[p];
          sLines[s]++;
          sGross[s] += x;
          sR[s] += lineContribution(weighting, x, t, now);
          if (t < sFirst[s]) sFirst[s] = t;
          if (t > sLast[s]) sLast[s] = t;
          if (t < first) first = t;
          if (t > last) last = t;
          const o = order[p];
          if (orderStamp[o] !== c) {
            orderStamp[o] = c;
            stats.orders[c]++;
          }
        }
      }
      if (Number.isFinite(first)) {
        stats.first[c] = first;
        stats.last[c] = last;
      }
      // emit this customer's pairs, columns ascending
      const its = touched.subarray(0, m).sort();
      for (let k = 0; k < m; k++) {
        const it = its[k];
        const s = slot[it];
        slot[it] = -1;
        if (sLines[s] === 0) continue;
        const w = interactionWeight(weighting, sR[s], sGross[s], sNet[s]);
        if (w === 0) {
          cancelledPairs++;
          continue;
        }
        outItems.push(it);
        outW.push(w);
        outCount.push(sLines[s]);
        outLast.push(sLast[s]);
        outInterval.push(sLines[s] > 1 && sLast[s] > sFirst[s] ? (sLast[s] - sFirst[s]) / DAY_MS / (sLines[s] - 1) : NaN);
      }
      indptr[c + 1] = outItems.length;
    }
    const indices = outItems.done();
    const weights: Csr = { rows: nC, cols: nI, indptr, indices, data: outW.done() };
    const counts: Csr = { rows: nC, cols: nI, indptr, indices, data: outCount.done() };
    for (let i = 0; i < weights.data.length; i++) {
      if (!Number.isFinite(weights.data[i])) throw new ModelFitError('non-finite interaction weight', { weighting });
    }

    // purchases in columnar form and baskets (orders × items, binary)
    let np = 0;
    for (let p = 0; p < n; p++) if (qty[p] > 0) np++;
    const purchases: PurchaseColumns = {
      customer: new Int32Array(np),
      item: new Int32Array(np),
      order: new Int32Array(np),
      store: new Int32Array(np),
      channel: new Uint8Array(np),
      time: new Float64Array(np),
      quantity: new Float32Array(np),
      unitPrice: new Float32Array(np),
    };
    const store = this.store.a;
    const channel = this.channel.a;
    let guestLines = 0;
    for (let p = 0, j = 0; p < n; p++) {
      if (!(qty[p] > 0)) continue;
      purchases.customer[j] = cust[p];
      purchases.item[j] = item[p];
      purchases.order[j] = order[p];
      purchases.store[j] = store[p];
      purchases.channel[j] = channel[p];
      purchases.time[j] = time[p];
      purchases.quantity[j] = qty[p];
      purchases.unitPrice[j] = price[p];
      if (cust[p] < 0) guestLines++;
      j++;
    }
    const baskets = basketMatrix(nO, nI, purchases.order, purchases.item);
    const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : null);
    return {
      weights,
      counts,
      baskets,
      items: this.items.slice(),
      customers: this.customers.slice(),
      pairLastTime: outLast.done(),
      pairIntervalDays: outInterval.done(),
      customerStats: stats,
      purchases,
      stores: this.stores.slice(),
      orders: this.orders.slice(),
      weighting: { ...weighting, now },
      summary: {
        lines: this.lines,
        purchaseLines: np,
        returnLines: n - np,
        guestLines,
        droppedLines: this.dropped,
        customers: nC,
        items: nI,
        orders: nO,
        pairs: indices.length,
        cancelledPairs,
        from: iso(this.minTime),
        to: iso(this.maxTime),
      },
    };
  }
}

/** orders × items, 1 where the order holds the item (duplicates collapsed), columns ascending. */
export function basketMatrix(orders: number, items: number, order: Int32Array, item: Int32Array): Csr {
  const n = order.length;
  const indptr = new Int32Array(orders + 1);
  for (let p = 0; p < n; p++) indptr[order[p] + 1]++;
  for (let o = 0; o < orders; o++) indptr[o + 1] += indptr[o];
  const fill = indptr.slice(0, orders);
  const idx = new Int32Array(n);
  for (let p = 0; p < n; p++) idx[fill[order[p]]++] = item[p];
  // sort and dedupe each row, compacting in place
  const outPtr = new Int32Array(orders + 1);
  let out = 0;
  for (let o = 0; o < orders; o++) {
    const row = idx.subarray(indptr[o], indptr[o + 1]).sort();
    let last = -1;
    for (let k = 0; k < row.length; k++) {
      if (row[k] !== last) {
        idx[out++] = row[k];
        last = row[k];
      }
    }
    outPtr[o + 1] = out;
  }
  const indices = idx.slice(0, out);
  return { rows: orders, cols: items, indptr: outPtr, indices, data: new Float32Array(out).fill(1) };
}

/** Builds a dataset from an array, an iterable or an async iterable of line batches. */
export async function buildDataset(
  source: readonly HistoryLine[] | Iterable<readonly HistoryLine[]> | AsyncIterable<readonly HistoryLine[]>,
  weighting: WeightingOptions = DEFAULT_WEIGHTING,
  options: DatasetOptions = {},
): Promise<Dataset> {
  const b = new DatasetBuilder(options);
  if (Array.isArray(source)) {
    b.add(source as readonly HistoryLine[]);
  } else if (Symbol.asyncIterator in (source as object)) {
    for await (const batch of source as AsyncIterable<readonly HistoryLine[]>) b.add(batch);
  } else {
    for (const batch of source as Iterable<readonly HistoryLine[]>) b.add(batch);
  }
  return b.finish(weighting);
}
