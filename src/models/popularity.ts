/**
 * Popularity: an item's score is the number of distinct customers who bought it
 * (the baseline of reference_eval.py). Also the bundle's non-personal lists:
 * global, trending (time-decayed), per store and per segment (see popularLists).
 */
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import type { RankedList } from '../core/bundle.js';
import { CHANNELS, type Channel, type Segment } from '../core/records.js';
import { NotSupportedError, ModelFitError } from '../core/errors.js';
import { emptyBatch, excludedFor, topK } from '../core/top-k.js';
import { checkHeader, savedArray, type SavedModel } from './saved-model.js';

/** Distinct customers per item: the number of stored entries in each column of a customers × items matrix. */
export function customersPerItem(counts: TrainingData['counts']): Float64Array {
  const pop = new Float64Array(counts.cols);
  for (let p = 0; p < counts.indices.length; p++) if (counts.data[p] > 0) pop[counts.indices[p]]++;
  return pop;
}

/** Item indices by descending score, ties by ascending index. */
export function rankOrder(scores: ArrayLike<number>): Int32Array {
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b] - scores[a] || a - b);
}

export class PopularityRecommender implements Recommender {
  readonly name = 'popularity';
  /** Customers per item. */
  scores: Float64Array = new Float64Array(0);
  private order: Int32Array = new Int32Array(0);

  async fit(data: TrainingData): Promise<void> {
    if (data.counts.cols === 0) throw new ModelFitError('popularity: no items');
    this.scores = customersPerItem(data.counts);
    this.order = rankOrder(this.scores);
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const res = emptyBatch(customers.length, k);
    const mask = new Uint8Array(this.scores.length);
    for (let n = 0; n < customers.length; n++) {
      this.fillRow(res, n, excludedFor(options, n, customers[n]), mask);
    }
    return res;
  }

  async similarItems(): Promise<BatchResult> {
    throw new NotSupportedError('popularity has no item similarity');
  }

  async recommendForItems(_items: ArrayLike<number>, _w: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    const res = emptyBatch(1, k);
    this.fillRow(res, 0, exclude ?? [], new Uint8Array(this.scores.length));
    return res;
  }

  private fillRow(res: BatchResult, n: number, exclude: ArrayLike<number>, mask: Uint8Array): void {
    const { k } = res;
    for (let p = 0; p < exclude.length; p++) mask[exclude[p]] = 1;
    let j = 0;
    for (let p = 0; p < this.order.length && j < k; p++) {
      const i = this.order[p];
      if (mask[i]) continue;
      res.ids[n * k + j] = i;
      res.scores[n * k + j++] = this.scores[i];
    }
    for (; j < k; j++) {
      res.ids[n * k + j] = -1;
      res.scores[n * k + j] = -Infinity;
    }
    for (let p = 0; p < exclude.length; p++) mask[exclude[p]] = 0;
  }

  /** The global list as the bundle stores it. */
  ranked(k = this.scores.length): RankedList {
    const t = topK(this.scores, Math.min(k, this.scores.length));
    return { items: t.ids, scores: t.scores };
  }

  save(): SavedModel {
    return { header: { model: this.name }, arrays: { scores: this.scores } };
  }

  load(saved: SavedModel): void {
    checkHeader(saved, this.name);
    this.scores = savedArray(saved, 'scores', Float64Array);
    this.order = rankOrder(this.scores);
  }
}

/**
 * Purchase lines in columns, as popularLists reads them (one entry per line;
 * guests have customer -1, lines without a store have store -1).
 */
export interface PurchaseColumns {
  item: Int32Array;
  customer: Int32Array;
  /** Index into storeIds, or -1. */
  store: Int32Array;
  /** Index into CHANNELS (others: no channel list); absent → no per-channel lists. */
  channel?: Uint8Array;
  /** Epoch milliseconds. */
  time: Float64Array;
  storeIds: string[];
}

export interface PopularListsOptions {
  nItems: number;
  /** Segment of each customer index (null when none). */
  segments?: (Segment | null)[];
  /** Trending: each purchase weighs 2^(−age/halfLife) at `now`. Default 14 days. */
  trendingHalfLifeDays?: number;
  /** Reference time of the trending decay; default: the latest line. */
  now?: number;
  /** Length of each list; default 200. */
  k?: number;
}

