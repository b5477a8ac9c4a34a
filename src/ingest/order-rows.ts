/**
 * Row → OrderLine conversion for the two order formats (Online Retail / Online Retail II,
 * and the canonical multi-channel format). Each parser returns the line, or the reason the
 * row was rejected or skipped. Parsers are stateful only to number lines within orders.
 */
import { detachString } from '../core/detach-string.js';
import { orderKey } from '../store/import-plan.js';
import { classifyIdentifier, type IdentifierDrop } from '../core/identity.js';
import { CHANNELS, IDENTIFIER_KINDS, type Channel, type Identifier, type OrderLine } from '../core/records.js';
import type { DetectedFormat } from './detect-format.js';
import { isNonProduct } from './non-product.js';
import { parseTime } from './parse-time.js';
import { idTooLong, type RejectReason, type SkipReason } from './reject-reasons.js';
import { checkPrice, checkQuantity, parseLineNo, parsePrice, parseQuantity, strictDecimalAt } from './strict-numbers.js';

export type RowResult = OrderLine | RejectReason | SkipReason;
export type OrderRowParser = (fields: string[]) => RowResult;

export interface OrderParseOptions {
  /** Country calling code for national phone numbers (default "44"). */
  defaultCountryCode?: string;
  /** Called for each identifier dropped from a row that is kept (unparseable, or a placeholder). */
  onDroppedIdentifier?: (reason: IdentifierDrop) => void;
  /** The system the file's order ids belong to (default: the row's channel). */
  source?: string;
  /**
   * Titles copied out of the file's text (detachString), so that a title kept (a catalogue, deferred product
   * updates) does not keep its chunk of the file alive (default true). False where every line's title is dropped
   * or copied anyway before long: the import's reader thread, whose plans reach the writer as copies (postMessage).
   */
  detachTitles?: boolean;
}

/**
 * Numbers lines within their order (1-based: the position of the row among its order's rows in
 * the file), however far apart the rows are: every order of the file is remembered (about 100
 * bytes per order; a file that gives line numbers, like the canonical line_no, needs none).
 */
export class LineCounter {
  private readonly seen = new Map<string, number>();
  private lastSource = '';
  private lastId = '';
  private lastN = 0;
  /** The next line number of the order `orderId` of `source`. */
  next(source: string, orderId: string): number {
    if (orderId === this.lastId && source === this.lastSource) return ++this.lastN;
    if (this.lastId !== '') this.seen.set(orderKey(this.lastSource, this.lastId), this.lastN);
    const n = (this.seen.get(orderKey(source, orderId)) ?? 0) + 1;
    this.lastSource = source;
    this.lastId = orderId;
    this.lastN = n;
    return n;
  }
}

const col = (fmt: DetectedFormat, ...names: string[]): number => {
  for (const n of names) {
    const i = fmt.columns.get(n);
    if (i !== undefined) return i;
  }
  return -1;
};

const UCI_CUSTOMER = /^(\d+)(?:\.0*)?$/;

/**
 * Online Retail (InvoiceNo…UnitPrice,CustomerID) and Online Retail II (Invoice…Price,Customer ID):
 * channel web; source web unless the import names one.
 */
export class UciRows {
  readonly width: number;
  readonly cInv: number;
  readonly cSku: number;
  readonly cDesc: number;
  readonly cQty: number;
  readonly cDate: number;
  readonly cPrice: number;
  readonly cCust: number;
  readonly counter = new LineCounter();
  readonly source: string;
  /** OrderParseOptions.detachTitles. */
  readonly detachTitles: boolean;
  private readonly accounts = new Map<string, Identifier[]>();

  constructor(fmt: DetectedFormat, options: OrderParseOptions = {}) {
    this.source = options.source ?? 'web';
    this.detachTitles = options.detachTitles ?? true;
    this.width = fmt.header.length;
    this.cInv = col(fmt, 'invoiceno', 'invoice');
    this.cSku = col(fmt, 'stockcode');
    this.cDesc = col(fmt, 'description');
    this.cQty = col(fmt, 'quantity');
    this.cDate = col(fmt, 'invoicedate');
    this.cPrice = col(fmt, 'unitprice', 'price');
    this.cCust = col(fmt, 'customerid');
  }

