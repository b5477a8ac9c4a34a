/**
 * Byte-level reader of Online Retail CSV (both releases) for the import pipeline. It reads the
 * decompressed chunks directly: fields are offsets into the chunk, and a row in the common form
 * (no quote, the header's column count, ASCII codes, canonical numbers, a readable date) becomes
 * an order line already encoded for COPY (EncodedLine) without per-row strings or objects. Strings
 * are made only when a field's bytes differ from the last ones seen (invoice, date, customer: rows
 * of one invoice are consecutive; a stock code's description rarely changes).
 *
 * Every other row (quoted fields, a wrong column count, anything rejected or skipped, numbers
 * JS would print differently from the file) takes the string route of readDataFile for that row,
 * with the same parser state (UciRows), so rows, rejects (row, reason, raw text), skips, line
 * numbers within orders, identifiers and batch boundaries are exactly readDataFile's.
 */
import type { Identifier, OrderLine } from '../core/records.js';
import { csvField, writeInt, type EncodedLine, type PlanBuilder, type ProductSlot } from '../store/import-plan.js';
import { OpenRecord, splitCsvRecord } from './csv-records.js';
import { isNonProduct } from './non-product.js';
import type { ByteLines } from './open-text.js';
import { isCancellation, type UciRows } from './order-rows.js';
import { parseTime } from './parse-time.js';
import type { BatchBase, ReadCounts } from './read-counts.js';

/** A reader batch of Online Retail order lines (see UciLines). */
export type UciLineBatch = BatchBase & { kind: 'uci-lines'; lines: UciLines };

/** Order lines of a reader batch: encoded ones, and OrderLine objects for rows of the string route. */
export class UciLines {
  length = 0;
  private slow: (OrderLine | null)[] = [];
  private orderIds: string[] = [];
  private identifiers: Identifier[][] = [];
  private skus: SkuEntry[] = [];
  private titles: (string | null)[] = [];
  private times: Float64Array;
  private lineNos: Float64Array;
  private quantities: Float64Array;
  private prices: Float64Array;
  /** End of each line's bytes in `copy` (a line starts where the previous ends). */
  private ends: Int32Array;
  private copy: Uint8Array;
  private copyLen = 0;
  private readonly line: EncodedLine;

  /** `spare`: where `release` puts this object back for the reader to fill again. */
  constructor(capacity: number, private readonly spare: UciLines[]) {
    this.times = new Float64Array(capacity);
    this.lineNos = new Float64Array(capacity);
    this.quantities = new Float64Array(capacity);
    this.prices = new Float64Array(capacity);
    this.ends = new Int32Array(capacity);
    this.copy = new Uint8Array(capacity * 40);
    this.line = { orderId: '', time: 0, identifiers: [], lineNo: 0, sku: '', title: null, quantity: 0, unitPrice: 0, product: NO_SKU, copy: this.copy, copyStart: 0, copyEnd: 0 };
  }

  /**
   * Hands the lines back to the reader once added to a plan (optional): it refills this object
   * instead of allocating another (less work for the garbage collector).
   */
  release(): void {
    this.length = 0;
    this.copyLen = 0;
    this.spare.push(this);
  }

  /** Adds line i to a plan. */
  addTo(b: PlanBuilder, i: number): void {
    const s = this.slow[i];
    if (s !== null) {
      b.add(s);
      return;
    }
    const l = this.line;
    l.orderId = this.orderIds[i];
    l.time = this.times[i];
    l.identifiers = this.identifiers[i];
    l.lineNo = this.lineNos[i];
    const sku = this.skus[i];
    l.sku = sku.sku;
    l.product = sku;
    l.title = this.titles[i];
    l.quantity = this.quantities[i];
    l.unitPrice = this.prices[i];
    l.copy = this.copy;
    l.copyStart = i === 0 ? 0 : this.ends[i - 1];
    l.copyEnd = this.ends[i];
    b.addEncoded(l);
  }

