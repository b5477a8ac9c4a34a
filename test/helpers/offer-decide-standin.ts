/**
 * A small, deterministic stand-in for the decision core (`Decide` of src/core/offers/types.ts) for the
 * service's tests, until the real one (src/core/offers/decide.ts) lands: the pipeline's rules as the
 * issue states them, with propensity = the posterior mean of the offer × segment × channel cell
 * (Beta(1 + accepted, 1 + shown − accepted)) blended with the affinity, no sampling, no holdout; the
 * chosen offers have probability 1.
 */
import type { Decide, Decision, Offer, OfferReason, ScoredOffer } from '../../src/core/offers/types.js';

const DAY = 86_400_000;

export const standInDecide: Decide = (offers, subject, ctx, stats) => {
  const considered: Decision['considered'] = [];
  const ranked: { offer: Offer; score: ScoredOffer }[] = [];
  const purpose = ctx.channelConsent[ctx.channel] ?? null;
  for (const o of offers) {
    const e = o.eligibility;
    const c = o.contact;
    const no = (outcome: 'ineligible' | 'unsuitable', why: string) => considered.push({ offerId: o.id, outcome, why });
    if (o.startsAt && ctx.now < Date.parse(o.startsAt)) { no('ineligible', 'not_started'); continue; }
    if (o.endsAt && ctx.now >= Date.parse(o.endsAt)) { no('ineligible', 'ended'); continue; }
    if (o.channels.length && !o.channels.includes(ctx.channel)) { no('ineligible', 'channel'); continue; }
    if (o.stores.length && (ctx.store === null || !o.stores.includes(ctx.store))) { no('ineligible', 'store'); continue; }
    const usesPerson = Boolean(e.segments?.length) || e.minOrders != null || e.maxOrders != null || e.minSpend != null || e.minDaysSinceLastPurchase != null || e.newCustomersOnly === true;
    if (!subject.personalised && usesPerson && subject.customerId !== null) { no('ineligible', 'non_personalised'); continue; }
    if (e.segments?.length && (subject.segment === null || !e.segments.includes(subject.segment))) { no('ineligible', 'segment'); continue; }
    if (e.minOrders != null && subject.orders < e.minOrders) { no('ineligible', 'min_orders'); continue; }
    if (e.maxOrders != null && subject.orders > e.maxOrders) { no('ineligible', 'max_orders'); continue; }
    if (e.minSpend != null && subject.spend < e.minSpend) { no('ineligible', 'min_spend'); continue; }
    if (e.newCustomersOnly && subject.orders > 1) { no('ineligible', 'not_new'); continue; }
    if (e.minDaysSinceLastPurchase != null && (subject.daysSinceLastPurchase === null || subject.daysSinceLastPurchase < e.minDaysSinceLastPurchase)) { no('ineligible', 'recent_purchase'); continue; }
    if (!ctx.inStock(o)) { no('ineligible', 'out_of_stock'); continue; }
    if (purpose !== null && subject.consent[purpose] !== true) { no('unsuitable', 'no_channel_consent'); continue; }
    const contact = ctx.contacts(o.id);
    if (c.maxImpressions != null) {
      const since = ctx.now - (c.perDays ?? 365) * DAY;
      if ((contact?.impressions.filter((t) => t > since).length ?? 0) >= c.maxImpressions) { no('unsuitable', 'contact_cap'); continue; }
    }
    if (c.suppressDaysAfterDecline != null && contact?.lastDeclineAt != null && ctx.now - contact.lastDeclineAt < c.suppressDaysAfterDecline * DAY) { no('unsuitable', 'declined'); continue; }
    if (c.maxAcceptances != null && ctx.acceptances(o.id) >= c.maxAcceptances) { no('unsuitable', 'acceptance_cap'); continue; }
    const cell = stats.cell(o.id, subject.segment ?? 'guest', ctx.channel);
    const posteriorMean = (1 + cell.accepted) / (2 + cell.shown);
    const aff = subject.personalised ? subject.affinity(o) : null;
    const prior = aff ? 0.05 + 0.5 * aff.score : 0.05;
    const propensity = (prior + posteriorMean) / 2;
    const details: OfferReason[] = [];
    if (!subject.personalised) details.push({ type: 'non_personalised', why: subject.customerId === null ? 'guest' : 'no_consent' });
    if (aff) details.push({ type: 'affinity', affinity: aff.score, ...(aff.sku ? { sku: aff.sku } : {}), ...(aff.category ? { category: aff.category } : {}) });
    if (subject.personalised && e.minDaysSinceLastPurchase != null && subject.daysSinceLastPurchase !== null) details.push({ type: 'win_back', daysSinceLastPurchase: subject.daysSinceLastPurchase });
    if (subject.personalised && subject.segment === 'vip') details.push({ type: 'vip' });
    if (!details.length) details.push({ type: 'popular_offer' });
    ranked.push({
      offer: o,
      score: {
        offerId: o.id,
        title: o.title,
        kind: o.kind,
        score: propensity * o.value * o.weight,
        propensity,
        value: o.value,
        reason: { type: details[0].type, details, parts: { propensity, value: o.value, weight: o.weight, prior, posteriorMean } },
        probability: 1,
      },
    });
  }
  ranked.sort((a, b) => b.score.score - a.score.score || (a.offer.id < b.offer.id ? -1 : 1));
  const shown: ScoredOffer[] = [];
  const targets = new Set<string>();
  for (const r of ranked) {
    const keys = [...r.offer.targets.skus.map((s) => `sku:${s}`), ...r.offer.targets.categories.map((c) => `cat:${c}`)];
    if (shown.length >= ctx.limit || keys.some((k) => targets.has(k))) {
      considered.push({ offerId: r.offer.id, outcome: 'ranked_lower' });
      continue;
    }
    for (const k of keys) targets.add(k);
    shown.push(r.score);
    considered.push({ offerId: r.offer.id, outcome: 'shown' });
  }
  return { offers: shown, considered, holdout: false };
};