  /** The last CustomerID cell and its answer: the lines of an order repeat it. */
  private lastCust = '';
  private lastIds: Identifier[] | null = [];

  /** A trimmed description cell as a line's title: null when empty, copied out of the text unless told not to. */
  protected title(desc: string): string | null {
    return desc === '' ? null : this.detachTitles ? detachString(desc) : desc;
  }

  /** The buyer of a trimmed CustomerID cell: none for a guest ('' or NaN), null when malformed. */
  identifiers(rawCust: string): Identifier[] | null {
    if (rawCust === this.lastCust) return this.lastIds;
    const ids = this.lookup(rawCust);
    this.lastCust = rawCust;
    this.lastIds = ids;
    return ids;
  }

  private lookup(rawCust: string): Identifier[] | null {
    if (rawCust === '' || rawCust.toLowerCase() === 'nan') return [];
    let ids = this.accounts.get(rawCust);
    if (ids === undefined) {
      const m = UCI_CUSTOMER.exec(rawCust);
      if (!m) return null;
      ids = [{ kind: 'account', value: m[1] }];
      if (this.accounts.size > 100_000) this.accounts.clear();
      this.accounts.set(rawCust, ids);
    }
    return ids;
  }

  readonly parse: OrderRowParser = (f) => {
    if (f.length !== this.width) return 'malformed_row';
    const orderId = detachString(f[this.cInv].trim());
    if (orderId === '') return 'missing_order_id';
    if (idTooLong(orderId)) return 'too_long';
    const lineNo = this.counter.next(this.source, orderId);
    const sku = detachString(f[this.cSku].trim().toUpperCase());
    if (sku === '') return 'missing_sku';
    if (idTooLong(sku)) return 'too_long';
    if (isNonProduct(sku)) return 'non_product';
    let quantity = parseQuantity(f[this.cQty]);
    if (typeof quantity === 'string') return quantity;
    const unitPrice = parsePrice(f[this.cPrice]);
    if (typeof unitPrice === 'string') return unitPrice;
    const time = parseTime(f[this.cDate]);
    if (Number.isNaN(time)) return 'bad_date';
    const rawCust = f[this.cCust].trim();
    if (idTooLong(rawCust)) return 'too_long';
    const identifiers = this.identifiers(rawCust);
    if (identifiers === null) return 'bad_identifier';
    if (isCancellation(orderId) && quantity > 0) quantity = -quantity;
    const desc = this.cDesc >= 0 ? f[this.cDesc].trim() : '';
    return uciLine(orderId, this.source, time, identifiers, sku, this.title(desc), quantity, unitPrice, lineNo);
  };
}

/**
 * UciRows.parseLine: a line without a double quote parsed where it is, as `parse(line.split(','))` would
 * parse it (same result, same line numbering), but with only the fields kept cut out of the line: numbers read
 * in place (strictDecimalAt), and the invoice, date and customer cells compared in place with the previous
 * line's (an order's lines repeat them), so that a line costs its sku and description strings, not an array of
 * every cell (the country is never cut).
 */
export class UciLines extends UciRows {
  /** Where field i starts in the line being parsed (starts[width]: one past its end, as if a separator followed). */
  private readonly starts: Int32Array;
  // the previous line's cells (untrimmed) and what they gave; null: none yet
  private lastInvRaw: string | null = null;
  private lastOrderId = '';
  private lastDateRaw: string | null = null;
  private lastTime = NaN;
  private lastCustRaw: string | null = null;
  private lastCustResult: Identifier[] | null | 'too_long' = null;

  constructor(fmt: DetectedFormat, options: OrderParseOptions = {}) {
    super(fmt, options);
    this.starts = new Int32Array(this.width + 1);
  }

  /** Whether field i of `t` is `cell` (the untrimmed text of a field of an earlier line). */
  private same(t: string, i: number, cell: string | null): boolean {
    if (cell === null) return false;
    const a = this.starts[i];
    return this.starts[i + 1] - 1 - a === cell.length && t.startsWith(cell, a);
  }

