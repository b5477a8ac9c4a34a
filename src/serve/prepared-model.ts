/**
 * One prepared model per served version: every per-version table serving derives from the item side
 * (the served model's scoring tables, popularity, the fold-in Gram matrix and its Cholesky factor, the
 * SIMD copy of the item factors, per-item scratch), built once at swap time (RecommendationService.prepare)
 * and dropped with the version.
 */
import type { LoadedModel } from '../cache/model-source.js';
import { type BlendParams, blendParams } from '../core/blend.js';
import { choleskyFactor, choleskySubstitute, gramMatrix } from '../core/fold-in.js';
import type { TopKLists } from '../core/bundle.js';
import { transpose } from '../core/csr.js';
import { ServedScratch, type ServedSpec, type ServedTables } from '../core/served-model.js';
import { SimdScorer } from './simd-scorer.js';

/** The blend's item trend (bundles without a served model): t_j ∈ [0, 1] from the trending list. */
export interface Trend {
  items: number[];
  value: (j: number) => number;
  /** Whether t is non-increasing along `items` (a prefix holds the best trend-only candidates). */
  descending: boolean;
}

/** Per-item scratch for deduplicating and summing without allocation (a fresh epoch per use). */
export interface Scratch {
  mark: Uint32Array;
  epoch: number;
  sums?: Float64Array;
  bestSeed?: Int32Array;
  bestScore?: Float64Array;
}

export interface PreparedModel {
  readonly model: LoadedModel;
  /** The served model's spec and tables (null for bundles trained before it). */
  readonly served: { spec: ServedSpec; tables: ServedTables; foldInWeight: number } | null;
  /** pop_i / max pop (the served table, else from the global list). */
  readonly popularity: Float32Array;
  readonly blend: BlendParams;
  readonly trend: Trend;
  /** YᵀY (k × k) and the Cholesky factor of YᵀY + λI (lower, row-major), when the model has factors. */
  readonly gram: Float64Array | null;
  readonly gramCholesky: Float64Array | null;
  /**
   * The lists item-kNN scores a history through (src/models/neighbour-lists.ts): the neighbour lists, or their
   * transpose when the version's item-kNN scored by target (the default; manifest params.models.item_knn.scoreBy,
   * bundles that do not say: source), so the personal list's neighbours
   * fallback ranks as the evaluated item-kNN does.
   */
  readonly knnScoring: TopKLists;
  /** (YᵀY + λI)⁻¹ y_i, solved on first use per item and kept (guest fold-in: src/core/fold-in.ts foldInFactored). */
  readonly solvedItem: ((item: number) => Float64Array) | null;
  readonly simd: SimdScorer | null;
  readonly scratch: Scratch;
  /** The served scorer's item-length buffers (serving is single-threaded; used synchronously). */
  readonly scores: Float64Array;
  readonly servedScratch: ServedScratch;
}

const prepared = new WeakMap<LoadedModel, PreparedModel>();

/** The model's prepared tables (built on first use; RecommendationService.prepare builds them at swap). */
export function preparedOf(model: LoadedModel): PreparedModel {
  let p = prepared.get(model);
  if (!p) prepared.set(model, (p = build(model)));
  return p;
}

function build(model: LoadedModel): PreparedModel {
  const n = model.items.length;
  const simd = model.als ? SimdScorer.create(model.als.itemFactors, model.als.k, n) : null;
  const served = model.served
    ? {
        spec: model.served.spec,
        foldInWeight: model.served.foldInWeight,
        tables: {
          nItems: n,
          popularity: model.served.popularity,
          trends: model.served.trends,
          lists: model.served.lists,
          // the SIMD kernel computes exactly factorScoresF32 (src/core/served-model.ts), which evaluation runs
          factors: model.als ? { k: model.als.k, itemFactors: model.als.itemFactors, ...(simd ? { dot: (x: Float32Array) => simd.scores(x) } : {}) } : null,
        },
      }
    : null;
  let popularity = served?.tables.popularity;
  if (!popularity) {
    popularity = new Float32Array(n);
    const g = model.popular.global;
    let max = 0;
    for (let p = 0; p < g.items.length; p++) max = Math.max(max, g.scores[p]);
    for (let p = 0; p < g.items.length; p++) if (max > 0) popularity[g.items[p]] = g.scores[p] / max;
  }
  let gram: Float64Array | null = null;
  let gramCholesky: Float64Array | null = null;
  if (model.als) {
    const { k, reg, itemFactors } = model.als;
    gram = gramMatrix(itemFactors, k);
    gramCholesky = Float64Array.from(gram);
    for (let d = 0; d < k; d++) gramCholesky[d * k + d] += reg;
    choleskyFactor(gramCholesky, k);
  }
  let solvedItem: PreparedModel['solvedItem'] = null;
  if (model.als && gramCholesky) {
    const { k, itemFactors } = model.als;
    const chol = gramCholesky;
    const memo = new Map<number, Float64Array>();
    solvedItem = (i) => {
      let v = memo.get(i);
      if (!v) {
        v = Float64Array.from(itemFactors.subarray(i * k, i * k + k));
        choleskySubstitute(chol, v, k);
        if (memo.size >= 50_000) memo.clear(); // bounded: 50k × k doubles at most
        memo.set(i, v);
      }
      return v;
    };
  }
  const scoreBy = (model.manifest.params.models as { item_knn?: { scoreBy?: string } } | undefined)?.item_knn?.scoreBy ?? 'source';
  let knnScoring = model.neighbours;
  if (scoreBy === 'target') {
    const t = transpose({ rows: model.neighbours.indptr.length - 1, cols: n, indptr: model.neighbours.indptr, indices: model.neighbours.indices, data: model.neighbours.scores });
    knnScoring = { indptr: t.indptr as Int32Array, indices: t.indices, scores: t.data };
  }
  return {
    model,
    served,
    knnScoring,
    solvedItem,
    popularity,
    blend: blendParams(model.blend),
    trend: trendOf(model),
    gram,
    gramCholesky,
    simd,
    scratch: { mark: new Uint32Array(n), epoch: 0 },
    scores: new Float64Array(n),
    servedScratch: new ServedScratch(n),
  };
}

function trendOf(model: LoadedModel): Trend {
  const list = model.popular.trending;
  const table = new Float32Array(model.items.length);
  let max = 0;
  for (let p = 0; p < list.items.length; p++) max = Math.max(max, list.scores[p]);
  for (let p = 0; p < list.items.length; p++) if (max > 0) table[list.items[p]] = list.scores[p] / max;
  const items = Array.from(list.items.subarray(0, 200));
  let descending = true;
  for (let p = 1; p < items.length; p++) if (table[items[p]] > table[items[p - 1]]) descending = false;
  return { items, value: (j) => table[j], descending };
}

/** The model's scratch, with a fresh epoch. */
export function scratchOf(model: LoadedModel): Scratch {
  const sc = preparedOf(model).scratch;
  if (++sc.epoch === 0xffffffff) {
    sc.mark.fill(0);
    sc.epoch = 1;
  }
  return sc;
}
