/**
 * Affinity of a customer (or a guest's session) to an offer's targets, in [0, 1], from what the
 * served model version knows, and whether the targets are in stock at a store.
 *
 *   factor part  f = max(0, cos(x, ȳ_T))       x: the customer's vector (or the session's fold-in),
 *                                              ȳ_T: the mean of the target items' factors
 *   history part h = Σ_{i bought, i ∈ T} c_i / Σ_i c_i   c_i: purchase counts of the record (session: 1 each)
 *   affinity     a = 1 − (1 − f)(1 − h)         (either kind of evidence raises it; both at 0 gives 0)
 *
 * T is the offer's target skus plus every item of its target categories the model knows. The reason
 * names the evidence that weighs more: the sku among T's most popular items nearest x, or the target
 * category the customer bought most in. Offers without targets (free shipping, a service) have no
 * affinity (null). Per model version and offer set, the targets are prepared once (TargetIndex).
 */
import type { LoadedModel } from '../cache/model-source.js';
import type { Offer } from '../core/offers/types.js';

/** Items of a category kept per target set for the sku of the reason (the most popular ones). */
const REPRESENTATIVES = 4;

interface PreparedTargets {
  /** Normalised mean factor vector of the target items (null: no factors, or no target item known). */
  centroid: Float32Array | null;
  /** A few target items (most popular first) whose sku can be named, with normalised factors (k each). */
  reps: Int32Array;
  repFactors: Float32Array | null;
  skus: ReadonlySet<string>;
  categories: ReadonlySet<string>;
  /** The offer names targets (skus or categories). */
  hasTargets: boolean;
}

export interface SubjectItems {
  /** Normalised factor vector, or null. */
  vector: Float32Array | null;
  /** Item indices and their weights (purchase counts, or 1 per session item). */
  items: ArrayLike<number>;
  weights: ArrayLike<number> | null;
}

export type Affinity = { score: number; sku?: string; category?: string } | null;

/** v[offset..offset+k) scaled to unit length, or null when it is zero. */
export function normalised(v: ArrayLike<number>, k: number, offset = 0): Float32Array | null {
  let n = 0;
  for (let d = 0; d < k; d++) n += v[offset + d] * v[offset + d];
  if (!(n > 0)) return null;
  const s = 1 / Math.sqrt(n);
  const out = new Float32Array(k);
  for (let d = 0; d < k; d++) out[d] = v[offset + d] * s;
  return out;
}

/** The targets of a set of offers against one model version, prepared once. */
export class TargetIndex {
  private readonly prepared = new Map<string, PreparedTargets>();
  /** Item ranks in the global popular list (lower = more popular). */
  private readonly rank: Int32Array;
  private byCategory: Map<string, number[]> | null = null;
  private readonly stockMemo = new WeakMap<ReadonlySet<string>, Map<string, boolean>>();

  constructor(
    readonly model: LoadedModel,
    offers: readonly Offer[],
  ) {
    this.rank = new Int32Array(model.items.length).fill(model.items.length);
    const g = model.popular.global.items;
    for (let p = 0; p < g.length; p++) this.rank[g[p]] = Math.min(this.rank[g[p]], p);
    for (const o of offers) this.prepared.set(o.id, this.prepare(o));
  }

  private itemsOfCategory(category: string): number[] {
    if (!this.byCategory) {
      const m = new Map<string, number[]>();
      this.model.itemCategories.forEach((c, i) => {
        if (c === null) return;
        let l = m.get(c);
        if (!l) m.set(c, (l = []));
        l.push(i);
      });
      for (const l of m.values()) l.sort((a, b) => this.rank[a] - this.rank[b] || a - b);
      this.byCategory = m;
    }
    return this.byCategory.get(category) ?? [];
  }

