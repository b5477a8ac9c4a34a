/**
 * Value types shared by ingest, store, train and serve. Pure data, no I/O.
 */

export const CHANNELS = ['web', 'app', 'store'] as const;
export type Channel = (typeof CHANNELS)[number];

export const IDENTIFIER_KINDS = ['account', 'email', 'phone', 'loyalty', 'device', 'external'] as const;
export type IdentifierKind = (typeof IDENTIFIER_KINDS)[number];

/** One identifier of a person, value already normalised (see src/core/identity.ts). */
export interface Identifier {
  kind: IdentifierKind;
  value: string;
}

export const CONSENT_PURPOSES = ['personalisation', 'email', 'sms', 'push'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

/**
 * One order line in the canonical form every source is converted to
 * (UCI Online Retail CSV, canonical CSV/NDJSON, generated data).
 * Returns and cancellations are negative quantities; `cancels` names the
 * order they cancel where the source says so.
 */
export interface OrderLine {
  orderId: string;
  /**
   * The system the order id belongs to: order identity is (source, orderId). Default: the
   * channel (a file's rows, unless the import names a source); purchase events are 'event'.
   */
  source?: string;
  channel: Channel;
  storeId: string | null;
  /** Epoch milliseconds (UTC). */
  time: number;
  /** Identifiers of the buyer; empty for a guest. */
  identifiers: Identifier[];
  sku: string;
  title: string | null;
  category: string | null;
  quantity: number;
  unitPrice: number;
  cancels: string | null;
  /**
   * Position of the line within its order in the source (1-based), so that re-importing
   * the same file is idempotent; when absent the store keys the line by a content hash.
   */
  lineNo?: number;
}

/**
 * One line of unified history as training and evaluation read it: the buyer is
 * already a unified customer id (or null for a guest), the product is a catalogue sku.
 */
export interface HistoryLine {
  customerId: string | null;
  orderId: string;
  /**
   * The system the order id belongs to (OrderLine.source; default: the channel): a basket is
   * (source, orderId), as the store keys orders, so a web order 1001 and a till order 1001 are two.
   */
  source?: string;
  channel: Channel;
  storeId: string | null;
  time: number;
  sku: string;
  quantity: number;
  unitPrice: number;
}

/** The history line of an order line, attributed to a (unified or provisional) customer id. */
export function historyLineOf(l: OrderLine, customerId: string | null): HistoryLine {
  return {
    customerId,
    orderId: l.orderId,
    source: l.source ?? l.channel,
    channel: l.channel,
    storeId: l.storeId,
    time: l.time,
    sku: l.sku,
    quantity: l.quantity,
    unitPrice: l.unitPrice,
  };
}

export interface Product {
  sku: string;
  title: string | null;
  category: string | null;
  price: number | null;
  active: boolean;
}

export const SEGMENTS = ['new', 'repeat', 'vip', 'loyal', 'high_aov', 'at_risk', 'lapsed'] as const;
export type Segment = (typeof SEGMENTS)[number];