/**
 * The bundle's popular lists. Global, per store, per channel (web, app, store) and per segment count
 * distinct buyers (guests count once per line, having no identity); trending sums time-decayed
 * purchases, w = 2^(−(now − t)/halfLife), so items rising lately come first.
 */
export function popularLists(lines: PurchaseColumns, opts: PopularListsOptions): {
  global: RankedList;
  trending: RankedList;
  byStore: Record<string, RankedList>;
  byChannel: Partial<Record<Channel, RankedList>>;
  bySegment: Partial<Record<Segment, RankedList>>;
} {
  const { nItems, segments } = opts;
  const k = Math.min(opts.k ?? 200, nItems);
  const n = lines.item.length;
  let now = opts.now ?? -Infinity;
  if (opts.now === undefined) for (let p = 0; p < n; p++) now = Math.max(now, lines.time[p]);
  const halfLifeMs = (opts.trendingHalfLifeDays ?? 14) * 86_400_000;

  let nCust = 0;
  for (let p = 0; p < n; p++) nCust = Math.max(nCust, lines.customer[p] + 1);
  const global = new Float64Array(nItems);
  const trending = new Float64Array(nItems);
  const byStore = lines.storeIds.map(() => new Float64Array(nItems));
  const nCh = CHANNELS.length;
  const byChannel = CHANNELS.map(() => new Float64Array(nItems));
  const channel = lines.channel ?? new Uint8Array(n).fill(nCh);
  const segNames = segments ? [...new Set(segments.filter((s): s is Segment => s !== null))] : [];
  const bySeg = new Map<Segment, Float64Array>(segNames.map((s) => [s, new Float64Array(nItems)]));
  // known customers: distinct (customer, item) and (store, customer, item) keys, sorted; guests count per line
  const pairKeys = new Float64Array(n);
  const storeKeys = new Float64Array(n);
  const channelKeys = new Float64Array(n);
  let np = 0;
  let ns = 0;
  let nc = 0;
  for (let p = 0; p < n; p++) {
    const i = lines.item[p];
    const c = lines.customer[p];
    const s = lines.store[p];
    const ch = channel[p];
    trending[i] += Math.pow(2, -(now - lines.time[p]) / halfLifeMs);
    if (c < 0) {
      global[i]++;
      if (s >= 0) byStore[s][i]++;
      if (ch < nCh) byChannel[ch][i]++;
      continue;
    }
    pairKeys[np++] = c * nItems + i;
    if (s >= 0) storeKeys[ns++] = (s * nCust + c) * nItems + i;
    if (ch < nCh) channelKeys[nc++] = (ch * nCust + c) * nItems + i;
  }
  const pairs = pairKeys.subarray(0, np).sort();
  for (let p = 0; p < np; p++) {
    if (p > 0 && pairs[p] === pairs[p - 1]) continue;
    const i = pairs[p] % nItems;
    global[i]++;
    const seg = segments?.[Math.floor(pairs[p] / nItems)];
    if (seg) bySeg.get(seg)![i]++;
  }
  // distinct (group, customer, item) keys counted once per group (store, channel)
  const countDistinct = (keys: Float64Array, into: Float64Array[]) => {
    const sorted = keys.sort();
    for (let p = 0; p < sorted.length; p++) {
      if (p > 0 && sorted[p] === sorted[p - 1]) continue;
      into[Math.floor(Math.floor(sorted[p] / nItems) / nCust)][sorted[p] % nItems]++;
    }
  };
  countDistinct(storeKeys.subarray(0, ns), byStore);
  countDistinct(channelKeys.subarray(0, nc), byChannel);
  const ranked = (s: Float64Array): RankedList => {
    const t = topK(s, k);
    let m = k;
    while (m > 0 && !(t.scores[m - 1] > 0)) m--;
    return { items: t.ids.slice(0, m), scores: t.scores.slice(0, m) };
  };
  return {
    global: ranked(global),
    trending: ranked(trending),
    byStore: Object.fromEntries(lines.storeIds.map((id, s) => [id, ranked(byStore[s])])),
    // channels with no purchase get no list (serving then falls back to global)
    byChannel: Object.fromEntries(CHANNELS.flatMap((ch, k) => (lines.channel && byChannel[k].some((x) => x > 0) ? [[ch, ranked(byChannel[k])]] : []))),
    bySegment: Object.fromEntries([...bySeg].map(([seg, s]) => [seg, ranked(s)])),
  };
}
