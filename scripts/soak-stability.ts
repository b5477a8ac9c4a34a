/**
 * The soak's verdict on p99 over time (scripts/bench-soak.ts): compares the start of the run with its
 * end, per series, so that one noisy interval neither passes nor fails a run.
 */

/** The figures of one interval the verdict reads. */
export interface SoakInterval {
  rps: number;
  storefrontP99: number;
  lookupP99: number;
  eventsP99: number;
  /** 5xx, socket errors and client timeouts. */
  errors: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};

/** Median of the finite values. */
const median = (xs: number[]) => quantile(xs.filter(Number.isFinite), 0.5);

/**
 * Whether p99 held over the run: the median of the last third of the intervals against the median
 * of the first third (the first interval included: the service was warm from the peak's run), per
 * series; drifted when the ratio exceeds `maxRatio` and the rise exceeds `slackMs` (a 3 → 6 ms p99
 * is noise, not drift). The achieved rate must hold too: an interval below 97 % of the target means
 * the load generator fell behind (all connections busy), which hides latency instead of measuring it;
 * and no interval may have errors.
 */
export function stabilityVerdict(
  intervals: readonly SoakInterval[],
  rate: number,
  o: { maxRatio?: number; slackMs?: number } = {},
): { stable: boolean; reasons: string[]; drift: Record<string, { first: number; last: number; ratio: number }> } {
  const maxRatio = o.maxRatio ?? 1.5;
  const slackMs = o.slackMs ?? 10;
  const third = Math.max(1, Math.floor(intervals.length / 3));
  const first = intervals.slice(0, third);
  const last = intervals.slice(-third);
  const reasons: string[] = [];
  const drift: Record<string, { first: number; last: number; ratio: number }> = {};
  for (const key of ['storefrontP99', 'lookupP99', 'eventsP99'] as const) {
    const a = median(first.map((i) => i[key]));
    const b = median(last.map((i) => i[key]));
    drift[key] = { first: a, last: b, ratio: b / a };
    if (b > a * maxRatio && b - a > slackMs) reasons.push(`${key} ${a.toFixed(0)} → ${b.toFixed(0)} ms (× ${(b / a).toFixed(2)})`);
  }
  const slow = intervals.filter((i) => i.rps < 0.97 * rate);
  if (slow.length > 0) reasons.push(`${slow.length} interval(s) below 97 % of ${rate.toFixed(0)} req/s (lowest ${Math.min(...slow.map((i) => i.rps)).toFixed(0)})`);
  const errors = intervals.reduce((a, i) => a + i.errors, 0);
  if (errors > 0) reasons.push(`${errors} error(s)`);
  if (intervals.length < 3) reasons.push('fewer than 3 intervals: no verdict');
  return { stable: reasons.length === 0, reasons, drift };
}

