import { describe, expect, it } from 'vitest';
import { IdentityGraph } from '../src/core/identity-graph.js';
import { identifierKey, normaliseEmail, normaliseIdentifier, normaliseIdentifierValue, normalisePhone } from '../src/core/identity.js';
import type { Identifier } from '../src/core/records.js';

describe('identifier normalisation', () => {
  it('emails are trimmed and lower-cased; non-emails are invalid', () => {
    expect(normaliseEmail('  Jane.Doe@Example.COM ')).toBe('jane.doe@example.com');
    for (const bad of ['', 'jane', 'x@', '@x.io', 'a b@x.io', 'a@x']) expect(normaliseEmail(bad), bad).toBeNull();
  });

  it('phones become digits with the country code', () => {
    expect(normalisePhone('07700 900123')).toBe('447700900123');
    expect(normalisePhone('+44 7700 900123')).toBe('447700900123');
    expect(normalisePhone('0044 7700 900123')).toBe('447700900123');
    expect(normalisePhone('+1 (555) 010-9999')).toBe('15550109999');
    expect(normalisePhone('7700 900123')).toBe('447700900123');
    expect(normalisePhone('+44 (0) 7700 900123')).toBe('447700900123');
    expect(normalisePhone('(01632) 960 001')).toBe('441632960001');
    // configurable default country code for national numbers
    expect(normalisePhone('0612345678', '33')).toBe('33612345678');
    expect(normalisePhone('(555) 010-9999', '1')).toBe('15550109999');
  });

  it('phones with letters, too few or too many digits are invalid', () => {
    for (const bad of ['', 'call me', '0770O 900123', '123', '+1234567890123456', '+0 123 4567']) expect(normalisePhone(bad), bad).toBeNull();
  });

  it('loyalty, account, device, external ids are trimmed and taken as given', () => {
    expect(normaliseIdentifierValue('loyalty', '  LC-0001 ')).toBe('LC-0001');
    expect(normaliseIdentifierValue('account', '17850')).toBe('17850');
    expect(normaliseIdentifierValue('device', 'Dev-ABC')).toBe('Dev-ABC');
    expect(normaliseIdentifierValue('external', '   ')).toBeNull();
    expect(normaliseIdentifierValue('external', 'a\u0001b')).toBeNull();
    expect(normaliseIdentifier('phone', '07700 900123', { defaultCountryCode: '49' })).toEqual({ kind: 'phone', value: '497700900123' });
    expect(identifierKey({ kind: 'email', value: 'a@b.co' })).toBe('email:a@b.co');
  });
});

const id = (kind: Identifier['kind'], value: string): Identifier => ({ kind, value });

describe('IdentityGraph', () => {
  it('seed case: online with an email, then in store with a phone and the same loyalty card → one customer', () => {
    const g = new IdentityGraph();
    const online = g.add([id('email', 'a@x.io'), id('loyalty', 'L1')]);
    const store = g.add([id('phone', '447700900123'), id('loyalty', 'L1')]);
    expect(g.idOfNode(online)).toBe(g.idOfNode(store));
    expect(g.idOfNode(store)).toBe('email:a@x.io');
    expect(g.components()).toBe(1);
    // the store record only added a phone to a known person: no two people were merged
    expect(g.mergeCount).toBe(0);
  });

  it('merges transitively, and a later record can join two earlier people', () => {
    const g = new IdentityGraph();
    const a = g.add([id('email', 'a@x.io')]);
    const b = g.add([id('phone', '111111111')]);
    const c = g.add([id('loyalty', 'L7'), id('device', 'd1')]);
    expect(g.components()).toBe(3);
    g.add([id('email', 'a@x.io'), id('loyalty', 'L7')]); // a ~ c
    expect(g.components()).toBe(2);
    expect(g.same(id('email', 'a@x.io'), id('device', 'd1'))).toBe(true);
    expect(g.same(id('email', 'a@x.io'), id('phone', '111111111'))).toBe(false);
    g.add([id('device', 'd1'), id('phone', '111111111')]); // c ~ b, so a ~ b
    expect(g.components()).toBe(1);
    expect(g.mergeCount).toBe(2);
    expect(new Set([g.idOfNode(a), g.idOfNode(b), g.idOfNode(c)]).size).toBe(1);
    expect(g.idOfNode(b)).toBe('email:a@x.io'); // earliest-seen identifier names the person
  });

  it('an account id names the person whenever they have one; ids do not depend on merge order', () => {
    const g = new IdentityGraph();
    g.add([id('email', 'z@x.io')]);
    g.add([id('phone', '447700900123')]);
    g.add([id('account', 'A2'), id('phone', '447700900123')]);
    g.add([id('account', 'A1'), id('email', 'z@x.io')]);
    expect(g.customerId([id('email', 'z@x.io')])).toBe('A1');
    expect(g.customerId([id('phone', '447700900123')])).toBe('A2');
    g.add([id('email', 'z@x.io'), id('phone', '447700900123')]);
    // A2 was seen before A1, so the merged person is A2 whichever side survived
    expect(g.customerId([id('email', 'z@x.io')])).toBe('A2');
    expect(g.customerId([id('loyalty', 'unknown')])).toBeNull();
  });

  it('a record with no identifiers (a guest) belongs to nobody; re-adding changes nothing', () => {
    const g = new IdentityGraph();
    expect(g.add([])).toBe(-1);
    g.add([id('email', 'a@x.io'), id('phone', '447700900123')]);
    g.add([id('email', 'a@x.io'), id('phone', '447700900123')]);
    expect(g.identifierCount).toBe(2);
    expect(g.mergeCount).toBe(0);
    expect(g.components()).toBe(1);
  });

  it('stays fast and correct on a long chain (path compression)', () => {
    const g = new IdentityGraph();
    const n = 50_000;
    for (let i = 0; i < n; i++) g.add([id('device', `d${i}`), id('device', `d${i + 1}`)]);
    expect(g.components()).toBe(1);
    expect(g.customerId([id('device', `d${n}`)])).toBe('device:d0');
  });
});
