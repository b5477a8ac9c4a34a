/**
 * File formats the importers read, detected from the header (CSV) or the first object (NDJSON).
 * See docs/data-formats.md.
 */
import { InvalidArgumentError } from '../core/errors.js';

export type FormatName = 'uci' | 'canonical' | 'inventory' | 'consent' | 'offers';
/** What a file holds: order lines, store inventory, consent choices, or offers (src/ingest/offer-file.ts). */
export type FileKind = 'orders' | 'inventory' | 'consent' | 'offers';

export interface DetectedFormat {
  name: FormatName;
  kind: FileKind;
  /** Normalised column name → index in the header. */
  columns: Map<string, number>;
  header: string[];
}

/** "Customer ID" → "customerid", "unit_price" → "unitprice". */
export const normaliseColumn = (c: string): string => c.trim().toLowerCase().replace(/[\s_-]+/g, '');

/** The canonical order-file columns, in the order the generator writes them. */
export const CANONICAL_COLUMNS = [
  'order_id', 'line_no', 'channel', 'store_id', 'time',
  'account', 'email', 'phone', 'loyalty', 'device', 'external',
  'sku', 'title', 'category', 'quantity', 'unit_price', 'cancels',
] as const;
export const INVENTORY_COLUMNS = ['store_id', 'sku', 'quantity'] as const;
export const CONSENT_COLUMNS = [
  'account', 'email', 'phone', 'loyalty', 'device', 'external', 'purpose', 'granted', 'time', 'source',
] as const;

/** Every column some format reads (normalised): one of these twice in a header is ambiguous. */
const KNOWN_COLUMNS = new Set(
  [...CANONICAL_COLUMNS, ...INVENTORY_COLUMNS, ...CONSENT_COLUMNS, 'invoiceno', 'invoice', 'stockcode', 'description', 'invoicedate', 'unitprice', 'price', 'customerid'].map(
    normaliseColumn,
  ),
);

/**
 * Detects the format of a header; throws InvalidArgumentError naming the file when unknown, or
 * when a column the format reads appears twice (`Quantity,…,quantity`: which one is meant?).
 */
export function detectFormat(header: string[], path = 'file'): DetectedFormat {
  const columns = new Map<string, number>();
  header.forEach((c, i) => {
    const n = normaliseColumn(c);
    const first = columns.get(n);
    if (first === undefined) columns.set(n, i);
    else if (KNOWN_COLUMNS.has(n)) {
      throw new InvalidArgumentError(`${path}: column "${c.trim()}" appears twice in the header (columns ${first + 1} and ${i + 1})`, { path, header });
    }
  });
  const has = (...names: string[]) => names.every((n) => columns.has(n));
  let name: FormatName;
  if (has('stockcode') && (has('invoiceno') || has('invoice'))) {
    const missing = ['quantity', 'invoicedate', 'customerid'].filter((c) => !columns.has(c));
    if (!has('unitprice') && !has('price')) missing.push('unitprice');
    if (missing.length) throw new InvalidArgumentError(`${path}: Online Retail header lacks ${missing.join(', ')}`, { path, header });
    name = 'uci';
  } else if (has('orderid', 'sku')) {
    const missing = ['time', 'quantity'].filter((c) => !columns.has(c));
    if (missing.length) throw new InvalidArgumentError(`${path}: order file header lacks ${missing.join(', ')}`, { path, header });
    name = 'canonical';
  } else if (has('purpose', 'granted')) {
    name = 'consent';
  } else if (has('storeid', 'sku', 'quantity')) {
    name = 'inventory';
  } else if (has('id', 'title', 'kind')) {
    name = 'offers';
  } else {
    throw new InvalidArgumentError(
      `${path}: unrecognised header "${header.join(',').slice(0, 200)}" (expected Online Retail, canonical orders, inventory, consent or offers; see docs/data-formats.md)`,
      { path, header },
    );
  }
  const kind: FileKind = name === 'uci' || name === 'canonical' ? 'orders' : name;
  return { name, kind, columns, header };
}

/** Whether a file's first non-blank line starts an offer document (JSON array, or an object with `offers`). */
export function looksLikeOfferJson(firstLine: string): boolean {
  const t = firstLine.trim();
  if (t.startsWith('[')) return true;
  if (!t.startsWith('{')) return false;
  if (/^\{\s*("offers"\s*:.*)?$/.test(t)) return true; // "{" alone (a pretty-printed document) or {"offers": ...
  try {
    const obj = JSON.parse(t) as unknown;
    return obj !== null && typeof obj === 'object' && Array.isArray((obj as { offers?: unknown }).offers);
  } catch {
    return false;
  }
}
