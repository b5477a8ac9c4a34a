import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderLine } from '../src/core/records.js';
import { generateDataset, type GenerateSummary } from '../src/generate/generate-dataset.js';
import { Rng } from '../src/generate/rng.js';
import { readDataFile } from '../src/ingest/read-data-file.js';
import { readHistoryFile } from '../src/ingest/read-history-file.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'omnirec-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = { customers: 400, products: 150, stores: 4, lines: 8000, days: 180, seed: 7 };
const FILES = ['orders.csv', 'inventory.csv', 'consent.csv', 'summary.json'];
let summary: GenerateSummary;
const dirA = join(tmp, 'a');

async function allRows(path: string) {
  const lines: OrderLine[] = [];
  const other: unknown[] = [];
  let rejects = 0;
  for await (const b of readDataFile(path)) {
    rejects += b.rejects.length;
    if (b.kind === 'orders') lines.push(...b.lines);
    else if (b.kind === 'inventory') other.push(...b.inventory);
    else other.push(...b.consent);
  }
  return { lines, other, rejects };
}

beforeAll(async () => {
  summary = await generateDataset({ out: dirA, ...SMALL });
});

describe('Rng', () => {
  it('is deterministic per seed and uniform enough', () => {
    const a = new Rng(1);
    const b = new Rng(1);
    const c = new Rng(2);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // Gamma(k) has mean k
    const g = new Rng(3);
    let s = 0;
    for (let i = 0; i < 4000; i++) s += g.gamma(2.5);
    expect(s / 4000).toBeGreaterThan(2.3);
    expect(s / 4000).toBeLessThan(2.7);
  });
});

