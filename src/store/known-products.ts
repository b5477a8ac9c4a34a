import type { PlannedProduct } from './import-plan.js';

/** A product row as last written by this process. */
export interface ProductState {
  sku: string;
  title: string | null;
  category: string | null;
  price: number | null;
  /** Epoch ms of the row's seen_at. */
  at: number;
}

/**
 * What this process last wrote to the products table, so import batches send only the products
 * whose row would change (a catalogue repeats in every batch; most rows are unchanged). Applies
 * the table's rule: each field keeps the value of the most recent source time that had one.
 * Another process writing the same skus at the same time can make an entry stale; the cost is a
 * skipped update of a title or price, never a lost product (unknown skus are always sent).
 */
export class KnownProducts {
  private readonly rows = new Map<string, ProductState>();

  /** The planned products whose row may change. */
  changing(products: readonly PlannedProduct[]): PlannedProduct[] {
    return products.filter((p) => {
      const s = this.rows.get(p.sku);
      if (s === undefined) return true;
      const newer = p.time >= s.at;
      const pick = <T>(incoming: T | null, current: T | null) => (newer ? (incoming ?? current) : (current ?? incoming));
      return pick(p.title, s.title) !== s.title || pick(p.category, s.category) !== s.category || pick(p.price, s.price) !== s.price;
    });
  }

  /** Records rows as the database now holds them (call after the transaction committed). */
  remember(rows: readonly ProductState[]): void {
    for (const r of rows) this.rows.set(r.sku, r);
  }

  /** Forgets everything (e.g. after a transaction of unknown outcome). */
  clear(): void {
    this.rows.clear();
  }
}
