/**
 * The one interface every model implements (in the spirit of implicit's RecommenderBase):
 * fit on a customer × item matrix; recommend for many customers at once; similar items;
 * recompute one customer from their items where the model supports it; serialise.
 * Evaluation talks to models only through this interface.
 */
import type { Csr } from './csr.js';

/** What a model is fitted on. Rows are customers, columns items, values interaction weights. */
export interface TrainingData {
  /** customers × items confidence weights (already weighted: repeats, quantity, recency, returns). */
  weights: Csr;
  /** customers × items count of purchase lines (for "buy again" and popularity). */
  counts: Csr;
  /** baskets × items (orders, guests included), 1 where the basket holds the item. */
  baskets: Csr;
  /** Item index → sku; customer index → id. */
  items: string[];
  customers: string[];
  /**
   * Optional: last purchase time (epoch ms) of each customer-item pair, aligned with the entries
   * of `counts`. Time-aware models (the blend's trend term) use it; others ignore it.
   */
  pairLastTime?: Float64Array;
}

/** Top-k per requested row, flattened: row r's results are ids[r*k .. r*k+k), -1 padded. */
export interface BatchResult {
  k: number;
  ids: Int32Array;
  scores: Float32Array;
}

export interface RecommendOptions {
  /** Rows of this matrix (indexed like the requested customers) are excluded from results. */
  exclude?: Csr;
  /** Row indices of `exclude` for each requested customer (defaults to the customer index itself). */
  excludeRows?: ArrayLike<number>;
}

export interface Progress {
  (done: number, total: number, label?: string): void;
}

export interface Recommender {
  readonly name: string;
  fit(data: TrainingData, progress?: Progress): Promise<void>;
  /** Recommends for the given customer rows of the training data. */
  recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult>;
  /** Items most similar to each given item. Throws NotSupportedError where the model has no notion of it. */
  similarItems(items: ArrayLike<number>, k: number): Promise<BatchResult>;
  /** Scores for an arbitrary history (fold-in); throws NotSupportedError where unsupported. */
  recommendForItems(items: ArrayLike<number>, weights: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): Promise<BatchResult>;
  /** Serialised parameters: named typed arrays plus a JSON header. */
  save(): { header: Record<string, unknown>; arrays: Record<string, Float32Array | Int32Array | Float64Array | Uint8Array> };
  load(saved: { header: Record<string, unknown>; arrays: Record<string, Float32Array | Int32Array | Float64Array | Uint8Array> }): void;
}
