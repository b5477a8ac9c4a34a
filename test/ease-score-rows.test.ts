/**
 * EASE's customer scores summed several rows of B at a time (src/models/ease.ts scoreRowsInto): every score the same
 * f64 additions in the same order as one row at a time, so the lists and figures do not move by a bit.
 */
import { describe, expect, it } from 'vitest';
import { EaseRecommender, scoreRowsInto } from '../src/models/ease.js';
import type { Csr } from '../src/core/csr.js';

/** The one-row-at-a-time loop (what scoreInto was). */
function naive(b: Float32Array, n: number, items: ArrayLike<number>, out: Float64Array): void {
  for (let q = 0; q < items.length; q++) {
    const o = items[q] * n;
    for (let j = 0; j < n; j++) out[j] += b[o + j];
  }
}

const bits = (a: Float64Array) => Array.from(new Uint32Array(a.buffer));

describe('scoreRowsInto', () => {
  it('sums rows left to right, bit for bit the one-row loop, for every count of rows (8-, 4- and 1-row passes)', () => {
    const n = 37;
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    // rows where the order of the additions shows: huge values beside ones (1 is lost against 1e16, 2 is not)
    const b = new Float32Array(24 * n);
    for (let i = 0; i < 24; i++) for (let j = 0; j < n; j++) b[i * n + j] = (i + j) % 5 === 0 ? (i % 2 ? -1e16 : 1e16) : rnd() < 0.5 ? 1 : rnd() * 3 - 1;
    for (let len = 0; len <= 23; len++) {
      const items = Int32Array.from({ length: len }, (_, q) => (q * 7 + len) % 24);
      const start = Float64Array.from({ length: n }, (_, j) => (j % 3) * 0.1);
      const want = start.slice();
      naive(b, n, items, want);
      const got = start.slice();
      scoreRowsInto(b, n, items, got);
      expect(bits(got), `rows ${len}`).toEqual(bits(want));
    }
    // the data can tell the order apart: the sum reassociated in pairs differs from the left-to-right one
    const rows = Int32Array.from([0, 5, 1, 2, 3, 4, 6, 7]);
    const pairwise = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < 8; q += 2) s += b[rows[q] * n + j] + b[rows[q + 1] * n + j];
      pairwise[j] = s;
    }
    const ltr = new Float64Array(n);
    scoreRowsInto(b, n, rows, ltr);
    expect(bits(ltr)).not.toEqual(bits(pairwise));
  });

  it("EASE's lists are those of the one-row sums (recommend, with and without exclusions)", async () => {
    // 30 customers × 12 items, each with 1..11 items: every pass length is met
    const rows = 30;
    const cols = 12;
    const indptr = [0];
    const indices: number[] = [];
    for (let u = 0; u < rows; u++) {
      for (let j = 0; j < cols; j++) if ((u * 5 + j * 3) % 7 < 1 + (u % 6)) indices.push(j);
      indptr.push(indices.length);
    }
    const counts: Csr = { rows, cols, indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), data: new Float32Array(indices.length).fill(1) };
    const m = new EaseRecommender({ lambda: 2 });
    await m.fit({ counts, weights: counts } as never);
    const users = Int32Array.from({ length: rows }, (_, u) => u);
    for (const options of [undefined, { exclude: counts }]) {
      const got = await m.recommend(users, 5, options);
      for (let u = 0; u < rows; u++) {
        const s = new Float64Array(cols);
        naive(m.b, cols, counts.indices.subarray(counts.indptr[u], counts.indptr[u + 1]), s);
        if (options) for (let p = counts.indptr[u]; p < counts.indptr[u + 1]; p++) s[counts.indices[p]] = -Infinity;
        const order = Array.from({ length: cols }, (_, j) => j)
          .filter((j) => s[j] > -Infinity)
          .sort((a, c) => s[c] - s[a] || a - c)
          .slice(0, 5);
        expect(Array.from(got.ids.subarray(u * 5, u * 5 + order.length))).toEqual(order);
        expect(Array.from(got.scores.subarray(u * 5, u * 5 + order.length))).toEqual(order.map((j) => Math.fround(s[j])));
      }
    }
  });
});
