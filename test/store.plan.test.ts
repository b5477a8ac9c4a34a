/**
 * The pure half of an import batch (src/store/import-plan.ts, known-products.ts): grouping lines
 * into orders and products, and union-find over identifiers. No database.
 */
import { describe, expect, it } from 'vitest';
import type { Identifier, OrderLine } from '../src/core/records.js';
import { compareIds, groupIdentities, identifierKey, planImport } from '../src/store/import-plan.js';
import { KnownProducts } from '../src/store/known-products.js';

const email = (value: string): Identifier => ({ kind: 'email', value });
const phone = (value: string): Identifier => ({ kind: 'phone', value });

function line(orderId: string, lineNo: number | undefined, identifiers: Identifier[], sku: string, o: Partial<OrderLine> = {}): OrderLine {
  return {
    orderId, channel: 'web', storeId: null, time: 1000, identifiers, sku, title: null, category: null,
    quantity: 1, unitPrice: 2, cancels: null, ...(lineNo === undefined ? {} : { lineNo }), ...o,
  };
}

describe('planImport', () => {
  it('groups lines into orders with the union of their identifiers, in order of first appearance', () => {
    const p = planImport([
      line('A', 1, [email('x')], 'S1', { storeId: 'st1', channel: 'store', time: 5 }),
      line('B', 1, [], 'S2'),
      line('A', 2, [email('x'), phone('1')], 'S2', { storeId: 'st1', time: 9 }),
    ]);
    expect(p.orders.map((o) => [o.sourceId, o.channel, o.storeId, o.time, o.identifiers.map(identifierKey).length])).toEqual([
      ['A', 'store', 'st1', 5, 2],
      ['B', 'web', null, 1000, 0],
    ]);
    expect(p.orders[0].identifiers).toEqual([email('x'), phone('1')]);
    expect(p.identifiers).toEqual([email('x'), phone('1')]);
    expect(p.stores).toEqual(['st1']);
    expect(p.lines.orderId).toEqual(['A', 'B', 'A']);
    expect(p.lines.lineNo).toEqual([1, 1, 2]);
    expect(p.uniqueLines).toBe(true);
  });

  it('flags repeated (order, line number) pairs, also when line numbers go down', () => {
    expect(planImport([line('A', 2, [], 'S'), line('A', 1, [], 'S')]).uniqueLines).toBe(true);
    expect(planImport([line('A', 2, [], 'S'), line('A', 1, [], 'S'), line('A', 2, [], 'T')]).uniqueLines).toBe(false);
    expect(planImport([line('A', 1, [], 'S'), line('B', 1, [], 'S'), line('A', 1, [], 'T')]).uniqueLines).toBe(false);
  });

  it('keys unnumbered lines by a negative content hash, identical lines by their occurrence', () => {
    const a = planImport([line('A', undefined, [], 'S'), line('A', undefined, [], 'S'), line('A', undefined, [], 'T')]);
    const b = planImport([line('A', undefined, [], 'S'), line('A', undefined, [], 'S'), line('A', undefined, [], 'T')]);
    expect(a.lines.lineNo).toEqual(b.lines.lineNo); // stable across runs: a re-import maps to the same keys
    expect(new Set(a.lines.lineNo).size).toBe(3);
    for (const n of a.lines.lineNo) expect(n).toBeLessThan(0);
    expect(a.uniqueLines).toBe(true);
  });

  it('products take the latest non-null title and category, and the latest sale price', () => {
    const p = planImport([
      line('A', 1, [], 'S', { time: 10, title: 'new', unitPrice: 3 }),
      line('B', 1, [], 'S', { time: 5, title: 'old', category: 'cups', unitPrice: 1 }),
      line('C', 1, [], 'S', { time: 20, title: null, quantity: -1, unitPrice: 99 }),
      line('D', 1, [], 'S', { time: 15, title: '', unitPrice: 0 }),
    ]);
    expect(p.products).toEqual([{ sku: 'S', title: 'new', category: 'cups', price: 3, time: 20 }]);
  });
});

describe('groupIdentities (union-find)', () => {
  it('links records through shared identifiers, transitively, and collects existing owners oldest first', () => {
    const owners = new Map([
      [identifierKey(email('b')), '12'],
      [identifierKey(email('a')), '9'],
    ]);
    const { groups, recordGroup } = groupIdentities(
      [[email('a'), phone('1')], [phone('1'), phone('2')], [phone('2'), email('b')], [email('z')], []],
      owners,
    );
    expect(Array.from(recordGroup)).toEqual([0, 0, 0, 1, -1]);
    expect(groups[0].customers).toEqual(['9', '12']); // numeric order: 9 before 12
    expect(groups[0].identifiers.map((x) => [x.identifier.value, x.owner])).toEqual([
      ['a', '9'],
      ['1', null],
      ['2', null],
      ['b', '12'],
    ]);
    expect(groups[1]).toEqual({ customers: [], identifiers: [{ identifier: email('z'), owner: null }] });
  });

  it('joins records that only share an existing customer', () => {
    const owners = new Map([
      [identifierKey(email('a')), '3'],
      [identifierKey(phone('9')), '3'],
    ]);
    const { groups, recordGroup } = groupIdentities([[email('a')], [phone('9')]], owners);
    expect(Array.from(recordGroup)).toEqual([0, 0]);
    expect(groups).toHaveLength(1);
    expect(groups[0].customers).toEqual(['3']);
  });

  it('compares ids as numbers', () => {
    expect(['10', '9', '100', '11'].sort(compareIds)).toEqual(['9', '10', '11', '100']);
  });
});

describe('KnownProducts', () => {
  it('sends unknown skus and changes only', () => {
    const k = new KnownProducts();
    const p = { sku: 'S', title: 'T', category: null, price: 2, time: 100 };
    expect(k.changing([p])).toEqual([p]);
    k.remember([{ sku: 'S', title: 'T', category: null, price: 2, at: 100 }]);
    expect(k.changing([p, { ...p, time: 200 }])).toEqual([]); // same values: nothing to write
    expect(k.changing([{ ...p, time: 200, price: 3 }])).toHaveLength(1); // newer price
    expect(k.changing([{ ...p, time: 50, price: 3 }])).toEqual([]); // older price loses
    expect(k.changing([{ ...p, time: 50, category: 'cups' }])).toHaveLength(1); // older fills a null
  });
});
