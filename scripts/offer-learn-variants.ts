import type { DecideParams } from '../src/core/offers/decide.js';

/** Variants tried by offer-learn (scripts/offer-learn-diag.ts --variant NAME); `base` is DECIDE_DEFAULTS. */
export const VARIANTS: Record<string, Partial<DecideParams>> = {
  base: {},
  pooled: { model: 'pooled' },
  h_wide: { offerSpread: 1.5, segmentSpread: 1, cellSpread: 0.5 },
  h_narrow: { offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3 },
  h_sharp2: { sharpening: 2 },
  h_narrow_sharp2: { offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 2 },
  h_vnarrow: { offerSpread: 0.5, segmentSpread: 0.35, cellSpread: 0.2 },
  h_vnarrow_sharp2: { offerSpread: 0.5, segmentSpread: 0.35, cellSpread: 0.2, sharpening: 2 },
  h_narrow_sharp3: { offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 3 },
  pooled_sharp2: { model: 'pooled', sharpening: 2 },
};
