/**
 * Offline evaluation: scores a fitted Recommender on a time split, talking to it only through
 * `recommend` (batch of customers, k = 20, already-bought items excluded for discovery).
 */
import type { Progress, Recommender } from '../core/recommender.js';
import { coverageAt, hitRateAt, ndcgAt, recallAt } from './metrics.js';
import type { EvalSplit } from './time-split.js';

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
  let r20 = 0;
  let n10 = 0;
  let h10 = 0;
  let n = 0;
  const lists = new Int32Array(users.length * 10);
  for (let s = 0; s < users.length; s += batch) {
    const rows = users.subarray(s, Math.min(users.length, s + batch));
    const res = await model.recommend(rows, k, options.exclude ? { exclude: options.exclude } : undefined);
    const w = res.k;
    for (let r = 0; r < rows.length; r++) {
      const t = truth.get(rows[r]);
      if (!t || t.size === 0) continue;
      const ranked = res.ids.subarray(r * w, r * w + Math.min(w, k));
      r20 += recall20(t, ranked);
      n10 += ndcg10(t, ranked);
      h10 += hr10(t, ranked);
      lists.set(ranked.subarray(0, Math.min(10, ranked.length)), n * 10);
      n++;
    }
    options.progress?.(Math.min(users.length, s + batch), users.length);
  }
  return {
    'ndcg@10': round4(n ? n10 / n : 0),
    'recall@20': round4(n ? r20 / n : 0),
    'hr@10': round4(n ? h10 / n : 0),
    users: n,
    'coverage@10': round4(coverageAt(10, nItems, lists.subarray(0, n * 10), 10)),
  };
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
