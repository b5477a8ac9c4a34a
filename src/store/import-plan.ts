/**
 * The pure half of an import batch (no I/O): order lines grouped into orders, products and
 * stores collected, and the batch's identities grouped into people (union-find) given who
 * owns which identifier already. The SQL half (sql-store.ts) turns the plan into a few
 * set-based statements.
 */
import { createHash } from 'node:crypto';
import type { Channel, Identifier, OrderLine } from '../core/records.js';

export interface PlannedOrder {
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
  /** Latest non-null values in the batch, and the source time of the latest line. */
  title: string | null;
  category: string | null;
  price: number | null;
  time: number;
}

/** Order lines as columns, ready to bind as SQL arrays. */
export interface LineColumns {
  orderId: string[];
  lineNo: number[];
  sku: string[];
  quantity: number[];
  unitPrice: number[];
  cancels: (string | null)[];
}

export interface ImportPlan {
  orders: PlannedOrder[];
  lines: LineColumns;
  products: PlannedProduct[];
  stores: string[];
  /** Distinct identifiers of the batch. */
  identifiers: Identifier[];
  /** No two lines of the batch share (order, line number). */
  uniqueLines: boolean;
}

export const identifierKey = (i: Identifier): string => `${i.kind}\u0001${i.value}`;

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

/** Groups a batch of lines into orders, line columns, products and stores. */
export function planImport(lines: readonly OrderLine[]): ImportPlan {
  const orders = new Map<string, PlannedOrder & { keys: Set<string>; lastLineNo: number; lineNos?: Set<number> }>();
  const products = new Map<string, PlannedProduct & { titleAt: number; categoryAt: number; priceAt: number }>();
  const stores = new Set<string>();
  const identifiers = new Map<string, Identifier>();
  const cols: LineColumns = { orderId: [], lineNo: [], sku: [], quantity: [], unitPrice: [], cancels: [] };
  let seenContent: Map<string, number> | undefined;
  let uniqueLines = true;

  let prev: OrderLine | undefined;
  let o: (PlannedOrder & { keys: Set<string>; lastLineNo: number; lineNos?: Set<number> }) | undefined;
  for (const l of lines) {
    if (o === undefined || l.orderId !== o.sourceId) {
      o = orders.get(l.orderId);
      if (!o) {
        o = { sourceId: l.orderId, channel: l.channel, storeId: l.storeId, time: l.time, identifiers: [], keys: new Set(), lastLineNo: -Infinity };
        orders.set(l.orderId, o);
      }
    }
    // consecutive lines of one order usually carry the same identifiers: skip them then
    if (l.identifiers.length > 0 && !(prev !== undefined && prev.orderId === l.orderId && sameIdentifiers(prev.identifiers, l.identifiers))) {
      for (const id of l.identifiers) {
        const k = identifierKey(id);
        if (!o.keys.has(k)) {
          o.keys.add(k);
          o.identifiers.push(id);
        }
        if (!identifiers.has(k)) identifiers.set(k, id);
      }
    }
    prev = l;
    if (l.storeId !== null) stores.add(l.storeId);

    let lineNo = l.lineNo;
    if (lineNo === undefined) {
      seenContent ??= new Map();
      const ck = `${l.orderId}\u0001${l.sku}\u0001${l.quantity}\u0001${l.unitPrice}\u0001${l.time}`;
      const n = seenContent.get(ck) ?? 0;
      seenContent.set(ck, n + 1);
      lineNo = contentLineKey(l, n);
    }
    // line numbers rising within an order are unique without a set; otherwise check one
    if (lineNo > o.lastLineNo && o.lineNos === undefined) o.lastLineNo = lineNo;
    else {
      if (o.lineNos === undefined) {
        o.lineNos = new Set();
        for (let i = 0; i < cols.orderId.length; i++) if (cols.orderId[i] === o.sourceId) o.lineNos.add(cols.lineNo[i]);
      }
      if (o.lineNos.has(lineNo)) uniqueLines = false;
      o.lineNos.add(lineNo);
    }
    cols.orderId.push(l.orderId);
    cols.lineNo.push(lineNo);
    cols.sku.push(l.sku);
    cols.quantity.push(l.quantity);
    cols.unitPrice.push(l.unitPrice);
    cols.cancels.push(l.cancels);

    let p = products.get(l.sku);
    if (!p) {
      p = { sku: l.sku, title: null, category: null, price: null, time: l.time, titleAt: -Infinity, categoryAt: -Infinity, priceAt: -Infinity };
      products.set(l.sku, p);
    }
    if (l.time > p.time) p.time = l.time;
    if (l.title !== null && l.title !== '' && l.time >= p.titleAt) {
      p.title = l.title;
      p.titleAt = l.time;
    }
    if (l.category !== null && l.category !== '' && l.time >= p.categoryAt) {
      p.category = l.category;
      p.categoryAt = l.time;
    }
    // a sale's price, not a return's or a free line's
    if (l.quantity > 0 && l.unitPrice > 0 && l.time >= p.priceAt) {
      p.price = l.unitPrice;
      p.priceAt = l.time;
    }
  }

  return {
    orders: [...orders.values()].map((x) => ({ sourceId: x.sourceId, channel: x.channel, storeId: x.storeId, time: x.time, identifiers: x.identifiers })),
    lines: cols,
    products: [...products.values()].map(({ sku, title, category, price, time }) => ({ sku, title, category, price, time })),
    stores: [...stores],
    identifiers: [...identifiers.values()],
    uniqueLines,
  };
}

