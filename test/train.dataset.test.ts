import { describe, expect, it } from 'vitest';
import type { Csr } from '../src/core/csr.js';
import type { HistoryLine } from '../src/core/records.js';
import { buildDataset } from '../src/train/dataset.js';
import { DEFAULT_WEIGHTING, type WeightingOptions, lineContribution } from '../src/train/weighting.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

function line(customerId: string | null, orderId: string, sku: string, quantity: number, day: number, extra: Partial<HistoryLine> = {}): HistoryLine {
  return { customerId, orderId, channel: 'web', storeId: null, time: T0 + day * DAY, sku, quantity, unitPrice: 2, ...extra };
}

/** The stored value of (row, col), or undefined when the pair has no entry. */
function at(m: Csr, row: number, col: number): number | undefined {
  for (let p = m.indptr[row]; p < m.indptr[row + 1]; p++) if (m.indices[p] === col) return m.data[p];
  return undefined;
}

const lines: WeightingOptions = { ...DEFAULT_WEIGHTING, scheme: 'lines' };

describe('dataset: interaction weighting', () => {
  it('a return cancels its purchase: no interaction, no count', async () => {
    const d = await buildDataset([line('u', 'o1', 'A', 2, 0), line('u', 'o1', 'B', 1, 0), line('u', 'C1', 'A', -2, 3)], lines);
    const a = d.items.indexOf('A');
    const b = d.items.indexOf('B');
    expect(at(d.weights, 0, a)).toBeUndefined();
    expect(at(d.counts, 0, a)).toBeUndefined();
    expect(at(d.weights, 0, b)).toBe(1);
    expect(d.summary.cancelledPairs).toBe(1);
    expect(d.summary.returnLines).toBe(1);
  });

  it('a partial return scales the weight by net / purchased quantity', async () => {
    const d = await buildDataset([line('u', 'o1', 'A', 4, 0), line('u', 'C1', 'A', -1, 1)], lines);
    // one line, 3 of 4 kept
    expect(at(d.weights, 0, 0)).toBeCloseTo(0.75, 6);
    expect(at(d.counts, 0, 0)).toBe(1);
  });

  it('repeats are log-scaled: w = ln(1 + lines / ε)', async () => {
    const src = [line('u', 'o1', 'A', 1, 0), line('u', 'o2', 'A', 1, 5), line('u', 'o3', 'A', 1, 9), line('u', 'o3', 'B', 1, 9)];
    const d = await buildDataset(src, { ...DEFAULT_WEIGHTING, scheme: 'log', epsilon: 0.5 });
    expect(at(d.weights, 0, 0)).toBeCloseTo(Math.log(1 + 3 / 0.5), 6);
    expect(at(d.weights, 0, 1)).toBeCloseTo(Math.log(1 + 1 / 0.5), 6);
    expect(at(d.counts, 0, 0)).toBe(3);
  });

  it('recency: a line one half-life old weighs half, two half-lives a quarter', async () => {
    const o: WeightingOptions = { ...lines, halfLifeDays: 10 };
    expect(lineContribution(o, 1, T0, T0 + 10 * DAY)).toBeCloseTo(0.5, 12);
    const d = await buildDataset([line('u', 'o1', 'A', 1, 0), line('u', 'o2', 'B', 1, 10), line('u', 'o3', 'C', 1, 20)], o);
    // T = the last line (day 20)
    expect(at(d.weights, 0, d.items.indexOf('A'))).toBeCloseTo(0.25, 6);
    expect(at(d.weights, 0, d.items.indexOf('B'))).toBeCloseTo(0.5, 6);
    expect(at(d.weights, 0, d.items.indexOf('C'))).toBeCloseTo(1, 6);
  });

  it('quantity raises confidence by β·ln(q) per line', async () => {
    const d = await buildDataset([line('u', 'o1', 'A', Math.E ** 2, 0)], { ...lines, quantityWeight: 0.5 });
    expect(at(d.weights, 0, 0)).toBeCloseTo(1 + 0.5 * 2, 5);
  });

  it("guests' orders feed baskets only", async () => {
    const d = await buildDataset([line(null, 'g1', 'A', 1, 0), line(null, 'g1', 'B', 3, 0), line('u', 'o1', 'A', 1, 1)], lines);
    expect(d.customers).toEqual(['u']);
    expect(d.weights.rows).toBe(1);
    expect(d.weights.indices.length).toBe(1);
    expect(d.baskets.rows).toBe(2);
    const g = d.orders.indexOf('g1');
    expect(Array.from(d.baskets.indices.subarray(d.baskets.indptr[g], d.baskets.indptr[g + 1])).map((i) => d.items[i]).sort()).toEqual(['A', 'B']);
    expect(d.summary.guestLines).toBe(2);
  });

  it('a basket is (source, order id): a web order 1001 and a till order 1001 are two baskets', async () => {
    const d = await buildDataset(
      [
        line('u', '1001', 'A', 1, 0, { source: 'web' }),
        line('u', '1001', 'B', 1, 0, { source: 'web' }),
        line('v', '1001', 'C', 1, 1, { source: 'till', channel: 'store', storeId: 'S1' }),
        // no source: the channel is the source (as for order lines)
        line('w', '1001', 'D', 1, 2, { channel: 'store', storeId: 'S1' }),
      ],
      lines,
    );
    expect(d.baskets.rows).toBe(3);
    const basket = (o: number) => Array.from(d.baskets.indices.subarray(d.baskets.indptr[o], d.baskets.indptr[o + 1])).map((i) => d.items[i]).sort();
    expect([0, 1, 2].map(basket)).toEqual([['A', 'B'], ['C'], ['D']]);
    expect(d.customerStats.orders[d.customers.indexOf('u')]).toBe(1);
  });

  it("keeps each purchase line's channel for the per-channel popular lists", async () => {
    const d = await buildDataset([line('u', 'o1', 'A', 1, 0, { channel: 'app' }), line('u', 'o2', 'B', 1, 1, { channel: 'store', storeId: 'S1' }), line('u', 'R1', 'A', -1, 2, { channel: 'web' }), line(null, 'o3', 'B', 1, 3)], lines);
    // returns are not purchases; channels as indices into CHANNELS (web 0, app 1, store 2)
    expect(Array.from(d.purchases.channel)).toEqual([1, 2, 0]);
  });

  it('baskets are binary and hold purchases only; CSR rows are column-sorted', async () => {
    const d = await buildDataset(
      [line('u', 'o1', 'Z', 1, 0), line('u', 'o1', 'A', 1, 0), line('u', 'o1', 'Z', 2, 0), line('u', 'C9', 'Z', -1, 1)],
      lines,
    );
    expect(d.baskets.rows).toBe(1);
    expect(Array.from(d.baskets.data)).toEqual([1, 1]);
    const row = Array.from(d.weights.indices);
    expect(row).toEqual([...row].sort((a, b) => a - b));
  });

  it('keeps side data: repeat interval, last time, RFM figures', async () => {
    const d = await buildDataset(
      [line('u', 'o1', 'A', 1, 0), line('u', 'o2', 'A', 1, 10), line('u', 'o3', 'A', 1, 30, { unitPrice: 5 }), line('u', 'C1', 'A', -1, 31)],
      lines,
    );
    expect(d.pairIntervalDays[0]).toBeCloseTo(15, 6);
    expect(d.pairLastTime[0]).toBe(T0 + 30 * DAY);
    expect(d.customerStats.orders[0]).toBe(3);
    // 2 + 2 + 5 − 2 (the return at unit price 2)
    expect(d.customerStats.revenue[0]).toBeCloseTo(7, 9);
    expect(d.customerStats.first[0]).toBe(T0);
  });

  it('a fixed index drops other items and treats other customers as guests', async () => {
    const d = await buildDataset([line('u', 'o1', 'A', 1, 0), line('v', 'o2', 'A', 1, 0), line('u', 'o1', 'Q', 1, 0)], lines, {
      items: ['A'],
      customers: ['u'],
    });
    expect(d.items).toEqual(['A']);
    expect(d.customers).toEqual(['u']);
    expect(d.weights.indices.length).toBe(1);
    expect(d.summary.droppedLines).toBe(1);
    expect(d.baskets.rows).toBe(2);
  });

  it('rejects bad weighting options', async () => {
    await expect(buildDataset([line('u', 'o', 'A', 1, 0)], { ...lines, epsilon: 0 })).rejects.toThrow(/epsilon/);
  });
});

