/**
 * RFM segmentation (Hughes 1994): recency, frequency and monetary value per customer, and
 * one segment each (SEGMENTS in records.ts) by the first rule that matches, in this order:
 *
 * | segment  | rule (defaults in RFM_DEFAULTS)                                                     |
 * |----------|-------------------------------------------------------------------------------------|
 * | lapsed   | last order more than `lapsedDays` (180) ago                                         |
 * | at_risk  | last order more than `atRiskDays` (90) ago                                          |
 * | vip      | revenue in the top `vipShare` (20%, the 80/20 rule) of customers with revenue > 0    |
 * | loyal    | at least `loyalOrders` (5) orders                                                    |
 * | high_aov | average order value in the top `highAovShare` (20%) of customers                     |
 * | new      | one order only                                                                        |
 * | repeat   | everyone else (two orders or more)                                                    |
 *
 * Pure: takes order lines as columns, returns typed arrays.
 */
import type { Segment } from './records.js';

export interface RfmThresholds {
  /** Days since the last order beyond which a customer is lapsed. Default 180. */
  lapsedDays: number;
  /** Days since the last order beyond which a customer is at risk. Default 90. */
  atRiskDays: number;
  /** Share of customers (by revenue, descending) that are VIP. Default 0.2. */
  vipShare: number;
  /** Orders from which a customer is loyal. Default 5. */
  loyalOrders: number;
  /** Share of customers (by average order value, descending) with a high AOV. Default 0.2. */
  highAovShare: number;
}

export const RFM_DEFAULTS: RfmThresholds = { lapsedDays: 180, atRiskDays: 90, vipShare: 0.2, loyalOrders: 5, highAovShare: 0.2 };

/** Order lines in columns: the customer index, an order key (any number unique per order), time and revenue of each line. */
export interface RfmLines {
  customer: ArrayLike<number>;
  order: ArrayLike<number>;
  /** Epoch milliseconds. */
  time: ArrayLike<number>;
  /** quantity × unit price (returns negative). */
  revenue: ArrayLike<number>;
}

export interface Rfm {
  /** Days from the last order to `now` (Infinity for customers without lines). */
  recencyDays: Float64Array;
  /** Distinct orders. */
  frequency: Int32Array;
  /** Net revenue. */
  monetary: Float64Array;
}

/** Recency, frequency and monetary value of `nCustomers` customers at time `now` (epoch ms). */
export function computeRfm(lines: RfmLines, nCustomers: number, now: number): Rfm {
  const last = new Float64Array(nCustomers).fill(-Infinity);
  const monetary = new Float64Array(nCustomers);
  const frequency = new Int32Array(nCustomers);
  const seen = new Set<string>();
  for (let p = 0; p < lines.customer.length; p++) {
    const c = lines.customer[p];
    if (c < 0 || c >= nCustomers) continue;
    if (lines.time[p] > last[c]) last[c] = lines.time[p];
    monetary[c] += lines.revenue[p];
    const key = `${c}:${lines.order[p]}`;
    if (!seen.has(key)) {
      seen.add(key);
      frequency[c]++;
    }
  }
  const recencyDays = last.map((t) => (t === -Infinity ? Infinity : Math.max(0, (now - t) / 86_400_000)));
  return { recencyDays, frequency, monetary };
}

/** The value at which the top `share` of `values` starts (values ≥ it are in the top share). */
function topShareThreshold(values: Float64Array, share: number): number {
  if (values.length === 0 || share <= 0) return Infinity;
  const sorted = Float64Array.from(values).sort().reverse();
  const n = Math.max(1, Math.round(sorted.length * Math.min(1, share)));
  return sorted[n - 1];
}

/** One segment per customer (null for customers without any order). */
export function segmentCustomers(rfm: Rfm, thresholds: Partial<RfmThresholds> = {}): (Segment | null)[] {
  const t = { ...RFM_DEFAULTS, ...thresholds };
  const n = rfm.frequency.length;
  const withRevenue = rfm.monetary.filter((m, c) => m > 0 && rfm.frequency[c] > 0);
  const vipFrom = topShareThreshold(withRevenue, t.vipShare);
  const aov = new Float64Array(n);
  for (let c = 0; c < n; c++) aov[c] = rfm.frequency[c] > 0 ? rfm.monetary[c] / rfm.frequency[c] : 0;
  const aovFrom = topShareThreshold(aov.filter((_, c) => rfm.frequency[c] > 0 && aov[c] > 0), t.highAovShare);
  const out: (Segment | null)[] = new Array(n);
  for (let c = 0; c < n; c++) {
    const f = rfm.frequency[c];
    const r = rfm.recencyDays[c];
    if (f === 0) out[c] = null;
    else if (r > t.lapsedDays) out[c] = 'lapsed';
    else if (r > t.atRiskDays) out[c] = 'at_risk';
    else if (rfm.monetary[c] > 0 && rfm.monetary[c] >= vipFrom) out[c] = 'vip';
    else if (f >= t.loyalOrders) out[c] = 'loyal';
    else if (aov[c] > 0 && aov[c] >= aovFrom) out[c] = 'high_aov';
    else if (f === 1) out[c] = 'new';
    else out[c] = 'repeat';
  }
  return out;
}
