/**
 * The personal "recommended for you" score: buy-again blended with a learned model, one pure
 * function that evaluation (src/models/blend.ts) and serving both call, so they rank alike.
 *
 *   owned item i (bought before):   s_i = repeatWeight · count_i + ownedTrendWeight · t_i + popularityTie · pop_i / max pop
 *   any other candidate j:          s_j = learnedWeight · (m_j / max_j' m_j' + trendWeight · t_j)
 *
 * where m is the learned model's score over its candidates (the ratio is 0 when max ≤ 0) and
 * t_j ∈ [0, 1] the item's trend: t = T / max T with T_j = Σ_u 2^(−(now − last_uj) / halfLife)
 * over the customers u who bought j (last_uj: their last purchase of it). Demand is seasonal; the
 * trend term lifts what is selling now: among discoveries (+6–13% NDCG@10 over EASE alone on two
 * Online Retail cutoffs) and among the customer's own items with equal counts (+3–5% NDCG@10 over
 * repeat on the "all" protocol). With the defaults (learnedWeight · (1 + trendWeight) < 1 and
 * ownedTrendWeight + popularityTie < 1) the customer's own items come first in buy-again order
 * (trend breaking ties between equal counts), then discoveries. BENCHMARKS.md, Models, has figures.
 */

export interface BlendParams {
  /** Weight of the customer's purchase count of an item. Default 1. */
  repeatWeight: number;
  /** Weight of the item trend among owned items (a tie-break between equal counts when < 1). Default 0.5. */
  ownedTrendWeight: number;
  /** Weight of global popularity (scaled to [0, 1]) among owned items: the last tie-break. Default 0.01. */
  popularityTie: number;
  /** Weight of the learned model's score, normalised by the customer's best candidate. Default 0.5. */
  learnedWeight: number;
  /** Weight of the item trend t ∈ [0, 1] relative to the normalised learned score. Default 0.5. */
  trendWeight: number;
  /** Half-life of the trend's decay, days. Default 7. */
  trendHalfLifeDays: number;
}

export const BLEND_DEFAULTS: BlendParams = {
  repeatWeight: 1,
  ownedTrendWeight: 0.5,
  popularityTie: 0.01,
  learnedWeight: 0.5,
  trendWeight: 0.5,
  trendHalfLifeDays: 7,
};

/**
 * Item trend T_j = Σ_u 2^(−(now − last_uj) / halfLife) from the last purchase time of each
 * customer-item pair (entries of a customers × items matrix: `items` = its column indices),
 * scaled so the top item has 1. `now` defaults to the latest time.
 */
export function itemTrend(nItems: number, items: ArrayLike<number>, lastTime: ArrayLike<number>, halfLifeDays: number, now?: number): Float64Array {
  let ref = now ?? -Infinity;
  if (now === undefined) for (let p = 0; p < lastTime.length; p++) if (lastTime[p] > ref) ref = lastTime[p];
  const t = new Float64Array(nItems);
  const hl = halfLifeDays * 86_400_000;
  for (let p = 0; p < items.length; p++) {
    const age = Math.max(0, ref - lastTime[p]);
    if (Number.isFinite(age)) t[items[p]] += Math.pow(2, -age / hl);
  }
  let max = 0;
  for (const v of t) max = Math.max(max, v);
  if (max > 0) for (let j = 0; j < nItems; j++) t[j] /= max;
  return t;
}

/** Reads blend parameters from a bundle's `blend` record, defaults for what is missing. */
export function blendParams(record: Record<string, number> | undefined): BlendParams {
  return { ...BLEND_DEFAULTS, ...(record ?? {}) };
}

/**
 * Merges owned items, learned candidates and trending candidates into one ranked list of at most
 * k (best first). `popularity(i)` is pop_i / max pop in [0, 1]; `trend.value(j)` is t_j and
 * `trend.items` the most trending items (candidates in their own right; learned candidates not
 * listed score 0 for the learned part). Excluded items never appear; a candidate also owned scores
 * as owned. Callers pass the learned model's top (k + 50) or so: items below it are assumed to
 * score too low to matter.
 */
export function blendScores(
  params: BlendParams,
  owned: { items: ArrayLike<number>; counts: ArrayLike<number> },
  learned: { items: ArrayLike<number>; scores: ArrayLike<number> },
  popularity: (item: number) => number,
  k: number,
  exclude: ReadonlySet<number> = new Set(),
  trend: { items: ArrayLike<number>; value: (item: number) => number } = { items: [], value: () => 0 },
): { items: number[]; scores: number[] } {
  const score = new Map<number, number>();
  let best = -Infinity;
  for (let p = 0; p < learned.items.length; p++) if (learned.items[p] >= 0) best = Math.max(best, learned.scores[p]);
  const w = params.learnedWeight;
  for (let p = 0; p < learned.items.length; p++) {
    const j = learned.items[p];
    if (j < 0 || exclude.has(j) || !(learned.scores[p] > -Infinity)) continue;
    score.set(j, w * ((best > 0 ? learned.scores[p] / best : 0) + params.trendWeight * trend.value(j)));
  }
  // trending items the learned model did not list still compete on their trend
  for (let p = 0; p < trend.items.length; p++) {
    const j = trend.items[p];
    if (j < 0 || score.has(j) || exclude.has(j)) continue;
    score.set(j, w * params.trendWeight * trend.value(j));
  }
  for (let p = 0; p < owned.items.length; p++) {
    const i = owned.items[p];
    if (exclude.has(i) || !(owned.counts[p] > 0)) continue;
    score.set(i, params.repeatWeight * owned.counts[p] + params.ownedTrendWeight * trend.value(i) + params.popularityTie * popularity(i));
  }
  const ranked = [...score].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
  return { items: ranked.map((e) => e[0]), scores: ranked.map((e) => e[1]) };
}
