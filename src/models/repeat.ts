/**
 * Repeat / buy-again: a customer's score for an item is their own number of purchase
 * lines of it, ties (and every item they never bought) by popularity scaled into
 * [0, 1e-6] — exactly reference_eval.py's "repeat" baseline:
 *   s(u, i) = count(u, i) + 1e-6 · pop(i) / max pop.
 * For serving, buyAgainScores orders a customer's items by expected time to repurchase.
 */
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import type { Csr } from '../core/csr.js';
import { ModelFitError, NotSupportedError } from '../core/errors.js';
import { emptyBatch, excludedFor, TopK } from '../core/top-k.js';
import { customersPerItem, rankOrder } from './popularity.js';
import { checkHeader, savedArray, type SavedModel } from './saved-model.js';

/** Popularity tie-break scale (reference_eval.py). */
export const REPEAT_TIE_EPS = 1e-6;

export class RepeatRecommender implements Recommender {
  readonly name = 'repeat';
  /** 1e-6 · pop / max pop per item. */
  prior: Float64Array = new Float64Array(0);
  private order: Int32Array = new Int32Array(0);
  private counts: Csr | null = null;

  async fit(data: TrainingData): Promise<void> {
    if (data.counts.cols === 0) throw new ModelFitError('repeat: no items');
    const pop = customersPerItem(data.counts);
    let max = 0;
    for (const v of pop) max = Math.max(max, v);
    this.prior = pop.map((v) => (max > 0 ? (REPEAT_TIE_EPS * v) / max : 0));
    this.order = rankOrder(this.prior);
    this.counts = data.counts;
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const counts = this.counts;
    if (!counts) throw new NotSupportedError('repeat: not fitted on customer histories (loaded models recommend via recommendForItems)');
    const res = emptyBatch(customers.length, k);
    const mask = new Uint8Array(this.prior.length);
    const sel = new TopK(k);
    for (let n = 0; n < customers.length; n++) {
      const u = customers[n];
      const s = counts.indptr[u];
      const e = counts.indptr[u + 1];
      this.fillRow(res, n, sel, mask, counts.indices.subarray(s, e), counts.data.subarray(s, e), excludedFor(options, n, u));
    }
    return res;
  }

  async similarItems(): Promise<BatchResult> {
    throw new NotSupportedError('repeat has no item similarity');
  }

  /** `weights` are the purchase counts of `items`. */
  async recommendForItems(items: ArrayLike<number>, weights: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    const res = emptyBatch(1, k);
    this.fillRow(res, 0, new TopK(k), new Uint8Array(this.prior.length), items, weights, exclude ?? []);
    return res;
  }

  private fillRow(
    res: BatchResult,
    n: number,
    sel: TopK,
    mask: Uint8Array,
    items: ArrayLike<number>,
    counts: ArrayLike<number>,
    exclude: ArrayLike<number>,
  ): void {
    const { k } = res;
    for (let p = 0; p < exclude.length; p++) mask[exclude[p]] = 2;
    for (let p = 0; p < items.length; p++) {
      const i = items[p];
      if (mask[i] === 2 || !(counts[p] > 0)) continue;
      sel.push(i, counts[p] + this.prior[i]);
      mask[i] = 1;
    }
    sel.drain(res.ids, res.scores, n);
    let j = 0;
    while (j < k && res.ids[n * k + j] >= 0) j++;
    for (let p = 0; p < this.order.length && j < k; p++) {
      const i = this.order[p];
      if (mask[i]) continue;
      res.ids[n * k + j] = i;
      res.scores[n * k + j++] = this.prior[i];
    }
    for (let p = 0; p < exclude.length; p++) mask[exclude[p]] = 0;
    for (let p = 0; p < items.length; p++) mask[items[p]] = 0;
  }

  save(): SavedModel {
    return { header: { model: this.name }, arrays: { prior: this.prior } };
  }

  load(saved: SavedModel): void {
    checkHeader(saved, this.name);
    this.prior = savedArray(saved, 'prior', Float64Array);
    this.order = rankOrder(this.prior);
    this.counts = null;
  }
}

/** Purchase statistics of one item in one customer's history. */
export interface RepurchaseStats {
  count: number;
  lastTime: number;
  /** Mean days between consecutive purchases (NaN when bought on one day only). */
  intervalDays: number;
}

/** Purchase count, last time and mean repurchase interval from the times (epoch ms) of one item's purchases. */
export function repurchaseStats(times: ArrayLike<number>): RepurchaseStats {
  const sorted = Float64Array.from(times).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, lastTime: NaN, intervalDays: NaN };
  const span = (sorted[n - 1] - sorted[0]) / 86_400_000;
  return { count: n, lastTime: sorted[n - 1], intervalDays: n > 1 && span > 0 ? span / (n - 1) : NaN };
}

/**
 * Buy-again scores at time `now` (epoch ms) for one customer's items:
 *   s = count · min(1, elapsed / interval)   for items with a repurchase interval,
 *   s = count · 0.1                          for items bought once (no rhythm known),
 * so an item becomes fully "due" once its usual interval has passed, and frequent items
 * rank first among the due ones. Returns scores aligned with the inputs.
 */
export function buyAgainScores(
  counts: ArrayLike<number>,
  lastTime: ArrayLike<number>,
  intervalDays: ArrayLike<number>,
  now: number,
): Float32Array {
  const out = new Float32Array(counts.length);
  for (let p = 0; p < counts.length; p++) {
    const iv = intervalDays[p];
    const elapsed = Math.max(0, (now - lastTime[p]) / 86_400_000);
    out[p] = Number.isFinite(iv) && iv > 0 ? counts[p] * Math.min(1, elapsed / iv) : counts[p] * 0.1;
  }
  return out;
}
