/**
 * The buy-again protocol: for each test customer who bought again in the test window something they had
 * bought before, rank their own items and score how well the ranking finds the re-bought ones
 * (NDCG@10, Recall@20). Compares the buy-again endpoint's formula (src/core/buy-again.ts at the cutoff),
 * repeat (purchase count, ties by popularity: reference_eval.py's baseline) and the served model's
 * repeat-inclusive list restricted to the customer's own items.
 */
import { buyAgainRanking } from '../core/buy-again.js';
import { ownedOrder, type ServedSpec } from '../core/served-model.js';
import type { ServedState } from '../models/served.js';
import { customersPerItem } from '../models/popularity.js';
import { round4 } from './evaluate.js';
import { ndcgAt, recallAt } from './metrics.js';
import type { EvalSplit } from './time-split.js';

export interface BuyAgainFigures {
  'ndcg@10': number;
  'recall@20': number;
  users: number;
}

const ndcg10 = ndcgAt(10);
const recall20 = recallAt(20);

/**
 * Figures of the rhythm formula (`buy_again`), `repeat` and, with a served model, `served` (its `all` list).
 * `users`: the test customers considered (default: every one of the "all" protocol); `served` scores every item
 * for each of them (its list's normalisation needs the catalogue's maximum), so at scale the evaluation passes
 * its seeded sample (src/eval/select.ts scoredUsers).
 */
export function evaluateBuyAgain(
  split: EvalSplit,
  served?: { state: ServedState; spec: ServedSpec },
  users: Int32Array = split.allUsers,
  /**
   * The `served` ranking's NDCG@10 and Recall@20 per customer of `users` (in that order), computed already (the
   * selection's candidate caches: src/eval/select.ts buyAgainServed); NaN for a customer who re-bought nothing.
   */
  servedFigures?: { ndcg: Float64Array; recall: Float64Array },
): Record<string, BuyAgainFigures> {
  const ref = split.reference;
  const { counts } = ref;
  const pop = customersPerItem(counts);
  const rankers: Record<string, (u: number, items: Int32Array, s: number) => number[]> = {
    buy_again: (_u, items, s) =>
      buyAgainRanking(items, counts.data.subarray(s, s + items.length), ref.pairLastTime.subarray(s, s + items.length), ref.pairIntervalDays.subarray(s, s + items.length), split.cutoff).map(
        (e) => items[e.pos],
      ),
    repeat: (_u, items, s) => Array.from(items.keys()).sort((a, b) => counts.data[s + b] - counts.data[s + a] || pop[items[b]] - pop[items[a]] || items[a] - items[b]).map((p) => items[p]),
  };
  if (served) rankers.served = (u, items) => ownedOrder(served.state.tables, served.spec, served.state.person(u), 'served').map((q) => items[q]);
  const sums = Object.fromEntries(Object.keys(rankers).map((k) => [k, { n: 0, r: 0 }]));
  const given = served && servedFigures && servedFigures.ndcg.length === users.length ? servedFigures : null;
  let n = 0;
  let x = -1;
  for (const u of users) {
    x++;
    const s = counts.indptr[u];
    const items = counts.indices.subarray(s, counts.indptr[u + 1]);
    const truth = new Set<number>();
    for (const i of split.truthAll.get(u) ?? []) if (items.includes(i)) truth.add(i);
    if (truth.size === 0) continue;
    n++;
    for (const [name, rank] of Object.entries(rankers)) {
      if (given && name === 'served') {
        if (Number.isNaN(given.ndcg[x])) throw new Error(`evaluateBuyAgain: no served figures for customer ${u}`);
        sums[name].n += given.ndcg[x];
        sums[name].r += given.recall[x];
        continue;
      }
      const ranked = rank(u, items, s);
      sums[name].n += ndcg10(truth, ranked);
      sums[name].r += recall20(truth, ranked);
    }
  }
  return Object.fromEntries(
    Object.entries(sums).map(([k, v]) => [k, { 'ndcg@10': round4(n ? v.n / n : 0), 'recall@20': round4(n ? v.r / n : 0), users: n }]),
  );
}
