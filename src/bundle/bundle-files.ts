/**
 * On-disk layout of a model bundle, models/<version>/:
 *
 *   manifest.json            version, created at, data range and counts, params, metrics, timings,
 *                            and every other file with its sha256, size, dtype and shape
 *   model.json               small human-readable parts: items (skus, categories), ALS scalars,
 *                            blend weights, popular lists, customer ids and segments
 *   als-item-factors.f32     items × k, row-major
 *   neighbours-*.{i32,f32}   item-item CF top-K lists (CSR: indptr, indices, scores)
 *   fbt-*.{i32,f32}          frequently-bought-together top-K lists
 *   customer-factors.f32     customers × k (rows of customers without a vector are zero; see model.json hasVector)
 *   customer-*.{i32,f32,f64} purchase histories in CSR: indptr, items, counts, last-time, interval-days
 *
 * Binary files are raw little-endian typed arrays, so a bundle loads back bit-for-bit.
 */
export const MANIFEST = 'manifest.json';
export const MODEL_JSON = 'model.json';

export type ArrayFile = Float32Array | Float64Array | Int32Array | Uint8Array;

export function dtypeOf(a: ArrayFile): 'float32' | 'float64' | 'int32' | 'uint8' {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  return 'uint8';
}

export function fromBytes(buf: Buffer, dtype: string): ArrayFile {
  // copy into an aligned buffer: Buffer slices may be unaligned for typed array views
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  switch (dtype) {
    case 'float32':
      return new Float32Array(ab);
    case 'float64':
      return new Float64Array(ab);
    case 'int32':
      return new Int32Array(ab);
    case 'uint8':
      return new Uint8Array(ab);
    default:
      throw new Error(`unknown dtype ${dtype}`);
  }
}

export function toBytes(a: ArrayFile): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
