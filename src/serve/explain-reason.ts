/**
 * A recommendation's reason in words, for people reading a list (the clienteling card, the console):
 * `{"type": "because_you_bought", "sku": "SKU00017"}` → "Because they bought Blue mug". Written from
 * the point of view of a store associate talking about the customer; likewise why an offer was chosen
 * (explainOfferReason). Pure.
 */
import type { OfferReason } from '../core/offers/types.js';
import type { Segment } from '../core/records.js';
import type { Reason } from './rec-list.js';

const SEGMENT_WORDS: Record<Segment, string> = {
  new: 'new',
  repeat: 'repeat',
  vip: 'VIP',
  loyal: 'loyal',
  high_aov: 'big-basket',
  at_risk: 'at-risk',
  lapsed: 'lapsed',
};
const CHANNEL_WORDS = { web: 'on the web shop', app: 'in the app', store: 'in stores' } as const;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `title(sku)` names a product (its title, or the sku when it has none). */
export function explainReason(reason: Reason, title: (sku: string) => string): string {
  switch (reason.type) {
    case 'because_you_bought':
      return `Because they bought ${title(reason.sku)}`;
    case 'similar_to':
      return `Similar to ${title(reason.sku)}`;
    case 'bought_with':
      return `Often bought with ${title(reason.sku)}`;
    case 'personal':
      return 'Matches what they usually buy';
    case 'buy_again': {
      const last = reason.lastPurchased.slice(0, 10);
      const bought = `Bought ${reason.purchases === 1 ? 'once' : `${plural(Math.round(reason.purchases), 'time')}`}, last on ${last}`;
      const d = reason.expectedInDays;
      if (d === null) return bought;
      const days = Math.round(Math.abs(d));
      if (days === 0) return `${bought}; due about now`;
      return d > 0 ? `${bought}; due in ${plural(days, 'day')}` : `${bought}; due ${plural(days, 'day')} ago`;
    }
    case 'popular': {
      const within = reason.category ? ` in ${reason.category}` : '';
      if (reason.scope === 'store') return `Best seller in ${reason.store ? `store ${reason.store}` : 'this store'}${within}`;
      if (reason.scope === 'segment' && reason.segment) return `Popular with ${SEGMENT_WORDS[reason.segment]} customers${within}`;
      if (reason.scope === 'channel' && reason.channel) return `Best seller ${CHANNEL_WORDS[reason.channel]}${within}`;
      return `Popular${within || ' overall'}`;
    }
  }
}

/** Why the next-best-offer decision chose an offer, in words (its reason's details, most telling first). */
export function explainOfferReason(details: readonly OfferReason[], title: (sku: string) => string): string {
  const words = details.map((r) => {
    switch (r.type) {
      case 'win_back':
        return `no purchase for ${plural(Math.round(r.daysSinceLastPurchase), 'day')}: a reason to come back`;
      case 'affinity':
        return `they like ${r.category ?? (r.sku ? title(r.sku) : 'what it is about')}`;
      case 'vip':
        return 'a VIP customer';
      case 'loyal':
        return 'a loyal customer';
      case 'second_purchase':
        return 'encourages a second purchase';
      case 'segment':
        return `suits ${SEGMENT_WORDS[r.segment]} customers`;
      case 'popular_offer':
        return 'often accepted';
      case 'exploration':
        return 'being tried out (the service learns which offers work)';
      case 'holdout':
        return 'chosen at random (a holdout that measures uplift)';
      case 'non_personalised':
        return r.why === 'no_consent' ? 'not personalised (no personalisation consent)' : 'not personalised';
    }
  });
  const text = words.join('; ');
  return text ? text[0].toUpperCase() + text.slice(1) : 'The best offer for them now';
}
