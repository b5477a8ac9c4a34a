/**
 * Validation selection (src/eval/select.ts): the served lists are the best candidates on the validation
 * window, so never below popularity, trend alone or own-items-then-trend there.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../src/core/records.js';
import { mulberry32 } from '../src/core/random.js';
import { selectServed } from '../src/eval/select.js';
import { timeSplit } from '../src/eval/time-split.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

function history(): HistoryLine[] {
  const rnd = mulberry32(11);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 120; c++) {
    const group = c % 3;
    for (let b = 0; b < 3 + Math.floor(rnd() * 5); b++) {
      const day = Math.floor(rnd() * 90);
      const orderId = `o${o++}`;
      for (let l = 0; l < 1 + Math.floor(rnd() * 3); l++) {
        // tastes by group, and items 40–44 selling only lately (a trend)
        const item = day > 70 && rnd() < 0.3 ? 40 + Math.floor(rnd() * 5) : group * 12 + Math.floor(rnd() * 12);
        lines.push({ orderId, customerId: `C${c}`, sku: `S${item}`, time: T0 + day * DAY + c, quantity: 1, unitPrice: 1, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}

describe('served model selection on validation', () => {
  it('picks the best candidate per list: never below popularity, trend or own items then trend', async () => {
    const split = timeSplit(history(), T0 + 75 * DAY);
    const sel = await selectServed(split, { params: { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 } } });
    const d = sel.validation.discovery;
    const a = sel.validation.all;
    const of = (protocol: string, pred: (name: string) => boolean) => sel.candidates.filter((c) => c.protocol === protocol && pred(c.name));
    for (const c of of('discovery', (n) => n === 'popularity' || /^trend\d+$/.test(n))) expect(d['ndcg@10']).toBeGreaterThanOrEqual(c['ndcg@10']);
    for (const c of of('all', (n) => n === 'repeat' || /^repeat>trend\d+$/.test(n))) expect(a['ndcg@10']).toBeGreaterThanOrEqual(c['ndcg@10']);
    // the chosen lists are candidates, and every candidate kind was tried
    expect(sel.candidates.some((c) => c.name === d.name && c.protocol === 'discovery')).toBe(true);
    for (const m of ['als', 'ease', 'item_knn', 'tifu_knn']) expect(sel.candidates.some((c) => c.name === m)).toBe(true);
    expect(['rhythm', 'repeat', 'served']).toContain(sel.spec.buyAgain);
    // with a trend in the data, recency wins over plain popularity for trend alone
    expect(sel.baselines.trend.discovery.trendHalfLifeDays).toBeGreaterThan(0);
  }, 60_000);
});

describe('served model selection at scale: a seeded sample of validation users', () => {
  it('scores at most maxUsers per protocol, the same users every time, and everyone below the cap', async () => {
    const { scoredUsers } = await import('../src/eval/select.js');
    const split = timeSplit(history(), T0 + 75 * DAY);
    const whole = scoredUsers(split, 'all', 1_000_000);
    expect(whole.users.length).toBe(whole.of);
    expect(whole.of).toBeGreaterThan(20);
    const a = scoredUsers(split, 'all', 15);
    const b = scoredUsers(split, 'all', 15);
    expect(a.users.length).toBe(15);
    expect(a.of).toBe(whole.of);
    expect([...a.users]).toEqual([...b.users]);
    expect([...a.users]).toEqual([...a.users].sort((x, y) => x - y));
    for (const u of a.users) expect(whole.users.includes(u)).toBe(true);
    expect(new Set(a.users).size).toBe(15);

    const params = { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 } };
    const capped = await selectServed(split, { params, maxUsers: 15 });
    expect(capped.users.all).toEqual({ of: whole.of, scored: 15 });
    for (const c of capped.candidates) expect(c.users).toBeLessThanOrEqual(15);
    // under the cap the choice is scored on everyone, as before
    const full = await selectServed(split, { params });
    expect(full.users.all).toEqual({ of: whole.of, scored: whole.of });
    for (const c of full.candidates.filter((x) => x.protocol === 'all')) expect(c.users).toBe(whole.of);
  }, 60_000);
});
