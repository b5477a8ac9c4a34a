import { describe, expect, it } from 'vitest';
import { mulberry32, sampleBeta, sampleGamma } from '../src/core/random.js';
import { gridParameters, posteriorPool } from '../src/core/offers/posterior-pool.js';

const moments = (xs: number[]): [number, number] => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)];
};

describe('Gamma and Beta samplers (Marsaglia–Tsang on a seeded uniform source)', () => {
  it.each([0.3, 1, 2.5, 40])('Gamma(%s) has mean and variance k', (k) => {
    const r = mulberry32(7);
    const [m, v] = moments(Array.from({ length: 40_000 }, () => sampleGamma(r, k)));
    expect(Math.abs(m - k) / k).toBeLessThan(0.03);
    expect(Math.abs(v - k) / k).toBeLessThan(0.06);
  });

  it.each([
    [2, 5],
    [0.4, 39.6],
    [60, 940],
  ])('Beta(%s, %s) has the right mean and variance, within [0, 1]', (a, b) => {
    const r = mulberry32(11);
    const xs = Array.from({ length: 40_000 }, () => sampleBeta(r, a, b));
    const [m, v] = moments(xs);
    const mean = a / (a + b);
    const variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    expect(Math.abs(m - mean) / mean).toBeLessThan(0.03);
    expect(Math.abs(v - variance) / variance).toBeLessThan(0.08);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1);
  });

  it('a posterior pool is a pure function of its (gridded) parameters, and the grid moves a posterior by a fraction of its spread', () => {
    const a = posteriorPool(3.2, 96.8, 256);
    expect(Array.from(posteriorPool(3.2, 96.8, 256).draws)).toEqual(Array.from(a.draws));
    for (const [al, be] of [[3.2, 96.8], [0.4, 39.6], [600, 9400]]) {
      const [ga, gb] = gridParameters(al, be);
      const sd = Math.sqrt((al * be) / ((al + be) ** 2 * (al + be + 1)));
      expect(Math.abs(ga / (ga + gb) - al / (al + be))).toBeLessThan(0.25 * sd);
    }
  });
});
