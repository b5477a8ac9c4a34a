import { describe, expect, it } from 'vitest';
import { IdentityResolver } from '../src/core/identity-graph.js';
import { classifyIdentifier, identifierKey, normaliseEmail, PLACEHOLDERS, normaliseIdentifier, normaliseIdentifierValue, normalisePhone } from '../src/core/identity.js';
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

describe('placeholders and international forms', () => {
  it('the national and international forms of one number are one value', () => {
    for (const raw of ['0044 (0)7700 900123', '+44 (0)7700 900123', '07700 900123', '+44 7700 900123', '0044 7700 900123', '00 44 7700 900123']) {
      expect(normalisePhone(raw, '44'), raw).toBe('447700900123');
    }
  });

  it('placeholder values are dropped as placeholders, garbage as invalid', () => {
    for (const [kind, raw] of [
      ['email', 'none@none.com'], ['email', ' TEST@test.com'], ['phone', '0000000000'], ['phone', '07777777777'], ['phone', '1234567890'],
      ['loyalty', 'N/A'], ['account', 'unknown'], ['external', 'null'], ['device', '-'],
    ] as const) {
      expect(classifyIdentifier(kind, raw), `${kind} ${raw}`).toEqual({ dropped: 'placeholder_identifier' });
      expect(normaliseIdentifierValue(kind, raw)).toBeNull();
    }
    expect(classifyIdentifier('phone', 'N/A')).toEqual({ dropped: 'placeholder_identifier' });
    expect(classifyIdentifier('phone', 'call me')).toEqual({ dropped: 'invalid_identifier' });
    expect(classifyIdentifier('email', 'jane@')).toEqual({ dropped: 'invalid_identifier' });
    expect(classifyIdentifier('email', 'Jane@X.io')).toEqual({ value: 'jane@x.io' });
    expect(PLACEHOLDERS.has('none@none.com')).toBe(true);
  });
});

describe('IdentityResolver', () => {
  it('seed case: online with an email, then in store with a phone and the same loyalty card → one customer', () => {
    const g = new IdentityResolver();
    const online = g.resolve([id('email', 'a@x.io'), id('loyalty', 'L1')]);
    const store = g.resolve([id('phone', '447700900123'), id('loyalty', 'L1')]);
    expect(g.find(online)).toBe(g.find(store));
    expect(g.memoryId(store)).toBe('email:a@x.io');
    expect(g.components()).toBe(1);
    // the store record only added a phone to a known person: no two people were merged
    expect(g.mergeCount).toBe(0);
  });

  it('merges transitively, and a later record can join two earlier people (the oldest survives)', () => {
    const g = new IdentityResolver();
    const a = g.resolve([id('email', 'a@x.io')]);
    const b = g.resolve([id('phone', '111111119')]);
    const c = g.resolve([id('loyalty', 'L7'), id('device', 'd1')]);
    expect(g.components()).toBe(3);
    g.resolve([id('email', 'a@x.io'), id('loyalty', 'L7')]); // a ~ c
    expect(g.components()).toBe(2);
    g.resolve([id('device', 'd1'), id('phone', '111111119')]); // c ~ b, so a ~ b
    expect(g.components()).toBe(1);
    expect(g.mergeCount).toBe(2);
    expect(new Set([g.find(a), g.find(b), g.find(c)])).toEqual(new Set([a]));
    expect(g.memoryId(b)).toBe('email:a@x.io');
  });

  it('lines of one order are one person whatever identifiers each carries; a guest line of it too', () => {
    const g = new IdentityResolver();
    g.addLine([], 'O1');
    g.addLine([id('email', 'a@x.io')], 'O1');
    g.addLine([id('phone', '447700900123')], 'O1');
    g.addLine([id('phone', '447700900123')], 'O2');
    g.addLine([], 'O3');
    expect(g.orderCustomerId('O1')).toBe('email:a@x.io');
    expect(g.orderCustomerId('O2')).toBe('email:a@x.io');
    expect(g.orderCustomerId('O3')).toBeNull();
    expect(g.components()).toBe(1);
  });

  it('two accounts sharing a phone stay two customers; the conflict is counted', () => {
    const g = new IdentityResolver();
    const a = g.resolve([id('account', 'A1'), id('phone', '447700900123')]);
    const b = g.resolve([id('account', 'A2'), id('phone', '447700900123')]);
    expect(g.find(a)).not.toBe(g.find(b));
    expect(g.memoryId(a)).toBe('A1');
    expect(g.memoryId(b)).toBe('A2');
    expect(g.conflictCount).toBe(1);
    expect(g.conflicts[0]).toMatchObject({ type: 'unique', kind: 'account' });
    // a record with two loyalty cards keeps the first, drops the second
    const c = g.resolve([id('loyalty', 'L1'), id('loyalty', 'L2')]);
    expect(g.ownerOf(id('loyalty', 'L2'))).toBe(-1);
    expect(g.ownerOf(id('loyalty', 'L1'))).toBe(c);
    expect(g.conflictCount).toBe(2);
  });

  it('a customer collects at most maxIdentifiers; a merge past the cap is refused', () => {
    const g = new IdentityResolver({ maxIdentifiers: 3 });
    const p = g.resolve([id('device', 'd1'), id('device', 'd2'), id('device', 'd3'), id('device', 'd4')]);
    expect(g.ownerOf(id('device', 'd3'))).toBe(p);
    expect(g.ownerOf(id('device', 'd4'))).toBe(-1);
    const q = g.resolve([id('device', 'd5'), id('device', 'd6')]);
    g.resolve([id('device', 'd1'), id('device', 'd5')]); // 3 + 2 > 3
    expect(g.find(p)).not.toBe(g.find(q));
    expect(g.conflicts.map((c) => c.type)).toEqual(['cap', 'cap']);
  });

  it('seeded customers: age by id, so the smallest id survives whatever the order of seeding', () => {
    const g = new IdentityResolver();
    const c12 = g.addExisting('12', [id('email', 'b@x.io')]);
    const c9 = g.addExisting('9', [id('email', 'a@x.io')]);
    const r = g.resolve([id('email', 'b@x.io'), id('email', 'a@x.io'), id('phone', '447700900123')]);
    expect(r).toBe(c9);
    expect(g.find(c12)).toBe(c9);
    expect(g.merges).toEqual([{ survivor: c9, merged: c12, reason: id('email', 'b@x.io') }]); // the identifier linking the merged one
    expect(g.attached).toEqual([{ identifier: id('phone', '447700900123'), person: c9 }]);
  });

  it('stays fast and correct on a long chain (path compression)', () => {
    const g = new IdentityResolver({ maxIdentifiers: 100_000, log: false });
    const n = 50_000;
    for (let i = 0; i < n; i++) g.resolve([id('device', `d${i}`), id('device', `d${i + 1}`)]);
    expect(g.components()).toBe(1);
    expect(g.memoryId(g.ownerOf(id('device', `d${n}`)))).toBe('device:d0');
  });
});
