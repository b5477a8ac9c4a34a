import { describe, expect, it } from 'vitest';
import { csrFromCoo, transpose } from '../src/core/csr.js';

const rows = (m: ReturnType<typeof csrFromCoo>) =>
  Array.from({ length: m.rows }, (_, r) =>
    Array.from(m.indices.subarray(m.indptr[r], m.indptr[r + 1])).map((c, i) => [c, m.data[m.indptr[r] + i]]),
  );

describe('CSR', () => {
  it('sorts each row by column and sums duplicates, whatever the input order', () => {
    // row 2 arrives in descending column order, row 0 with a duplicate
    const m = csrFromCoo(3, 4, [2, 0, 2, 0, 1, 0], [3, 1, 2, 1, 0, 3], [1, 2, 3, 4, 5, 6]);
    expect(rows(m)).toEqual([
      [[1, 6], [3, 6]],
      [[0, 5]],
      [[2, 3], [3, 1]],
    ]);
  });

  it('transposes', () => {
    const m = csrFromCoo(2, 3, [0, 0, 1], [2, 0, 2], [1, 2, 3]);
    expect(rows(transpose(m))).toEqual([[[0, 2]], [], [[0, 1], [1, 3]]]);
  });
});
