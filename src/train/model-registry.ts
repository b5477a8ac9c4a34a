/**
 * The models training and evaluation know by name, with their hyperparameters and defaults.
 * Every hyperparameter becomes a CLI flag `--<model>-<param>` (kebab-case) and a key of the
 * `--config` file's `models.<model>` object.
 */
import type { Recommender } from '../core/recommender.js';
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
];

/** Registered models, in evaluation order. */
export function modelEntries(): readonly ModelEntry[] {
  return entries;
}

export function modelEntry(name: string): ModelEntry | undefined {
  return entries.find((e) => e.name === name);
}

/** `factors` → `factors`, `knnNeighbours` → `knn-neighbours`. */
export const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
