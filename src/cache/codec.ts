/**
 * Binary values of the vector cache. Pure functions, no I/O.
 *
 * Packed arrays (item-side blobs):
 *   "ORA1" | u32 header length H | H bytes of JSON {header, arrays: [{name, dtype, offset, length}]}
 *   | zero padding to a multiple of 8 | the arrays, each at an 8-byte aligned offset (relative to the data start)
 *
 * Customer record (one value per customer, read once per request):
 *   bytes 0..3   "ORC1"
 *   4..7         u32 n (items)          8..11  u32 k (vector floats, 0 = no vector)
 *   12           u8 segment (index in SEGMENTS, 255 = none)   13 u8 flags (1 = TIFU vectors follow)   14..15 zero
 *   16..         f64 lastTime[n] | f32 vector[k] | i32 items[n] | f32 counts[n] | f32 intervalDays[n]
 *   with flag 1: f32 tifuOwn[n] | u32 m | i32 tifuItems[m] | f32 tifuScores[m]
 * All little-endian; lastTime first so that every array is naturally aligned.
 */
import type { CustomerRecord } from '../core/bundle.js';
import { InvalidArgumentError } from '../core/errors.js';
import { SEGMENTS, type Segment } from '../core/records.js';

export type PackedArray = Float32Array | Float64Array | Int32Array | Uint8Array;
type Dtype = 'float32' | 'float64' | 'int32' | 'uint8';

const ARRAYS_MAGIC = 0x3141524f; // "ORA1" little-endian
const CUSTOMER_MAGIC = 0x3143524f; // "ORC1"

const dtypeOf = (a: PackedArray): Dtype =>
  a instanceof Float32Array ? 'float32' : a instanceof Float64Array ? 'float64' : a instanceof Int32Array ? 'int32' : 'uint8';

const align8 = (n: number) => (n + 7) & ~7;

/** Packs named typed arrays and a JSON header into one buffer. */
export function packArrays(header: unknown, arrays: Record<string, PackedArray>): Buffer {
  const layout: { name: string; dtype: Dtype; offset: number; length: number }[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    layout.push({ name, dtype: dtypeOf(a), offset, length: a.length });
    offset = align8(offset + a.byteLength);
  }
  const json = Buffer.from(JSON.stringify({ header, arrays: layout }), 'utf8');
  const dataStart = align8(8 + json.length);
  const out = Buffer.alloc(dataStart + offset);
  out.writeUInt32LE(ARRAYS_MAGIC, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  for (const l of layout) {
    const a = arrays[l.name];
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, dataStart + l.offset);
  }
  return out;
}

/**
 * Inverse of packArrays. The arrays are views over `buf` itself when its data is 8-byte aligned, else over
 * one aligned copy; either way the caller must not reuse `buf` for anything else.
 */
export function unpackArrays<H = unknown>(buf: Buffer): { header: H; arrays: Record<string, PackedArray> } {
  if (buf.length < 8 || buf.readUInt32LE(0) !== ARRAYS_MAGIC) throw new InvalidArgumentError('not a packed-arrays cache value');
  const jsonLength = buf.readUInt32LE(4);
  const { header, arrays: layout } = JSON.parse(buf.toString('utf8', 8, 8 + jsonLength)) as {
    header: H;
    arrays: { name: string; dtype: Dtype; offset: number; length: number }[];
  };
  const dataStart = align8(8 + jsonLength);
  // views straight into the buffer when it is 8-byte aligned (one large reply), else one aligned copy
  let ab: ArrayBufferLike;
  let base: number;
  if ((buf.byteOffset + dataStart) % 8 === 0) {
    ab = buf.buffer;
    base = buf.byteOffset + dataStart;
  } else {
    ab = new ArrayBuffer(buf.length - dataStart);
    new Uint8Array(ab).set(buf.subarray(dataStart));
    base = 0;
  }
  const arrays: Record<string, PackedArray> = {};
  for (const l of layout) {
    const o = base + l.offset;
    switch (l.dtype) {
      case 'float32':
        arrays[l.name] = new Float32Array(ab, o, l.length);
        break;
      case 'float64':
        arrays[l.name] = new Float64Array(ab, o, l.length);
        break;
      case 'int32':
        arrays[l.name] = new Int32Array(ab, o, l.length);
        break;
      default:
        arrays[l.name] = new Uint8Array(ab, o, l.length);
    }
  }
  return { header, arrays };
}