function sameIdentifiers(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].kind !== b[i].kind || a[i].value !== b[i].value) return false;
  return true;
}

/** Compares customer ids (decimal bigint strings) numerically. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** One person of the batch: the records and identifiers that belong together. */
export interface IdentityGroup {
  /** Existing customers the group touches, oldest (smallest id) first: 0 → new, ≥ 2 → merge. */
  customers: string[];
  /** The group's identifiers in order of first appearance, with their current owner (null: new). */
  identifiers: { identifier: Identifier; owner: string | null }[];
}

/**
 * Union-find over the identifiers of `records` (one identifier list per record) and the
 * customers that already own some of them (`owners`: identifierKey → customer id): records
 * sharing an identifier, or identifiers of one customer, end in one group (transitively).
 * Returns the groups in order of first appearance and each record's group (-1: no identifiers).
 */
export function groupIdentities(
  records: readonly (readonly Identifier[])[],
  owners: ReadonlyMap<string, string>,
): { groups: IdentityGroup[]; recordGroup: Int32Array } {
  const index = new Map<string, number>();
  const parent: number[] = [];
  const node = (key: string): number => {
    let i = index.get(key);
    if (i === undefined) {
      i = parent.length;
      parent.push(i);
      index.set(key, i);
    }
    return i;
  };
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  // union by smaller index keeps roots at first appearance, hence deterministic group order
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };

  const firstNode = new Int32Array(records.length).fill(-1);
  const idList: { identifier: Identifier; node: number }[] = [];
  records.forEach((ids, r) => {
    for (const id of ids) {
      const key = identifierKey(id);
      const known = index.has(key);
      const n = node(key);
      if (!known) idList.push({ identifier: id, node: n });
      const owner = owners.get(key);
      if (owner !== undefined) union(n, node(`\u0000c${owner}`));
      if (firstNode[r] < 0) firstNode[r] = n;
      else union(firstNode[r], n);
    }
  });

  const groupOfRoot = new Map<number, number>();
  const groups: IdentityGroup[] = [];
  const groupOf = (n: number): IdentityGroup => {
    const root = find(n);
    let g = groupOfRoot.get(root);
    if (g === undefined) {
      g = groups.length;
      groupOfRoot.set(root, g);
      groups.push({ customers: [], identifiers: [] });
    }
    return groups[g];
  };
  const recordGroup = new Int32Array(records.length).fill(-1);
  for (let r = 0; r < records.length; r++) {
    if (firstNode[r] >= 0) {
      groupOf(firstNode[r]);
      recordGroup[r] = groupOfRoot.get(find(firstNode[r]))!;
    }
  }
  for (const { identifier, node: n } of idList) {
    const owner = owners.get(identifierKey(identifier)) ?? null;
    const g = groupOf(n);
    g.identifiers.push({ identifier, owner });
    if (owner !== null && !g.customers.includes(owner)) g.customers.push(owner);
  }
  for (const g of groups) g.customers.sort(compareIds);
  return { groups, recordGroup };
}
