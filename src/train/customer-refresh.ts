/**
 * One customer's record for a model version already in service, rebuilt from their whole history
 * (purchase events: src/api/purchase-events.ts). The history goes through the same dataset builder
 * and interaction weighting as training (skus the version does not know are left out), and
 * the vector is the ALS fold-in of those weights against the version's item factors (src/core/fold-in.ts,
 * as for guest sessions), so the record is what training would give the customer with the item side held fixed.
 * Pure: no I/O.
 */
import type { LoadedModel } from '../cache/model-source.js';
import type { CustomerRecord } from '../core/bundle.js';
import { foldIn, gramMatrix } from '../core/fold-in.js';
import type { HistoryLine, Segment } from '../core/records.js';
import { specUses } from '../core/served-model.js';
import { ownVector, TIFU_DEFAULTS, type TifuParams } from '../models/tifu-knn.js';
import { orderKey } from '../store/import-plan.js';
import { customerRecords } from './customer-records.js';
import { DatasetBuilder } from './dataset.js';
import { DEFAULT_WEIGHTING, type WeightingOptions, weightingProblems } from './weighting.js';

/** YᵀY per served version (k × k, computed once). */
const grams = new WeakMap<LoadedModel, Float64Array>();

/** The interaction weighting the version was trained with (manifest params), else the default. */
export function modelWeighting(model: Pick<LoadedModel, 'manifest'>): WeightingOptions {
  const w = model.manifest.params.weighting as Partial<WeightingOptions> | undefined;
  const merged = { ...DEFAULT_WEIGHTING, ...(w && typeof w === 'object' ? w : {}) };
  return weightingProblems(merged).length ? DEFAULT_WEIGHTING : merged;
}

export interface RefreshedCustomer {
  record: CustomerRecord;
  /** Whether the record carries a newly folded-in vector (false: no factors, or no known item). */
  vector: boolean;
}

/**
 * The customer's record from their history lines (returns included). `segment` is carried over
 * (segments are recomputed by training). The recency reference time is the later of training's and
 * the customer's last line, so a new purchase weighs like the most recent line of training.
 */
export function refreshCustomer(
  model: LoadedModel,
  customerId: string,
  history: readonly HistoryLine[],
  segment: Segment | null,
  /** The record being replaced: its TIFU-KNN neighbours' part is kept (the neighbours are recomputed by training). */
  previous?: CustomerRecord | null,
): RefreshedCustomer {
  // only the skus the version knows (the builder's item index is then the customer's few items, not the catalogue)
  const known = history.filter((l) => model.itemIndex.has(l.sku)).map((l) => ({ ...l, customerId }));
  const builder = new DatasetBuilder({ customers: [customerId] });
  builder.add(known);
  const weighting = modelWeighting(model);
  let last = -Infinity;
  for (const l of known) last = Math.max(last, l.time);
  const now = Math.max(weighting.now ?? -Infinity, last);
  const data = builder.finish({ ...weighting, now: Number.isFinite(now) ? now : undefined });
  // dataset item index → the version's, rows in ascending item order as training writes them
  const local = customerRecords(data, null, [segment])[0];
  const order = Array.from(local.items.keys()).sort((a, b) => model.itemIndex.get(data.items[local.items[a]])! - model.itemIndex.get(data.items[local.items[b]])!);
  const record: CustomerRecord = {
    customerId,
    vector: null,
    segment,
    items: Int32Array.from(order, (p) => model.itemIndex.get(data.items[local.items[p]])!),
    counts: Float32Array.from(order, (p) => local.counts[p]),
    lastTime: Float64Array.from(order, (p) => local.lastTime[p]),
    intervalDays: Float32Array.from(order, (p) => local.intervalDays[p]),
  };
  if (model.served && specUses(model.served.spec, 'tifu')) record.tifu = refreshedTifu(model, record, known, previous ?? null);
  const als = model.als;
  if (!als || record.items.length === 0) return { record, vector: false };
  let gram = grams.get(model);
  if (!gram) grams.set(model, (gram = gramMatrix(als.itemFactors, als.k)));
  // ALS's confidence input: the interaction weights (default) or the line counts (models.als.input)
  const alsParams = (model.manifest.params.models as { als?: { input?: string } } | undefined)?.als;
  const input = alsParams?.input === 'counts' ? data.counts : data.weights;
  const weights = Float32Array.from(order, (p) => input.data[input.indptr[0] + p]);
  record.vector = foldIn({ itemFactors: als.itemFactors, k: als.k, gram, reg: als.reg, alpha: als.alpha }, record.items, weights);
  return { record, vector: true };
}

/** TIFU-KNN own weights from the whole history (baskets = orders, oldest first), with the previous neighbours' part. */
function refreshedTifu(model: LoadedModel, record: CustomerRecord, lines: readonly HistoryLine[], previous: CustomerRecord | null): NonNullable<CustomerRecord['tifu']> {
  const p = { ...TIFU_DEFAULTS, ...((model.manifest.params.models as { tifu_knn?: Partial<TifuParams> } | undefined)?.tifu_knn ?? {}) };
  const orders = new Map<string, { time: number; items: Set<number> }>();
  for (const l of lines) {
    if (!(l.quantity > 0)) continue;
    const i = model.itemIndex.get(l.sku)!;
    // a basket is (source, order id), as the store keys orders
    const key = orderKey(l.source ?? l.channel, l.orderId);
    let o = orders.get(key);
    if (!o) orders.set(key, (o = { time: l.time, items: new Set() }));
    o.time = Math.min(o.time, l.time);
    o.items.add(i);
  }
  const baskets = [...orders.values()].sort((a, b) => a.time - b.time).map((o) => [...o.items]);
  const own = ownVector(baskets, p);
  return {
    own: Float32Array.from(record.items, (i) => own.get(i) ?? 0),
    nbrItems: previous?.tifu?.nbrItems ?? new Int32Array(0),
    nbrScores: previous?.tifu?.nbrScores ?? new Float32Array(0),
  };
}
