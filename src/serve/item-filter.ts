/**
 * Which items may appear in a list: in stock at the requested store, inside the
 * requested categories, not excluded (already bought, already in the basket).
 * Applied on the candidate stream, so a filter is only consulted for items that
 * could still make the list.
 */
import type { Channel } from '../core/records.js';

/** Options common to every list endpoint. */
export interface ListOptions {
  /** Items to return (1..100). */
  limit: number;
  /** Only items in stock in this store. */
  store?: string;
  /** The channel asking: the popular steps use that channel's best sellers (then global), see candidate-sources.ts popular. */
  channel?: Channel;
  /** Only items of these categories. */
  category?: string[];
  /** No items of these categories. */
  excludeCategory?: string[];
  /** Leave out what the customer already bought (default true on discovery lists). */
  excludePurchased?: boolean;
}

export interface ItemFilterParts {
  skus: readonly string[];
  categories: readonly (string | null)[];
  /** Skus in stock at the requested store; undefined = no stock filter. */
  inStock?: ReadonlySet<string>;
  include?: readonly string[];
  exclude?: readonly string[];
  /** Item indices never to return. */
  excluded?: Iterable<number>;
}

/**
 * A set of item indices in [0, n): the first few members in a small array (similar items and
 * basket lists exclude a handful of items: no per-request allocation of a catalogue-sized array,
 * which at 100k items cost more than the rest of the request), then one byte per item (a
 * customer's history, tested in a dense scan over every item: far cheaper than a Set<number>, as
 * measured on the personal path). Indices outside [0, n) are never members and cannot be added.
 */
export class ItemMarks {
  /** Members while there are at most SMALL of them; null once `mark` holds them. */
  private few: number[] | null = [];
  private mark: Uint8Array | null = null;
  size = 0;
  private static readonly SMALL = 16;

  constructor(
    private readonly n: number,
    items: Iterable<number> = [],
  ) {
    for (const i of items) this.add(i);
  }

  has(i: number): boolean {
    if (this.mark) return this.mark[i] === 1;
    return this.few!.includes(i);
  }

  add(i: number): this {
    if (!(i >= 0 && i < this.n) || this.has(i)) return this;
    if (this.few && this.few.length < ItemMarks.SMALL) this.few.push(i);
    else {
      if (!this.mark) {
        this.mark = new Uint8Array(this.n);
        for (const j of this.few!) this.mark[j] = 1;
        this.few = null;
      }
      this.mark[i] = 1;
    }
    this.size++;
    return this;
  }
}

export class ItemFilter {
  private readonly skus: readonly string[];
  private readonly categories: readonly (string | null)[];
  private readonly inStock?: ReadonlySet<string>;
  private readonly include?: ReadonlySet<string>;
  private readonly exclude?: ReadonlySet<string>;
  readonly excluded: ItemMarks;

  constructor(parts: ItemFilterParts) {
    this.skus = parts.skus;
    this.categories = parts.categories;
    this.inStock = parts.inStock;
    this.include = parts.include?.length ? new Set(parts.include) : undefined;
    this.exclude = parts.exclude?.length ? new Set(parts.exclude) : undefined;
    this.excluded = new ItemMarks(parts.skus.length, parts.excluded);
  }

  /** true when item index i may be returned. */
  accepts(i: number): boolean {
    if (this.excluded.has(i)) return false;
    if (this.include || this.exclude) {
      const c = this.categories[i];
      if (this.include && (c === null || !this.include.has(c))) return false;
      if (this.exclude && c !== null && this.exclude.has(c)) return false;
    }
    if (this.inStock && !this.inStock.has(this.skus[i])) return false;
    return true;
  }
}
