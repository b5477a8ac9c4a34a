/**
 * What item-kNN, frequently-bought-together and EASE share once fitted: per-item
 * top-k lists (TopKLists), a customer's score for item j being Σ_{i ∈ history} w_i · s(i, j).
 */
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import type { TopKLists } from '../core/bundle.js';
import { transpose, type Csr } from '../core/csr.js';
import { NotSupportedError } from '../core/errors.js';
import { emptyBatch, excludedFor, recommendDense, recommendDenseMany, TopK } from '../core/top-k.js';
import { scoreFromLists } from '../core/similarity.js';
import { checkHeader, savedArray, type SavedModel } from './saved-model.js';

export abstract class NeighbourListRecommender implements Recommender {
  abstract readonly name: string;
  lists: TopKLists = { indptr: new Int32Array(1), indices: new Int32Array(0), scores: new Float32Array(0) };
  /** The customers' histories the model was fitted on (binary unless a subclass says otherwise). */
  protected history: Csr | null = null;
  /** Whether a customer's history counts with its values (true) or as 1 per item (false). */
  protected weightedHistory = false;
  /**
   * How a history scores item j. 'source' (implicit's ItemItemRecommender): Σ_{i ∈ h} s(i, j) over the
   * lists of the history's items. 'target' (reference_eval.py's item-kNN): Σ_{i ∈ h} s(j, i) over the
   * list of the candidate j, i.e. the transposed lists: j scores by how many of its own neighbours
   * the customer has.
   */
  protected scoreBy: 'source' | 'target' = 'source';
  private transposed: TopKLists | null = null;
  /**
   * Optional back-off order for items no list reaches (e.g. popularity): they rank after every listed
   * item, by this value, instead of not at all. Null: unreached items are never recommended.
   */
  protected backoff: Float64Array | null = null;

  /** The lists a history is scored through: `lists`, or their transpose when scoring by target. */
  scoringLists(): TopKLists {
    if (this.scoreBy === 'source') return this.lists;
    if (!this.transposed) {
      const n = this.nItems;
      const t = transpose({ rows: n, cols: n, indptr: this.lists.indptr, indices: this.lists.indices, data: this.lists.scores });
      this.transposed = { indptr: t.indptr as Int32Array, indices: t.indices, scores: t.data };
    }
    return this.transposed;
  }

  /** Sets the fitted lists (and forgets any derived ones). */
  protected setLists(lists: TopKLists): void {
    this.lists = lists;
    this.transposed = null;
  }

  abstract fit(data: TrainingData, progress?: (done: number, total: number) => void): Promise<void>;

  get nItems(): number {
    return this.lists.indptr.length - 1;
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const h = this.history;
    if (!h) throw new NotSupportedError(`${this.name}: not fitted on customer histories (use recommendForItems)`);
    return recommendDense(customers, k, this.nItems, options, (u, out) => {
      const s = h.indptr[u];
      const e = h.indptr[u + 1];
      scoreFromLists(this.scoringLists(), h.indices.subarray(s, e), this.weightedHistory ? h.data.subarray(s, e) : null, out);
      maskUnscored(out, this.scoringLists(), h.indices.subarray(s, e), this.backoff);
    });
  }

  /**
   * `recommend` for several customer lists at once (the same results as one `recommend(users, k, options)` per list):
   * a customer in several lists (e.g. both evaluation protocols) is scored once.
   */
  recommendMany(lists: { users: ArrayLike<number>; options?: RecommendOptions }[], k: number): BatchResult[] {
    const h = this.history;
    if (!h) throw new NotSupportedError(`${this.name}: not fitted on customer histories (use recommendForItems)`);
    const scoring = this.scoringLists();
    const reached = new Uint8Array(this.nItems);
    return recommendDenseMany(lists, k, this.nItems, (u, out) => {
      const s = h.indptr[u];
      const e = h.indptr[u + 1];
      scoreFromLists(scoring, h.indices.subarray(s, e), this.weightedHistory ? h.data.subarray(s, e) : null, out);
      maskUnscored(out, scoring, h.indices.subarray(s, e), this.backoff, reached);
    });
  }

  async similarItems(items: ArrayLike<number>, k: number): Promise<BatchResult> {
    const res = emptyBatch(items.length, k);
    const sel = new TopK(k);
    for (let n = 0; n < items.length; n++) {
      const i = items[n];
      for (let p = this.lists.indptr[i]; p < this.lists.indptr[i + 1]; p++) sel.push(this.lists.indices[p], this.lists.scores[p]);
      sel.drain(res.ids, res.scores, n);
    }
    return res;
  }

  async recommendForItems(items: ArrayLike<number>, weights: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    const exclusion: RecommendOptions | undefined = exclude
      ? { exclude: { rows: 1, cols: this.nItems, indptr: Int32Array.of(0, exclude.length), indices: Int32Array.from(exclude), data: new Float32Array(exclude.length) }, excludeRows: [0] }
      : undefined;
    return recommendDense([0], k, this.nItems, exclusion, (_u, out) => {
      scoreFromLists(this.scoringLists(), items, this.weightedHistory ? weights : null, out);
      maskUnscored(out, this.scoringLists(), items, this.backoff);
    });
  }

  save(): SavedModel {
    return {
      header: { model: this.name, weightedHistory: this.weightedHistory, scoreBy: this.scoreBy },
      arrays: {
        indptr: this.lists.indptr,
        indices: this.lists.indices,
        scores: this.lists.scores,
        ...(this.backoff ? { backoff: this.backoff } : {}),
      },
    };
  }

  load(saved: SavedModel): void {
    checkHeader(saved, this.name);
    this.setLists({
      indptr: savedArray(saved, 'indptr', Int32Array),
      indices: savedArray(saved, 'indices', Int32Array),
      scores: savedArray(saved, 'scores', Float32Array),
    });
    this.scoreBy = saved.header.scoreBy === 'target' ? 'target' : 'source';
    this.weightedHistory = saved.header.weightedHistory === true;
    this.backoff = 'backoff' in saved.arrays ? savedArray(saved, 'backoff', Float64Array) : null;
    this.history = null;
  }
}

/**
 * Items no listed neighbour reaches get −∞ (not recommended at all) unless nothing is reached,
 * so lists stay honest: a model recommends only what its lists support. Items reached with a
 * score of exactly 0 are kept. With a back-off order b, unreached items get −1/(1+b_j) instead:
 * below every listed score (lists score ≥ 0), ordered by b.
 */
function maskUnscored(out: Float64Array, lists: TopKLists, items: ArrayLike<number>, backoff: Float64Array | null, scratch?: Uint8Array): void {
  // `scratch`: all zeros, left all zeros
  const reached = scratch ?? new Uint8Array(out.length);
  let any = false;
  for (let n = 0; n < items.length; n++) {
    const i = items[n];
    if (i < 0 || i + 1 >= lists.indptr.length) continue;
    for (let p = lists.indptr[i]; p < lists.indptr[i + 1]; p++) {
      reached[lists.indices[p]] = 1;
      any = true;
    }
  }
  if (any || backoff) for (let j = 0; j < out.length; j++) if (!reached[j]) out[j] = backoff ? -1 / (1 + backoff[j]) : -Infinity;
  if (scratch) for (let n = 0; n < items.length; n++) {
    const i = items[n];
    if (i < 0 || i + 1 >= lists.indptr.length) continue;
    for (let p = lists.indptr[i]; p < lists.indptr[i + 1]; p++) reached[lists.indices[p]] = 0;
  }
}
