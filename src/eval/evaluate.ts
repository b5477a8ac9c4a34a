/**
 * Offline evaluation: scores a fitted Recommender on a time split, talking to it only through
 * `recommend` (batch of customers, k = 20, already-bought items excluded for discovery).
 */
import type { BatchResult, Progress, RecommendOptions, Recommender } from '../core/recommender.js';
import { coverageAt, hitRateAt, ndcgAt, recallAt } from './metrics.js';
import type { EvalSplit } from './time-split.js';

/** A model that scores several customer lists in one call (the results of one `recommend` per list). */
export interface ScoresMany {
  recommendMany(lists: { users: ArrayLike<number>; options?: RecommendOptions }[], k: number): BatchResult[];
}

/** One protocol's figures, averaged over its test customers. */
export interface ProtocolResult {
  'ndcg@10': number;
  'recall@20': number;
  'hr@10': number;
  users: number;
  /** Share of the catalogue in at least one customer's top 10. */
  'coverage@10': number;
}

export interface ModelResult {
  discovery: ProtocolResult;
  all: ProtocolResult;
  fit_s: number;
  eval_s?: number;
  /** Which training matrix the model was fitted on: the protocol's binary X/line counts, or the weighted one. */
  data?: 'reference' | 'weighted';
}

const recall20 = recallAt(20);
const ndcg10 = ndcgAt(10);
const hr10 = hitRateAt(10);

/** Rounds like the reference prints (4 decimals). */
export const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** The figures of one protocol, summed over its customers' lists. */
class ProtocolTally {
  private r20 = 0;
  private n10 = 0;
  private h10 = 0;
  private n = 0;
  private readonly lists: Int32Array;

  constructor(
    users: number,
    private readonly truth: Map<number, Set<number>>,
    private readonly nItems: number,
  ) {
    this.lists = new Int32Array(users * 10);
  }

  /** Customers `rows` and their lists (row r at r · res.k). */
  add(rows: ArrayLike<number>, res: BatchResult, k: number): void {
    const w = res.k;
    for (let r = 0; r < rows.length; r++) {
      const t = this.truth.get(rows[r]);
      if (!t || t.size === 0) continue;
      const ranked = res.ids.subarray(r * w, r * w + Math.min(w, k));
      this.r20 += recall20(t, ranked);
      this.n10 += ndcg10(t, ranked);
      this.h10 += hr10(t, ranked);
      this.lists.set(ranked.subarray(0, Math.min(10, ranked.length)), this.n * 10);
      this.n++;
    }
  }

  result(): ProtocolResult {
    const { n } = this;
    return {
      'ndcg@10': round4(n ? this.n10 / n : 0),
      'recall@20': round4(n ? this.r20 / n : 0),
      'hr@10': round4(n ? this.h10 / n : 0),
      users: n,
      'coverage@10': round4(coverageAt(10, this.nItems, this.lists.subarray(0, n * 10), 10)),
    };
  }
}

/** Scores one protocol: `users` are training-data rows, `truth` their relevant items. */
export async function evaluateProtocol(
  model: Recommender,
  users: Int32Array,
  truth: Map<number, Set<number>>,
  nItems: number,
  options: { exclude?: EvalSplit['reference']['weights']; batchSize?: number; progress?: Progress } = {},
): Promise<ProtocolResult> {
  const k = 20;
  const batch = options.batchSize ?? 512;
  const tally = new ProtocolTally(users.length, truth, nItems);
  for (let s = 0; s < users.length; s += batch) {
    const rows = users.subarray(s, Math.min(users.length, s + batch));
    const res = await model.recommend(rows, k, options.exclude ? { exclude: options.exclude } : undefined);
    tally.add(rows, res, k);
    options.progress?.(Math.min(users.length, s + batch), users.length);
  }
  return tally.result();
}

/** The customers scored per protocol: a subset of the split's (e.g. a seeded sample, src/eval/select.ts scoredUsers). */
export interface ScoredUsers {
  discovery: Int32Array;
  all: Int32Array;
}

/**
 * Both protocols for a fitted model: discovery (bought-before items excluded, new items only) and all.
 * `users`: score only these customers of each protocol (default: every test customer of the split).
 */
export async function evaluateRecommender(
  model: Recommender,
  split: EvalSplit,
  options: { batchSize?: number; progress?: Progress; users?: ScoredUsers } = {},
): Promise<{ discovery: ProtocolResult; all: ProtocolResult }> {
  const nItems = split.counts.items;
  const discoveryUsers = options.users?.discovery ?? split.discoveryUsers;
  const allUsers = options.users?.all ?? split.allUsers;
  const total = discoveryUsers.length + allUsers.length;
  const many = (model as Partial<ScoresMany>).recommendMany;
  if (typeof many === 'function') {
    // both protocols in one call: a customer of both is scored once (the same lists as a recommend call per protocol)
    const [d, a] = many.call(model, [{ users: discoveryUsers, options: { exclude: split.reference.weights } }, { users: allUsers }], 20);
    options.progress?.(total, total, 'all');
    const discovery = new ProtocolTally(discoveryUsers.length, split.truthNew, nItems);
    discovery.add(discoveryUsers, d, 20);
    const all = new ProtocolTally(allUsers.length, split.truthAll, nItems);
    all.add(allUsers, a, 20);
    return { discovery: discovery.result(), all: all.result() };
  }
  const discovery = await evaluateProtocol(model, discoveryUsers, split.truthNew, nItems, {
    exclude: split.reference.weights,
    batchSize: options.batchSize,
    progress: options.progress && ((d) => options.progress!(d, total, 'discovery')),
  });
  const all = await evaluateProtocol(model, allUsers, split.truthAll, nItems, {
    batchSize: options.batchSize,
    progress: options.progress && ((d) => options.progress!(discoveryUsers.length + d, total, 'all')),
  });
  return { discovery, all };
}

/** Fits a fresh model on the split's training data and evaluates it; fit and evaluation timed. */
export async function fitAndEvaluate(
  model: Recommender,
  split: EvalSplit,
  data: 'reference' | 'weighted',
  options: { batchSize?: number; progress?: Progress; fitProgress?: Progress; users?: ScoredUsers } = {},
): Promise<ModelResult> {
  const t0 = performance.now();
  await model.fit(data === 'weighted' ? split.weighted : split.reference, options.fitProgress);
  const t1 = performance.now();
  const r = await evaluateRecommender(model, split, options);
  const t2 = performance.now();
  return { ...r, fit_s: round2((t1 - t0) / 1000), eval_s: round2((t2 - t1) / 1000), data };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
