/**
 * refreshCustomer (purchase events) against the training path as reference: the same lines through
 * buildDataset over the version's items and customerRecords give the same record, and the vector is
 * the ALS fold-in of the training weights.
 */
import { describe, expect, it } from 'vitest';
import { loadedModelFromBundle } from '../src/cache/model-source.js';
import { foldIn, gramMatrix } from '../src/core/fold-in.js';
import type { HistoryLine } from '../src/core/records.js';
import { customerRecords } from '../src/train/customer-records.js';
import { refreshCustomer, modelWeighting } from '../src/train/customer-refresh.js';
import { buildDataset } from '../src/train/dataset.js';
import { DEFAULT_WEIGHTING, type WeightingOptions } from '../src/train/weighting.js';
import { bits } from './helpers/cache-bundle.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1);
const h = (orderId: string, day: number, sku: string, quantity: number): HistoryLine => ({
  customerId: '42',
  orderId,
  channel: 'web',
  storeId: null,
  time: T0 + day * DAY,
  sku,
  quantity,
  unitPrice: 2,
});
// repeats, a partial return, a full return, an unknown sku, out of item order
const HISTORY = [h('o1', 0, 'MUG-2', 3), h('o1', 0, 'TEA-1', 1), h('o2', 10, 'TEA-1', 2), h('o2', 10, 'NEW-1', 1), h('r1', 12, 'MUG-2', -1), h('o3', 20, 'SOAP-2', 1), h('r2', 21, 'SOAP-2', -1), h('o4', 30, 'TEA-1', 1)];

function model(weighting?: Partial<WeightingOptions>, alsInput?: 'counts') {
  const b = tinyBundle({ tea: '1', mug: '2', novec: '3' }, T0);
  b.manifest.params = { ...(weighting ? { weighting } : {}), ...(alsInput ? { models: { als: { input: alsInput } } } : {}) };
  return loadedModelFromBundle(b);
}

describe('refreshCustomer', () => {
  for (const [name, weighting, input] of [
    ['default weighting', undefined, undefined],
    ['lines with recency decay, training time later than the history', { scheme: 'lines', halfLifeDays: 20, now: T0 + 60 * DAY }, undefined],
    ['ALS on line counts', { scheme: 'log', epsilon: 0.5 }, 'counts'],
  ] as const) {
    it(`equals the training path (${name})`, async () => {
      const m = model(weighting as Partial<WeightingOptions> | undefined, input);
      const w = modelWeighting(m);
      const got = refreshCustomer(m, '42', HISTORY, 'vip');
      const last = Math.max(...HISTORY.filter((l) => m.itemIndex.has(l.sku)).map((l) => l.time));
      const ref = await buildDataset(HISTORY, { ...w, now: Math.max(w.now ?? -Infinity, last) }, { items: m.items, customers: ['42'] });
      const [want] = customerRecords(ref, null, ['vip']);
      // MUG-2 (net 2 of 3) and TEA-1 (3 lines) stay; SOAP-2 was returned in full; NEW-1 is unknown
      expect(Array.from(got.record.items).map((i) => m.items[i])).toEqual(['TEA-1', 'MUG-2']);
      for (const key of ['items', 'counts', 'lastTime', 'intervalDays'] as const) expect(bits(got.record[key]), key).toBe(bits(want[key]));
      expect(got.record.segment).toBe('vip');
      const c = input === 'counts' ? ref.counts : ref.weights;
      const als = m.als!;
      const x = foldIn({ itemFactors: als.itemFactors, k: als.k, gram: gramMatrix(als.itemFactors, als.k), reg: als.reg, alpha: als.alpha }, want.items, c.data.subarray(c.indptr[0], c.indptr[1]));
      expect(got.vector).toBe(true);
      expect(bits(got.record.vector)).toBe(bits(x));
    });
  }

  it('no sku of the version, or no factors: a record without a vector', () => {
    const none = refreshCustomer(model(), '42', [h('o1', 0, 'NEW-1', 1)], null);
    expect(none).toMatchObject({ vector: false, record: { vector: null, segment: null } });
    expect(none.record.items.length).toBe(0);
    const noAls = { ...model(), als: null };
    const r = refreshCustomer(noAls, '42', HISTORY, null);
    expect(r.vector).toBe(false);
    expect(r.record.items.length).toBe(2);
  });

  it('reads the weighting from the manifest, and falls back to the default for a bad one', () => {
    expect(modelWeighting(model({ scheme: 'lines' }))).toEqual({ ...DEFAULT_WEIGHTING, scheme: 'lines' });
    expect(modelWeighting(model({ epsilon: -1 }))).toEqual(DEFAULT_WEIGHTING);
    expect(modelWeighting(model())).toEqual(DEFAULT_WEIGHTING);
  });
});
