/**
 * The pure half of an import batch (src/store/import-plan.ts, known-products.ts): grouping lines
 * into orders and products, and the identity events resolution goes through. No database.
 */
import { describe, expect, it } from 'vitest';
import type { Identifier, OrderLine } from '../src/core/records.js';
import { identifierKey } from '../src/core/identity.js';
import { OrderIdAllocator, PlanBuilder, planImport as planWithIds, type ImportPlan } from '../src/store/import-plan.js';
import { addUntilCut, ID_BLOCK, plannedBatches, READ_AHEAD } from '../src/ingest/import-batches.js';
import { KnownProducts } from '../src/store/known-products.js';
import { textAfter } from '../src/store/product-rule.js';

const email = (value: string): Identifier => ({ kind: 'email', value });
const phone = (value: string): Identifier => ({ kind: 'phone', value });

function line(orderId: string, lineNo: number | undefined, identifiers: Identifier[], sku: string, o: Partial<OrderLine> = {}): OrderLine {
  return {
    orderId, channel: 'web', storeId: null, time: 1000, identifiers, sku, title: null, category: null,
    quantity: 1, unitPrice: 2, cancels: null, ...(lineNo === undefined ? {} : { lineNo }), ...o,
  };
}

/** Plans with order ids 101, 102, ... reserved. */
function planImport(lines: OrderLine[]): ImportPlan {
  const ids = new OrderIdAllocator();
  ids.supply(lines.map((_, i) => 101 + i));
  return planWithIds(lines, ids);
}

/** The COPY rows of a plan, split into fields (none of the test values needs quoting). */
const copyRows = (p: ImportPlan): string[][] =>
  new TextDecoder().decode(p.copy).split('\n').filter((r) => r !== '').map((r) => r.split(','));

describe('planImport', () => {
  it('groups lines into orders with the union of their identifiers, in order of first appearance', () => {
    const p = planImport([
      line('A', 1, [email('x')], 'S1', { storeId: 'st1', channel: 'store', time: 5 }),
      line('B', 1, [], 'S2'),
      line('A', 2, [email('x'), phone('1')], 'S2', { storeId: 'st1', channel: 'store', time: 9 }),
    ]);
    expect(p.orders.map((o) => [o.sourceId, o.channel, o.storeId, o.time, o.identifiers.map(identifierKey).length])).toEqual([
      ['A', 'store', 'st1', 5, 2],
      ['B', 'web', null, 1000, 0],
    ]);
    expect(p.orders[0].identifiers).toEqual([email('x'), phone('1')]);
    expect(p.identifiers).toEqual([email('x'), phone('1')]);
    expect(p.stores).toEqual(['st1']);
    // each order gets the next reserved id; its lines are encoded under it, in input order
    expect(p.orderIds).toEqual([101, 102]);
    expect(p.lineCount).toBe(3);
    expect(copyRows(p)).toEqual([
      ['101', '1', 'S1', '1', '2', ''],
      ['102', '1', 'S2', '1', '2', ''],
      ['101', '2', 'S2', '1', '2', ''],
    ]);
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
    const keys = (p: ImportPlan) => copyRows(p).map((r) => Number(r[1]));
    expect(keys(a)).toEqual(keys(b)); // stable across runs: a re-import maps to the same keys
    expect(new Set(keys(a)).size).toBe(3);
    for (const n of keys(a)) expect(n).toBeLessThan(0);
    expect(a.uniqueLines).toBe(true);
  });

  it('products take the latest non-null title and category, and the latest sale price', () => {
    const p = planImport([
      line('A', 1, [], 'S', { time: 10, title: 'new', unitPrice: 3 }),
      line('B', 1, [], 'S', { time: 5, title: 'old', category: 'cups', unitPrice: 1 }),
      line('C', 1, [], 'S', { time: 20, title: null, quantity: -1, unitPrice: 99 }),
      line('D', 1, [], 'S', { time: 15, title: '', unitPrice: 0 }),
    ]);
    expect(p.products).toEqual([{ sku: 'S', title: 'new', titleAt: 10, category: 'cups', categoryAt: 5, price: 3, priceAt: 10, time: 20 }]);
  });
});