  private cut(t: string, i: number): string {
    return t.slice(this.starts[i], this.starts[i + 1] - 1);
  }

  /** The row of a CSV line holding no double quote (anything else: `parse` of its fields). */
  readonly parseLine = (t: string): RowResult => {
    const w = this.width;
    const starts = this.starts;
    let at = 0;
    for (let i = 1; i < w; i++) {
      const c = t.indexOf(',', at);
      if (c < 0) return 'malformed_row';
      starts[i] = at = c + 1;
    }
    if (t.indexOf(',', at) >= 0) return 'malformed_row';
    starts[w] = t.length + 1;
    let orderId: string;
    if (this.same(t, this.cInv, this.lastInvRaw)) orderId = this.lastOrderId;
    else {
      const raw = this.cut(t, this.cInv);
      orderId = detachString(raw.trim());
      this.lastInvRaw = raw;
      this.lastOrderId = orderId;
    }
    if (orderId === '') return 'missing_order_id';
    if (idTooLong(orderId)) return 'too_long';
    const lineNo = this.counter.next(this.source, orderId);
    const sku = detachString(this.cut(t, this.cSku).trim().toUpperCase());
    if (sku === '') return 'missing_sku';
    if (idTooLong(sku)) return 'too_long';
    if (isNonProduct(sku)) return 'non_product';
    let quantity = checkQuantity(strictDecimalAt(t, starts[this.cQty], starts[this.cQty + 1] - 1));
    if (typeof quantity === 'string') return quantity;
    const unitPrice = checkPrice(strictDecimalAt(t, starts[this.cPrice], starts[this.cPrice + 1] - 1));
    if (typeof unitPrice === 'string') return unitPrice;
    let time: number;
    if (this.same(t, this.cDate, this.lastDateRaw)) time = this.lastTime;
    else {
      const raw = this.cut(t, this.cDate);
      time = parseTime(raw);
      this.lastDateRaw = raw;
      this.lastTime = time;
    }
    if (Number.isNaN(time)) return 'bad_date';
    let identifiers: Identifier[] | null | 'too_long';
    if (this.same(t, this.cCust, this.lastCustRaw)) identifiers = this.lastCustResult;
    else {
      const raw = this.cut(t, this.cCust);
      const rawCust = raw.trim();
      identifiers = idTooLong(rawCust) ? 'too_long' : this.identifiers(rawCust);
      this.lastCustRaw = raw;
      this.lastCustResult = identifiers;
    }
    if (identifiers === 'too_long') return 'too_long';
    if (identifiers === null) return 'bad_identifier';
    if (isCancellation(orderId) && quantity > 0) quantity = -quantity;
    const desc = this.cDesc >= 0 ? this.cut(t, this.cDesc).trim() : '';
    return uciLine(orderId, this.source, time, identifiers, sku, this.title(desc), quantity, unitPrice, lineNo);
  };
}

/** An Online Retail line (web, no store, category or cancelled order named): one shape for both readers of the format. */
function uciLine(orderId: string, source: string, time: number, identifiers: Identifier[], sku: string, title: string | null, quantity: number, unitPrice: number, lineNo: number): OrderLine {
  return {
    orderId,
    source,
    channel: 'web',
    storeId: null,
    time,
    identifiers,
    sku,
    title,
    category: null,
    quantity,
    unitPrice,
    cancels: null,
    lineNo,
  };
}

/** An Online Retail invoice starting with C is a cancellation (its quantities are returns). */
export const isCancellation = (orderId: string): boolean => orderId.charCodeAt(0) === 67 || orderId.charCodeAt(0) === 99; // C, c

/** The row parser of UciRows. */
export const uciRowParser = (fmt: DetectedFormat, options: OrderParseOptions = {}): OrderRowParser => new UciRows(fmt, options).parse;

const CHANNEL_SET = new Set<string>(CHANNELS);