  /** A line of the string route. */
  pushLine(l: OrderLine): void {
    const i = this.next();
    this.slow[i] = l;
    // placeholders keep the arrays dense
    this.orderIds[i] = '';
    this.identifiers[i] = l.identifiers;
    this.skus[i] = NO_SKU;
    this.titles[i] = null;
    this.ends[i] = this.copyLen;
  }

  /**
   * An encoded line: its COPY row after the order id is `lineNo,sku,quantity,unitPrice,\n`, with
   * the quantity and price bytes (src[qs, qe), src[ps, pe)) copied as they are, canonical already.
   */
  pushEncoded(
    orderId: string, time: number, identifiers: Identifier[], lineNo: number, sku: SkuEntry, field: Uint8Array, fieldAt: number,
    title: string | null, quantity: number, unitPrice: number, src: Uint8Array, qs: number, qe: number, minus: boolean, ps: number, pe: number,
  ): void {
    const i = this.next();
    this.slow[i] = null;
    this.orderIds[i] = orderId;
    this.times[i] = time;
    this.identifiers[i] = identifiers;
    this.lineNos[i] = lineNo;
    this.skus[i] = sku;
    this.titles[i] = title;
    this.quantities[i] = quantity;
    this.prices[i] = unitPrice;
    const fieldLen = field[fieldAt];
    let at = this.copyLen;
    if (at + fieldLen + (qe - qs) + (pe - ps) + 24 > this.copy.length) {
      const bigger = new Uint8Array(Math.max(this.copy.length * 2, at + fieldLen + (qe - qs) + (pe - ps) + 24));
      bigger.set(this.copy.subarray(0, at));
      this.copy = bigger;
    }
    const out = this.copy;
    at = writeInt(out, at, lineNo);
    out[at++] = 44; // ,
    for (let j = fieldAt + 1; j <= fieldAt + fieldLen; j++) out[at++] = field[j];
    out[at++] = 44;
    if (minus) out[at++] = 45; // -
    for (let j = qs; j < qe; j++) out[at++] = src[j];
    out[at++] = 44;
    for (let j = ps; j < pe; j++) out[at++] = src[j];
    out[at++] = 44; // no cancels reference
    out[at++] = 10;
    this.copyLen = at;
    this.ends[i] = at;
  }

  private next(): number {
    const i = this.length++;
    if (i === this.ends.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.times = grow(this.times);
      this.lineNos = grow(this.lineNos);
      this.quantities = grow(this.quantities);
      this.prices = grow(this.prices);
      this.ends = grow(this.ends);
    }
    return i;
  }
}

/** What a stock code cell stands for, its last description's title, and its product in the plan. */
interface SkuEntry extends ProductSlot {
  hash: number;
  /** Trimmed, upper-cased ('' → missing). */
  sku: string;
  nonProduct: boolean;
  title: string | null;
}

const NO_SKU: SkuEntry = { hash: 0, sku: '', nonProduct: false, title: null, batch: 0, state: null };

/*
 * Per stock code, one row of bytes (a few cache lines: the table is read at random once per file
 * row): the cell's bytes, the sku's COPY field, and its last description's bytes (none: 255).
 */
const KEY_MAX = 23;
const FIELD_AT = 1 + KEY_MAX;
const FIELD_MAX = 24;
const DESC_AT = FIELD_AT + 1 + FIELD_MAX;
const DESC_MAX = 78;
const ROW = DESC_AT + 1 + DESC_MAX; // 128
const NO_DESC = 255;
const MAX_SKUS = 1 << 16;

/** Stock code cells by their bytes (open addressing): the row's sku without a string. */
class SkuTable {
  private slots = new Int32Array(1 << 13).fill(-1);
  private hashes = new Int32Array(1 << 13);
  /** Rows of bytes by entry (see above). */
  rows = new Uint8Array(ROW * 1024);
  private entries: SkuEntry[] = [];

