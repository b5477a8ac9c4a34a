/**
 * The bundle's per-customer rows, from the training data's counts and side data, the ALS customer
 * factors (when any) and the customers' segments.
 */
import type { CustomerRecord } from '../core/bundle.js';
import type { Segment } from '../core/records.js';
import type { Dataset } from './dataset.js';

export function customerRecords(
  data: Pick<Dataset, 'customers' | 'counts' | 'pairLastTime' | 'pairIntervalDays'>,
  vectors: { k: number; factors: Float32Array } | null,
  segments: readonly (Segment | null)[] | null,
): CustomerRecord[] {
  const { counts } = data;
  const out: CustomerRecord[] = new Array(data.customers.length);
  for (let c = 0; c < data.customers.length; c++) {
    const s = counts.indptr[c];
    const e = counts.indptr[c + 1];
    out[c] = {
      customerId: data.customers[c],
      vector: vectors && vectors.k > 0 ? vectors.factors.slice(c * vectors.k, (c + 1) * vectors.k) : null,
      segment: segments?.[c] ?? null,
      items: counts.indices.slice(s, e),
      counts: counts.data.slice(s, e),
      lastTime: data.pairLastTime.slice(s, e),
      intervalDays: data.pairIntervalDays.slice(s, e),
    };
  }
  return out;
}