describe('identity events of a plan', () => {
  it('lists, in line order, the lines that bring identifiers new to their order', () => {
    const p = planImport([
      line('O1', 1, [email('a')], 'S1'),
      line('O2', 1, [], 'S1'),
      line('O1', 2, [email('a')], 'S2'), // nothing new for O1
      line('O2', 2, [phone('9')], 'S2'),
      line('O1', 3, [email('a'), phone('1')], 'S3', { time: 2000 }),
    ]);
    expect(p.identityEvents).toEqual([
      { order: 0, identifiers: [email('a')], time: 1000 },
      { order: 1, identifiers: [phone('9')], time: 1000 },
      { order: 0, identifiers: [phone('1')], time: 2000 },
    ]);
  });
});

/** A product as planned from lines at `time` carrying the fields given (the others null). */
const planned = (time: number, f: { title?: string; category?: string; price?: number }, sku = 'S') => ({
  sku,
  title: f.title ?? null,
  titleAt: f.title === undefined ? -Infinity : time,
  category: f.category ?? null,
  categoryAt: f.category === undefined ? -Infinity : time,
  price: f.price ?? null,
  priceAt: f.price === undefined ? -Infinity : time,
  time,
});
/** The row of `planned` as stored. */
const stored = (p: ReturnType<typeof planned>) => {
  const { time, ...rest } = p;
  return { ...rest, at: time };
};

describe('KnownProducts', () => {
  it('sends unknown skus and changes only (a later line is one: seen_at moves on)', () => {
    const k = new KnownProducts();
    const p = planned(100, { title: 'T', price: 2 });
    expect(k.changing([p])).toEqual([p]);
    k.remember([stored(p)]);
    expect(k.changing([p, planned(50, { title: 'T', price: 2 })])).toEqual([]); // nothing new
    expect(k.changing([planned(50, { title: 'T' })])).toEqual([]); // the same title, earlier
    expect(k.changing([planned(200, {})])).toHaveLength(1); // a later line (a return): seen_at
    expect(k.changing([planned(200, { price: 3 })])).toHaveLength(1); // newer price
    expect(k.changing([planned(50, { price: 3 })])).toEqual([]); // older price loses
    expect(k.changing([planned(100, { price: 1 })])).toEqual([]); // same time, smaller price loses
    expect(k.changing([planned(100, { price: 3 })])).toHaveLength(1); // same time, greater price wins
    expect(k.changing([planned(50, { category: 'cups' })])).toHaveLength(1); // older fills a null
  });
});

describe('KnownProducts.defer (bulk imports)', () => {
  it('returns unknown skus to write now, and folds changes to known rows by the same rule until taken', () => {
    const k = new KnownProducts();
    const p = planned(100, { title: 'T', price: 2 });
    expect(k.defer([p])).toEqual([p]);
    k.remember([stored(p)]);
    // four later batches: a newer price, an older one (loses), an older category (fills a null), a later return (no price)
    expect(k.defer([planned(200, { price: 3 })])).toEqual([]);
    expect(k.defer([planned(150, { price: 9 })])).toEqual([]);
    expect(k.defer([planned(50, { category: 'cups' })])).toEqual([]);
    expect(k.defer([planned(300, {})])).toEqual([]);
    expect(k.takePending()).toEqual([{ sku: 'S', title: 'T', titleAt: 100, category: 'cups', categoryAt: 50, price: 3, priceAt: 200, at: 300 }]);
    expect(k.takePending()).toEqual([]);
  });
});

describe('products of a plan (product-rule.ts)', () => {
  it("each field: the latest line's non-null value, the greatest at equal times, whatever the line order", () => {
    const lines = [
      line('O1', 1, [], 'P', { unitPrice: 2, time: 1000 }),
      line('O2', 1, [], 'P', { unitPrice: 5, time: 3000 }),
      line('O2', 2, [], 'P', { unitPrice: 4, time: 3000 }),
      line('O3', 1, [], 'P', { unitPrice: 9, quantity: -1, time: 4000 }), // a return: no price
    ];
    for (const order of [lines, [...lines].reverse(), [lines[2], lines[0], lines[3], lines[1]]]) {
      const [p] = planImport(order).products;
      expect({ price: p.price, priceAt: p.priceAt, time: p.time }).toEqual({ price: 5, priceAt: 3000, time: 4000 });
    }
  });

  it('text in code point order (as COLLATE "C"): a character beyond U+FFFF after U+FFFD', () => {
    expect(textAfter('\u{1F600}', '\uFFFD')).toBe(true);
    expect(textAfter('\uFFFD', '\u{1F600}')).toBe(false);
    expect(textAfter('ab', 'a')).toBe(true);
    expect(textAfter('B', 'a')).toBe(false);
    expect(Buffer.compare(Buffer.from('\u{1F600}'), Buffer.from('\uFFFD'))).toBe(1);
  });
});

