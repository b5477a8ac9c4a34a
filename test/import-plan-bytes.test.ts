import { describe, expect, it } from 'vitest';
import type { OrderLine } from '../src/core/records.js';
import { contentLineKey, csvField, OrderIdAllocator, planImport } from '../src/store/import-plan.js';

/**
 * The COPY rows of a plan are written piece by piece (ByteWriter): they must be the bytes of each row's text
 * `${order id},${line no},${sku},${quantity},${unit price},${cancels}\n` encoded as UTF-8 whole, whatever the
 * text (non-ASCII and astral skus, lone surrogates, quoted fields, fractions, negative and huge numbers).
 */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const SKUS = ['85123A', 'café', 'Ü-1', '𝔘nicode', 'lone\ud800', '\udc00tail', 'a,"b"', ' lead', 'x\ny', 'back\\slash', 'é'.repeat(40), ''];
const NUMBERS = [1, 6, -6, 12, 1.5, -0.25, 0.001, 2147483647, -2147483648, 2147483648, 4294967296, 99999999999, 1e21, 1e-7, 123456.789];
const CANCELS = [null, null, 'C536379', 'ç,"q"', '\ud83d\ude00', 'lone\udbff'];

describe('COPY rows of a plan', () => {
  it('are the UTF-8 of each row text, for any sku, number and cancelled order', () => {
    const rnd = random(5);
    const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
    const lines: OrderLine[] = [];
    for (let i = 0; i < 5_000; i++) {
      const order = `O${Math.floor(i / 4)}`;
      lines.push({
        orderId: order, source: 'web', channel: 'web', storeId: null, time: 1_300_000_000_000 + i, identifiers: [],
        sku: pick(SKUS) || 'S', title: null, category: null, quantity: pick(NUMBERS), unitPrice: pick(NUMBERS), cancels: pick(CANCELS),
        // (some without a line number: keyed by a content hash, a large negative number)
        lineNo: i % 7 === 0 ? undefined : pick([i % 4 + 1, 2147483647, 2147483648, 9007199254740991]),
      });
    }
    const ids = new OrderIdAllocator();
    ids.supply(Array.from({ length: 2_000 }, (_, k) => 1_000_000 + k * 977));
    const plan = planImport(lines, ids);
    const idOf = new Map(plan.orders.map((o, k) => [o.sourceId, plan.orderIds[k]]));
    const seen = new Map<string, number>();
    let text = '';
    for (const l of lines) {
      let no = l.lineNo;
      if (no === undefined) {
        const ck = `${l.orderId}\u0001${l.sku}\u0001${l.quantity}\u0001${l.unitPrice}\u0001${l.time}`;
        const n = seen.get(ck) ?? 0;
        seen.set(ck, n + 1);
        no = contentLineKey(l, n);
      }
      text += `${idOf.get(l.orderId)},${no},${csvField(l.sku)},${l.quantity},${l.unitPrice},${l.cancels === null ? '' : csvField(l.cancels)}\n`;
    }
    expect(plan.lineCount).toBe(lines.length);
    const want = Buffer.from(new TextEncoder().encode(text));
    const got = Buffer.from(plan.copy);
    const at = [...want].findIndex((b, i) => got[i] !== b);
    expect({ at, length: got.length }).toEqual({ at: want.length === got.length ? -1 : at, length: want.length });
  });
});
