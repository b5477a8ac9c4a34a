/**
 * Row conversion for the companion formats the generator writes beside orders:
 * store inventory (store_id, sku, quantity) and consent (identifiers…, purpose, granted, time, source).
 */
import { classifyIdentifier, type IdentifierDrop } from '../core/identity.js';
import { CONSENT_PURPOSES, IDENTIFIER_KINDS, type ConsentPurpose, type Identifier } from '../core/records.js';
import type { DetectedFormat } from './detect-format.js';
import { parseTime } from './parse-time.js';
import { idTooLong, type RejectReason } from './reject-reasons.js';
import { parseStock } from './strict-numbers.js';

/** One store's stock of one sku (0 = out of stock). */
export interface InventoryRow {
  storeId: string;
  sku: string;
  quantity: number;
}

/** One consent choice of whoever holds these identifiers. */
export interface ConsentRow {
  identifiers: Identifier[];
  purpose: ConsentPurpose;
  granted: boolean;
  /** Epoch ms, or null when the file gives no time. */
  time: number | null;
  source: string;
}

const idx = (fmt: DetectedFormat, name: string): number => fmt.columns.get(name) ?? -1;

export function inventoryRowParser(fmt: DetectedFormat): (f: string[]) => InventoryRow | RejectReason {
  const width = fmt.header.length;
  const cStore = idx(fmt, 'storeid');
  const cSku = idx(fmt, 'sku');
  const cQty = idx(fmt, 'quantity');
  return (f) => {
    if (f.length !== width) return 'malformed_row';
    const storeId = f[cStore].trim();
    if (storeId === '') return 'missing_store';
    const sku = f[cSku].trim();
    if (sku === '') return 'missing_sku';
    if (idTooLong(storeId) || idTooLong(sku)) return 'too_long';
    const quantity = parseStock(f[cQty]);
    if (typeof quantity === 'string') return quantity;
    return { storeId, sku, quantity };
  };
}

const PURPOSES = new Set<string>(CONSENT_PURPOSES);
const TRUE = new Set(['true', '1', 'yes', 'y', 't', 'granted']);
const FALSE = new Set(['false', '0', 'no', 'n', 'f', 'refused', 'denied']);

export function consentRowParser(
  fmt: DetectedFormat,
  options: { defaultCountryCode?: string; onDroppedIdentifier?: (reason: IdentifierDrop) => void } = {},
): (f: string[]) => ConsentRow | RejectReason {
  const width = fmt.header.length;
  const cPurpose = idx(fmt, 'purpose');
  const cGranted = idx(fmt, 'granted');
  const cTime = idx(fmt, 'time');
  const cSource = idx(fmt, 'source');
  const idCols = IDENTIFIER_KINDS.map((k) => [k, idx(fmt, k)] as const).filter(([, i]) => i >= 0);
  const norm = { defaultCountryCode: options.defaultCountryCode };
  return (f) => {
    if (f.length !== width) return 'malformed_row';
    // unparseable and placeholder identifiers are dropped (counted); a row left with none names no one
    const identifiers: Identifier[] = [];
    const drops: IdentifierDrop[] = [];
    for (const [kind, i] of idCols) {
      if (f[i].trim() === '') continue;
      const c = classifyIdentifier(kind, f[i], norm);
      // an identifier longer than any id column holds is not one: dropped like an unparseable one
      if ('value' in c && !idTooLong(c.value)) identifiers.push({ kind, value: c.value });
      else drops.push('value' in c ? 'invalid_identifier' : c.dropped);
    }
    if (identifiers.length === 0) return 'bad_identifier';
    for (const d of drops) options.onDroppedIdentifier?.(d);
    const purpose = f[cPurpose].trim().toLowerCase();
    if (!PURPOSES.has(purpose)) return 'bad_value';
    const g = f[cGranted].trim().toLowerCase();
    if (!TRUE.has(g) && !FALSE.has(g)) return 'bad_value';
    let time: number | null = null;
    if (cTime >= 0 && f[cTime].trim() !== '') {
      time = parseTime(f[cTime]);
      if (Number.isNaN(time)) return 'bad_date';
    }
    const source = cSource >= 0 ? f[cSource].trim() : '';
    if (idTooLong(source)) return 'too_long';
    return { identifiers, purpose: purpose as ConsentPurpose, granted: TRUE.has(g), time, source: source || 'import' };
  };
}