/** The canonical multi-channel order format (CSV columns or NDJSON keys; see docs/data-formats.md). */
export function canonicalRowParser(fmt: DetectedFormat, options: OrderParseOptions = {}): OrderRowParser {
  const width = fmt.header.length;
  const cOrder = col(fmt, 'orderid');
  const cLine = col(fmt, 'lineno');
  const cChannel = col(fmt, 'channel');
  const cStore = col(fmt, 'storeid');
  const cTime = col(fmt, 'time');
  const cSku = col(fmt, 'sku');
  const cTitle = col(fmt, 'title');
  const cCat = col(fmt, 'category');
  const cQty = col(fmt, 'quantity');
  const cPrice = col(fmt, 'unitprice');
  const cCancels = col(fmt, 'cancels');
  const idCols = IDENTIFIER_KINDS.map((k) => [k, col(fmt, k)] as const).filter(([, i]) => i >= 0);
  const norm = { defaultCountryCode: options.defaultCountryCode };
  const counter = new LineCounter();
  let lastRawIds = '\u0000';
  let lastIds: Identifier[] = [];
  let lastDrops: IdentifierDrop[] = [];
  const dropped = options.onDroppedIdentifier;
  const opt = (f: string[], i: number, detach = true): string | null => {
    if (i < 0) return null;
    const v = f[i].trim();
    return v === '' ? null : detach ? detachString(v) : v;
  };
  const detachTitles = options.detachTitles ?? true;
  return (f) => {
    if (f.length !== width) return 'malformed_row';
    const orderId = detachString(f[cOrder].trim());
    if (orderId === '') return 'missing_order_id';
    const rawChannel = cChannel >= 0 ? f[cChannel].trim().toLowerCase() : 'web';
    const source = options.source ?? rawChannel;
    let lineNo: number | RejectReason;
    const rawLine = cLine >= 0 ? f[cLine].trim() : '';
    if (rawLine !== '') {
      lineNo = parseLineNo(rawLine);
      if (typeof lineNo === 'string') return lineNo;
    } else lineNo = counter.next(source, orderId);
    if (idTooLong(orderId)) return 'too_long';
    const sku = detachString(f[cSku].trim());
    if (sku === '') return 'missing_sku';
    if (idTooLong(sku)) return 'too_long';
    if (!CHANNEL_SET.has(rawChannel)) return 'bad_channel';
    const channel = rawChannel as Channel;
    const time = parseTime(f[cTime]);
    if (Number.isNaN(time)) return 'bad_date';
    let quantity = parseQuantity(f[cQty]);
    if (typeof quantity === 'string') return quantity;
    let unitPrice: number | RejectReason = 0;
    if (cPrice >= 0 && f[cPrice].trim() !== '') {
      unitPrice = parsePrice(f[cPrice]);
      if (typeof unitPrice === 'string') return unitPrice;
    }
    // lines of one order carry the same identifiers: normalise them once
    let rawIds = '';
    for (let k = 0; k < idCols.length; k++) rawIds += f[idCols[k][1]] + '\u0001';
    // an identifier that does not parse, or a placeholder, is dropped (counted), not the row
    let identifiers: Identifier[];
    if (rawIds === lastRawIds) identifiers = lastIds;
    else {
      identifiers = [];
      lastDrops = [];
      for (const [kind, i] of idCols) {
        const raw = f[i];
        if (raw.trim() === '') continue;
        const c = classifyIdentifier(kind, raw, norm);
        // an identifier longer than any id column holds is not one: dropped like an unparseable one
        if ('value' in c && !idTooLong(c.value)) identifiers.push({ kind, value: c.value });
        else lastDrops.push('value' in c ? 'invalid_identifier' : c.dropped);
      }
      lastRawIds = rawIds;
      lastIds = identifiers;
    }
    if (dropped) for (const d of lastDrops) dropped(d);
    const storeId = opt(f, cStore);
    if (idTooLong(storeId)) return 'too_long';
    const cancels = opt(f, cCancels);
    if (cancels !== null && quantity > 0) quantity = -quantity;
    return {
      orderId,
      source,
      channel,
      storeId,
      time,
      identifiers,
      sku,
      title: opt(f, cTitle, detachTitles),
      category: opt(f, cCat),
      quantity,
      unitPrice,
      cancels,
      lineNo,
    };
  };
}
