/**
 * Fits every model of the bundle on one dataset and assembles the ModelBundle serving consumes
 * (src/core/bundle.ts). Each model is one timed stage.
 */
import type { ModelBundle, TopKLists } from '../core/bundle.js';
import type { Segment } from '../core/records.js';
import { type AlsFitted, type AlsParams, AlsRecommender } from '../models/als.js';
import { BLEND_DEFAULTS, type BlendParams } from '../core/blend.js';
import { type Rfm, type RfmThresholds, segmentCustomers } from '../core/rfm.js';
import { BlendRecommender } from '../models/blend.js';
import type { FbtParams } from '../models/fbt.js';
import { FbtRecommender } from '../models/fbt.js';
import type { ItemKnnParams } from '../models/item-knn.js';
import { ItemKnnRecommender } from '../models/item-knn.js';
import { popularLists } from '../models/popularity.js';
import { RepeatRecommender } from '../models/repeat.js';
import { customerRecords } from './customer-records.js';
import type { ServedSpec } from '../core/served-model.js';
import { fitServed, listSpec, needsOf, type ServedParams, type ServedState } from '../models/served.js';
import { type TifuParams, tifuOfCustomer } from '../models/tifu-knn.js';
import { type BackgroundJob, backgroundFits } from '../models/background-fits.js';
import { type EaseParams, EaseRecommender } from '../models/ease.js';
import { interactionWeight } from './weighting.js';
import type { Dataset } from './dataset.js';
import { Stages } from './stages.js';
import type { TrainConfig } from './train-config.js';

export interface TrainBundleOptions {
  version: string;
  source: string;
  config: TrainConfig;
  stages?: Stages;
  /** Item index → category, when the source knows it. */
  itemCategories?: (string | null)[];
  /** Extra manifest data fields (reader counts, …). */
  dataExtra?: Record<string, unknown>;
  /**
   * The served model chosen on validation (src/eval/select.ts) and its figures for the manifest;
   * default: DEFAULT_SERVED (ALS + 7-day trend; own items first on the repeat-inclusive list).
   */
  served?: { spec: ServedSpec; validation?: Record<string, unknown> };
  /**
   * Fits of this dataset started earlier on the background worker (startBundleFits, with the same `config`): `train`
   * starts them while the served model is chosen on validation. Each is taken over as it is (or run here when the
   * worker has not started it).
   */
  prestarted?: BundleFits;
}

/** Background jobs of the bundle's item-kNN lists, FBT lists and ALS factors on all of the data. */
export interface BundleFits {
  knn?: BackgroundJob<TopKLists>;
  fbt?: BackgroundJob<TopKLists>;
  als?: BackgroundJob<AlsFitted>;
}

/**
 * Submits the bundle's fits named in `which` (not yet in `into`) to the background worker at low priority
 * (src/models/background-fits.ts: started only when the worker has nothing else queued), into `into`.
 * The results are those trainBundle computes itself (the same functions on the same data).
 */
export function startBundleFits(data: Dataset, config: TrainConfig, which: (keyof BundleFits)[], into: BundleFits = {}): BundleFits {
  const bg = backgroundFits();
  const m = config.models;
  if (which.includes('knn') && !into.knn) {
    const p = new ItemKnnRecommender(m.item_knn as unknown as Partial<ItemKnnParams>).params;
    into.knn = bg.submit({ kind: 'knn', counts: data.counts, weights: p.input === 'weights' ? data.weights : null, params: p }, { low: true });
  }
  if (which.includes('fbt') && !into.fbt) {
    into.fbt = bg.submit({ kind: 'fbt', baskets: data.baskets, params: new FbtRecommender(m.fbt as unknown as Partial<FbtParams>).params }, { low: true });
  }
  if (which.includes('als') && !into.als) {
    const p = new AlsRecommender(m.als as unknown as Partial<AlsParams>).params;
    into.als = bg.submit({ kind: 'als', matrix: p.input === 'counts' ? data.counts : data.weights, params: p }, { low: true });
  }
  return into;
}