  /**
   * The entry number of the cell src[s, e), made on first sight; -1 when the cell is not ASCII
   * or too long to keep (such rows take the string route).
   */
  find(src: Buffer, s: number, e: number): number {
    const n = e - s;
    let h = 0x811c9dc5 | 0;
    for (let i = s; i < e; i++) h = Math.imul(h ^ src[i], 16777619);
    const { slots, hashes, rows } = this;
    const mask = slots.length - 1;
    let j = h & mask;
    for (let k = slots[j]; k >= 0; k = slots[j]) {
      if (hashes[j] === h && rows[k * ROW] === n) {
        const at = k * ROW + 1;
        let i = 0;
        while (i < n && rows[at + i] === src[s + i]) i++;
        if (i === n) return k;
      }
      j = (j + 1) & mask;
    }
    if (n > KEY_MAX || !isAscii(src, s, e)) return -1;
    const sku = src.toString('latin1', s, e).trim().toUpperCase();
    const field = Buffer.from(csvField(sku));
    if (field.length > FIELD_MAX) return -1;
    // constant memory whatever the number of codes in a file: start again when full
    if (this.entries.length >= MAX_SKUS) {
      this.entries = [];
      this.slots.fill(-1);
      return this.find(src, s, e);
    }
    const k = this.entries.length;
    this.entries.push({ hash: h, sku, nonProduct: sku !== '' && isNonProduct(sku), title: null, batch: 0, state: null });
    if ((k + 1) * ROW > this.rows.length) {
      const bigger = new Uint8Array(this.rows.length * 2);
      bigger.set(this.rows);
      this.rows = bigger;
    }
    const r = this.rows;
    const at = k * ROW;
    r[at] = n;
    for (let i = 0; i < n; i++) r[at + 1 + i] = src[s + i];
    r[at + FIELD_AT] = field.length;
    r.set(field, at + FIELD_AT + 1);
    r[at + DESC_AT] = NO_DESC;
    if ((k + 1) * 2 > slots.length) this.rehash();
    else {
      slots[j] = k;
      hashes[j] = h;
    }
    return k;
  }

  entry(k: number): SkuEntry {
    return this.entries[k];
  }

  /** Entry k's product title from the description cell src[s, e): decoded only when the cell's bytes change. */
  title(k: number, src: Buffer, s: number, e: number): string | null {
    const en = this.entries[k];
    const r = this.rows;
    const at = k * ROW + DESC_AT;
    const n = e - s;
    if (r[at] === n) {
      let i = 0;
      while (i < n && r[at + 1 + i] === src[s + i]) i++;
      if (i === n) return en.title;
    }
    const d = src.toString('utf8', s, e).trim();
    en.title = d === '' ? null : d;
    if (n <= DESC_MAX) {
      r[at] = n;
      for (let i = 0; i < n; i++) r[at + 1 + i] = src[s + i];
    } else r[at] = NO_DESC;
    return en.title;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const hashes = new Int32Array(slots.length);
    const mask = slots.length - 1;
    this.entries.forEach((en, k) => {
      let j = en.hash & mask;
      while (slots[j] >= 0) j = (j + 1) & mask;
      slots[j] = k;
      hashes[j] = en.hash;
    });
    this.slots = slots;
    this.hashes = hashes;
  }
}

/** Offset of entry k's COPY field (its length byte, then the bytes) in SkuTable.rows. */
const fieldAt = (k: number): number => k * ROW + FIELD_AT;

/** The last bytes seen in one column and what they mean. */
class LastField<T> {
  private bytes = new Uint8Array(64);
  private len = -1;
  constructor(public value: T) {}

  same(src: Uint8Array, s: number, e: number): boolean {
    const n = e - s;
    if (n !== this.len) return false;
    const b = this.bytes;
    for (let i = 0; i < n; i++) if (b[i] !== src[s + i]) return false;
    return true;
  }

  set(src: Uint8Array, s: number, e: number, value: T): T {
    if (e - s > this.bytes.length) this.bytes = new Uint8Array(2 * (e - s));
    const b = this.bytes;
    for (let i = s; i < e; i++) b[i - s] = src[i];
    this.len = e - s;
    this.value = value;
    return value;
  }
}

function isAscii(src: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (src[i] > 0x7f) return false;
  return true;
}

