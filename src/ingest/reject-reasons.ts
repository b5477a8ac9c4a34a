/**
 * Why an input row was not imported. A bad row never aborts an import and never
 * disappears: it is counted under one of these reasons (see docs/data-formats.md).
 */
export const REJECT_REASONS = [
  'malformed_row', // wrong column count, or an NDJSON line that is not a JSON object
  'unbalanced_quote', // a quote that does not close within the field caps or the file, or closes into the wrong column count
  'too_long', // a line longer than the line cap, or an id longer than MAX_ID_LENGTH
  'invalid_utf8', // bytes that are not UTF-8 (see --encoding latin1)
  'control_character', // NUL or another control character (not tab, CR, LF)
  'missing_order_id',
  'missing_sku',
  'missing_store', // inventory row without store_id
  'bad_date',
  'bad_number', // quantity, price, line_no or stock not a plain decimal (or not an integer where one is needed)
  'out_of_range', // a number its column cannot hold (or a quantity so small it would be stored as 0)
  'zero_quantity',
  'bad_channel',
  'bad_identifier',
  'bad_value', // consent purpose or granted flag not understood
  'bad_offer', // an offer the offer schema refuses (the detail names the field)
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Longest id (order id, sku, store, identifier value, consent source) a row may carry: ids are keys of
 * PostgreSQL indexes, whose entries cannot exceed about 2.7 kB, so a longer one would fail its batch.
 */
export const MAX_ID_LENGTH = 200;
export const idTooLong = (s: string | null): boolean => s !== null && s.length > MAX_ID_LENGTH;

/** Rows left out on purpose, not errors (they do not fail --strict). */
export const SKIP_REASONS = ['non_product'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** One rejected row: its 1-based line in the file (header is line 1), the reason and the raw text. */
export interface Reject {
  row: number;
  reason: RejectReason;
  raw?: string;
  /** What is wrong, when the reason alone does not say (e.g. the offer field at fault). */
  detail?: string;
}

const skipSet = new Set<string>(SKIP_REASONS);
export const isSkipReason = (s: string): s is SkipReason => skipSet.has(s);

/** Adds counts by reason (or by any key) into `into`; returns it. */
export function addCounts<K extends string>(into: Partial<Record<K, number>>, from: Partial<Record<K, number>>): Partial<Record<K, number>> {
  for (const [k, v] of Object.entries(from) as [K, number | undefined][]) into[k] = (into[k] ?? 0) + (v ?? 0);
  return into;
}
