/**
 * The "buy it again" ranking of one customer's own items (GET /v1/customers/{id}/buy-again), pure, so
 * the service (src/serve/buy-again.ts) and offline evaluation (src/eval/buy-again-eval.ts) rank alike.
 * For an item bought repeatedly with mean interval τ days, last bought at t, the expected next purchase
 * is t + τ; with d = (t + τ − now) in days,
 *   score = ln(1 + purchases) / (1 + |d| / max(τ, 1))
 * so items due now score highest, frequent items higher than occasional ones, and long-overdue items
 * decay. Items bought once (no interval) follow all repeated items, with
 *   score = ln(1 + purchases) / (1 + age days / 30) / 10.
 * Ties: lower item index first.
 */
const DAY_MS = 86_400_000;

export interface BuyAgainEntry {
  /** Position in the record's arrays. */
  pos: number;
  score: number;
  /** d in days (null for items bought once). */
  dueInDays: number | null;
}

export function buyAgainRanking(
  items: ArrayLike<number>,
  counts: ArrayLike<number>,
  lastTime: ArrayLike<number>,
  intervalDays: ArrayLike<number>,
  now: number,
): BuyAgainEntry[] {
  const repeated: BuyAgainEntry[] = [];
  const once: BuyAgainEntry[] = [];
  for (let p = 0; p < items.length; p++) {
    const count = counts[p];
    if (!(count > 0)) continue;
    const last = lastTime[p];
    const tau = intervalDays[p];
    if (Number.isFinite(tau) && tau > 0) {
      const d = (last + tau * DAY_MS - now) / DAY_MS;
      repeated.push({ pos: p, score: Math.log1p(count) / (1 + Math.abs(d) / Math.max(tau, 1)), dueInDays: d });
    } else {
      const age = Math.max(0, (now - last) / DAY_MS);
      once.push({ pos: p, score: Math.log1p(count) / (1 + age / 30) / 10, dueInDays: null });
    }
  }
  const byScore = (a: BuyAgainEntry, b: BuyAgainEntry) => b.score - a.score || items[a.pos] - items[b.pos];
  return repeated.sort(byScore).concat(once.sort(byScore));
}