/** ASCII text of src[s, e) (the same string as its UTF-8 decoding), or null when not ASCII. */
const asciiText = (src: Buffer, s: number, e: number): string | null => (isAscii(src, s, e) ? src.toString('latin1', s, e) : null);

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Reads lines of a file's chunks into UciLines (see the module comment). */
class UciByteReader {
  private lines: UciLines;
  /** The file line of the next line. */
  private lineNo: number;
  /** A quoted record whose line breaks are not all read yet (as the string route keeps it). */
  private readonly open = new OpenRecord();
  /** Positions of the commas of the current line. */
  private readonly commas: Int32Array;
  private readonly invoice = new LastField<string>('');
  private readonly date = new LastField<number>(NaN);
  private readonly customer = new LastField<Identifier[] | null>(null);
  private readonly skus = new SkuTable();
  private readonly spare: UciLines[] = [];

  constructor(
    private readonly rows: UciRows,
    private readonly counts: ReadCounts,
    private readonly batchSize: number,
    firstLine: number,
  ) {
    this.lineNo = firstLine;
    this.lines = new UciLines(Math.min(batchSize, 4096), this.spare);
    this.commas = new Int32Array(Math.max(1, rows.width - 1));
  }

  get full(): boolean {
    return this.lines.length >= this.batchSize;
  }

  take(): UciLines {
    const l = this.lines;
    this.lines = this.spare.pop() ?? new UciLines(Math.min(this.batchSize, 4096), this.spare);
    return l;
  }

  /**
   * Reads the lines of a chunk from `at` (a line start) until its end or a full batch; returns
   * where to go on (past the end: bytes.length + 1).
   */
  scan(bytes: Buffer, at: number): number {
    const end = bytes.length;
    const commas = this.commas;
    const need = this.rows.width - 1;
    let p = at;
    while (p <= end) {
      let n = 0;
      let quoted = false;
      let i = p;
      for (; i < end; i++) {
        const c = bytes[i];
        if (c === 44) {
          if (n < need) commas[n] = i;
          n++;
        } else if (c === 10) break;
        else if (c === 34) quoted = true;
      }
      const row = this.lineNo++;
      // the line without its carriage return
      const le = i > p && bytes[i - 1] === 13 ? i - 1 : i;
      if (this.open.text !== null) {
        const record = this.open.add(bytes.toString('utf8', p, le));
        if (record !== null) this.slowRow(record, this.open.row);
      } else if (le > p) {
        if (quoted) {
          // a whole record, or the start of one whose quoted field spans line breaks
          const line = bytes.toString('utf8', p, le);
          if (!this.open.opens(line, row)) this.slowRow(line, row);
        } else if (n !== need || !this.fastRow(bytes, p, le)) this.slowRow(bytes.toString('utf8', p, le), row);
      }
      p = i + 1;
      if (this.full) break;
    }
    return p;
  }

  /** The end of the file: an unterminated quoted record is one record as far as it goes. */
  finish(): void {
    const rest = this.open.take();
    if (rest !== null) this.slowRow(rest, this.open.row);
  }

  /** A row by the string route. */
  private slowRow(raw: string, row: number): void {
    const r = this.rows.parse(splitCsvRecord(raw));
    if (this.counts.count(r, row, raw)) this.lines.pushLine(r);
  }

  private start(col: number, p: number): number {
    return col === 0 ? p : this.commas[col - 1] + 1;
  }

  private end(col: number, le: number): number {
    return col === this.rows.width - 1 ? le : this.commas[col];
  }

