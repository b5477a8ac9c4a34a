import type { PlannedProduct } from './import-plan.js';
import { priceWins, textWins } from './product-rule.js';

/** A product row as last written by this process. */
export interface ProductState {
  sku: string;
  title: string | null;
  /** Epoch ms of the row's title_at, category_at, price_at (-Infinity: the field is null). */
  titleAt: number;
  category: string | null;
  categoryAt: number;
  price: number | null;
  priceAt: number;
  /** Epoch ms of the row's seen_at. */
  at: number;
}

/**
 * What this process last wrote to the products table, so import batches send only the products
 * whose row would change (a catalogue repeats in every batch; most rows are unchanged). Applies
 * the table's rule (product-rule.ts): each field keeps the value of the most recent source time that had one
 * (the greatest at equal times), seen_at the latest source time.
 * Another process writing the same skus at the same time can make an entry stale; the cost is a
 * skipped update of a title or price, never a lost product (unknown skus are always sent).
 */
export class KnownProducts {
  private readonly rows = new Map<string, ProductState>();
  /** Updates of known rows not written yet (deferred): the row as it is to become. */
  private readonly pending = new Map<string, ProductState>();

  /** The row as this process knows it, pending updates included. */
  private current(sku: string): ProductState | undefined {
    return this.pending.get(sku) ?? this.rows.get(sku);
  }

  /** `s` after the table's rule applied to `p`, or null when no column changes. */
  private static applied(s: ProductState, p: PlannedProduct): ProductState | null {
    // called for every product of every batch: no closure per call
    const title = p.title !== null && textWins(p.title, p.titleAt, s.title, s.titleAt);
    const category = p.category !== null && textWins(p.category, p.categoryAt, s.category, s.categoryAt);
    const price = p.price !== null && priceWins(p.price, p.priceAt, s.price, s.priceAt);
    if (!title && !category && !price && p.time <= s.at) return null;
    return {
      sku: s.sku,
      title: title ? p.title : s.title,
      titleAt: title ? p.titleAt : s.titleAt,
      category: category ? p.category : s.category,
      categoryAt: category ? p.categoryAt : s.categoryAt,
      price: price ? p.price : s.price,
      priceAt: price ? p.priceAt : s.priceAt,
      at: p.time > s.at ? p.time : s.at,
    };
  }

  /** The planned products whose row may change. */
  changing(products: readonly PlannedProduct[]): PlannedProduct[] {
    return products.filter((p) => {
      const s = this.current(p.sku);
      return s === undefined || KnownProducts.applied(s, p) !== null;
    });
  }

  /**
   * Like `changing`, but only products this process has not written yet are returned (to be
   * written now, by the same statement as the batch's orders); changes to known rows are applied
   * here, in memory, with the table's rule, and kept until `takePending`. A bulk import thus
   * rewrites a product seen again (its seen_at moves on) once per file instead of once per batch.
   */
  defer(products: readonly PlannedProduct[]): PlannedProduct[] {
    const now: PlannedProduct[] = [];
    for (const p of products) {
      const s = this.current(p.sku);
      if (s === undefined) {
        now.push(p);
        continue;
      }
      const next = KnownProducts.applied(s, p);
      if (next !== null) this.pending.set(p.sku, next);
    }
    return now;
  }

  /** The deferred rows, removed from pending (write them, then `remember` them). */
  takePending(): ProductState[] {
    const out = [...this.pending.values()];
    this.pending.clear();
    return out;
  }

  /** Records rows as the database now holds them (call after the transaction committed). */
  remember(rows: readonly ProductState[]): void {
    for (const r of rows) this.rows.set(r.sku, r);
  }

  /** Forgets everything known (e.g. after a transaction of unknown outcome); pending updates stay. */
  clear(): void {
    this.rows.clear();
  }
}