describe('generateDataset', () => {
  it('same seed → identical bytes; different seed → different data', async () => {
    const dirB = join(tmp, 'b');
    const dirC = join(tmp, 'c');
    await generateDataset({ out: dirB, ...SMALL });
    await generateDataset({ out: dirC, ...SMALL, seed: 8 });
    for (const f of FILES) expect(readFileSync(join(dirB, f)).equals(readFileSync(join(dirA, f))), f).toBe(true);
    expect(readFileSync(join(dirC, 'orders.csv')).equals(readFileSync(join(dirA, 'orders.csv')))).toBe(false);
  });

  it('gzip output is deterministic and reads back to the same lines', async () => {
    const g1 = join(tmp, 'gz1');
    const g2 = join(tmp, 'gz2');
    await generateDataset({ out: g1, ...SMALL, gzip: true });
    await generateDataset({ out: g2, ...SMALL, gzip: true });
    expect(readFileSync(join(g1, 'orders.csv.gz')).equals(readFileSync(join(g2, 'orders.csv.gz')))).toBe(true);
    const plain = await allRows(join(dirA, 'orders.csv'));
    const zipped = await allRows(join(g1, 'orders.csv.gz'));
    expect(zipped.lines).toEqual(plain.lines);
  });

  it('every generated row imports without a rejection, and the summary counts match the files', async () => {
    const o = await allRows(join(dirA, 'orders.csv'));
    const inv = await allRows(join(dirA, 'inventory.csv'));
    const con = await allRows(join(dirA, 'consent.csv'));
    expect(o.rejects + inv.rejects + con.rejects).toBe(0);
    expect(o.lines.length).toBe(summary.lines);
    expect(new Set(o.lines.map((l) => l.orderId)).size).toBe(summary.orders);
    expect(inv.other.length).toBe(summary.inventoryRows);
    expect(con.other.length).toBe(summary.consentRows);
    // the target is approximate: within 25 %
    expect(summary.lines).toBeGreaterThan(SMALL.lines * 0.75);
    expect(summary.lines).toBeLessThan(SMALL.lines * 1.25);
  });

  it('has learnable structure: repeat purchases, complements bought together, all channels', async () => {
    const h = await readHistoryFile(dirA);
    const ordersPerPair = new Map<string, Set<string>>();
    for (const l of h.lines) {
      if (l.customerId === null || l.quantity < 0) continue;
      const k = `${l.customerId}|${l.sku}`;
      const s = ordersPerPair.get(k) ?? new Set();
      s.add(l.orderId);
      ordersPerPair.set(k, s);
    }
    const repeatPairs = [...ordersPerPair.values()].filter((s) => s.size >= 2).length;
    expect(repeatPairs).toBeGreaterThan(ordersPerPair.size * 0.05);
    expect(summary.repeatLines).toBeGreaterThan(0);
    const channels = new Set(h.lines.map((l) => l.channel));
    expect([...channels].sort()).toEqual(['app', 'store', 'web']);
    // baskets: the most frequent pair of items co-occurs far more often than independence predicts
    const baskets = new Map<string, Set<string>>();
    for (const l of h.lines) if (l.quantity > 0) (baskets.get(l.orderId) ?? baskets.set(l.orderId, new Set()).get(l.orderId)!).add(l.sku);
    const item = new Map<string, number>();
    const pair = new Map<string, number>();
    for (const b of baskets.values()) {
      const xs = [...b].sort();
      for (const x of xs) item.set(x, (item.get(x) ?? 0) + 1);
      for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) pair.set(`${xs[i]}|${xs[j]}`, (pair.get(`${xs[i]}|${xs[j]}`) ?? 0) + 1);
    }
    const n = baskets.size;
    let bestLift = 0;
    for (const [k, c] of pair) {
      if (c < 10) continue;
      const [a, b] = k.split('|');
      bestLift = Math.max(bestLift, (c * n) / (item.get(a)! * item.get(b)!));
    }
    expect(bestLift).toBeGreaterThan(3);
  });

  it('people shop in several channels under different identifiers; the identity graph unifies exactly the linked ones', async () => {
    const m = summary.multiChannelBuyers;
    expect(m.loyalty).toBeGreaterThan(0);
    expect(m.email).toBeGreaterThan(0);
    expect(m.phone).toBeGreaterThan(0);
    expect(m.none).toBeGreaterThan(0);
    const h = await readHistoryFile(dirA);
    expect(h.customers).toBe(summary.expectedUnifiedCustomers);
    const chans = new Map<string, Set<string>>();
    for (const l of h.lines) if (l.customerId) (chans.get(l.customerId) ?? chans.set(l.customerId, new Set()).get(l.customerId)!).add(l.channel);
    const multi = [...chans.values()].filter((s) => s.size > 1).length;
    expect(multi).toBe(m.loyalty + m.email + m.phone);
    // guests exist and belong to nobody
    expect(h.lines.filter((l) => l.customerId === null).length).toBe(summary.guestLines);
  });

  it('stores sell from their own assortment; inventory has out-of-stock rows', async () => {
    const inv = await allRows(join(dirA, 'inventory.csv'));
    const rows = inv.other as { storeId: string; sku: string; quantity: number }[];
    const carried = new Set(rows.map((r) => `${r.storeId}|${r.sku}`));
    expect(rows.filter((r) => r.quantity === 0).length).toBe(summary.outOfStockRows);
    expect(summary.outOfStockRows).toBeGreaterThan(0);
    expect(carried.size).toBeLessThan(SMALL.stores * SMALL.products); // not every store carries everything
    const o = await allRows(join(dirA, 'orders.csv'));
    const storeLines = o.lines.filter((l) => l.channel === 'store');
    expect(storeLines.length).toBeGreaterThan(0);
    for (const l of storeLines) expect(carried.has(`${l.storeId}|${l.sku}`)).toBe(true);
  });

  it('returns are negative lines referencing an earlier order that holds the item', async () => {
    const o = await allRows(join(dirA, 'orders.csv'));
    const bought = new Map<string, { time: number; skus: Set<string> }>();
    for (const l of o.lines) if (l.quantity > 0) (bought.get(l.orderId) ?? bought.set(l.orderId, { time: l.time, skus: new Set() }).get(l.orderId)!).skus.add(l.sku);
    const returns = o.lines.filter((l) => l.cancels !== null);
    expect(returns.length).toBe(summary.returnLines);
    expect(returns.length).toBeGreaterThan(0);
    for (const r of returns) {
      expect(r.quantity).toBeLessThan(0);
      const orig = bought.get(r.cancels!);
      expect(orig?.skus.has(r.sku)).toBe(true);
      expect(r.time).toBeGreaterThanOrEqual(orig!.time);
    }
  });

  it('consent: most grant personalisation, some refuse', async () => {
    const con = await allRows(join(dirA, 'consent.csv'));
    const p = (con.other as { purpose: string; granted: boolean }[]).filter((c) => c.purpose === 'personalisation');
    expect(p.length).toBe(summary.buyers);
    const refused = p.filter((c) => !c.granted).length;
    expect(refused).toBe(summary.personalisationRefused);
    expect(refused / p.length).toBeGreaterThan(0.05);
    expect(refused / p.length).toBeLessThan(0.3);
  });

  it('shapes: grocery repeats more than mixed, fashion has no rhythmic repeats', async () => {
    const gro = await generateDataset({ out: join(tmp, 'grocery'), ...SMALL, shape: 'grocery' });
    const fas = await generateDataset({ out: join(tmp, 'fashion'), ...SMALL, shape: 'fashion' });
    expect(gro.repeatLines / gro.lines).toBeGreaterThan(1.2 * (summary.repeatLines / summary.lines));
    expect(fas.repeatLines).toBe(0);
    expect(summary.repeatLines).toBeGreaterThan(0);
    await expect(generateDataset({ out: join(tmp, 'bad'), ...SMALL, shape: 'bakery' as never })).rejects.toThrow(/shape/);
  });

  it('rejects bad options', async () => {
    await expect(generateDataset({ out: join(tmp, 'bad'), customers: 0 })).rejects.toThrow(/customers/);
    await expect(generateDataset({ out: join(tmp, 'bad'), start: '2024-13-01' })).rejects.toThrow(/start/);
  });
});

describe('npm run generate', () => {
  it('--json prints the summary; bad usage exits 2', async () => {
    const out = join(tmp, 'cli');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/generate.ts', '--out', out, '--customers', '50', '--products', '40', '--lines', '500', '--json'], { cwd: root });
    const s = JSON.parse(stdout);
    expect(s.people).toBe(50);
    expect(s.lines).toBe(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).lines);
    expect(s.linesPerSecond).toBeGreaterThan(0);
    const bad = await run(process.execPath, ['--import', 'tsx', 'scripts/generate.ts', '--customers', 'many'], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/--customers must be a number|--out is required/);
  });
});