describe('OrderIdAllocator and COPY encoding', () => {
  it('gives an order seen again (split across batches) the id it had, and refuses to run dry', () => {
    const ids = new OrderIdAllocator();
    ids.supply([7, 8]);
    expect(ids.idFor('A')).toBe(7);
    expect(ids.idFor('B')).toBe(8);
    expect(ids.idFor('A')).toBe(7);
    expect(ids.available).toBe(0);
    expect(() => ids.idFor('C')).toThrow(/no reserved ids/);
    ids.supply([20]);
    expect(ids.idFor('C')).toBe(20);
  });

  it('quotes fields that need it and writes null cancels as an empty field', () => {
    const p = planImport([line('A', 1, [], 'a,"b"', { cancels: 'X 1' }), line('A', 2, [], ' lead', { quantity: -1.5, unitPrice: 0.25 })]);
    expect(new TextDecoder().decode(p.copy)).toBe('101,1,"a,""b""",1,2,X 1\n101,2," lead",-1.5,0.25,\n');
  });
});

describe('addUntilCut (the per-line loop of plannedBatches)', () => {
  const builder = () => {
    const ids = new OrderIdAllocator();
    ids.supply(Array.from({ length: 100 }, (_, i) => 1 + i));
    return new PlanBuilder(ids);
  };

  it('adds lines until the batch holds `limit` and the next line starts another order; returns the first line not added', () => {
    const lines = [line('A', 1, [], 'S1'), line('A', 2, [], 'S2'), line('A', 3, [], 'S3'), line('B', 1, [], 'S1'), line('B', 2, [], 'S2'), line('C', 1, [], 'S1')];
    const b = builder();
    // limit 2: A's third line still goes in (same order), B's first does not
    expect(addUntilCut(b, lines, 0, 2, 10)).toBe(3);
    expect(b.lineCount).toBe(3);
    // a new batch takes any line first, then cuts again where an order ends
    const c = builder();
    expect(addUntilCut(c, lines, 3, 1, 10)).toBe(5);
    expect(c.lineCount).toBe(2);
    // the whole rest fits: lines.length
    expect(addUntilCut(builder(), lines, 0, 100, 100)).toBe(lines.length);
    expect(addUntilCut(builder(), lines, lines.length, 1, 1)).toBe(lines.length);
  });

  it('cuts an order of more lines than twice batchSize at twice batchSize', () => {
    const lines = Array.from({ length: 9 }, (_, i) => line('A', i + 1, [], `S${i}`));
    const b = builder();
    expect(addUntilCut(b, lines, 0, 1, 2)).toBe(4);
    expect(b.build().lineCount).toBe(4);
  });
});

