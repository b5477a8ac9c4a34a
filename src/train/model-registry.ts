/**
 * The models training and evaluation know by name, with their hyperparameters and defaults.
 * Every hyperparameter becomes a CLI flag `--<model>-<param>` (kebab-case: `--item-knn-neighbours`)
 * and a key of the `--config` file's `models.<model>` object. Entries without `create` are
 * bundle components that are not recommenders (segments): they have parameters but are not evaluated.
 */
import { BLEND_DEFAULTS, type BlendParams } from '../core/blend.js';
import type { Recommender } from '../core/recommender.js';
import { RFM_DEFAULTS } from '../core/rfm.js';
import { ALS_DEFAULTS, type AlsParams, AlsRecommender } from '../models/als.js';
import { BlendRecommender } from '../models/blend.js';
import { EASE_DEFAULTS, type EaseParams, EaseRecommender } from '../models/ease.js';
import { FBT_DEFAULTS, type FbtParams, FbtRecommender } from '../models/fbt.js';
import { ITEM_KNN_DEFAULTS, type ItemKnnParams, ItemKnnRecommender } from '../models/item-knn.js';
import { PopularityRecommender } from '../models/popularity.js';
import { RepeatRecommender } from '../models/repeat.js';
import { ServedRecommender, tifuSpec } from '../models/served.js';
import { TIFU_DEFAULTS, type TifuParams } from '../models/tifu-knn.js';

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

export type DataKind = 'reference' | 'weighted';

export interface ModelEntry {
  name: string;
  description: string;
  /**
   * Which training matrix evaluation fits it on: `reference` = the protocol's binary X and line
   * counts (what reference_eval.py's baselines see), `weighted` = src/train/weighting.ts.
   */
  data: DataKind | ((params: Params) => DataKind);
  /** Hyperparameters with their defaults (types are taken from the defaults). */
  defaults: Params;
  /** Allowed values of string hyperparameters. */
  choices?: Record<string, readonly string[]>;
  /** Whether `npm run evaluate` runs it when --models is not given. */
  evaluateByDefault: boolean;
  /** A fresh model; `all` holds every model's configured parameters (for composite models). */
  create?(params: Params, all: Record<string, Params>): Recommender;
}

const LEARNED_FOR_BLEND = ['als', 'item_knn', 'ease'] as const;

const entries: ModelEntry[] = [
  {
    name: 'popularity',
    description: 'distinct customers per item; the bundle also gets trending, per-store and per-segment lists',
    data: 'reference',
    defaults: { trendingHalfLifeDays: 14, listLength: 200 },
    evaluateByDefault: true,
    create: () => new PopularityRecommender(),
  },
  {
    name: 'repeat',
    description: "the customer's own purchase-line counts, ties by popularity (buy again)",
    data: 'reference',
    defaults: {},
    evaluateByDefault: true,
    create: () => new RepeatRecommender(),
  },
  {
    name: 'item_knn',
    description: 'item-item CF: sparse co-occurrence, cosine/jaccard with shrinkage, top-K neighbours',
    data: 'reference',
    defaults: { ...ITEM_KNN_DEFAULTS },
    choices: { similarity: ['cosine', 'jaccard'], weighting: ['none', 'tfidf', 'bm25'], input: ['binary', 'weights'], scoreBy: ['source', 'target'] },
    evaluateByDefault: true,
    create: (p) => new ItemKnnRecommender(p as unknown as Partial<ItemKnnParams>),
  },
  {
    name: 'ease',
    description: 'EASE (Steck 2019): closed-form item-item linear model; dense items², small catalogues only (evaluation)',
    data: 'reference',
    defaults: { ...EASE_DEFAULTS },
    evaluateByDefault: true,
    create: (p) => new EaseRecommender(p as unknown as Partial<EaseParams>),
  },
  {
    name: 'als',
    description: 'implicit ALS (Hu, Koren, Volinsky 2008), confidence 1 + α·w on the weighted matrix',
    data: 'weighted',
    defaults: { ...ALS_DEFAULTS },
    choices: { solver: ['cg', 'cholesky'], input: ['weights', 'counts'] },
    evaluateByDefault: true,
    create: (p) => new AlsRecommender(p as unknown as Partial<AlsParams>),
  },
  {
    name: 'fbt',
    description: 'frequently bought together: basket co-occurrence ranked by lift, support and confidence thresholds',
    data: 'reference',
    defaults: { ...FBT_DEFAULTS },
    evaluateByDefault: true,
    create: (p) => new FbtRecommender(p as unknown as Partial<FbtParams>),
  },
  {
    name: 'tifu_knn',
    description: 'TIFU-KNN (Hu et al., SIGIR 2020): time-decayed item frequencies within and across groups of baskets, blended (α) with the nearest customers',
    data: 'reference',
    defaults: { ...TIFU_DEFAULTS, alpha: 0.7 },
    evaluateByDefault: true,
    create: (p) => {
      const { alpha, ...tifu } = p;
      return new ServedRecommender('tifu_knn', tifuSpec(Number(alpha)), { tifu_knn: tifu as unknown as Partial<TifuParams> });
    },
  },
  {
    name: 'blend',
    description: 'the former fixed blend (buy-again + a learned model + trend, src/core/blend.ts); superseded by the validation-chosen served model',
    data: (p) => dataKindOf(String(p.learned)),
    defaults: { ...BLEND_DEFAULTS, learned: 'als' },
    choices: { learned: LEARNED_FOR_BLEND },
    evaluateByDefault: false,
    create: (p, all) => {
      const learned = modelEntry(String(p.learned));
      if (!learned?.create) throw new Error(`blend: unknown learned model ${String(p.learned)}`);
      const { learned: _, ...blend } = p;
      return new BlendRecommender(learned.create(all[learned.name] ?? learned.defaults, all), blend as unknown as Partial<BlendParams>);
    },
  },
  {
    name: 'segments',
    description: 'RFM segments (src/core/rfm.ts): thresholds',
    data: 'reference',
    defaults: { ...RFM_DEFAULTS },
    evaluateByDefault: false,
  },
];

function dataKindOf(name: string): DataKind {
  const e = modelEntry(name);
  if (!e) return 'reference';
  return typeof e.data === 'function' ? e.data(e.defaults) : e.data;
}

/** Registered models and components, in evaluation order. */
export function modelEntries(): readonly ModelEntry[] {
  return entries;
}

/** Entries that are recommenders (can be evaluated). */
export function recommenderEntries(): readonly (ModelEntry & { create: NonNullable<ModelEntry['create']> })[] {
  return entries.filter((e): e is ModelEntry & { create: NonNullable<ModelEntry['create']> } => e.create !== undefined);
}

export function modelEntry(name: string): ModelEntry | undefined {
  return entries.find((e) => e.name === name);
}

/** The training matrix a model is evaluated on, for its parameters. */
export function dataKind(entry: ModelEntry, params: Params): DataKind {
  return typeof entry.data === 'function' ? entry.data(params) : entry.data;
}

/** `factors` → `factors`, `knnNeighbours` → `knn-neighbours`, `item_knn` → `item-knn`. */
export const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');

/** The CLI flag of a model's hyperparameter: `--item-knn-neighbours`. */
export const paramFlag = (model: string, param: string): string => `${kebab(model)}-${kebab(param)}`;
