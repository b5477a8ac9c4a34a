/**
 * The products table's rule, which makes a product's row a function of the order lines that name it, whatever the
 * import batches and the order of the files and of their lines (migration 014): each of title, category and price is
 * the non-null value of the latest source time that had one, the greatest value at equal times (text in code point
 * order, as PostgreSQL's COLLATE "C" compares UTF-8), kept with its time ('-infinity' / -Infinity while null); seen_at
 * is the latest source time of any of its lines (its last observation). Each field is the greatest (time, value) pair
 * seen, so rows merge in any grouping and order: a batch's products (import-plan.ts), this process's rows
 * (known-products.ts) and the table's (write-batch.ts, the same rule in SQL).
 */

/** Whether text `a` comes after `b` in code point order (UTF-16 code units compare surrogates before U+E000-U+FFFF). */
export function textAfter(a: string, b: string): boolean {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // surrogates (code points from U+10000) after U+E000-U+FFFF
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x > y;
    }
  }
  return a.length > b.length;
}

/** Whether a text value seen at `at` replaces `cur` (seen at `curAt`): a later time, or the same time and a greater value. */
export function textWins(value: string, at: number, cur: string | null, curAt: number): boolean {
  return cur === null || at > curAt || (at === curAt && value !== cur && textAfter(value, cur));
}

/** Whether a price seen at `at` replaces `cur` (seen at `curAt`): a later time, or the same time and a greater price. */
export function priceWins(value: number, at: number, cur: number | null, curAt: number): boolean {
  return cur === null || at > curAt || (at === curAt && value > cur);
}
