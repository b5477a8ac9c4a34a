/**
 * Interaction weighting: how a customer's purchase lines of one item become one confidence weight.
 *
 * For customer u and item i with purchase lines l (quantity q_l > 0, time t_l):
 *
 *   r_ui = (net_ui / gross_ui) · Σ_l 2^(−(T − t_l) / h) · (1 + β · ln q_l)
 *   w_ui = ln(1 + r_ui / ε)                                   (Hu, Koren, Volinsky 2008, eq. 6)
 *
 * - repeat purchases (more lines) and larger quantities (β > 0) raise r, log-scaled by w;
 * - recency decays each line with half-life h days from the reference time T (h = 0: no decay);
 * - returns and cancellations (negative lines) remove what they cancel: gross_ui is the purchased
 *   quantity, net_ui the purchased minus the returned one; net_ui ≤ 0 → no interaction at all;
 * - guests' lines never make interactions (they only feed basket co-occurrence).
 * Models turn w into confidence themselves (ALS: c = 1 + α·w).
 *
 * Schemes: `log` (above), `lines` (r_ui: the raw decayed line count, what reference_eval.py's ALS uses
 * with h = 0, β = 0), `binary` (1 for every interaction, the reference protocol's X).
 */
export interface WeightingOptions {
  scheme: 'log' | 'lines' | 'binary';
  /** ε of w = ln(1 + r/ε): smaller ε → repeats matter more. */
  epsilon: number;
  /** β: weight of ln(quantity) per line; 0 ignores quantity. */
  quantityWeight: number;
  /** Recency half-life in days; 0 turns decay off. */
  halfLifeDays: number;
  /** Reference time T (epoch ms) for the decay; default the last line's time. */
  now?: number;
}

export const DEFAULT_WEIGHTING: WeightingOptions = {
  scheme: 'log',
  epsilon: 1,
  quantityWeight: 0,
  halfLifeDays: 0,
};

const DAY_MS = 86_400_000;

/** The contribution of one purchase line to r_ui (before the net/gross factor). */
export function lineContribution(o: WeightingOptions, quantity: number, time: number, now: number): number {
  let c = 1;
  if (o.quantityWeight > 0 && quantity > 1) c += o.quantityWeight * Math.log(quantity);
  if (o.halfLifeDays > 0) c *= Math.pow(2, -Math.max(0, now - time) / (o.halfLifeDays * DAY_MS));
  return c;
}

/** w_ui from the summed line contributions and the pair's purchased/net quantities (0 = no interaction). */
export function interactionWeight(o: WeightingOptions, r: number, gross: number, net: number): number {
  if (!(net > 0) || !(gross > 0) || !(r > 0)) return 0;
  if (o.scheme === 'binary') return 1;
  const rr = r * Math.min(1, net / gross);
  return o.scheme === 'lines' ? rr : Math.log1p(rr / o.epsilon);
}

/** Validates weighting options; returns the list of problems (empty when fine). */
export function weightingProblems(o: WeightingOptions): string[] {
  const p: string[] = [];
  if (!['log', 'lines', 'binary'].includes(o.scheme)) p.push(`scheme must be log, lines or binary (got ${String(o.scheme)})`);
  if (!(o.epsilon > 0)) p.push(`epsilon must be > 0 (got ${o.epsilon})`);
  if (!(o.quantityWeight >= 0)) p.push(`quantityWeight must be >= 0 (got ${o.quantityWeight})`);
  if (!(o.halfLifeDays >= 0)) p.push(`halfLifeDays must be >= 0 (got ${o.halfLifeDays})`);
  return p;
}