describe('plannedBatches (reader chunks → store batches)', () => {
  const base = { format: 'canonical' as const, syntax: 'csv' as const, bytesRead: 0, totalBytes: 100 };
  async function* source<T>(items: T[]) {
    for (const i of items) yield i;
  }
  let next = 1;
  const reserve = async (n: number) => Array.from({ length: n }, () => next++);

  it('gathers inventory chunks into batches of batchSize, summing counters', async () => {
    const inv = (rows: number, sku: string, bytesRead: number) => ({
      ...base, bytesRead, kind: 'inventory' as const, rowsRead: rows + 1, rejects: [{ row: bytesRead, reason: 'missing_store' as const }], skipped: {},
      inventory: Array.from({ length: rows }, (_, i) => ({ storeId: 'S', sku: `${sku}${i}`, quantity: 1 })),
    });
    const out = [];
    for await (const b of plannedBatches(source([inv(2, 'a', 10), inv(2, 'b', 20), inv(2, 'c', 30), inv(1, 'd', 40)]), reserve, 5)) out.push(b);
    expect(out.map((b) => (b.kind === 'inventory' ? b.inventory.length : -1))).toEqual([6, 1]);
    expect(out[0]).toMatchObject({ rowsRead: 9, bytesRead: 30 });
    expect(out[0].rejects.map((r) => r.row)).toEqual([10, 20, 30]);
  });

  it('cuts order lines into plans of batchSize lines ending with an order; an order of more than twice that is split, keeping its id', async () => {
    const chunk = (lines: OrderLine[]) => ({ ...base, kind: 'orders' as const, rowsRead: lines.length, rejects: [], skipped: { non_product: 1 }, lines });
    const out = [];
    const b5 = [1, 2, 3, 4, 5].map((i) => line('B', i, [], `S${i}`));
    for await (const b of plannedBatches(source([chunk([line('A', 1, [], 'S'), line('A', 2, [], 'T')]), chunk(b5)]), reserve, 2)) out.push(b);
    const plans = out.map((b) => (b.kind === 'orders' ? b.plan : null)!);
    expect(plans.map((p) => p.lineCount)).toEqual([2, 4, 1]);
    expect(plans.map((p) => p.orders.map((o) => o.sourceId))).toEqual([['A'], ['B'], ['B']]);
    expect(plans[2].orderIds[0]).toBe(plans[1].orderIds[0]); // B continues under its id
    expect(out.map((b) => b.skipped)).toEqual([{ non_product: 2 }, {}, {}]);
  });

  it('starts with a batch of firstBatchSize lines and doubles it up to batchSize, each ending with an order', async () => {
    const chunk = (lines: OrderLine[]) => ({ ...base, kind: 'orders' as const, rowsRead: lines.length, rejects: [], skipped: {}, lines });
    // 40 orders of 3 lines: cut at 2 (→ 3, the order ends), 4 (→ 6), 8 (→ 9), then 10 (→ 12) each
    const lines = Array.from({ length: 120 }, (_, i) => line(`O${Math.floor(i / 3)}`, (i % 3) + 1, [], `S${i}`));
    const out = [];
    for await (const b of plannedBatches(source([chunk(lines.slice(0, 50)), chunk(lines.slice(50))]), reserve, 10, 2)) out.push(b);
    const plans = out.map((b) => (b.kind === 'orders' ? b.plan : null)!);
    expect(plans.map((p) => p.lineCount)).toEqual([3, 6, 9, 12, 12, 12, 12, 12, 12, 12, 12, 6]);
    expect(plans.flatMap((p) => p.orders.map((o) => o.sourceId))).toEqual(Array.from({ length: 40 }, (_, i) => `O${i}`));
    expect(out.reduce((a, b) => a + b.rowsRead, 0)).toBe(120);
  });

  it('keeps an order whole in a smaller first batch up to twice batchSize, as in a full one', async () => {
    const chunk = (lines: OrderLine[]) => ({ ...base, kind: 'orders' as const, rowsRead: lines.length, rejects: [], skipped: {}, lines });
    // first batch cut at 2 lines, batchSize 10: an order of 15 lines stays in one batch; one of 25 is split at 20
    const lines = [...Array.from({ length: 15 }, (_, i) => line('A', i + 1, [], `S${i}`)), ...Array.from({ length: 25 }, (_, i) => line('B', i + 1, [], `T${i}`))];
    const out = [];
    for await (const b of plannedBatches(source([chunk(lines)]), reserve, 10, 2)) out.push(b);
    const plans = out.map((b) => (b.kind === 'orders' ? b.plan : null)!);
    expect(plans.map((p) => p.lineCount)).toEqual([15, 20, 5]);
    expect(plans.map((p) => p.orders.map((o) => o.sourceId))).toEqual([['A'], ['B'], ['B']]);
  });

  it('asks for the next block of ids while half a block is left, and uses the blocks in order', async () => {
    // chunks of 1,000 one-line orders: the second block is asked for once fewer than half are left after a chunk
    const chunks = 25;
    let read = 0;
    async function* orders() {
      for (let c = 0; c < chunks; c++) {
        read = c + 1;
        yield { ...base, kind: 'orders' as const, rowsRead: 1000, rejects: [], skipped: {}, lines: Array.from({ length: 1000 }, (_, i) => line(`O${c * 1000 + i}`, 1, [], 'S')) };
      }
    }
    let from = 1;
    const asked: { n: number; chunksRead: number }[] = [];
    const blocks = async (n: number) => {
      asked.push({ n, chunksRead: read });
      const ids = Array.from({ length: n }, (_, i) => from + i);
      from += n;
      return ids;
    };
    const ids: number[] = [];
    for await (const b of plannedBatches(orders(), blocks, 5_000)) if (b.kind === 'orders') ids.push(...b.plan.orderIds);
    expect(asked).toEqual([{ n: ID_BLOCK, chunksRead: 1 }, { n: ID_BLOCK, chunksRead: 11 }]);
    expect(ids).toEqual(Array.from({ length: chunks * 1000 }, (_, i) => i + 1));
  });

  /** Chunks of one-line orders O0, O1, … (`per` each), counting how many the reader took; then, optionally, a read failure. */
  function counted(chunks: number, per: number, failAfter = false) {
    const state = { read: 0 };
    async function* gen() {
      for (let c = 0; c < chunks; c++) {
        state.read = c + 1;
        yield { ...base, kind: 'orders' as const, rowsRead: per, rejects: [], skipped: {}, lines: Array.from({ length: per }, (_, i) => line(`O${c * per + i}`, 1, [], 'S')) };
      }
      if (failAfter) throw new Error('gzip cut short');
    }
    return { state, source: gen() };
  }
  /** Ids answered on a later turn of the event loop (as the store's answer, or the first block waiting for migrations). */
  function slowIds(onAsk: () => void) {
    let from = 1;
    return (n: number) => {
      onAsk();
      return new Promise<number[]>((resolve) =>
        setImmediate(() => {
          resolve(Array.from({ length: n }, (_, i) => from + i));
          from += n;
        }),
      );
    };
  }

  it('reads ahead while the reserved ids are on their way, and plans exactly what it plans without waiting', async () => {
    const chunks = READ_AHEAD + 10;
    const { state, source } = counted(chunks, 100);
    let readWhenAnswered = -1;
    const reserve = slowIds(() => setImmediate(() => (readWhenAnswered = state.read)));
    const slow: ImportPlan[] = [];
    for await (const b of plannedBatches(source, reserve, 500)) if (b.kind === 'orders') slow.push(b.plan);
    // the first block was answered a turn later: meanwhile READ_AHEAD more chunks were read (none without read-ahead)
    expect(readWhenAnswered).toBe(1 + READ_AHEAD);
    const fast: ImportPlan[] = [];
    let from = 1;
    const at = async (n: number) => Array.from({ length: n }, () => from++);
    for await (const b of plannedBatches(counted(chunks, 100).source, at, 500)) if (b.kind === 'orders') fast.push(b.plan);
    const view = (p: ImportPlan) => ({ ...p, copy: new TextDecoder().decode(p.copy) });
    expect(slow.map(view)).toEqual(fast.map(view));
    expect(slow.reduce((a, p) => a + p.lineCount, 0)).toBe(chunks * 100);
  });

  it('a read failure met while reading ahead is thrown in its turn, after the batches it would have followed without waiting', async () => {
    const run = async (reserve: (n: number) => Promise<number[]>) => {
      const plans: string[][] = [];
      let error: Error | null = null;
      try {
        for await (const b of plannedBatches(counted(5, 100, true).source, reserve, 100)) if (b.kind === 'orders') plans.push(b.plan.orders.map((o) => o.sourceId));
      } catch (e) {
        error = e as Error;
      }
      return { plans, error: error?.message };
    };
    let from = 1;
    const slow = await run(slowIds(() => undefined));
    const fast = await run(async (n) => Array.from({ length: n }, () => from++));
    expect(slow.error).toBe('gzip cut short');
    // the lines of the batch the failure interrupts are not planned (as without read-ahead); every batch before is
    expect(slow.plans.map((p) => p.length)).toEqual([100, 100, 100, 100]);
    expect(slow).toEqual(fast);
  });
});
