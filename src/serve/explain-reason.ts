/**
 * A recommendation's reason in words, for people reading a list (the clienteling card, the console):
 * `{"type": "because_you_bought", "sku": "SKU00017"}` → "Because they bought Blue mug". Written from
 * the point of view of a store associate talking about the customer. Pure.
 */
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