/** One customer's record as one cache value. */
export function encodeCustomer(r: CustomerRecord): Buffer {
  const n = r.items.length;
  if (r.counts.length !== n || r.lastTime.length !== n || r.intervalDays.length !== n) {
    throw new InvalidArgumentError(`customer ${r.customerId}: items, counts, lastTime and intervalDays differ in length`);
  }
  const k = r.vector?.length ?? 0;
  const t = r.tifu;
  if (t && (t.own.length !== n || t.nbrItems.length !== t.nbrScores.length)) throw new InvalidArgumentError(`customer ${r.customerId}: TIFU vectors do not match the items`);
  const m = t ? t.nbrItems.length : 0;
  // one aligned ArrayBuffer and typed-array copies: several times faster than Buffer copies per field
  const ab = new ArrayBuffer(16 + 8 * n + 4 * k + 12 * n + (t ? 4 * n + 4 + 8 * m : 0));
  const head = new Uint32Array(ab, 0, 4);
  head[0] = CUSTOMER_MAGIC;
  head[1] = n;
  head[2] = k;
  head[3] = (r.segment === null ? 255 : SEGMENTS.indexOf(r.segment)) | (t ? 1 << 8 : 0);
  let o = 16;
  new Float64Array(ab, o, n).set(r.lastTime);
  o += 8 * n;
  if (r.vector) new Float32Array(ab, o, k).set(r.vector);
  o += 4 * k;
  new Int32Array(ab, o, n).set(r.items);
  o += 4 * n;
  new Float32Array(ab, o, n).set(r.counts);
  o += 4 * n;
  new Float32Array(ab, o, n).set(r.intervalDays);
  o += 4 * n;
  if (t) {
    new Float32Array(ab, o, n).set(t.own);
    o += 4 * n;
    new Uint32Array(ab, o, 1)[0] = m;
    o += 4;
    new Int32Array(ab, o, m).set(t.nbrItems);
    o += 4 * m;
    new Float32Array(ab, o, m).set(t.nbrScores);
  }
  return Buffer.from(ab);
}

/** Inverse of encodeCustomer (the id comes from the key). */
export function decodeCustomer(customerId: string, buf: Buffer): CustomerRecord {
  if (buf.length < 16 || buf.readUInt32LE(0) !== CUSTOMER_MAGIC) {
    throw new InvalidArgumentError(`cache value of customer ${customerId} is not a customer record`);
  }
  const n = buf.readUInt32LE(4);
  const k = buf.readUInt32LE(8);
  const seg = buf.readUInt8(12);
  const hasTifu = (buf.readUInt8(13) & 1) === 1;
  const base = 16 + 20 * n + 4 * k;
  const m = hasTifu && buf.length >= base + 4 * n + 4 ? buf.readUInt32LE(base + 4 * n) : 0;
  if (buf.length !== base + (hasTifu ? 4 * n + 4 + 8 * m : 0)) throw new InvalidArgumentError(`cache value of customer ${customerId} is truncated`);
  const ab = new ArrayBuffer(buf.length - 16);
  new Uint8Array(ab).set(buf.subarray(16));
  let o = 0;
  const lastTime = new Float64Array(ab, o, n);
  o += 8 * n;
  const vector = k > 0 ? new Float32Array(ab, o, k) : null;
  o += 4 * k;
  const items = new Int32Array(ab, o, n);
  o += 4 * n;
  const counts = new Float32Array(ab, o, n);
  o += 4 * n;
  const intervalDays = new Float32Array(ab, o, n);
  o += 4 * n;
  const record: CustomerRecord = { customerId, vector, segment: seg === 255 ? null : ((SEGMENTS[seg] as Segment | undefined) ?? null), items, counts, lastTime, intervalDays };
  if (hasTifu) {
    const own = new Float32Array(ab, o, n);
    o += 4 * n + 4;
    record.tifu = { own, nbrItems: new Int32Array(ab, o, m), nbrScores: new Float32Array(ab, o + 4 * m, m) };
  }
  return record;
}
