/**
 * Item-item collaborative filtering: top-K neighbours per item from sparse co-occurrence over
 * customers (see src/core/similarity.ts; no items × items matrix is ever allocated), with an
 * optional TF-IDF or BM25 re-weighting of the customers × items matrix applied first.
 * A customer's score for item j is Σ_{i ∈ history} s(i, j).
 */
import type { TrainingData } from '../core/recommender.js';
import type { Csr } from '../core/csr.js';
import type { TopKLists } from '../core/bundle.js';
import { ModelFitError } from '../core/errors.js';
import { binarize, bm25Weight, itemNeighbours, tfidfWeight, type SimilarityKind } from '../core/similarity.js';
import { NeighbourListRecommender } from './neighbour-lists.js';

export interface ItemKnnParams {
  /** Neighbours kept per item. Default 100. */
  neighbours: number;
  /** cosine (default) or jaccard. */
  similarity: SimilarityKind;
  /** Shrinkage added to the similarity's denominator. Default 10. */
  shrink: number;
  /** Re-weighting of X before XᵀX: none (binary purchases, default), tfidf or bm25. */
  weighting: 'none' | 'tfidf' | 'bm25';
  /** Input matrix: binary purchases (default) or the training weights. */
  input: 'binary' | 'weights';
  /** Score a candidate through its own neighbour list ('target', default) or through the history's lists ('source'); see NeighbourListRecommender. */
  scoreBy: 'source' | 'target';
  bm25K1: number;
  bm25B: number;
}

export const ITEM_KNN_DEFAULTS: ItemKnnParams = {
  neighbours: 100,
  similarity: 'cosine',
  shrink: 10,
  weighting: 'none',
  input: 'binary',
  scoreBy: 'target',
  bm25K1: 100,
  bm25B: 0.8,
};

/**
 * The neighbour lists of item-kNN on `data` (its counts, and its weights when p.input = 'weights'): a pure
 * function of its arguments, so that it can run in a worker thread (src/models/background-fits.ts).
 */
export function itemKnnLists(
  data: Pick<TrainingData, 'counts' | 'weights'>,
  params: Partial<ItemKnnParams>,
  progress?: (done: number, total: number) => void,
  name = 'item_knn',
): TopKLists {
  const p = { ...ITEM_KNN_DEFAULTS, ...params };
  if (data.counts.cols === 0 || data.counts.indices.length === 0) throw new ModelFitError(`${name}: no interactions`);
  if (!(p.neighbours >= 1)) throw new ModelFitError(`${name}: neighbours must be ≥ 1`, { neighbours: p.neighbours });
  return itemNeighbours(ItemKnnRecommender.prepare(data as TrainingData, p), p.neighbours, p.similarity, p.shrink, progress);
}

export class ItemKnnRecommender extends NeighbourListRecommender {
  readonly name: string;
  readonly params: ItemKnnParams;

  constructor(params: Partial<ItemKnnParams> = {}, name = 'item_knn') {
    super();
    this.params = { ...ITEM_KNN_DEFAULTS, ...params };
    this.name = name;
  }

  /** The matrix the similarity is computed on, after input choice and re-weighting. */
  static prepare(data: TrainingData, p: ItemKnnParams): Csr {
    const x = p.input === 'binary' ? binarize(data.counts) : data.weights;
    return p.weighting === 'tfidf' ? tfidfWeight(x) : p.weighting === 'bm25' ? bm25Weight(x, p.bm25K1, p.bm25B) : x;
  }

  async fit(data: TrainingData, progress?: (done: number, total: number) => void): Promise<void> {
    this.adopt(itemKnnLists(data, this.params, progress, this.name), data);
  }

  /** Takes lists computed by itemKnnLists on `data` with this model's parameters (e.g. in a worker thread). */
  adopt(lists: TopKLists, data: TrainingData): void {
    this.scoreBy = this.params.scoreBy;
    this.setLists(lists);
    this.history = binarize(data.counts);
  }
}
