/**
 * Compressed sparse rows over typed arrays: the one sparse matrix of the project.
 * Row r's entries are indices[indptr[r] .. indptr[r+1]) with values data[...], columns ascending.
 */
export interface Csr {
  readonly rows: number;
  readonly cols: number;
  readonly indptr: Int32Array | Float64Array;
  readonly indices: Int32Array;
  readonly data: Float32Array;
}

/** Builds a CSR matrix from coordinate triplets; duplicates are summed. */
export function csrFromCoo(
  rows: number,
  cols: number,
  r: ArrayLike<number>,
  c: ArrayLike<number>,
  v: ArrayLike<number>,
): Csr {
  const n = r.length;
  const counts = new Int32Array(rows + 1);
  for (let i = 0; i < n; i++) counts[r[i] + 1]++;
  for (let i = 0; i < rows; i++) counts[i + 1] += counts[i];
  const pos = counts.slice(0, rows);
  const idx = new Int32Array(n);
  const val = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const p = pos[r[i]]++;
    idx[p] = c[i];
    val[p] = v[i];
  }
  // sort each row by column and sum duplicates
  const indptr = new Int32Array(rows + 1);
  let out = 0;
  const order: number[] = [];
  for (let row = 0; row < rows; row++) {
    const s = counts[row];
    const e = counts[row + 1];
    order.length = 0;
    for (let p = s; p < e; p++) order.push(p);
    order.sort((a, b) => idx[a] - idx[b]);
    // read the row before writing it back: the compacted output may overlap positions not yet read
    const cols = order.map((p) => idx[p]);
    const vals = order.map((p) => val[p]);
    let last = -1;
    for (let q = 0; q < cols.length; q++) {
      if (cols[q] === last) {
        val[out - 1] += vals[q];
      } else {
        idx[out] = cols[q];
        val[out] = vals[q];
        out++;
        last = cols[q];
      }
    }
    indptr[row + 1] = out;
  }
  return { rows, cols, indptr, indices: idx.slice(0, out), data: val.slice(0, out) };
}

/** The transpose, in O(nnz). */
export function transpose(m: Csr): Csr {
  const nnz = m.indices.length;
  const indptr = new Int32Array(m.cols + 1);
  for (let i = 0; i < nnz; i++) indptr[m.indices[i] + 1]++;
  for (let i = 0; i < m.cols; i++) indptr[i + 1] += indptr[i];
  const pos = indptr.slice(0, m.cols);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
      const q = pos[m.indices[p]]++;
      indices[q] = r;
      data[q] = m.data[p];
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, data };
}

/** Same structure, values mapped. */
export function mapValues(m: Csr, f: (v: number, row: number, col: number) => number): Csr {
  const data = new Float32Array(m.data.length);
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) data[p] = f(m.data[p], r, m.indices[p]);
  }
  return { ...m, data };
}

/** Number of stored entries. */
export const nnz = (m: Csr): number => m.indices.length;
