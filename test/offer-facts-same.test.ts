/**
 * The offer service keeps a customer's facts object when a refresh reads the same facts (so that decide's memos for
 * them hold): `sameFacts` must tell any difference that screening could see.
 */
import { describe, expect, it } from 'vitest';
import { sameFacts } from '../src/serve/offer-service.js';
import type { OfferSubjectFacts } from '../src/store/store.js';

const facts = (): OfferSubjectFacts => ({
  customerId: '42',
  consent: { personalisation: true, email: false },
  orders: 3,
  spend: 120.5,
  lastOrderAt: 1_700_000_000_000,
  segment: 'repeat',
  contacts: new Map([
    ['a', { impressions: [1, 2, 3], lastDeclineAt: null }],
    ['b', { impressions: [], lastDeclineAt: 5 }],
  ]),
});

describe('sameFacts', () => {
  it('is true for two reads of the same facts', () => {
    expect(sameFacts(facts(), facts())).toBe(true);
  });

  it('tells every difference screening could see', () => {
    const changes: ((f: OfferSubjectFacts) => void)[] = [
      (f) => (f.orders = 4),
      (f) => (f.spend = 120.6),
      (f) => (f.lastOrderAt = null),
      (f) => (f.segment = 'vip'),
      (f) => (f.consent.email = true),
      (f) => (f.consent.push = false),
      (f) => delete f.consent.email,
      (f) => f.contacts.get('a')!.impressions.push(4),
      (f) => (f.contacts.get('a')!.impressions[1] = 7),
      (f) => (f.contacts.get('b')!.lastDeclineAt = 6),
      (f) => (f.contacts.get('b')!.lastDeclineAt = null),
      (f) => f.contacts.delete('b'),
      (f) => f.contacts.set('c', { impressions: [], lastDeclineAt: null }),
      (f) => (f.customerId = '43'),
    ];
    for (const change of changes) {
      const f = facts();
      change(f);
      expect(sameFacts(facts(), f)).toBe(false);
      expect(sameFacts(f, facts())).toBe(false);
    }
  });
});
