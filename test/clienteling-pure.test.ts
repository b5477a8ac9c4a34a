/**
 * The pure parts of the clienteling card: identifiers masked for a tablet, reasons in words.
 */
import { describe, expect, it } from 'vitest';
import { maskIdentifier } from '../src/core/mask-identifier.js';
import { explainOfferReason, explainReason } from '../src/serve/explain-reason.js';

describe('maskIdentifier', () => {
  it('emails keep the first character and the domain; phones and other ids the last four characters; loyalty ids stay', () => {
    expect(maskIdentifier({ kind: 'email', value: 'nina@example.com' })).toEqual({ kind: 'email', value: 'n•••@example.com' });
    expect(maskIdentifier({ kind: 'phone', value: '447700900123' })).toEqual({ kind: 'phone', value: '•••• 0123' });
    expect(maskIdentifier({ kind: 'account', value: 'acct-99887766' })).toEqual({ kind: 'account', value: '•••• 7766' });
    expect(maskIdentifier({ kind: 'device', value: 'abc' })).toEqual({ kind: 'device', value: '••••' });
    expect(maskIdentifier({ kind: 'loyalty', value: 'LC000000001' })).toEqual({ kind: 'loyalty', value: 'LC000000001' });
  });
});

describe('explainReason', () => {
  const title = (sku: string) => ({ A: 'Blue mug', B: 'Green tea' })[sku] ?? sku;
  it('names the product a reason refers to', () => {
    expect(explainReason({ type: 'because_you_bought', sku: 'A' }, title)).toBe('Because they bought Blue mug');
    expect(explainReason({ type: 'similar_to', sku: 'B' }, title)).toBe('Similar to Green tea');
    expect(explainReason({ type: 'bought_with', sku: 'Z' }, title)).toBe('Often bought with Z');
    expect(explainReason({ type: 'personal' }, title)).toBe('Matches what they usually buy');
  });
  it('popular lists say whose best sellers they are', () => {
    expect(explainReason({ type: 'popular', scope: 'global' }, title)).toBe('Popular overall');
    expect(explainReason({ type: 'popular', scope: 'global', category: 'tea' }, title)).toBe('Popular in tea');
    expect(explainReason({ type: 'popular', scope: 'store', store: 'S1' }, title)).toBe('Best seller in store S1');
    expect(explainReason({ type: 'popular', scope: 'segment', segment: 'vip' }, title)).toBe('Popular with VIP customers');
    expect(explainReason({ type: 'popular', scope: 'channel', channel: 'app' }, title)).toBe('Best seller in the app');
  });
  it('buy again: how often, when, and when it is due', () => {
    const at = '2026-11-20T10:00:00.000Z';
    expect(explainReason({ type: 'buy_again', lastPurchased: at, expectedInDays: null, purchases: 1 }, title)).toBe('Bought once, last on 2026-11-20');
    expect(explainReason({ type: 'buy_again', lastPurchased: at, expectedInDays: 4.6, purchases: 3 }, title)).toBe('Bought 3 times, last on 2026-11-20; due in 5 days');
    expect(explainReason({ type: 'buy_again', lastPurchased: at, expectedInDays: -1.2, purchases: 2 }, title)).toBe('Bought 2 times, last on 2026-11-20; due 1 day ago');
    expect(explainReason({ type: 'buy_again', lastPurchased: at, expectedInDays: 0.2, purchases: 2 }, title)).toBe('Bought 2 times, last on 2026-11-20; due about now');
  });
});

describe('explainOfferReason', () => {
  const title = (sku: string) => (sku === 'A' ? 'Blue mug' : sku);
  it('joins the reason details in words', () => {
    expect(explainOfferReason([{ type: 'affinity', category: 'Tea', affinity: 0.8 }, { type: 'loyal' }], title)).toBe('They like Tea; a loyal customer');
    expect(explainOfferReason([{ type: 'affinity', sku: 'A', affinity: 0.5 }], title)).toBe('They like Blue mug');
    expect(explainOfferReason([{ type: 'win_back', daysSinceLastPurchase: 120.4 }], title)).toBe('No purchase for 120 days: a reason to come back');
    expect(explainOfferReason([{ type: 'non_personalised', why: 'no_consent' }], title)).toBe('Not personalised (no personalisation consent)');
    expect(explainOfferReason([], title)).toBe('The best offer for them now');
  });
});
