/**
 * The blend as a Recommender (see src/core/blend.ts for the score): buy-again over the customer's
 * own purchase counts, then a learned model's candidates. Evaluation compares it side by side
 * with its parts; `bundleParams()` is what goes into ModelBundle.blend.
 */
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import type { Csr } from '../core/csr.js';
import { BLEND_DEFAULTS, blendScores, itemTrend, type BlendParams } from '../core/blend.js';
import type { RankedList } from '../core/bundle.js';
import { topK } from '../core/top-k.js';
import { NotSupportedError } from '../core/errors.js';
import { emptyBatch, excludedFor } from '../core/top-k.js';
import { customersPerItem } from './popularity.js';
import { checkHeader, savedArray, type SavedModel } from './saved-model.js';

export interface BlendOptions {
  /** Fit the learned model in fit() (default true); false when it is already fitted on the same data. */
  fitLearned?: boolean;
  name?: string;
}

export class BlendRecommender implements Recommender {
  readonly name: string;
  readonly params: BlendParams;
  /** pop_i / max pop. */
  popularity: Float64Array = new Float64Array(0);
  /** t_j ∈ [0, 1] (all 0 without pairLastTime in the training data). */
  trend: Float64Array = new Float64Array(0);
  private trendTop: Int32Array = new Int32Array(0);
  private counts: Csr | null = null;
  /** Extra learned candidates fetched beyond k (see blendScores). */
  static readonly CANDIDATE_MARGIN = 50;

  constructor(
    readonly learned: Recommender,
    params: Partial<BlendParams> = {},
    private readonly options: BlendOptions = {},
  ) {
    this.params = { ...BLEND_DEFAULTS, ...params };
    this.name = options.name ?? `blend_${learned.name}`;
  }

  async fit(data: TrainingData, progress?: (done: number, total: number) => void): Promise<void> {
    if (this.options.fitLearned !== false) await this.learned.fit(data, progress);
    const pop = customersPerItem(data.counts);
    let max = 0;
    for (const v of pop) max = Math.max(max, v);
    this.popularity = pop.map((v) => (max > 0 ? v / max : 0));
    this.trend = data.pairLastTime
      ? itemTrend(data.counts.cols, data.counts.indices, data.pairLastTime, this.params.trendHalfLifeDays)
      : new Float64Array(data.counts.cols);
    this.trendTop = this.trendList(100).items;
    this.counts = data.counts;
  }

  /** The top trending items (t > 0) as a RankedList, e.g. for the bundle's popular.trending. */
  trendList(k: number): RankedList {
    const t = topK(this.trend, Math.min(k, this.trend.length));
    let m = t.ids.length;
    while (m > 0 && !(t.scores[m - 1] > 0)) m--;
    return { items: t.ids.slice(0, m), scores: t.scores.slice(0, m) };
  }

  /** The numbers serving needs (ModelBundle.blend). */
  bundleParams(): Record<string, number> {
    return { ...this.params };
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const counts = this.counts;
    if (!counts) throw new NotSupportedError(`${this.name}: not fitted on customer histories (use recommendForItems)`);
    // learned candidates exclude the caller's exclusions and the customer's own items (scored as owned)
    const rows = customers.length;
    const exIndptr = new Int32Array(rows + 1);
    const exIdx: number[] = [];
    for (let n = 0; n < rows; n++) {
      const u = customers[n];
      const set = new Set<number>(excludedFor(options, n, u));
      for (let p = counts.indptr[u]; p < counts.indptr[u + 1]; p++) set.add(counts.indices[p]);
      exIdx.push(...set);
      exIndptr[n + 1] = exIdx.length;
    }
    const ex: Csr = { rows, cols: counts.cols, indptr: exIndptr, indices: Int32Array.from(exIdx), data: new Float32Array(exIdx.length) };
    const learned = await this.learned.recommend(customers, k + BlendRecommender.CANDIDATE_MARGIN, { exclude: ex, excludeRows: Int32Array.from({ length: rows }, (_, i) => i) });
    const res = emptyBatch(rows, k);
    for (let n = 0; n < rows; n++) {
      const u = customers[n];
      const s = counts.indptr[u];
      const e = counts.indptr[u + 1];
      this.merge(
        res,
        n,
        { items: counts.indices.subarray(s, e), counts: counts.data.subarray(s, e) },
        learned,
        new Set(excludedFor(options, n, u)),
      );
    }
    return res;
  }

  private merge(res: BatchResult, n: number, owned: { items: ArrayLike<number>; counts: ArrayLike<number> }, learned: BatchResult, exclude: Set<number>, row = n): void {
    const { k } = res;
    const lk = learned.k;
    const m = blendScores(
      this.params,
      owned,
      { items: learned.ids.subarray(row * lk, row * lk + lk), scores: learned.scores.subarray(row * lk, row * lk + lk) },
      (i) => this.popularity[i] ?? 0,
      k,
      exclude,
      { items: this.trendTop, value: (j) => this.trend[j] ?? 0 },
    );
    for (let j = 0; j < k; j++) {
      res.ids[n * k + j] = j < m.items.length ? m.items[j] : -1;
      res.scores[n * k + j] = j < m.items.length ? m.scores[j] : -Infinity;
    }
  }

  async similarItems(items: ArrayLike<number>, k: number): Promise<BatchResult> {
    return this.learned.similarItems(items, k);
  }

  /** `weights` are the history's purchase counts. */
  async recommendForItems(items: ArrayLike<number>, weights: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult> {
    const ex = new Set<number>(Array.from(exclude ?? []));
    const learned = await this.learned.recommendForItems(items, weights, k + BlendRecommender.CANDIDATE_MARGIN, [...ex, ...Array.from(items)]);
    const res = emptyBatch(1, k);
    this.merge(res, 0, { items, counts: weights }, learned, ex, 0);
    return res;
  }

  /** The blend's own state (the learned model saves itself). */
  save(): SavedModel {
    return { header: { model: this.name, learned: this.learned.name, params: { ...this.params } }, arrays: { popularity: this.popularity, trend: this.trend } };
  }

  load(saved: SavedModel): void {
    checkHeader(saved, this.name);
    Object.assign(this.params, saved.header.params as Partial<BlendParams>);
    this.popularity = savedArray(saved, 'popularity', Float64Array);
    this.trend = savedArray(saved, 'trend', Float64Array);
    this.trendTop = this.trendList(100).items;
    this.counts = null;
  }
}
