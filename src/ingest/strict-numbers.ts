/**
 * Numbers as the import accepts them: plain decimals (`12`, `-3`, `4.50`, `.5`), never `0x10`,
 * `0b101`, `0o17`, `1e20`, `Infinity` or `1_000` (which JavaScript's Number() would take), and
 * checked against the range of the column they are stored in (src/store/migrations/001_schema.sql),
 * so that no value can fail a write or be stored as something else. Each returns the number or
 * the reason the value is rejected.
 */
import type { RejectReason } from './reject-reasons.js';

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const DIGITS = /^\d+$/;

/** order_lines.quantity numeric(14,3) and unit_price numeric(14,4): below 10^11 and 10^10. */
const QUANTITY_LIMIT = 1e11;
const PRICE_LIMIT = 1e10;
/** store_inventory.quantity integer. */
const INT4_MAX = 2_147_483_647;

/** A plain decimal (surrounding spaces allowed), or NaN: the rule DECIMAL, without a regular expression or a trimmed copy. */
export function strictDecimal(text: string): number {
  return strictDecimalAt(text, 0, text.length);
}

/** Powers of ten exact in a double (10^0 … 10^22). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * A plain decimal in text.slice(from, to), without cutting the slice (surrounding spaces allowed), or NaN. A decimal of at
 * most 15 digits is its digits as an integer divided by a power of ten: both exact in a double, so the
 * quotient is the correctly rounded value of the decimal, as Number() gives (longer ones go through Number()).
 */
export function strictDecimalAt(text: string, from: number, to: number): number {
  let start = from;
  let end = to;
  while (start < end && text.charCodeAt(start) <= 32) start++;
  while (end > start && text.charCodeAt(end - 1) <= 32) end--;
  let i = start;
  const sign = text.charCodeAt(i);
  if (sign === 43 || sign === 45) i++; // + -
  let digits = 0;
  let dot = -1;
  let m = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      m = m * 10 + (c - 48);
    } else if (c === 46 && dot < 0) dot = i;
    else return NaN;
  }
  if (digits === 0) return NaN;
  if (digits > 15) return Number(text.slice(start, end));
  const v = dot < 0 ? m : m / POW10[end - dot - 1];
  return sign === 45 ? -v : v;
}

/** The rule strictDecimal implements, for reference and tests. */
export const DECIMAL_RULE = DECIMAL;

/**
 * An order line's quantity: a decimal the column holds, not zero (0 → zero_quantity), and not
 * so small that it is stored as zero at the column's three decimals (0.0004 → out_of_range).
 */
export function parseQuantity(text: string): number | RejectReason {
  return checkQuantity(strictDecimal(text));
}

/** parseQuantity of a value strictDecimal (or strictDecimalAt) read: NaN when it was not a decimal. */
export function checkQuantity(q: number): number | RejectReason {
  if (Number.isNaN(q)) return 'bad_number';
  if (q === 0) return 'zero_quantity';
  if (Math.abs(q) >= QUANTITY_LIMIT || Math.round(Math.abs(q) * 1000) === 0) return 'out_of_range';
  return q;
}

/** A unit price the column holds (negative allowed: adjustments). */
export function parsePrice(text: string): number | RejectReason {
  return checkPrice(strictDecimal(text));
}

/** parsePrice of a value strictDecimal (or strictDecimalAt) read: NaN when it was not a decimal. */
export function checkPrice(p: number): number | RejectReason {
  if (Number.isNaN(p)) return 'bad_number';
  if (Math.abs(p) >= PRICE_LIMIT) return 'out_of_range';
  return p === 0 ? 0 : p;
}

/** Stock: a non-negative integer within PostgreSQL's integer (1.5 → bad_number, 3000000000 → out_of_range). */
export function parseStock(text: string): number | RejectReason {
  const t = text.trim();
  if (!DIGITS.test(t)) return 'bad_number';
  const n = Number(t);
  return n > INT4_MAX ? 'out_of_range' : n;
}

/** A line number: a positive integer (bigint column; exact in JavaScript up to 2^53). */
export function parseLineNo(text: string): number | RejectReason {
  const t = text.trim();
  if (!DIGITS.test(t)) return 'bad_number';
  const n = Number(t);
  if (n < 1) return 'bad_number';
  return Number.isSafeInteger(n) ? n : 'out_of_range';
}
