/**
 * The personal "recommended for you" score: buy-again blended with a learned model, one pure
 * function that evaluation (src/models/blend.ts) and serving both call, so they rank alike.
 *
 *   owned item i (bought before):   s_i = repeatWeight · count_i + popularityTie · pop_i / max pop
 *   any other candidate j:          s_j = learnedWeight · m_j / max_j' m_j'   (0 when max ≤ 0)
 *
 * where m is the learned model's score over its candidates. With the defaults (learnedWeight < 1 ≤
 * any owned score) the customer's own items come first in buy-again order, then the learned
 * model's discoveries: on Online Retail this beats both repeat alone and every learned model
 * on the "all" protocol (BENCHMARKS.md, Models).
 */

export interface BlendParams {
  /** Weight of the customer's purchase count of an item. Default 1. */
  repeatWeight: number;
  /** Weight of global popularity (scaled to [0, 1]) among owned items: a tie-break below 1. Default 0.5. */
  popularityTie: number;
  /** Weight of the learned model's score, normalised by the customer's best candidate. Default 0.5. */
  learnedWeight: number;
}

export const BLEND_DEFAULTS: BlendParams = { repeatWeight: 1, popularityTie: 0.5, learnedWeight: 0.5 };

/** Reads blend parameters from a bundle's `blend` record, defaults for what is missing. */
export function blendParams(record: Record<string, number> | undefined): BlendParams {
  return { ...BLEND_DEFAULTS, ...(record ?? {}) };
}

/**
 * Merges owned items and learned candidates into one ranked list of at most k (best first).
 * `popularity(i)` is pop_i / max pop in [0, 1]. Excluded items never appear. A candidate that is
 * also owned scores as owned.
 */
export function blendScores(
  params: BlendParams,
  owned: { items: ArrayLike<number>; counts: ArrayLike<number> },
  learned: { items: ArrayLike<number>; scores: ArrayLike<number> },
  popularity: (item: number) => number,
  k: number,
  exclude: ReadonlySet<number> = new Set(),
): { items: number[]; scores: number[] } {
  const score = new Map<number, number>();
  let best = -Infinity;
  for (let p = 0; p < learned.items.length; p++) if (learned.items[p] >= 0) best = Math.max(best, learned.scores[p]);
  for (let p = 0; p < learned.items.length; p++) {
    const j = learned.items[p];
    if (j < 0 || exclude.has(j) || !(learned.scores[p] > -Infinity)) continue;
    score.set(j, best > 0 ? (params.learnedWeight * learned.scores[p]) / best : 0);
  }
  for (let p = 0; p < owned.items.length; p++) {
    const i = owned.items[p];
    if (exclude.has(i) || !(owned.counts[p] > 0)) continue;
    score.set(i, params.repeatWeight * owned.counts[p] + params.popularityTie * popularity(i));
  }
  const ranked = [...score].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
  return { items: ranked.map((e) => e[0]), scores: ranked.map((e) => e[1]) };
}
