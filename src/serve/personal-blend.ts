/**
 * How "recommended for you" blends the learned model with buy-again (bundle.blend):
 *   score(i) = wf · x·yᵢ + wr · ln(1 + purchases(i))
 * with wf = blend.factors (default 1) and wr = blend.repeat (default 0). Only items the
 * customer bought get the buy-again part, so it only matters when excludePurchased is off.
 */
import type { CustomerRecord } from '../core/bundle.js';

export interface BlendWeights {
  factors: number;
  repeat: number;
}

export function blendWeights(blend: Record<string, number> | undefined): BlendWeights {
  const f = blend?.factors;
  const r = blend?.repeat;
  return { factors: Number.isFinite(f) ? f! : 1, repeat: Number.isFinite(r) ? r! : 0 };
}

/** The buy-again bonus per item of the customer's history (empty when the weight is 0). */
export function repeatBonus(record: CustomerRecord | null, weights: BlendWeights): Map<number, number> | undefined {
  if (!record || weights.repeat === 0) return undefined;
  const bonus = new Map<number, number>();
  for (let p = 0; p < record.items.length; p++) {
    if (record.counts[p] > 0) bonus.set(record.items[p], weights.repeat * Math.log1p(record.counts[p]));
  }
  return bonus;
}
