/**
 * The models training and evaluation know by name, with their hyperparameters and defaults.
 * Every hyperparameter becomes a CLI flag `--<model>-<param>` (kebab-case) and a key of the
 * `--config` file's `models.<model>` object.
 */
import type { Recommender } from '../core/recommender.js';
import { ALS_DEFAULTS, type AlsParams, AlsRecommender } from '../models/als.js';
import { EASE_DEFAULTS, type EaseParams, EaseRecommender } from '../models/ease.js';
import { FBT_DEFAULTS, type FbtParams, FbtRecommender } from '../models/fbt.js';
import { ITEM_KNN_DEFAULTS, type ItemKnnParams, ItemKnnRecommender } from '../models/item-knn.js';
import { PopularityRecommender } from '../models/popularity.js';
import { RepeatRecommender } from '../models/repeat.js';

export type ParamValue = number | string | boolean;
export type Params = Record<string, ParamValue>;

export interface ModelEntry {
  name: string;
  description: string;
  /**
   * Which training matrix evaluation fits it on: `reference` = the protocol's binary X and line
   * counts (what reference_eval.py's baselines see), `weighted` = src/train/weighting.ts.
   */
  data: 'reference' | 'weighted';
  /** Hyperparameters with their defaults (types are taken from the defaults). */
  defaults: Params;
  /** Allowed values of string hyperparameters. */
  choices?: Record<string, readonly string[]>;
  /** Whether `npm run evaluate` runs it when --models is not given. */
  evaluateByDefault: boolean;
  create(params: Params): Recommender;
}

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
    description: 'EASE (Steck 2019): closed-form item-item linear model; dense items², small catalogues only',
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
];

/** Registered models, in evaluation order. */
export function modelEntries(): readonly ModelEntry[] {
  return entries;
}

export function modelEntry(name: string): ModelEntry | undefined {
  return entries.find((e) => e.name === name);
}

/** `factors` → `factors`, `knnNeighbours` → `knn-neighbours`, `item_knn` → `item-knn`. */
export const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');

/** The CLI flag of a model's hyperparameter: `--item-knn-neighbours`. */
export const paramFlag = (model: string, param: string): string => `${kebab(model)}-${kebab(param)}`;
