/**
 * bench:soak's verdict (scripts/soak-stability.ts): p99 compared between the first and the last
 * third of the intervals per series, with a ratio and an absolute slack; the rate must hold and no
 * interval may have errors.
 */
import { describe, expect, it } from 'vitest';
import { stabilityVerdict } from '../scripts/soak-stability.js';

const run = (sf: number[], ev: number[] = sf.map(() => 100), rps: number[] = sf.map(() => 700), errors: number[] = sf.map(() => 0)) =>
  sf.map((s, i) => ({ rps: rps[i], storefrontP99: s, lookupP99: 40, eventsP99: ev[i], errors: errors[i] }));

describe('stabilityVerdict', () => {
  it('a flat run with noise is stable; one slow interval in the middle does not fail it', () => {
    const v = stabilityVerdict(run([23, 25, 22, 60, 24, 26, 23, 25, 24, 22]), 696);
    expect(v.stable).toBe(true);
    expect(v.reasons).toEqual([]);
    expect(v.drift.storefrontP99.first).toBe(23);
  });

  it('the session-5 drift (storefront 23 → 165 ms, events 170 → 710 ms) is not stable, each series named', () => {
    const v = stabilityVerdict(run([23, 30, 41, 55, 70, 88, 104, 120, 140, 165], [170, 200, 260, 300, 380, 420, 500, 560, 640, 710]), 696);
    expect(v.stable).toBe(false);
    expect(v.reasons.join('; ')).toMatch(/storefrontP99 30 → 140 ms/);
    expect(v.reasons.join('; ')).toMatch(/eventsP99 200 → 640 ms/);
  });

  it('a small absolute rise is noise (slack), a rate that falls behind and errors are not', () => {
    expect(stabilityVerdict(run([3, 3, 3, 3, 3, 6, 6, 6, 6]), 696).stable).toBe(true);
    const slow = stabilityVerdict(run([20, 20, 20, 20, 20, 20], undefined, [700, 700, 700, 700, 700, 631]), 696);
    expect(slow.stable).toBe(false);
    expect(slow.reasons).toEqual(['1 interval(s) below 97 % of 696 req/s (lowest 631)']);
    const errs = stabilityVerdict(run([20, 20, 20, 20, 20, 20], undefined, undefined, [0, 0, 2, 0, 0, 1]), 696);
    expect(errs.reasons).toEqual(['3 error(s)']);
  });
});