  /** A row of the common form as an encoded line; false (nothing changed) for any other row. */
  private fastRow(b: Buffer, p: number, le: number): boolean {
    const r = this.rows;
    let s = this.start(r.cInv, p);
    let e = this.end(r.cInv, le);
    const orderId = this.invoice.same(b, s, e) ? this.invoice.value : this.invoice.set(b, s, e, asciiText(b, s, e)?.trim() ?? '');
    if (orderId === '') return false;

    const k = this.skus.find(b, this.start(r.cSku, p), this.end(r.cSku, le));
    if (k < 0) return false;
    const sku = this.skus.entry(k);
    if (sku.sku === '' || sku.nonProduct) return false;

    // quantity: an integer without sign or leading zero, 15 digits at most, not 0
    const qs = this.start(r.cQty, p);
    const qe = this.end(r.cQty, le);
    const qNeg = b[qs] === 45;
    const qd = qNeg ? qs + 1 : qs;
    if (qe - qd < 1 || qe - qd > 15 || b[qd] === 48) return false;
    let quantity = 0;
    for (let i = qd; i < qe; i++) {
      const c = b[i];
      if (!isDigit(c)) return false;
      quantity = quantity * 10 + (c - 48);
    }
    if (qNeg) quantity = -quantity;

    // price: as JS prints it (no leading zero, no trailing zero after the point, no exponent), 15 digits at most
    const ps = this.start(r.cPrice, p);
    const pe = this.end(r.cPrice, le);
    const pNeg = b[ps] === 45;
    let i = pNeg ? ps + 1 : ps;
    const intStart = i;
    let digits = 0;
    while (i < pe && isDigit(b[i])) digits = digits * 10 + (b[i++] - 48);
    if (i === intStart || i - intStart > 9 || (i - intStart > 1 && b[intStart] === 48)) return false;
    let scale = 1;
    if (i < pe) {
      if (b[i] !== 46 || pe - i < 2 || pe - i > 7 || b[pe - 1] === 48) return false;
      for (i++; i < pe; i++) {
        if (!isDigit(b[i])) return false;
        digits = digits * 10 + (b[i] - 48);
        scale *= 10;
      }
    }
    if (pNeg && digits === 0) return false; // -0 prints as 0
    // exact: both integers are below 2^53, and the division rounds correctly, as Number() does
    const unitPrice = (pNeg ? -digits : digits) / scale;

    s = this.start(r.cDate, p);
    e = this.end(r.cDate, le);
    const time = this.date.same(b, s, e) ? this.date.value : this.date.set(b, s, e, parseTime(asciiText(b, s, e) ?? ''));
    if (Number.isNaN(time)) return false;

    s = this.start(r.cCust, p);
    e = this.end(r.cCust, le);
    let ids = this.customer.value;
    if (!this.customer.same(b, s, e)) {
      const text = asciiText(b, s, e);
      ids = this.customer.set(b, s, e, text === null ? null : r.identifiers(text.trim()));
    }
    if (ids === null) return false;

    const title = r.cDesc >= 0 ? this.skus.title(k, b, this.start(r.cDesc, p), this.end(r.cDesc, le)) : null;
    const lineNo = r.counter.next(orderId);
    const minus = quantity > 0 && isCancellation(orderId);
    this.lines.pushEncoded(orderId, time, ids, lineNo, sku, this.skus.rows, fieldAt(k), title, minus ? -quantity : quantity, unitPrice, b, qs, qe, minus, ps, pe);
    this.counts.rowsRead++;
    return true;
  }
}

/**
 * The order lines of an Online Retail CSV file after its header, read from `first` (the rest of
 * the header's chunk, or null) and `rest`, in batches of `batchSize` lines as readDataFile makes them.
 */
export async function* uciByteBatches(
  rows: UciRows, counts: ReadCounts, batchSize: number, first: ByteLines | null, firstLine: number, rest: AsyncIterable<ByteLines>,
): AsyncGenerator<UciLineBatch> {
  const reader = new UciByteReader(rows, counts, batchSize, firstLine);
  const take = (): UciLineBatch => ({ ...counts.take(), kind: 'uci-lines', lines: reader.take() });
  async function* chunks(): AsyncGenerator<ByteLines> {
    if (first !== null) yield first;
    yield* rest;
  }
  for await (const { bytes, bytesRead } of chunks()) {
    counts.bytesRead = bytesRead;
    for (let p = 0; p <= bytes.length; ) {
      p = reader.scan(bytes, p);
      if (reader.full) yield take();
    }
    // as readDataFile: bounded memory even when most rows are rejected or skipped
    if (counts.rowsRead >= 4 * batchSize) yield take();
  }
  reader.finish();
  if (reader.full) yield take();
  if (counts.rowsRead >= 4 * batchSize) yield take();
  yield take();
}
