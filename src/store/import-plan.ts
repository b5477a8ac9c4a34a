/**
 * The pure half of an import batch (no I/O): order lines grouped into orders, products and
 * stores collected, and the batch's identities grouped into people (union-find) given who
 * owns which identifier already. The SQL half (sql-store.ts) turns the plan into a few
 * set-based statements.
 */
import { createHash } from 'node:crypto';
import { identifierKey } from '../core/identity.js';
import type { Channel, Identifier, OrderLine } from '../core/records.js';
import { objectList } from '../core/object-list.js';
import { priceWins, textWins } from './product-rule.js';

export interface PlannedOrder {
  /** The system the order id belongs to (OrderLine.source; default the channel). */
  source: string;
  sourceId: string;
  channel: Channel;
  storeId: string | null;
  /** Epoch ms of the order's first line. */
  time: number;
  /** Distinct identifiers over all the order's lines. */
  identifiers: Identifier[];
}

export interface PlannedProduct {
  sku: string;
  /**
   * Each field's latest non-null value in the batch (the greatest at equal times: product-rule.ts) and its source time
   * (-Infinity: none); `time`, the source time of the product's latest line.
   */
  title: string | null;
  titleAt: number;
  category: string | null;
  categoryAt: number;
  price: number | null;
  priceAt: number;
  time: number;
}

/**
 * A line that brought identifiers its order did not carry yet, in line order: the records identity
 * resolution (src/core/identity-graph.ts) goes through one by one, so that a batch resolves as its
 * lines would one at a time, whatever the batch size.
 */
export interface IdentityEvent {
  /** Index of the order in `ImportPlan.orders`. */
  order: number;
  /** The identifiers new to the order. */
  identifiers: Identifier[];
  /** Epoch ms of the line. */
  time: number;
}
export { identifierKey };

/** The key of an order in a batch or a file: its source and its id in that source. */
export const orderKey = (source: string, orderId: string): string => `${source}\u0001${orderId}`;

/**
 * Key of a line without a source position: a negative number from a hash of its content and
 * of how many identical lines precede it in the same order of this batch (so true duplicates
 * within an order stay distinct while a re-import maps to the same keys).
 */
export function contentLineKey(line: OrderLine, occurrence: number): number {
  const h = createHash('sha1')
    .update(`${line.sku}|${line.quantity}|${line.unitPrice}|${line.time}|${line.cancels ?? ''}|${occurrence}`)
    .digest();
  return -(h.readUIntBE(0, 6) + 1);
}

/**
 * Hands out order ids reserved from the database (Store.reserveOrderIds), so order lines can be
 * encoded for COPY before their orders are written (by a reader thread, while the store writes
 * the previous batch). An order seen again shortly after (split across two batches) keeps its
 * id; the last `recentMax` order keys (orderKey) are remembered. One seen again after that gets a
 * new reserved id, and the store then finds it under its real id (the slower merge path: still exact).
 */
export class OrderIdAllocator {
  private ids: number[] = [];
  private next = 0;
  private readonly recent = new Map<string, number>();
  constructor(private readonly recentMax = 50_000) {}

  /** Adds reserved ids. */
  supply(ids: readonly number[]): void {
    this.ids = this.ids.slice(this.next).concat(ids);
    this.next = 0;
  }

  /** Whether this order (key: orderKey) was given an id already (and still is remembered). */
  has(key: string): boolean {
    return this.recent.has(key);
  }

  /** Reserved ids not handed out yet. */
  get available(): number {
    return this.ids.length - this.next;
  }

  /** The id of this order (key: orderKey): the one it had if seen recently, else the next reserved id. */
  idFor(key: string): number {
    const known = this.recent.get(key);
    if (known !== undefined) return known;
    if (this.next >= this.ids.length) throw new Error('OrderIdAllocator: no reserved ids left (supply more first)');
    const id = this.ids[this.next++];
    this.recent.set(key, id);
    if (this.recent.size > this.recentMax) this.recent.delete(this.recent.keys().next().value as string);
    return id;
  }
}