  private prepare(o: Offer): PreparedTargets {
    const model = this.model;
    const items: number[] = [];
    for (const s of o.targets.skus) {
      const i = model.itemIndex.get(s);
      if (i !== undefined) items.push(i);
    }
    for (const c of o.targets.categories) items.push(...this.itemsOfCategory(c));
    const unique = [...new Set(items)].sort((a, b) => this.rank[a] - this.rank[b] || a - b);
    const hasTargets = o.targets.skus.length + o.targets.categories.length > 0;
    let centroid: Float32Array | null = null;
    let repFactors: Float32Array | null = null;
    const reps = Int32Array.from(unique.slice(0, REPRESENTATIVES));
    if (model.als && unique.length) {
      const { k, itemFactors } = model.als;
      const sum = new Float32Array(k);
      for (const i of unique) for (let d = 0; d < k; d++) sum[d] += itemFactors[i * k + d];
      centroid = normalised(sum, k);
      repFactors = new Float32Array(reps.length * k);
      reps.forEach((i, r) => {
        const n = normalised(itemFactors, k, i * k);
        if (n) repFactors!.set(n, r * k);
      });
    }
    return { centroid, reps, repFactors, skus: new Set(o.targets.skus), categories: new Set(o.targets.categories), hasTargets };
  }

  /**
   * The affinity function of one subject (DecisionSubject.affinity): computed per offer on demand,
   * remembered for the request.
   */
  affinityOf(subject: SubjectItems): (offer: Offer) => Affinity {
    const model = this.model;
    const k = model.als?.k ?? 0;
    // the subject's purchase weight per category and per sku, once
    let total = 0;
    const byCategory = new Map<string, number>();
    const bySku = new Map<string, number>();
    for (let p = 0; p < subject.items.length; p++) {
      const i = subject.items[p];
      const w = subject.weights ? subject.weights[p] : 1;
      if (!(w > 0)) continue;
      total += w;
      bySku.set(model.items[i], (bySku.get(model.items[i]) ?? 0) + w);
      const c = model.itemCategories[i];
      if (c !== null && c !== undefined) byCategory.set(c, (byCategory.get(c) ?? 0) + w);
    }
    const x = subject.vector;
    const memo = new Map<string, Affinity>();
    return (offer) => {
      const hit = memo.get(offer.id);
      if (hit !== undefined) return hit;
      const t = this.prepared.get(offer.id);
      let out: Affinity = null;
      if (t && t.hasTargets) {
        let f = 0;
        let sku: string | undefined;
        if (x && t.centroid && k === x.length) {
          let dot = 0;
          for (let d = 0; d < k; d++) dot += x[d] * t.centroid[d];
          f = Math.max(0, Math.min(1, dot));
          let best = -Infinity;
          for (let r = 0; r < t.reps.length; r++) {
            let s = 0;
            for (let d = 0; d < k; d++) s += x[d] * t.repFactors![r * k + d];
            if (s > best) {
              best = s;
              sku = model.items[t.reps[r]];
            }
          }
        }
        let inTargets = 0;
        let category: string | undefined;
        let bestCategory = 0;
        for (const c of t.categories) {
          const w = byCategory.get(c) ?? 0;
          inTargets += w;
          if (w > bestCategory) {
            bestCategory = w;
            category = c;
          }
        }
        for (const s of t.skus) {
          const i = model.itemIndex.get(s);
          const c = i === undefined ? null : model.itemCategories[i];
          if (c !== null && c !== undefined && t.categories.has(c)) continue; // counted with its category
          inTargets += bySku.get(s) ?? 0;
        }
        const h = total > 0 ? Math.min(1, inTargets / total) : 0;
        const score = 1 - (1 - f) * (1 - h);
        out = h > f && category ? { score, category } : sku ? { score, sku } : category ? { score, category } : { score };
      }
      memo.set(offer.id, out);
      return out;
    };
  }

  /**
   * Whether an offer's targets are in stock in a set of skus (a store's snapshot): a target sku in it,
   * or an item of a target category. Offers without targets always are.
   */
  inStock(offer: Offer, stock: ReadonlySet<string>): boolean {
    const t = this.prepared.get(offer.id);
    if (!t || !t.hasTargets) return true;
    // a snapshot's sets are replaced whole on refresh: remember the answer per set
    let memo = this.stockMemo.get(stock);
    if (!memo) this.stockMemo.set(stock, (memo = new Map()));
    let known = memo.get(offer.id);
    if (known === undefined) memo.set(offer.id, (known = this.targetsIn(t, stock)));
    return known;
  }

  private targetsIn(t: PreparedTargets, stock: ReadonlySet<string>): boolean {
    for (const s of t.skus) if (stock.has(s)) return true;
    if (t.categories.size === 0) return false;
    for (const s of stock) {
      const i = this.model.itemIndex.get(s);
      const c = i === undefined ? null : this.model.itemCategories[i];
      if (c !== null && c !== undefined && t.categories.has(c)) return true;
    }
    return false;
  }
}