/** The served model when none was chosen on validation (e.g. `train --validation-days 0`). */
export const DEFAULT_SERVED: ServedSpec = {
  discovery: listSpec('als+0.5·trend7', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 0.5 }),
  all: listSpec('repeat>als+0.5·trend7', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 0.5, ownedFirst: true }),
};

/** What a training run produces besides the bundle. */
export interface TrainedBundle {
  bundle: ModelBundle;
  /** Segment per customer index (null when none), for the store. */
  segments: (Segment | null)[];
  /** The served model's fitted state (the evaluator's view of the same bundle: ServedRecommender.fromState). */
  served: ServedState;
}

export const emptyTopK = (rows: number): TopKLists => ({
  indptr: new Int32Array(rows + 1),
  indices: new Int32Array(0),
  scores: new Float32Array(0),
});

/** Fits the models and builds the bundle (not written: see writeBundle). */
export async function trainBundle(data: Dataset, o: TrainBundleOptions): Promise<TrainedBundle> {
  const stages = o.stages ?? new Stages({ quiet: true });
  const nItems = data.items.length;
  const s0 = data.summary;
  const params: Record<string, unknown> = { weighting: data.weighting, models: o.config.models, served: o.served?.spec ?? DEFAULT_SERVED };

  // item-kNN's and FBT's lists, and the served model's EASE weights and TIFU-KNN vectors when it uses them, are
  // computed by the background worker (src/models/background-fits.ts) while this thread fits the rest
  const servedSpec = o.served?.spec ?? DEFAULT_SERVED;
  const m = o.config.models;
  const needs = needsOf(servedSpec);
  const bg = backgroundFits();
  const knn = new ItemKnnRecommender(o.config.models.item_knn as unknown as Partial<ItemKnnParams>);
  const pre = o.prestarted ?? {};
  const knnJob = pre.knn ?? bg.submit({ kind: 'knn', counts: data.counts, weights: knn.params.input === 'weights' ? data.weights : null, params: knn.params });
  const fbt = new FbtRecommender(o.config.models.fbt as unknown as Partial<FbtParams>);
  const fbtJob = pre.fbt ?? bg.submit({ kind: 'fbt', baskets: data.baskets, params: fbt.params });
  const ease = needs.learned.includes('ease') ? new EaseRecommender(m.ease as unknown as Partial<EaseParams>) : null;
  const easeJob = ease && nItems <= ease.params.maxItems ? bg.submit({ kind: 'ease', counts: data.counts, params: ease.params }) : null;
  const p = data.purchases;
  const tifuJob = needs.tifu
    ? bg.submit({ kind: 'tifu', lines: { customer: p.customer, order: p.order, item: p.item, time: p.time }, customers: data.counts.rows, nItems, params: (m.tifu_knn ?? {}) as Partial<TifuParams> })
    : null;

  const segments = await stages.run('segments', () => rfmSegments(data, o.config.models.segments as unknown as Partial<RfmThresholds>));

  const popular = await stages.run('popularity', () =>
    popularLists({ ...data.purchases, storeIds: data.stores }, { nItems, segments, ...(popularParams(o.config)) }),
  );
  await stages.run('repeat', async () => {
    // buy-again needs no fitted state in the bundle beyond the customers' counts and intervals
    await new RepeatRecommender().fit(data);
  });


  const als = new AlsRecommender(o.config.models.als as unknown as Partial<AlsParams>);
  const alsJob = pre.als;
  await stages.run('als', async (progress) => (alsJob ? als.adopt((await alsJob.result()).value) : als.fit(data, progress)));
  await stages.run('item_knn', async () => knn.adopt((await knnJob.result()).value, data));
  await stages.run('fbt', async () => fbt.adopt((await fbtJob.result()).value, data));

  const blendConfig = { ...(o.config.models.blend ?? {}) };
  delete blendConfig.learned;
  const blend = new BlendRecommender(als, { ...BLEND_DEFAULTS, ...(blendConfig as unknown as Partial<BlendParams>) }, { fitLearned: false });
  await stages.run('blend', () => blend.fit(data));
  // serving takes the blend's trend term t_j from popular.trending: ship the blend's own trend
  // (src/core/blend.ts itemTrend) so served scores equal the evaluated ones
  if (data.pairLastTime) popular.trending = blend.trendList(popularParams(o.config).k ?? 200);

  // the served model, refitted on all the data with what validation chose (ALS and item-kNN as fitted above)
  const served = await stages.run('served', async () => {
    if (ease && easeJob) ease.adopt((await easeJob.result()).value, data);
    const tifu = tifuJob ? (await tifuJob.result()).value : undefined;
    return fitServed(
      { reference: data, weighted: () => data, purchases: data.purchases, now: s0.to ? Date.parse(s0.to) : Date.now() },
      needs,
      { als: m.als, ease: m.ease, item_knn: m.item_knn, tifu_knn: m.tifu_knn } as ServedParams,
      { als, item_knn: knn, ...(ease && easeJob ? { ease } : {}), ...(tifu ? { tifu } : {}) },
    );
  });
  if (Object.keys(served.skipped).length) throw new Error(`served model: ${Object.values(served.skipped).join('; ')}`);

  const customers = await stages.run('customers', () => {
    const records = customerRecords(data, { k: als.k, factors: als.userFactors }, segments);
    if (served.tifu) records.forEach((r, c) => (r.tifu = tifuOfCustomer(served.tifu!, c, r.items)));
    return records;
  });

  const s = data.summary;
  const bundle: ModelBundle = {
    manifest: {
      version: o.version,
      createdAt: new Date().toISOString(),
      data: {
        source: o.source,
        from: s.from,
        to: s.to,
        customers: s.customers,
        items: s.items,
        lines: s.lines,
        orders: s.orders,
        purchaseLines: s.purchaseLines,
        returnLines: s.returnLines,
        guestLines: s.guestLines,
        pairs: s.pairs,
        cancelledPairs: s.cancelledPairs,
        stores: data.stores.length,
        ...o.dataExtra,
      },
      params,
      metrics: o.served?.validation ? { validation: o.served.validation } : {},
      timings: stages.timings,
      files: {},
    },
    items: data.items,
    itemCategories: o.itemCategories ?? new Array(nItems).fill(null),
    als: { k: als.k, reg: als.params.reg, alpha: als.params.alpha, itemFactors: als.itemFactors },
    neighbours: knn.lists,
    fbt: fbt.lists,
    popular,
    blend: blend.bundleParams(),
    served: {
      spec: servedSpec,
      popularity: served.tables.popularity,
      trends: served.tables.trends,
      lists: served.tables.lists,
      foldInWeight: interactionWeight(data.weighting, 1, 1, 1),
    },
    customers,
  };
  return { bundle, segments, served };
}

function popularParams(config: TrainConfig): { trendingHalfLifeDays?: number; k?: number } {
  const p = config.models.popularity ?? {};
  const out: { trendingHalfLifeDays?: number; k?: number } = {};
  if (typeof p.trendingHalfLifeDays === 'number') out.trendingHalfLifeDays = p.trendingHalfLifeDays;
  if (typeof p.listLength === 'number') out.k = p.listLength;
  return out;
}

const DAY_MS = 86_400_000;

/**
 * RFM segments from the dataset's per-customer figures (distinct purchase orders, net revenue,
 * last purchase), at the time of the last line (src/core/rfm.ts for the rules).
 */
export function rfmSegments(data: Pick<Dataset, 'customerStats' | 'summary'>, thresholds: Partial<RfmThresholds> = {}): (Segment | null)[] {
  const { orders, revenue, last } = data.customerStats;
  const now = data.summary.to ? Date.parse(data.summary.to) : 0;
  const rfm: Rfm = {
    recencyDays: Float64Array.from(last, (t) => (Number.isNaN(t) ? Infinity : Math.max(0, (now - t) / DAY_MS))),
    frequency: orders,
    monetary: revenue,
  };
  return segmentCustomers(rfm, thresholds);
}
