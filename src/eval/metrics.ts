/**
 * Ranking metrics with binary relevance, as pure functions `(relevant, ranked) => number`,
 * defined exactly as /work/shared/tools/reference_eval.py does. `ranked` may be padded with −1.
 */

/** The set of relevant items (truth). */
export type Relevant = ReadonlySet<number>;

/**
 * Recall@k = |top-k ∩ relevant| / min(|relevant|, k)  (the "truncated" recall: a perfect list scores 1
 * even when more than k items are relevant). 0 when nothing is relevant.
 */
export function recallAt(k: number): (relevant: Relevant, ranked: ArrayLike<number>) => number {
  return (relevant, ranked) => {
    if (relevant.size === 0) return 0;
    return hits(relevant, ranked, k) / Math.min(relevant.size, k);
  };
}

/**
 * NDCG@k with binary gains (Järvelin & Kekäläinen 2002):
 *   DCG = Σ_{r=1..k} rel_r / log2(r + 1),  IDCG = Σ_{r=1..min(|relevant|,k)} 1 / log2(r + 1),  NDCG = DCG / IDCG.
 */
export function ndcgAt(k: number): (relevant: Relevant, ranked: ArrayLike<number>) => number {
  return (relevant, ranked) => {
    if (relevant.size === 0) return 0;
    let dcg = 0;
    const n = Math.min(k, ranked.length);
    for (let r = 0; r < n; r++) if (relevant.has(ranked[r])) dcg += 1 / Math.log2(r + 2);
    let idcg = 0;
    const m = Math.min(relevant.size, k);
    for (let r = 0; r < m; r++) idcg += 1 / Math.log2(r + 2);
    return dcg / idcg;
  };
}

/** HR@k: 1 when at least one relevant item is in the top k, else 0. */
export function hitRateAt(k: number): (relevant: Relevant, ranked: ArrayLike<number>) => number {
  return (relevant, ranked) => (hits(relevant, ranked, k) > 0 ? 1 : 0);
}

/** Number of distinct relevant items among the first k of the ranking. */
function hits(relevant: Relevant, ranked: ArrayLike<number>, k: number): number {
  const n = Math.min(k, ranked.length);
  let h = 0;
  const seen = new Set<number>();
  for (let r = 0; r < n; r++) {
    const it = ranked[r];
    if (relevant.has(it) && !seen.has(it)) {
      seen.add(it);
      h++;
    }
  }
  return h;
}

/**
 * Catalogue coverage@k: the share of the catalogue's `items` that appear in at least one
 * customer's top k. `lists` is flattened rows of width `width` (−1 padded).
 */
export function coverageAt(k: number, items: number, lists: Int32Array, width: number): number {
  if (items === 0) return 0;
  const seen = new Uint8Array(items);
  let n = 0;
  for (let o = 0; o < lists.length; o += width) {
    for (let r = 0; r < Math.min(k, width); r++) {
      const it = lists[o + r];
      if (it >= 0 && it < items && !seen[it]) {
        seen[it] = 1;
        n++;
      }
    }
  }
  return n / items;
}
