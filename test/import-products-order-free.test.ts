/**
 * The catalogue is a function of the data (issue 13; src/store/product-rule.ts): the same order lines imported at batch
 * sizes 1, 7 and 20,000, cut into several files given out of time order, with their lines shuffled, or posted as purchase
 * events in any order, give the same products table, every column alike (title, category and price, their source
 * times, seen_at: the latest line's time), though titles, categories and prices change and change back, lines at one
 * time disagree, and returns and lines without a title carry no value. The card summaries (favourite categories follow
 * the catalogue) hold the same content too (their rev counts writes, so differs).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/core/random.js';
import type { OrderLine } from '../src/core/records.js';
import { importFiles } from '../src/ingest/import-file.js';
import { checkStore } from '../src/store/check-store.js';
import type { SqlStore } from '../src/store/sql-store.js';
import { storeBackends } from './helpers/backends.js';
import { productRows as products, summaryContents as summaries } from './helpers/store-rows.js';

const HEADER = 'order_id,line_no,channel,time,email,sku,title,category,quantity,unit_price';
const TITLES = [['Mug', 'Mug, large'], ['Tea', 'Green tea', 'Tea'], ['Lamp'], ['Bowl', 'Blue bowl']];
const CATEGORIES = [['Kitchen', 'Home'], ['Drinks'], ['Home', 'Lighting']];

/**
 * About 400 lines of 120 orders over 40 days (some at one same time), 12 products whose title, category and price move
 * between a few values and back; some lines are returns (no price), some have no title or category, some orders hold a
 * product twice at two prices.
 */
function orderLines(seed: number): OrderLine[] {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const out: OrderLine[] = [];
  for (let o = 0; o < 120; o++) {
    // every fifth order at the time of the one before (same minute): values at equal times must not depend on order
    const time = o % 5 === 4 ? out[out.length - 1].time : Date.UTC(2024, 0, 1) + Math.floor(r() * 40 * 24 * 60) * 60_000;
    const email = `c${Math.floor(r() * 25)}@shop.example`;
    const n = 1 + Math.floor(r() * 5);
    for (let l = 1; l <= n; l++) {
      const p = Math.floor(r() * 12);
      const dup = l > 1 && r() < 0.15; // the line before's product again, at another price
      const sku = dup ? out[out.length - 1].sku : `P${p}`;
      const k = Number(sku.slice(1));
      out.push({
        orderId: `W${o}`, lineNo: l, channel: 'web', storeId: null, time, identifiers: [{ kind: 'email', value: email }], sku,
        title: r() < 0.15 ? null : pick(TITLES[k % TITLES.length]),
        category: r() < 0.2 ? null : pick(CATEGORIES[k % CATEGORIES.length]),
        quantity: r() < 0.1 ? -1 : 1 + Math.floor(r() * 3),
        unitPrice: (1 + (k % 4)) + pick([0, 0.5, 1]),
        cancels: null,
      });
    }
  }
  return out;
}

const csv = (v: string | null) => (v === null ? '' : /[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const row = (l: OrderLine) =>
  [l.orderId, l.lineNo, l.channel, new Date(l.time).toISOString(), l.identifiers[0].value, l.sku, csv(l.title), csv(l.category), l.quantity, l.unitPrice].join(',');

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const r = mulberry32(seed);
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnirec-products-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const backend of storeBackends()) {
  describe(`products whatever the batches and the order (${backend.name})`, () => {
    const lines = orderLines(5);
    /** Writes `files` (lists of lines) and imports them in that order at `batchSize`: the tables compared. */
    async function importAt(name: string, files: OrderLine[][], batchSize: number) {
      const paths: string[] = [];
      for (const [i, f] of files.entries()) {
        const p = join(dir, `${backend.name}-${name}-${i}.csv`);
        await writeFile(p, [HEADER, ...f.map(row)].join('\n') + '\n');
        paths.push(p);
      }
      const { store, cleanup } = await backend.open();
      try {
        const s = await importFiles(store, paths, { batchSize, worker: false });
        expect(s.imported, name).toBe(lines.length);
        expect((await checkStore((store as SqlStore).db)).failures).toEqual([]);
        return { products: await products(store), summaries: await summaries(store) };
      } finally {
        await cleanup();
      }
    }

    it('the same products row for row (every column) and summaries at batch sizes 1, 7 and 20,000, over files out of order, shuffled', async () => {
      const byTime = [...lines].sort((a, b) => a.time - b.time);
      const reference = await importAt('time-order', [byTime], 20_000);
      // the data does what the test is for: values change and change back, and the latest line of a product may carry none
      const titles = new Map<string, Set<string>>();
      for (const l of lines) if (l.title !== null) titles.set(l.sku, (titles.get(l.sku) ?? new Set()).add(l.title));
      expect([...titles.values()].filter((t) => t.size > 1).length).toBeGreaterThan(3);
      expect(reference.products).toHaveLength(12);
      expect(reference.summaries.length).toBeGreaterThan(15);
      const third = Math.ceil(lines.length / 3);
      const cut = (xs: OrderLine[]) => [xs.slice(2 * third), xs.slice(0, third), xs.slice(third, 2 * third)];
      const mixed = shuffled(lines, 1);
      for (const [name, files, size] of [
        ['time-order-1', [byTime], 1],
        ['files-out-of-order-7', cut(byTime), 7],
        ['files-out-of-order-1', cut(byTime), 1],
        ['shuffled-20000', [mixed], 20_000],
        ['shuffled-files-7', cut(mixed), 7],
        ['shuffled-files-1', cut(shuffled(lines, 2)), 1],
        ['generated-order-20000', cut(lines), 20_000],
      ] as const) {
        const got = await importAt(name, [...files], size);
        expect(got.products, name).toEqual(reference.products);
        expect(got.summaries, name).toEqual(reference.summaries);
      }
    }, 240_000);

    it('purchase events in any order, one by one or all at once, give the import\'s products', async () => {
      const reference = await importAt('events-reference', [lines], 20_000);
      const byOrder = new Map<string, OrderLine[]>();
      for (const l of lines) byOrder.set(l.orderId, [...(byOrder.get(l.orderId) ?? []), { ...l, source: 'event' }]);
      const events = shuffled([...byOrder.values()], 3);
      const oneByOne = await backend.open();
      const atOnce = await backend.open();
      try {
        for (const e of events) await oneByOne.store.importLines(e);
        await Promise.all(shuffled(events, 4).map((e) => atOnce.store.importLines(e)));
        expect(await products(oneByOne.store)).toEqual(reference.products);
        expect(await products(atOnce.store)).toEqual(reference.products);
      } finally {
        await oneByOne.cleanup();
        await atOnce.cleanup();
      }
    }, 240_000);
  });
}