describe('RFM segments from the dataset', () => {
  it('uses distinct purchase orders, net revenue and the last purchase relative to the last line', async () => {
    const { rfmSegments } = await import('../src/train/train-bundle.js');
    const d = await buildDataset(
      [
        line('A', 'a1', 'X', 1, 0),
        line('C', 'c1', 'X', 50, 195),
        line('C', 'c2', 'Y', 50, 196),
        line('D', 'd1', 'X', 1, 197),
        line('D', 'd2', 'Y', 1, 198),
        line('B', 'b1', 'X', 1, 199),
        line('B', 'b9', 'X', -1, 200),
        line('B', 'b2', 'Y', 1, 200),
      ],
      lines,
    );
    const seg = rfmSegments(d);
    const of = (id: string) => seg[d.customers.indexOf(id)];
    // A last bought 200 days before the last line (> 180): lapsed
    expect(of('A')).toBe('lapsed');
    // C has the top revenue (top 20 % of 4 customers = 1): vip
    expect(of('C')).toBe('vip');
    // D: two orders, modest value: repeat
    expect(of('D')).toBe('repeat');
    // B: orders b1 and b2 (the return b9 is no purchase order) → 2 orders, net revenue 2: repeat
    expect(d.customerStats.orders[d.customers.indexOf('B')]).toBe(2);
    expect(of('B')).toBe('repeat');
  });
});
