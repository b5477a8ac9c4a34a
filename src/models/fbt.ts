/**
 * Frequently bought together: co-occurrence of items within the same basket (orders,
 * guests included), ranked by lift with support and confidence thresholds:
 *   support(i,j) = n_ij,  confidence(i→j) = n_ij / n_i,  lift(i,j) = n_ij · N / (n_i · n_j)
 * (Agrawal et al. 1993; Brin et al. 1997), N = number of baskets. Top-K per item.
 * A basket-completion model: the lists (what serving shows) are ranked by lift. As a personal ranker
 * (recommend) a customer's score for j is Σ_i confidence(i→j) over their items — lift favours rare pairs,
 * confidence the pairs that recur — and items no list reaches back off to popularity (distinct
 * buyers) after them, as serving's basket endpoint does.
 */
import type { TopKLists } from '../core/bundle.js';
import type { TrainingData } from '../core/recommender.js';
import type { Csr } from '../core/csr.js';
import { ModelFitError } from '../core/errors.js';
import { binarize, cooccurrenceTopK } from '../core/similarity.js';
import { NeighbourListRecommender } from './neighbour-lists.js';
import { type SavedModel, savedArray } from './saved-model.js';

export interface FbtParams {
  /** Items kept per item. Default 20. */
  k: number;
  /** Minimum number of baskets holding both items. Default 5. */
  minSupport: number;
  /**
   * Minimum confidence n_ij / n_i. Default 0.1: lift alone favours rare pairs; on Online Retail
   * 0.1 keeps the lists about pairs that really recur (its personal-ranking NDCG doubles vs 0.02).
   */
  minConfidence: number;
}

export const FBT_DEFAULTS: FbtParams = { k: 20, minSupport: 5, minConfidence: 0.1 };

/**
 * FBT's lists (top k by lift above the thresholds) from a baskets × items matrix: a pure function of its
 * arguments, so that it can run in a worker thread (src/models/background-fits.ts).
 */
export function fbtLists(baskets: Csr, params: Partial<FbtParams>, progress?: (done: number, total: number) => void): TopKLists {
  const { k, minSupport, minConfidence } = { ...FBT_DEFAULTS, ...params };
  const b = binarize(baskets);
  if (b.indices.length === 0) throw new ModelFitError('fbt: no baskets');
  const n = b.cols;
  const nBaskets = b.rows;
  const count = new Float64Array(n);
  for (let p = 0; p < b.indices.length; p++) count[b.indices[p]]++;
  // lift(i,j) = n_ij·N / (n_i·n_j), for pairs above the support and confidence thresholds
  return cooccurrenceTopK(
    b,
    k,
    (i, j, nij) => (nij < minSupport || nij / count[i] < minConfidence ? 0 : (nij * nBaskets) / (count[i] * count[j])),
    undefined,
    progress,
  );
}

export class FbtRecommender extends NeighbourListRecommender {
  readonly name = 'fbt';
  readonly params: FbtParams;
  /** confidence(i→j) = n_ij / n_i for each list entry (same layout as lists.scores). */
  private confidence = new Float32Array(0);

  constructor(params: Partial<FbtParams> = {}) {
    super();
    this.params = { ...FBT_DEFAULTS, ...params };
  }

  async fit(data: TrainingData, progress?: (done: number, total: number) => void): Promise<void> {
    this.adopt(fbtLists(data.baskets, this.params, progress), data);
  }

  /** Takes lists computed by fbtLists on `data.baskets` with this model's parameters (e.g. in a worker thread). */
  adopt(lists: TopKLists, data: TrainingData): void {
    const b = binarize(data.baskets);
    const n = b.cols;
    const nBaskets = b.rows;
    const count = new Float64Array(n);
    for (let p = 0; p < b.indices.length; p++) count[b.indices[p]]++;
    this.setLists(lists);
    // n_ij / n_i = lift · n_j / N
    const { indices, scores } = this.lists;
    this.confidence = new Float32Array(scores.length);
    for (let p = 0; p < scores.length; p++) this.confidence[p] = (scores[p] * count[indices[p]]) / nBaskets;
    this.history = binarize(data.counts);
    const buyers = new Float64Array(n);
    for (let p = 0; p < this.history.indices.length; p++) buyers[this.history.indices[p]]++;
    this.backoff = buyers;
  }

  override scoringLists(): TopKLists {
    return { ...this.lists, scores: this.confidence };
  }

  override save(): SavedModel {
    const saved = super.save();
    return { ...saved, arrays: { ...saved.arrays, confidence: this.confidence } };
  }

  override load(saved: SavedModel): void {
    super.load(saved);
    this.confidence = savedArray(saved, 'confidence', Float32Array);
  }
}
