/**
 * Off-policy estimators of a policy's value per decision from logged bandit feedback (pure).
 *
 * Round t: context x_t, logged action a_t chosen with probability p_t by the logging policy, reward r_t;
 * the evaluated policy π gives w_t = π(a_t | x_t) / p_t. With a reward model q̂(x, a) and q̂(x, π) = Σ_a π(a|x)·q̂(x, a):
 *
 *   IPS     V = (1/n) Σ w_t r_t                                   (Horvitz–Thompson)
 *   SNIPS   V = Σ w_t r_t / Σ w_t                                 (self-normalised, Swaminathan & Joachims 2015)
 *   DR      V = (1/n) Σ [ q̂(x_t, π) + w_t (r_t − q̂(x_t, a_t)) ]     (Dudík, Langford & Li 2011)
 *
 * 95 % intervals are normal (Wald) intervals V ± 1.96·se: for IPS and DR se is the sample standard deviation of
 * the per-round terms over √n; for SNIPS, a ratio estimator, se comes from the delta method:
 *   se² = Σ w_t² (r_t − V)² / (Σ w_t)²
 * (Open Bandit Pipeline reports bootstrap intervals of the same per-round terms; the normal interval is what the
 * bootstrap approaches for these means and needs no resampling.) The effective sample size (Σ w)² / Σ w² says how
 * many logged rounds the estimate is really worth; a small one means a wide, fragile interval.
 */

export interface Estimate {
  value: number;
  se: number;
  ci95: [number, number];
  n: number;
}

const Z95 = 1.959963984540054;

function interval(value: number, se: number, n: number): Estimate {
  return { value, se, ci95: [value - Z95 * se, value + Z95 * se], n };
}

/** Mean of per-round terms with its normal 95 % interval. */
export function meanEstimate(terms: ArrayLike<number>): Estimate {
  const n = terms.length;
  if (n === 0) return interval(NaN, NaN, 0);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += terms[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (terms[i] - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  return interval(mean, sd / Math.sqrt(n), n);
}

/** The logging policy's own value: the mean reward. */
export const onPolicyValue = (rewards: ArrayLike<number>): Estimate => meanEstimate(rewards);

export function ips(rewards: ArrayLike<number>, weights: ArrayLike<number>): Estimate {
  return meanEstimate(Float64Array.from({ length: rewards.length }, (_, i) => weights[i] * rewards[i]));
}

export function snips(rewards: ArrayLike<number>, weights: ArrayLike<number>): Estimate {
  const n = rewards.length;
  let sw = 0;
  let swr = 0;
  for (let i = 0; i < n; i++) {
    sw += weights[i];
    swr += weights[i] * rewards[i];
  }
  if (n === 0 || sw === 0) return interval(NaN, NaN, n);
  const v = swr / sw;
  let s = 0;
  for (let i = 0; i < n; i++) s += (weights[i] * (rewards[i] - v)) ** 2;
  return interval(v, Math.sqrt(s) / sw, n);
}

/**
 * Doubly robust. `qLogged[t]` = q̂(x_t, a_t), `qPolicy[t]` = q̂(x_t, π); the reward model should be fitted on other
 * rounds than the ones it is applied to (cross-fitting), so its errors do not correlate with the terms.
 */
export function doublyRobust(rewards: ArrayLike<number>, weights: ArrayLike<number>, qLogged: ArrayLike<number>, qPolicy: ArrayLike<number>): Estimate {
  return meanEstimate(Float64Array.from({ length: rewards.length }, (_, i) => qPolicy[i] + weights[i] * (rewards[i] - qLogged[i])));
}

/** Effective sample size of importance weights: (Σ w)² / Σ w². */
export function effectiveSampleSize(weights: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < weights.length; i++) {
    s += weights[i];
    s2 += weights[i] * weights[i];
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}