/** What the store writes for a batch of order lines. */
export interface ImportPlan {
  orders: PlannedOrder[];
  /** Per order of `orders`: its reserved id (the id it gets if the store creates it). */
  orderIds: number[];
  /** order_lines rows, COPY FORMAT csv: order_id (reserved), line_no, sku, quantity, unit_price, cancels. */
  copy: Uint8Array;
  lineCount: number;
  products: PlannedProduct[];
  stores: string[];
  /** Distinct identifiers of the batch. */
  identifiers: Identifier[];
  /** The lines that brought identifiers new to their order, in line order. */
  identityEvents: IdentityEvent[];
  /** No two lines of the batch share (order, line number). */
  uniqueLines: boolean;
  /**
   * Every order of the batch got an id reserved for this batch: none carries the id an earlier batch
   * of the same reader gave it. No other write can then hold a line under one of the batch's ids
   * (Store.importPlan copies such a batch's lines before it takes the identity lock).
   */
  freshIds: boolean;
}

/** Quotes a CSV field for COPY (FORMAT csv): null → unquoted empty, which COPY reads as NULL. */
export const csvField = (v: string | null): string =>
  v === null ? '' : v === '' || /[",\r\n\\]/.test(v) || v.trim() !== v ? `"${v.replace(/"/g, '""')}"` : v;

type OrderState = PlannedOrder & { key: string; index: number; id: number; keys: Set<string>; lastLineNo: number; lineNos?: Set<number>; rowStart: string };
type ProductStateInBatch = PlannedProduct & {
  /** The sku as a COPY field. */
  field: string | null;
  /** The last unit price of its lines encoded, and its text: a price repeats on most lines of a sku, and turning a fraction into text costs more than the rest of the line's encoding. */
  lastPrice: number;
  lastPriceText: string;
};

/**
 * A growable byte buffer the COPY rows are written into piece by piece: ASCII text and small integers byte by
 * byte, other text by TextEncoder.encodeInto, so that a row makes no string of its own (a row's template string
 * was ~10 string pieces for the garbage collector, and its encoding a second pass). Each piece is encoded on its
 * own: the same bytes as the row's text encoded whole, since pieces that may hold non-ASCII text (a sku, a
 * cancelled order id) are always between ASCII separators.
 */
class ByteWriter {
  private buf = new Uint8Array(0);
  private len = 0;
  private static readonly utf8 = new TextEncoder();
  constructor() {
    // (stored twice: V8 takes a field written once for a constant, and throws away the code optimized on that belief
    // when it first changes, here when the buffer first grows, well into the first batch: --trace-deopt)
    this.buf = new Uint8Array(1 << 16);
  }
  /** One byte (an ASCII character). */
  byte(c: number): void {
    if (this.len === this.buf.length) this.room(1);
    this.buf[this.len++] = c;
  }
  /** Text as UTF-8. */
  text(s: string): void {
    const n = s.length;
    // a UTF-16 code unit takes at most 3 bytes in UTF-8
    this.room(n * 3);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        // (the ASCII before it copied: the rest, from a whole character on, encoded)
        this.len = at + ByteWriter.utf8.encodeInto(i === 0 ? s : s.slice(i), buf.subarray(at)).written;
        return;
      }
      buf[at++] = c;
    }
    this.len = at;
  }
  /** A number as String(x) writes it: an integer below 2^31 in magnitude digit by digit, others as their text. */
  num(x: number): void {
    if (!(x === (x | 0))) {
      this.text(String(x));
      return;
    }
    this.room(11);
    const buf = this.buf;
    let v = x;
    if (v < 0) {
      buf[this.len++] = 45; // -
      v = -v;
    }
    let digits = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
    const end = this.len + digits;
    for (let i = end - 1; i >= this.len; i--) {
      buf[i] = 48 + (v % 10);
      v = (v / 10) | 0;
    }
    this.len = end;
  }
  private room(n: number): void {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
  }
  /** The bytes written, in a buffer of their own (transferable between threads). */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}

/**
 * Plans a batch line by line, with only the batch's orders, products and the encoded bytes kept
 * (no per-line objects, so a large batch costs the garbage collector little): groups lines into
 * orders (ids from `ids`, which must hold one per new order), collects products, stores and
 * identifiers, and encodes each line for COPY at once.
 */
export class PlanBuilder {
  private orders = new Map<string, OrderState>();
  private products = new Map<string, ProductStateInBatch>();
  private stores = new Set<string>();
  private identifiers = new Map<string, Identifier>();
  private identityEvents = objectList<IdentityEvent>();
  private seenContent: Map<string, number> | undefined;
  private uniqueLines = true;
  /** An order of the batch kept the id an earlier batch gave it (ImportPlan.freshIds). */
  private carried = false;
  private bytes = new ByteWriter();
  private lines = 0;
  /** Per line: its order's index and line number (typed: no garbage-collector work), for the rare recheck of uniqueness. */
  private lineOrder = new Int32Array(1024);
  private lineNos = new Float64Array(1024);
  /** The previous line's order and identifiers. */
  private prevOrder: OrderState | undefined;
  private prevIds: Identifier[] | undefined;
  private o: OrderState | undefined;

  constructor(private readonly ids: OrderIdAllocator) {}

  get lineCount(): number {
    return this.lines;
  }

  /** Whether `l` is a line of the order of the last line added. */
  continues(l: OrderLine): boolean {
    const o = this.o;
    return o !== undefined && o.sourceId === l.orderId && o.source === (l.source ?? l.channel);
  }

  add(l: OrderLine): void {
    const o = this.order(l.source ?? l.channel, l.orderId, l.channel, l.storeId, l.time);
    this.identify(o, l.identifiers, l.time);
    if (l.storeId !== null) this.stores.add(l.storeId);
    let lineNo = l.lineNo;
    if (lineNo === undefined) {
      this.seenContent ??= new Map();
      const ck = `${o.key}\u0001${l.sku}\u0001${l.quantity}\u0001${l.unitPrice}\u0001${l.time}`;
      const n = this.seenContent.get(ck) ?? 0;
      this.seenContent.set(ck, n + 1);
      lineNo = contentLineKey(l, n);
    }
    this.numberLine(o, lineNo);
    const p = this.product(l.sku, l.time);
    p.field ??= csvField(l.sku);
    if (l.unitPrice !== p.lastPrice) {
      p.lastPrice = l.unitPrice;
      p.lastPriceText = String(l.unitPrice);
    }
    // the row `${order id},${lineNo},${sku},${quantity},${unit price},${cancels}\n`, written piece by piece
    const w = this.bytes;
    w.text(o.rowStart);
    w.num(lineNo);
    w.byte(44); // ,
    w.text(p.field);
    w.byte(44);
    w.num(l.quantity);
    w.byte(44);
    w.text(p.lastPriceText);
    w.byte(44);
    if (l.cancels !== null) w.text(csvField(l.cancels));
    w.byte(10); // \n
    updateProduct(p, l.time, l.title, l.category, l.quantity, l.unitPrice);
  }

  private order(source: string, sourceId: string, channel: Channel, storeId: string | null, time: number): OrderState {
    let o = this.o;
    if (o === undefined || sourceId !== o.sourceId || source !== o.source) {
      const key = orderKey(source, sourceId);
      o = this.orders.get(key);
      if (!o) {
        if (!this.carried && this.ids.has(key)) this.carried = true;
        o = {
          source, sourceId, channel, storeId, time, identifiers: [],
          key, index: this.orders.size, id: this.ids.idFor(key), keys: new Set(), lastLineNo: -Infinity, rowStart: '',
        };
        o.rowStart = `${o.id},`;
        this.orders.set(key, o);
      }
      this.o = o;
    }
    return o;
  }

  private identify(o: OrderState, ids: Identifier[], time: number): void {
    // consecutive lines of one order usually carry the same identifiers: skip them then
    if (ids.length > 0 && !(o === this.prevOrder && this.prevIds !== undefined && sameIdentifiers(this.prevIds, ids))) {
      let added: Identifier[] | undefined;
      for (const id of ids) {
        const k = identifierKey(id);
        if (!o.keys.has(k)) {
          o.keys.add(k);
          o.identifiers.push(id);
          (added ??= []).push(id);
        }
        if (!this.identifiers.has(k)) this.identifiers.set(k, id);
      }
      if (added !== undefined) this.identityEvents.push({ order: o.index, identifiers: added, time });
    }
    this.prevOrder = o;
    this.prevIds = ids;
  }

  private numberLine(o: OrderState, lineNo: number): void {
    // line numbers rising within an order are unique without a set; otherwise check one
    if (lineNo > o.lastLineNo && o.lineNos === undefined) o.lastLineNo = lineNo;
    else {
      if (o.lineNos === undefined) {
        o.lineNos = new Set();
        for (let i = 0; i < this.lines; i++) if (this.lineOrder[i] === o.index) o.lineNos.add(this.lineNos[i]);
      }
      if (o.lineNos.has(lineNo)) this.uniqueLines = false;
      o.lineNos.add(lineNo);
    }
    if (this.lines === this.lineOrder.length) {
      const order = new Int32Array(this.lines * 2);
      order.set(this.lineOrder);
      this.lineOrder = order;
      const nos = new Float64Array(this.lines * 2);
      nos.set(this.lineNos);
      this.lineNos = nos;
    }
    this.lineOrder[this.lines] = o.index;
    this.lineNos[this.lines] = lineNo;
    this.lines++;
  }

  private product(sku: string, time: number): ProductStateInBatch {
    let p = this.products.get(sku);
    if (!p) {
      p = { sku, title: null, category: null, price: null, time, titleAt: -Infinity, categoryAt: -Infinity, priceAt: -Infinity, field: null, lastPrice: NaN, lastPriceText: '' };
      this.products.set(sku, p);
    }
    return p;
  }

  /** The plan of the lines added since the last build; starts a new batch. */
  build(): ImportPlan {
    const orders = [...this.orders.values()];
    const plan: ImportPlan = {
      orders: orders.map((x) => ({ source: x.source, sourceId: x.sourceId, channel: x.channel, storeId: x.storeId, time: x.time, identifiers: x.identifiers })),
      orderIds: orders.map((x) => x.id),
      copy: this.bytes.take(),
      lineCount: this.lines,
      products: [...this.products.values()].map(({ sku, title, titleAt, category, categoryAt, price, priceAt, time }) => ({ sku, title, titleAt, category, categoryAt, price, priceAt, time })),
      stores: [...this.stores],
      identifiers: [...this.identifiers.values()],
      identityEvents: this.identityEvents,
      uniqueLines: this.uniqueLines,
      freshIds: !this.carried,
    };
    this.identityEvents = objectList();
    this.orders = new Map();
    this.products = new Map();
    this.stores = new Set();
    this.identifiers = new Map();
    this.seenContent = undefined;
    this.uniqueLines = true;
    this.carried = false;
    this.lines = 0;
    this.prevOrder = undefined;
    this.prevIds = undefined;
    this.o = undefined;
    return plan;
  }
}

/** A product's latest title, category and sale price (and source times) after one more line of it (product-rule.ts). */
function updateProduct(p: ProductStateInBatch, time: number, title: string | null, category: string | null, quantity: number, unitPrice: number): void {
  if (time > p.time) p.time = time;
  if (title !== null && title !== '' && textWins(title, time, p.title, p.titleAt)) {
    p.title = title;
    p.titleAt = time;
  }
  if (category !== null && category !== '' && textWins(category, time, p.category, p.categoryAt)) {
    p.category = category;
    p.categoryAt = time;
  }
  // a sale's price, not a return's or a free line's
  if (quantity > 0 && unitPrice > 0 && priceWins(unitPrice, time, p.price, p.priceAt)) {
    p.price = unitPrice;
    p.priceAt = time;
  }
}

/** Plans a batch of lines at once (see PlanBuilder); `ids` must hold one id per distinct order. */
export function planImport(lines: readonly OrderLine[], ids: OrderIdAllocator): ImportPlan {
  const b = new PlanBuilder(ids);
  for (const l of lines) b.add(l);
  return b.build();
}

function sameIdentifiers(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].kind !== b[i].kind || a[i].value !== b[i].value) return false;
  return true;
}
