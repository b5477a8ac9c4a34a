import type { DecideParams } from '../src/core/offers/decide.js';

/**
 * Variants tried by offer-learn (scripts/offer-learn-diag.ts --variant NAME), each spelled out in full so that it
 * does not depend on the defaults; `base` is DECIDE_DEFAULTS: since offer-learn the
 * hierarchical model = `h_narrow_sharp2` (HIERARCHICAL_DECIDE until offer-lift, which made it `h_narrow_sharp4` with
 * impressions counted by their affinity lift); `pooled` is the earlier default (POOLED_DECIDE).
 */
const H = { model: 'hierarchical' as const, sharpening: 1 };
export const VARIANTS: Record<string, Partial<DecideParams>> = {
  base: {},
  // the default before offer-learn3 (no offer × channel level)
  lift4: { offerChannelStrength: Infinity },
  pooled: { model: 'pooled', sharpening: 1 },
  pooled_sharp2: { model: 'pooled', sharpening: 2 },
  h_base: { ...H, offerSpread: 1, segmentSpread: 0.7, cellSpread: 0.4 },
  h_wide: { ...H, offerSpread: 1.5, segmentSpread: 1, cellSpread: 0.5 },
  h_narrow: { ...H, offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3 },
  h_vnarrow: { ...H, offerSpread: 0.5, segmentSpread: 0.35, cellSpread: 0.2 },
  h_sharp2: { ...H, offerSpread: 1, segmentSpread: 0.7, cellSpread: 0.4, sharpening: 2 },
  h_narrow_sharp2: { ...H, offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 2 },
  h_vnarrow_sharp2: { ...H, offerSpread: 0.5, segmentSpread: 0.35, cellSpread: 0.2, sharpening: 2 },
  h_narrow_sharp3: { ...H, offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 3 },
  // offer-lift (run with --exposure): around the default, the exposure counting on
  h_narrow_sharp4: { ...H, offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 4 },
  h_narrow_sharp6: { ...H, offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 6 },
  h_sharp3: { ...H, offerSpread: 1, segmentSpread: 0.7, cellSpread: 0.4, sharpening: 3 },
  h_narrow_kappa2: { ...H, offerSpread: 0.7, segmentSpread: 0.5, cellSpread: 0.3, sharpening: 2, affinitySlope: 1.9 },
};
// offer-learn3: an offer × channel level shared by the offer's segments (offerChannelStrength k), defaults otherwise
VARIANTS.oc3 = { offerChannelStrength: 3 };
VARIANTS.oc10 = { offerChannelStrength: 10 };
VARIANTS.oc30 = { offerChannelStrength: 30 };
VARIANTS.oc10_cell02 = { offerChannelStrength: 10, cellSpread: 0.2 };
// offer-learn4 (with the 'unsegmented' stats cell): cells pooled more toward offer × segment × η
VARIANTS.cell02 = { cellSpread: 0.2 };
VARIANTS.seg035 = { segmentSpread: 0.35 };
VARIANTS.cell03 = { cellSpread: 0.3 }; // = base (the 'unsegmented' split with the default cell spread)
// offer-learn5: the affinity lift's slope (fixed) — a probe of whether the lift's form limits the choice
VARIANTS.k10 = { affinitySlope: 1.0 };
VARIANTS.k12 = { affinitySlope: 1.2 };
VARIANTS.k08 = { affinitySlope: 0.8 };
// offer-learn5: the prior learned across offers (crossOfferLevelSd σα, crossOfferValueSd σβ; off by default: within noise
// over seeds 101–140, BENCHMARKS.md "offer-learn5"), with other tempering (sharpening), and τ1 from data (segmentSpreadFromData)
VARIANTS.xo_both1 = { crossOfferLevelSd: 1, crossOfferValueSd: 1 };
VARIANTS.xo_value1 = { crossOfferValueSd: 1 };
VARIANTS.xo_level1 = { crossOfferLevelSd: 1 };
VARIANTS.xo_both05 = { crossOfferLevelSd: 0.5, crossOfferValueSd: 0.5 };
VARIANTS.xo_both1_s2 = { crossOfferLevelSd: 1, crossOfferValueSd: 1, sharpening: 2 };
VARIANTS.xo_both1_s3 = { crossOfferLevelSd: 1, crossOfferValueSd: 1, sharpening: 3 };
VARIANTS.xo_value1_s2 = { crossOfferValueSd: 1, sharpening: 2 };
VARIANTS.xo_both2 = { crossOfferLevelSd: 2, crossOfferValueSd: 2 };
VARIANTS.xo_value05 = { crossOfferValueSd: 0.5 };
VARIANTS.xo_both1_s6 = { crossOfferLevelSd: 1, crossOfferValueSd: 1, sharpening: 6 };
VARIANTS.eb = { segmentSpreadFromData: true };
VARIANTS.xo_both1_eb = { crossOfferLevelSd: 1, crossOfferValueSd: 1, segmentSpreadFromData: true };
VARIANTS.xo_value1_eb = { crossOfferValueSd: 1, segmentSpreadFromData: true };
// offer-learn7: an exploration floor per offer — decide's sharpening ramps in with the offer's acceptances overall
// (sharpeningRamp A: untempered draws until the offer has any, full sharpening from A on); ramp5 = base (the
// default) since offer-learn7; noramp = the defaults before it
VARIANTS.noramp = { sharpeningRamp: 0 };
VARIANTS.ramp5 = { sharpeningRamp: 5 };
VARIANTS.ramp20 = { sharpeningRamp: 20 };
VARIANTS.ramp50 = { sharpeningRamp: 50 };
VARIANTS.ramp2 = { sharpeningRamp: 2 };
VARIANTS.ramp10 = { sharpeningRamp: 10 };
VARIANTS.ramp1 = { sharpeningRamp: 1 };
VARIANTS.ramp5_os1 = { sharpeningRamp: 5, offerSpread: 1 };
VARIANTS.ramp5_s6 = { sharpeningRamp: 5, sharpening: 6 };
// offer-learn8: tempering scaled by the value at stake (valueTempering γ: the sharpening weight × (vw / mean vw)^γ),
// with a wider offer level, the prior learned across offers or more pooling of cells; (the floor counted per offer ×
// stats segment, or by exposure, or the lesser of exposure and acceptances, lost on 101–120 and was taken out:
// BENCHMARKS.md "offer-learn8")
VARIANTS.vt05 = { valueTempering: 0.5 };
VARIANTS.vt1 = { valueTempering: 1 };
VARIANTS.vt2 = { valueTempering: 2 };
VARIANTS.os1 = { offerSpread: 1 };
VARIANTS.os1_vt1 = { offerSpread: 1, valueTempering: 1 };
VARIANTS.os12_vt1 = { offerSpread: 1.2, valueTempering: 1 };
VARIANTS.xo_value1_vt1 = { crossOfferValueSd: 1, valueTempering: 1 };
VARIANTS.cell015 = { cellSpread: 0.15 };
VARIANTS.cell02_vt1 = { cellSpread: 0.2, valueTempering: 1 };
VARIANTS.seg04 = { segmentSpread: 0.4 };
// value tempering upward only (dear offers tempered more, cheap ones as before)
VARIANTS.vtup1 = { valueTempering: 1, valueTemperingUpOnly: true };
VARIANTS.vtup2 = { valueTempering: 2, valueTemperingUpOnly: true };
// since offer-learn8 base = valueTempering 1 (the default); novt = the defaults before it (offer-learn7's)
VARIANTS.novt = { valueTempering: 0 };
