/**
 * Choosing the served model on a validation window (never on the test window): the components
 * (ALS, EASE when the catalogue allows, item-kNN, TIFU-KNN, trend tables of several half-lives) are
 * fitted once on the data before the window, every candidate list is scored on the window through
 * src/core/served-model.ts (the scorer the service uses), and the best NDCG@10 (ties: Recall@20) wins,
 * separately for the discovery list (purchased items excluded) and the repeat-inclusive list ("all").
 *
 * Candidates, in stages (each stage builds on the best of the one before):
 * - discovery: trend alone for each half-life (0 = no decay = popularity); each learned model alone;
 *   the best learned model + trend at several weights; that blend at every half-life; the best learned
 *   list plus a second learned model (two weights, the trend's weight kept or scaled with the learned mass);
 * - all: own items then trend (0 = repeat, reference_eval.py's baseline); own items then the chosen
 *   discovery list; TIFU-KNN at several α, alone and with a little trend; each learned model and the
 *   discovery list over all items (own items compete by score); the discovery list plus a fading repeat
 *   score of own items (ListSpec.ownWeight); the best TIFU-KNN plus the discovery list.
 * Popularity and repeat-then-trend are candidates, so a chosen list never scores below them on validation.
 *
 * Every candidate scores every item for every validation user, so the cost is users × items × candidates:
 * above `maxUsers` validation users per protocol (default SELECT_MAX_USERS), a seeded sample of that many
 * is scored, the same users for every candidate (at 20,000 users the standard error of an NDCG@10 mean is
 * under 0.003). Small data sets (the shared file: ~4,000 users) are scored whole.
 */
import {
  addOwn,
  type BuyAgainRanking,
  type Components,
  combine,
  components,
  factorScoresF32,
  type LearnedKind,
  learnedScores,
  ownedOrder,
  type ListSpec,
  OWNED_BASE,
  POP_TIE,
  type ServedPerson,
  type ServedSpec,
  specNeeds,
  topAccepted,
  trendKey,
} from '../core/served-model.js';
import type { TopKLists } from '../core/bundle.js';
import { TopSelect } from '../core/top-select.js';
import { mulberry32 } from '../core/random.js';
import { DOT_BATCH, fitServed, listSpec, type ServedInput, type ServedParams, type ServedState } from '../models/served.js';
import { type BuyAgainFigures, evaluateBuyAgain } from './buy-again-eval.js';
import { ndcgAt, recallAt } from './metrics.js';
import { round4 } from './evaluate.js';
import type { EvalSplit } from './time-split.js';
import { type CachePart, type CandidateScorer, LocalScorer, SPLIT_MIN_WORK, SplitScorer, startSelectWorker } from './select-split.js';

/** Trend half-lives tried (days; 0 = no decay, i.e. popularity). */
export const TREND_HALF_LIVES = [0, 3, 7, 14, 30, 60];
const TREND_WEIGHTS = [0.1, 0.25, 0.5, 1, 2];
const TIFU_ALPHAS = [0.5, 0.7, 0.9];
/** Validation users scored per protocol when choosing; a seeded sample above this (see the top of the file). */
export const SELECT_MAX_USERS = 20_000;
/** Weights of a second learned model added to the best learned list (relative to the first's). */
const PAIR_WEIGHTS = [0.5, 1];
/** Own items against the discovery list (ListSpec.ownWeight, ownHalfLifeDays in days). */
const OWN_WEIGHTS = [0.5, 1];
const OWN_HALF_LIVES = [60, 120];

export interface CandidateScore {
  name: string;
  protocol: 'discovery' | 'all';
  'ndcg@10': number;
  'recall@20': number;
  users: number;
  spec: ListSpec;
  /**
   * Paired against the chosen list of its protocol, over the same validation customers: the mean NDCG@10
   * difference (candidate − chosen) and its standard error. A gap within about two standard errors is noise.
   */
  vsChosen?: { diff: number; se: number };
}

/** Per-customer NDCG@10 of each scored candidate (for the paired comparison). */
const perUser = new WeakMap<CandidateScore, Float64Array>();

/** Mean and standard error of the per-customer difference a − b. */
function pairedDiff(a: Float64Array, b: Float64Array): { diff: number; se: number } {
  const n = a.length;
  if (n < 2) return { diff: 0, se: 0 };
  let m = 0;
  for (let i = 0; i < n; i++) m += a[i] - b[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (a[i] - b[i] - m) ** 2;
  return { diff: round4(m), se: round4(Math.sqrt(v / (n - 1) / n)) };
}

export interface Selection {
  spec: ServedSpec;
  /** Validation figures of every candidate, in the order tried. */
  candidates: CandidateScore[];
  /** The chosen lists' validation figures. */
  validation: { discovery: CandidateScore; all: CandidateScore };
  /** The best trend-only and own-items-then-trend lists on validation (baselines reported beside). */
  baselines: { trend: ServedSpec; repeatTrend: ServedSpec };
  state: ServedState;
  /** The buy-again protocol on validation (rhythm formula `buy_again`, `repeat`, `served`). */
  buyAgain: Record<string, BuyAgainFigures>;
  fit_s: Record<string, number>;
  skipped: Record<string, string>;
  select_s: number;
  /** Per protocol: customer-lists scored from the candidate cache, and those the bound sent the full way. */
  scoring: Record<string, { users: number; lists: number; deepened: number }>;
  /** Validation users per protocol with something to find, and how many of them were scored (a sample above maxUsers). */
  users: Record<'discovery' | 'all', { of: number; scored: number }>;
  /** Threads that scored the candidates (2: split with a worker, select-split.ts; not in the manifest: the figures are the same). */
  scoringThreads: number;
}

/** The served model's inputs from an evaluation split. */
export function splitInput(split: EvalSplit): ServedInput {
  return { reference: split.reference, weighted: () => split.weighted, purchases: split.reference.purchases, now: split.cutoff };
}

const ndcg10 = ndcgAt(10);
const recall20 = recallAt(20);

/**
 * Per-customer candidate cache of one protocol: each component's scores (L / max L per learned model,
 * P / max P per TIFU α, each trend table, popularity) are computed once per customer, and only on the
 * union U of every component's top CAND_K accepted items (plus the customer's own items on the "all"
 * protocol) are they kept, with each component's bound b_c (its (CAND_K+1)-th largest accepted value:
 * every accepted item outside U scores at most b_c on c). A candidate list s = Σ w_c · x_c (w_c ≥ 0) is
 * then scored on U alone: an item outside U scores at most B = Σ w_c · b_c (same operations in the same
 * order, and rounding is monotone), so when the 20th best of U scores above B the top 20 over U is the
 * top 20 over the catalogue, exactly what combine + topAccepted would return (ties: lower index; U is
 * walked in index order). Otherwise (rare) that customer is scored the full way. Exact: the figures are
 * those of scoring every item.
 */
export const CAND_K = 50;
/** How much deeper a customer's cache is rebuilt when the bound cannot prove a list's top 20. */
export const CAND_DEEPEN = 4;
const TOP = 20;

type CompId = string; // 'pop', 't:<half-life>', 'l:<kind>', 'p:<α>'

interface UserCache {
  u: number;
  truth: Set<number>;
  /** Depth: U holds each component's `k` + 1 best accepted items. */
  k: number;
  /** U, ascending item indices. */
  items: Int32Array;
  /** Purchase count when the customer owns the item (count > 0), else 0. */
  owned: Float64Array;
  /** Component c's values on U at [c · |U| + q]. */
  vals: Float64Array;
  /** Component c's bound outside U (−Infinity: U holds every accepted item). */
  bound: Float64Array;
}

/** The components of a spec as cache ids (null: not in the cache). */
function specComps(spec: ListSpec): { learned: CompId | null; learned2: CompId | null; trend: CompId | null; tifu: CompId | null } {
  const need = specNeeds(spec);
  return {
    learned: need.learned ? `l:${need.learned}` : null,
    learned2: need.learned2 ? `l:${need.learned2}` : null,
    trend: need.trend !== null ? `t:${need.trend}` : null,
    tifu: need.tifu ? `p:${spec.tifuAlpha}` : null,
  };
}

/** Bytes of list-based learned scores a thread's candidate caches keep for deepening (KeptLearned). */
export const KEPT_BYTES = 128 * 2 ** 20;
/** What KeptLearned counts per entry beyond its items' 12 bytes each (typed-array headers, the object, the map slot). */
const KEPT_ENTRY_BYTES = 320;

/**
 * Customers' list-based learned scores (EASE's, item-kNN's: the sparse accumulator's touched items and values, as
 * sparseScores left them) kept from a cache entry for its deepening: a deepened entry (CandidateCache.deepen) reads
 * them back instead of summing the customer's lists again (a customer's items × the lists' length: most of an
 * entry's work). The same values in the same places, so the same entry. Up to `budget` bytes (12 per item kept and
 * 320 per entry);
 * a customer beyond it is summed again when deepened. Shared by the caches built together (the scores depend on the
 * customer alone), and by a thread's caches built later (SplitScorer's after its worker failed): one budget per thread.
 */
export class KeptLearned {
  private readonly kept = new Map<number, { items: Int32Array; vals: Float64Array }>();
  bytes = 0;

  constructor(readonly budget = KEPT_BYTES) {}

  private static key(id: CompId, u: number): number {
    return u * 2 + (id === 'l:ease' ? 0 : 1);
  }

  get(id: CompId, u: number): { items: Int32Array; vals: Float64Array } | undefined {
    return this.kept.get(KeptLearned.key(id, u));
  }

  /** Keeps the values of `touched` in `acc` (when within the budget and not kept yet). */
  put(id: CompId, u: number, acc: Float64Array, touched: number[]): void {
    const key = KeptLearned.key(id, u);
    // an empty list is summed again for nothing; an entry costs its two arrays' headers, an object and a map slot
    // beyond its 12 bytes per item (measured: ~400 bytes for a 10-item entry)
    if (touched.length === 0) return;
    const bytes = touched.length * 12 + KEPT_ENTRY_BYTES;
    if (this.bytes + bytes > this.budget || this.kept.has(key)) return;
    const items = Int32Array.from(touched);
    const vals = new Float64Array(items.length);
    for (let q = 0; q < items.length; q++) vals[q] = acc[items[q]];
    this.kept.set(key, { items, vals });
    this.bytes += bytes;
  }
}

/** The candidate cache of one protocol for the components `comps` (built in one pass over its customers). */
export class CandidateCache {
  /** List-based learned scores kept for deepening (shared by caches built together). */
  kept = new KeptLearned();
  readonly users: UserCache[] = [];
  /** Customer-lists scored, and those whose customer's cache had to be deepened first (diagnostics). */
  scored = 0;
  deepened = 0;
  private readonly n: number;
  private readonly mask: Uint8Array;
  private readonly stamp: Int32Array;
  private readonly picked: number[] = [];
  private pass = 0;
  private readonly globals = new Map<CompId, { values: ArrayLike<number>; order: Int32Array }>();

  constructor(
    private readonly st: ServedState,
    split: EvalSplit,
    readonly protocol: 'discovery' | 'all',
    readonly comps: CompId[],
    k = CAND_K,
    /** The customers to hold (default: every customer of the protocol with something to find). */
    only?: Int32Array,
  ) {
    const n = (this.n = st.tables.nItems);
    this.mask = new Uint8Array(n);
    this.stamp = new Int32Array(n).fill(-1);
    // global components: the catalogue in descending order (ties: lower index), walked per customer
    for (const c of comps) {
      const values = c === 'pop' ? st.tables.popularity : c.startsWith('t:') ? st.tables.trends[c.slice(2)] : null;
      if (!values) continue;
      const order = Int32Array.from({ length: n }, (_, j) => j).sort((a, b) => values[b] - values[a] || a - b);
      this.globals.set(c, { values, order });
    }
    const users = only ?? (protocol === 'discovery' ? split.discoveryUsers : split.allUsers);
    const truth = protocol === 'discovery' ? split.truthNew : split.truthAll;
    const todo: [number, Set<number>][] = [];
    for (const u of users) {
      const t = truth.get(u);
      if (t && t.size > 0) todo.push([u, t]);
    }
    // ALS's x · y_j for DOT_BATCH customers at once (dotMany: bit for bit the per-customer dot)
    const f = st.tables.factors;
    const batched = comps.includes('l:als') && f?.dotMany && st.als ? { k: f.k, xs: new Float32Array(DOT_BATCH * f.k) } : null;
    for (let s = 0; s < todo.length; s += DOT_BATCH) {
      const end = Math.min(todo.length, s + DOT_BATCH);
      if (batched) {
        const uf = st.als!.userFactors;
        const k2 = batched.k;
        this.alsRow.clear();
        for (let q = s; q < end; q++) {
          const u = todo[q][0];
          if ((u + 1) * k2 > uf.length) continue;
          this.alsRow.set(u, this.alsRow.size);
          batched.xs.set(uf.subarray(u * k2, u * k2 + k2), (this.alsRow.size - 1) * k2);
        }
        this.alsRows = f!.dotMany!(batched.xs, this.alsRow.size);
      }
      for (let q = s; q < end; q++) this.users.push(this.entry(todo[q][0], todo[q][1], k));
    }
    this.alsRow.clear();
    this.alsRows = null;
  }

  /** The current batch's ALS scores (dotMany) and each of its customers' row. */
  private alsRows: Float32Array | null = null;
  private readonly alsRow = new Map<number, number>();

  /**
   * The caches of several protocols over the same fitted state, built in one pass over their customers (ascending):
   * a customer's list-based learned scores (the same for every protocol: they depend on the customer alone) are
   * computed once and read by each protocol's entry, and ALS's scores are batched over the customers of all of them.
   * Each cache holds exactly what `new CandidateCache(st, split, protocol, comps, k, only)` holds.
   */
  static buildTogether(
    st: ServedState,
    split: EvalSplit,
    parts: { protocol: 'discovery' | 'all'; comps: CompId[]; only?: Int32Array }[],
    k = CAND_K,
    /** The thread's kept scores, when other caches of this thread hold some already (one budget per thread). */
    kept = new KeptLearned(),
  ): CandidateCache[] {
    const caches = parts.map((p) => new CandidateCache(st, split, p.protocol, p.comps, k, new Int32Array(0)));
    for (const c of caches) c.kept = kept;
    const todo = parts.map((p) => {
      const users = p.only ?? (p.protocol === 'discovery' ? split.discoveryUsers : split.allUsers);
      const truth = p.protocol === 'discovery' ? split.truthNew : split.truthAll;
      const out = new Map<number, Set<number>>();
      for (const u of users) {
        const t = truth.get(u);
        // the first of a repeated customer, as the constructor's list keeps each occurrence (users are distinct)
        if (t && t.size > 0 && !out.has(u)) out.set(u, t);
      }
      return out;
    });
    // every cache's customers, ascending (each cache's own order is its users' order: ascending too)
    const union = Int32Array.from(new Set(todo.flatMap((m) => [...m.keys()]))).sort();
    for (let i = 0; i < parts.length; i++) {
      const users = parts[i].only ?? (parts[i].protocol === 'discovery' ? split.discoveryUsers : split.allUsers);
      for (let q = 1; q < users.length; q++) {
        if (users[q] > users[q - 1]) continue;
        const each = parts.map((p) => new CandidateCache(st, split, p.protocol, p.comps, k, p.only));
        // (built one by one, each with a budget of its own so far: they share the thread's from now on)
        for (const c of each) c.kept = kept;
        return each;
      }
    }
    const f = st.tables.factors;
    const withAls = caches.some((c) => c.comps.includes('l:als'));
    const batched = withAls && f?.dotMany && st.als ? { k: f.k, xs: new Float32Array(DOT_BATCH * f.k) } : null;
    const alsRow = new Map<number, number>();
    let alsRows: Float32Array | null = null;
    const shared = new Map<CompId, { acc: Float64Array; touched: number[]; seen: Uint8Array }>();
    for (let s = 0; s < union.length; s += DOT_BATCH) {
      const end = Math.min(union.length, s + DOT_BATCH);
      if (batched) {
        const uf = st.als!.userFactors;
        const k2 = batched.k;
        alsRow.clear();
        for (let q = s; q < end; q++) {
          const u = union[q];
          if ((u + 1) * k2 > uf.length) continue;
          alsRow.set(u, alsRow.size);
          batched.xs.set(uf.subarray(u * k2, u * k2 + k2), (alsRow.size - 1) * k2);
        }
        alsRows = f!.dotMany!(batched.xs, alsRow.size);
      }
      for (const c of caches) {
        c.alsRows = alsRows;
        c.alsRow.clear();
        for (const [u, r] of alsRow) c.alsRow.set(u, r);
      }
      for (let q = s; q < end; q++) {
        const u = union[q];
        shared.clear();
        for (let i = 0; i < caches.length; i++) {
          const t = todo[i].get(u);
          if (t) caches[i].users.push(caches[i].entry(u, t, k, shared));
        }
        for (const c of caches) c.releaseSparse();
      }
    }
    for (const c of caches) {
      c.alsRow.clear();
      c.alsRows = null;
    }
    return caches;
  }

  /**
   * The cache entry of customer u at depth k. `shared` (building several protocols' caches together): list-based
   * learned scores already computed for u by another cache are read from it, and those computed here are put in it;
   * the sparse accumulators are then released by the caller, after every cache's entry.
   */
  entry(u: number, truth: Set<number>, k: number, shared?: Map<CompId, { acc: Float64Array; touched: number[]; seen: Uint8Array }>): UserCache {
    const { st, n, mask, stamp, picked, comps } = this;
    const person = st.person(u);
    const x = ++this.pass;
    if (this.protocol === 'discovery') for (let q = 0; q < person.items.length; q++) mask[person.items[q]] = 1;
    picked.length = 0;
    const add = (j: number) => {
      if (stamp[j] !== x) {
        stamp[j] = x;
        picked.push(j);
      }
    };
    const dense: ArrayLike<number>[] = [];
    const bound = new Float64Array(comps.length);
    const sel = new TopSelect(k + 1);
    for (let c = 0; c < comps.length; c++) {
      const id = comps[c];
      const g = this.globals.get(id);
      if (g) {
        dense.push(g.values);
        let taken = 0;
        bound[c] = -Infinity;
        for (let r = 0; r < n; r++) {
          const j = g.order[r];
          if (mask[j] !== 0) continue;
          if (taken === k) {
            bound[c] = g.values[j];
            break;
          }
          add(j);
          taken++;
        }
        continue;
      }
      const learnedList = id === 'l:ease' || id === 'l:item_knn';
      let sp: { acc: Float64Array; touched: number[]; seen: Uint8Array } | null = learnedList ? (shared?.get(id) ?? this.reload(c, id, u)) : null;
      if (!sp) {
        const r = this.sparseScores(c, id, person);
        sp = r ? { ...r, seen: this.seen[c] } : null;
        if (sp && learnedList) this.kept.put(id, u, sp.acc, sp.touched);
      }
      if (sp && learnedList) shared?.set(id, sp);
      let floor = -Infinity;
      if (sp) {
        // a sparse component (list-based learned model, TIFU-KNN): the same values as learnedScores / tifuScores
        // (the same sums in the same order, then the same division) on the items it touches, +0 on every other
        // item; the k + 1 best accepted (score, then lower index) are the best touched ones and the lowest-index
        // untouched ones at +0, the same set the dense scan below selects, so U and the bound are the same
        const { acc, touched } = sp;
        dense.push(acc);
        // (a value below the heap's floor cannot enter: push is not called for it)
        let fl = -Infinity;
        for (let q = 0; q < touched.length; q++) {
          const j = touched[q];
          const v = acc[j];
          if (v >= fl && mask[j] === 0) {
            sel.push(v, j);
            fl = sel.floor();
          }
        }
        const seen = sp.seen;
        if (!(sel.size > k && sel.floor() > 0)) {
          let taken = 0;
          for (let j = 0; j < n && taken <= k; j++) {
            if (seen[j] !== 0 || mask[j] !== 0) continue;
            sel.push(0, j);
            taken++;
          }
        }
        floor = sel.floor();
      } else {
        const v = this.denseBuffer(c);
        dense.push(v);
        // ALS: learnedScores' values (x · y_j / max when the max is positive, else zeros), the normalisation and
        // the scan in one pass: the k + 1 largest accepted values; the heap's worst is the bound (kept in U too: harmless)
        const f = st.tables.factors;
        const x = person.vector;
        const r = this.alsRows ? this.alsRow.get(u) : undefined;
        const raw =
          id === 'l:als' && f && x ? (r !== undefined ? this.alsRows!.subarray(r * n, r * n + n) : f.dot ? f.dot(x) : factorScoresF32(f.itemFactors, f.k, n, x)) : null;
        let max = 0;
        if (raw) for (let j = 0; j < n; j++) if (raw[j] > max) max = raw[j];
        if (raw && max > 0) {
          for (let j = 0; j < n; j++) {
            const s = raw[j] / max;
            v[j] = s;
            if (s > floor && mask[j] === 0) {
              sel.push(s, j);
              floor = sel.floor();
            }
          }
        } else {
          // learnedScores' zeros (no factors or vector, or no positive score)
          v.fill(0);
          for (let j = 0; j < n; j++) {
            if (v[j] > floor && mask[j] === 0) {
              sel.push(v[j], j);
              floor = sel.floor();
            }
          }
        }
      }
      bound[c] = sel.size > k ? floor : -Infinity;
      const ids = sel.heapIds();
      for (let r = 0; r < ids.length; r++) add(ids[r]);
      sel.clear();
    }
    const ownedAt = new Map<number, number>();
    for (let q = 0; q < person.items.length; q++) {
      if (person.counts[q] > 0) ownedAt.set(person.items[q], person.counts[q]);
      if (this.protocol === 'all') add(person.items[q]);
    }
    if (this.protocol === 'discovery') for (let q = 0; q < person.items.length; q++) mask[person.items[q]] = 0;
    // U ascending: the picked items sorted, or (many of them) the catalogue walked for their stamp
    let items: Int32Array;
    if (picked.length * 8 > n) {
      items = new Int32Array(picked.length);
      for (let j = 0, q = 0; j < n; j++) if (stamp[j] === x) items[q++] = j;
    } else items = Int32Array.from(picked).sort();
    const m = items.length;
    const vals = new Float64Array(comps.length * m);
    for (let c = 0; c < comps.length; c++) {
      const v = dense[c];
      // one loop per array type (each access site sees one kind of array)
      if (v instanceof Float64Array) for (let q = 0, o = c * m; q < m; q++) vals[o + q] = v[items[q]];
      else if (v instanceof Float32Array) for (let q = 0, o = c * m; q < m; q++) vals[o + q] = v[items[q]];
      else for (let q = 0; q < m; q++) vals[c * m + q] = v[items[q]];
    }
    const owned = new Float64Array(m);
    if (this.protocol === 'all') for (let q = 0; q < m; q++) owned[q] = ownedAt.get(items[q]) ?? 0;
    if (!shared) this.releaseSparse();
    return { u, truth, k, items, owned, vals, bound };
  }

  /** Per component: a dense buffer (ALS), or a sparse accumulator (zero outside `touched`) and its touched items. */
  private readonly bufs: (Float64Array | undefined)[] = [];
  private readonly seen: Uint8Array[] = [];
  private readonly touched: number[][] = [];

  private denseBuffer(c: number): Float64Array {
    return (this.bufs[c] ??= new Float64Array(this.n));
  }

  /**
   * Component `id`'s normalised scores for `person` when they are sparse (list-based learned models, TIFU-KNN):
   * the accumulator (learnedScores' / tifuScores' value on every item: zero outside `touched`) and the items
   * touched; null for a dense component (ALS).
   */
  private sparseScores(c: number, id: CompId, person: ServedPerson): { acc: Float64Array; touched: number[] } | null {
    const tables = this.st.tables;
    const isTifu = id.startsWith('p:');
    const kind = isTifu ? null : (id.slice(2) as LearnedKind);
    if (kind === 'als') return null;
    const acc = this.denseBuffer(c);
    const seen = (this.seen[c] ??= new Uint8Array(this.n));
    const touched = (this.touched[c] ??= []);
    const add = (j: number, v: number) => {
      if (seen[j] === 0) {
        seen[j] = 1;
        touched.push(j);
      }
      acc[j] += v;
    };
    if (isTifu) {
      // tifuScores: own part, then the neighbours' part; divided by the max when it is positive (else the raw sums)
      const t = person.tifu;
      if (t) {
        const alpha = Number(id.slice(2));
        for (let q = 0; q < person.items.length; q++) add(person.items[q], alpha * t.own[q]);
        for (let q = 0; q < t.nbrItems.length; q++) add(t.nbrItems[q], (1 - alpha) * t.nbrScores[q]);
      }
      let max = 0;
      for (let q = 0; q < touched.length; q++) if (acc[touched[q]] > max) max = acc[touched[q]];
      if (max > 0) for (let q = 0; q < touched.length; q++) acc[touched[q]] /= max;
      return { acc, touched };
    }
    // learnedScores for a list-based model: Σ w · score over the history's lists; divided by the max when positive, else zeros
    const l = kind === 'ease' || kind === 'item_knn' ? tables.lists[kind] : undefined;
    if (l) {
      // add() written out (the hottest loop of the selection: a customer's items × the lists' length)
      const { indptr, indices, scores } = l;
      const rows = indptr.length - 1;
      const items = person.items;
      const lw = person.listWeights;
      let work = 0;
      for (let q = 0; q < items.length; q++) {
        const i = items[q];
        if (i >= 0 && i < rows) work += indptr[i + 1] - indptr[i];
      }
      if (work >= this.n >> 1) return this.sparseDense(l, person, acc, seen, touched);
      for (let q = 0; q < items.length; q++) {
        const i = items[q];
        if (i < 0 || i >= rows) continue;
        const w = lw ? lw[q] : 1;
        const end = indptr[i + 1];
        for (let p = indptr[i]; p < end; p++) {
          const j = indices[p];
          if (seen[j] === 0) {
            seen[j] = 1;
            touched.push(j);
          }
          acc[j] += w * scores[p];
        }
      }
    }
    let max = 0;
    for (let q = 0; q < touched.length; q++) if (acc[touched[q]] > max) max = acc[touched[q]];
    if (max > 0) for (let q = 0; q < touched.length; q++) acc[touched[q]] /= max;
    else for (let q = 0; q < touched.length; q++) acc[touched[q]] = 0;
    return { acc, touched };
  }

  /** sparseScores' result for component c as kept for customer u (KeptLearned), put back in c's accumulator; null when not kept. */
  private reload(c: number, id: CompId, u: number): { acc: Float64Array; touched: number[]; seen: Uint8Array } | null {
    const e = this.kept.get(id, u);
    if (!e) return null;
    const acc = this.denseBuffer(c);
    const seen = (this.seen[c] ??= new Uint8Array(this.n));
    const touched = (this.touched[c] ??= []);
    const { items, vals } = e;
    for (let q = 0; q < items.length; q++) {
      const j = items[q];
      acc[j] = vals[q];
      seen[j] = 1;
      touched.push(j);
    }
    return { acc, touched, seen };
  }

  /**
   * sparseScores' list-based learned scores for a customer whose lists cover much of the catalogue: the same sums in
   * the same order (every item's accumulator starts at +0 and takes the same adds), without the per-add "first touch"
   * test; `touched` is then the items whose sum is not zero, in index order. It can leave out an item whose adds
   * summed to exactly 0: its value is 0 either way (0 / max), and entry() selects the same k + 1 best accepted items,
   * since it gives every item outside `touched` +0 and takes the lowest-index ones first, as the ordering (score,
   * then lower index) does among zeros. Same values, U and bounds (test/select.test.ts).
   */
  private sparseDense(l: TopKLists, person: ServedPerson, acc: Float64Array, seen: Uint8Array, touched: number[]): { acc: Float64Array; touched: number[] } {
    const { indptr, indices, scores } = l;
    const rows = indptr.length - 1;
    const items = person.items;
    const lw = person.listWeights;
    for (let q = 0; q < items.length; q++) {
      const i = items[q];
      if (i < 0 || i >= rows) continue;
      const w = lw ? lw[q] : 1;
      const end = indptr[i + 1];
      for (let p = indptr[i]; p < end; p++) acc[indices[p]] += w * scores[p];
    }
    const n = this.n;
    let max = 0;
    for (let j = 0; j < n; j++) {
      const v = acc[j];
      if (v !== 0) {
        seen[j] = 1;
        touched.push(j);
        if (v > max) max = v;
      }
    }
    if (max > 0) for (let q = 0; q < touched.length; q++) acc[touched[q]] /= max;
    else for (let q = 0; q < touched.length; q++) acc[touched[q]] = 0;
    return { acc, touched };
  }

  /** Zeroes the sparse accumulators again (after an entry has read them). */
  private releaseSparse(): void {
    for (let c = 0; c < this.touched.length; c++) {
      const touched = this.touched[c];
      if (!touched) continue;
      const acc = this.bufs[c]!;
      const seen = this.seen[c];
      for (let q = 0; q < touched.length; q++) {
        acc[touched[q]] = 0;
        seen[touched[q]] = 0;
      }
      touched.length = 0;
    }
  }

  /** Replaces entry x by one CAND_DEEPEN times deeper (the whole catalogue at the end: then every bound is −Infinity). */
  deepen(x: number): UserCache {
    const e = this.users[x];
    const k = e.k * CAND_DEEPEN >= this.n / 2 ? this.n : e.k * CAND_DEEPEN;
    this.deepened++;
    return (this.users[x] = this.entry(e.u, e.truth, k));
  }
}

/**
 * The users of a protocol with something to find in the window; at most `max` of them: a seeded sample
 * (partial Fisher–Yates), in ascending order, the same for a given split and `max`.
 */
export function scoredUsers(split: EvalSplit, protocol: 'discovery' | 'all', max: number): { users: Int32Array; of: number } {
  const all = protocol === 'discovery' ? split.discoveryUsers : split.allUsers;
  const truth = protocol === 'discovery' ? split.truthNew : split.truthAll;
  const withTruth = all.filter((u) => (truth.get(u)?.size ?? 0) > 0);
  if (!(max >= 1)) throw new RangeError(`maxUsers must be ≥ 1 (got ${max})`);
  if (withTruth.length <= max) return { users: withTruth, of: withTruth.length };
  const pick = withTruth.slice();
  const rnd = mulberry32(0x5e1ec7);
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(rnd() * (pick.length - i));
    const t = pick[i];
    pick[i] = pick[j];
    pick[j] = t;
  }
  return { users: pick.slice(0, max).sort(), of: withTruth.length };
}

/** Builds the candidate cache of one protocol (see CandidateCache), for `only` these customers when given. */
export function buildCandidateCache(st: ServedState, split: EvalSplit, protocol: 'discovery' | 'all', comps: CompId[], k = CAND_K, only?: Int32Array): CandidateCache {
  return new CandidateCache(st, split, protocol, comps, k, only);
}

/** Scores candidate lists of one protocol from its cache (exact; see CandidateCache). */
export function scoreCandidates(st: ServedState, cache: CandidateCache, specs: ListSpec[]): CandidateScore[] {
  const r = scoreCandidateLists(st, cache, specs);
  return candidateScores(cache.protocol, specs, r.ndcg, r.recall);
}

/** Per candidate, each cached customer's NDCG@10 and Recall@20 (in the cache's order), from `cache` (exact; see CandidateCache). */
export function scoreCandidateLists(st: ServedState, cache: CandidateCache, specs: ListSpec[]): { ndcg: Float64Array[]; recall: Float64Array[] } {
  const { protocol } = cache;
  const n = st.tables.nItems;
  const col = new Map(cache.comps.map((c, i) => [c, i]));
  const plan = specs.map((spec) => {
    const ids = specComps(spec);
    const at = (id: CompId | null) => (id === null ? -1 : (col.get(id) ?? -2));
    const p = { learned: at(ids.learned), learned2: at(ids.learned2), trend: at(ids.trend), tifu: at(ids.tifu), pop: col.get('pop') ?? -2 };
    const usesTrend = spec.trendWeight !== 0 && p.trend >= 0;
    // own items' fading score (ListSpec.ownWeight) is added to own items only: on "all" every own item is in U,
    // so the bound outside U is unchanged; on discovery own items are not accepted
    const own = !!spec.ownWeight && !spec.ownedFirst;
    const ok =
      p.learned !== -2 && p.learned2 !== -2 && p.trend !== -2 && p.tifu !== -2 && p.pop >= 0 &&
      spec.learnedWeight >= 0 && (spec.learned2Weight ?? 0) >= 0 && spec.trendWeight >= 0 && spec.tifuWeight >= 0 && (!own || spec.ownWeight! >= 0);
    return { spec, ...p, usesTrend, own, ok };
  });
  const sel = new TopSelect(TOP);
  const full = new Float64Array(n);
  const mask = new Uint8Array(n);
  const ranked = new Int32Array(TOP);
  const ownAdd = new Float64Array(n);
  const per = specs.map(() => new Float64Array(cache.users.length));
  const rec = specs.map(() => new Float64Array(cache.users.length));
  for (let x = 0; x < cache.users.length; x++) {
    // the customer's record, read once for all the lists that need it
    let xPerson: ServedPerson | null = null;
    for (let c = 0; c < specs.length; c++) {
      const p = plan[c];
      const spec = p.spec;
      let len = -1;
      cache.scored++;
      const ownPerson = p.ok && p.own ? (xPerson ??= st.person(cache.users[x].u)) : null;
      if (ownPerson) addOwn(spec, ownPerson, ownAdd);
      if (p.ok) {
        const wl = spec.learnedWeight;
        const wl2 = spec.learned2Weight ?? 0;
        const wt = spec.trendWeight;
        const wf = spec.tifuWeight;
        for (;;) {
          const { vals, items, owned, bound } = cache.users[x];
          const m = items.length;
          const po = p.pop * m;
          const lo = p.learned * m;
          const l2o = p.learned2 * m;
          const to = p.trend * m;
          const fo = p.tifu * m;
          const hasL = p.learned >= 0;
          const hasL2 = p.learned2 >= 0;
          const hasT = p.usesTrend;
          const hasF = p.tifu >= 0;
          const hasOwn = p.own;
          const first = spec.ownedFirst;
          // the heap's floor kept here: a score below it cannot enter (push would refuse it), so push is not called
          let fl = -Infinity;
          // s_j exactly as combine() computes it (the same operations in the same order)
          for (let q = 0; q < m; q++) {
            let s = POP_TIE * vals[po + q];
            if (hasL) s += wl * vals[lo + q];
            if (hasL2) s += wl2 * vals[l2o + q];
            if (hasT) s += wt * vals[to + q];
            if (hasF) s += wf * vals[fo + q];
            if (hasOwn && owned[q] > 0) s += ownAdd[items[q]];
            if (first && owned[q] > 0) s = OWNED_BASE + owned[q] + 0.5 * (hasT ? vals[to + q] : vals[po + q]);
            if (s >= fl) {
              sel.push(s, items[q]);
              fl = sel.floor();
            }
          }
          let b = POP_TIE * bound[p.pop];
          if (p.learned >= 0) b += wl * bound[p.learned];
          if (p.learned2 >= 0) b += wl2 * bound[p.learned2];
          if (p.usesTrend) b += wt * bound[p.trend];
          if (p.tifu >= 0) b += wf * bound[p.tifu];
          if (sel.size === TOP ? sel.floor() > b : b === -Infinity) {
            len = sel.drainIds(ranked);
            break;
          }
          sel.clear();
          if (cache.users[x].k >= n) break; // cannot happen: at full depth every bound is −Infinity
          cache.deepen(x);
        }
      }
      if (len < 0) {
        // a component the cache does not hold: every item scored
        const person = st.person(cache.users[x].u);
        if (protocol === 'discovery') for (let q = 0; q < person.items.length; q++) mask[person.items[q]] = 1;
        const top = topAccepted(combine(st.tables, spec, person, components(st.tables, [spec], person), full), TOP, (i) => mask[i] === 0);
        if (protocol === 'discovery') for (let q = 0; q < person.items.length; q++) mask[person.items[q]] = 0;
        len = top.length;
        for (let r = 0; r < len; r++) ranked[r] = top[r].id;
      }
      if (ownPerson) for (let q = 0; q < ownPerson.items.length; q++) ownAdd[ownPerson.items[q]] = 0;
      const list = ranked.subarray(0, len);
      const t = cache.users[x].truth;
      per[c][x] = ndcg10(t, list);
      rec[c][x] = recall20(t, list);
    }
  }
  return { ndcg: per, recall: rec };
}

/**
 * The buy-again protocol's `served` ranking (ownedOrder of src/core/served-model.ts with `spec` as the `all` list)
 * for each customer of an "all" cache, scored from the cache: the customer's own items are in U, and their scores are
 * computed there as scoreCandidateLists computes them (combine()'s operations in its order), so the order, and each
 * customer's NDCG@10 and Recall@20 against the items re-bought (evaluateBuyAgain's truth), are those of scoring every
 * item. NaN for a customer who re-bought nothing (evaluateBuyAgain skips them). Reads the entries as they are (no
 * deepening: own items are in U at any depth); a spec with a component the cache does not hold is scored the full way.
 */
export function buyAgainServed(st: ServedState, cache: CandidateCache, spec: ListSpec): { ndcg: Float64Array; recall: Float64Array } {
  if (cache.protocol !== 'all') throw new Error('buyAgainServed: an "all" cache');
  const count = cache.users.length;
  const ndcg = new Float64Array(count).fill(NaN);
  const recall = new Float64Array(count).fill(NaN);
  const col = new Map(cache.comps.map((c, i) => [c, i]));
  const ids = specComps(spec);
  const at = (id: CompId | null) => (id === null ? -1 : (col.get(id) ?? -2));
  const p = { learned: at(ids.learned), learned2: at(ids.learned2), trend: at(ids.trend), tifu: at(ids.tifu), pop: col.get('pop') ?? -2 };
  const usesTrend = spec.trendWeight !== 0 && p.trend >= 0;
  const own = !!spec.ownWeight && !spec.ownedFirst;
  const ok = p.learned !== -2 && p.learned2 !== -2 && p.trend !== -2 && p.tifu !== -2 && p.pop >= 0;
  const ownAdd = new Float64Array(st.tables.nItems);
  const wl = spec.learnedWeight;
  const wl2 = spec.learned2Weight ?? 0;
  const wt = spec.trendWeight;
  const wf = spec.tifuWeight;
  for (let x = 0; x < count; x++) {
    const e = cache.users[x];
    const person = st.person(e.u);
    const truth = new Set<number>();
    for (const i of e.truth) {
      for (let q = 0; q < person.items.length; q++) {
        if (person.items[q] === i) {
          truth.add(i);
          break;
        }
      }
    }
    if (truth.size === 0) continue;
    let ranked: number[];
    if (!ok) {
      ranked = ownedOrder(st.tables, { discovery: spec, all: spec }, person, 'served').map((q) => person.items[q]);
    } else {
      if (own) addOwn(spec, person, ownAdd);
      const { vals, items, owned } = e;
      const m = items.length;
      const key = new Float64Array(person.items.length);
      const pos: number[] = [];
      for (let q = 0; q < person.items.length; q++) {
        if (!(person.counts[q] > 0)) continue;
        pos.push(q);
        // the item's place in U (ascending)
        const j = person.items[q];
        let lo = 0;
        let hi = m - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (items[mid] < j) lo = mid + 1;
          else hi = mid;
        }
        if (items[lo] !== j) throw new Error(`buyAgainServed: own item ${j} of customer ${e.u} not in the cache`);
        const r = lo;
        // s_j exactly as scoreCandidateLists (and combine) computes it
        let sj = POP_TIE * vals[p.pop * m + r];
        if (p.learned >= 0) sj += wl * vals[p.learned * m + r];
        if (p.learned2 >= 0) sj += wl2 * vals[p.learned2 * m + r];
        if (usesTrend) sj += wt * vals[p.trend * m + r];
        if (p.tifu >= 0) sj += wf * vals[p.tifu * m + r];
        if (own && owned[r] > 0) sj += ownAdd[j];
        if (spec.ownedFirst && owned[r] > 0) sj = OWNED_BASE + owned[r] + 0.5 * (usesTrend ? vals[p.trend * m + r] : vals[p.pop * m + r]);
        key[q] = sj;
      }
      if (own) for (let q = 0; q < person.items.length; q++) ownAdd[person.items[q]] = 0;
      ranked = pos.sort((a, b) => key[b] - key[a] || person.items[a] - person.items[b]).map((q) => person.items[q]);
    }
    ndcg[x] = ndcg10(truth, ranked);
    recall[x] = recall20(truth, ranked);
  }
  return { ndcg, recall };
}

/**
 * The candidates' figures from their per-customer NDCG@10 and Recall@20 (customers in ascending order, however many
 * threads scored them): the sums are taken in that order, so the figures do not depend on how the customers were split.
 */
export function candidateScores(protocol: 'discovery' | 'all', specs: ListSpec[], per: Float64Array[], rec: Float64Array[]): CandidateScore[] {
  const sums = specs.map((_, c) => {
    let n = 0;
    let r = 0;
    const g = per[c];
    const q = rec[c];
    for (let x = 0; x < g.length; x++) {
      n += g[x];
      r += q[x];
    }
    return { n, r };
  });
  const count = specs.length ? per[0].length : 0;
  return specs.map((spec, c) => {
    const score: CandidateScore = {
      name: spec.name,
      protocol,
      'ndcg@10': round4(count ? sums[c].n / count : 0),
      'recall@20': round4(count ? sums[c].r / count : 0),
      users: count,
      spec,
    };
    perUser.set(score, per[c]);
    return score;
  });
}

/** Best by NDCG@10, then Recall@20, then the earlier (simpler) candidate. */
function best(scores: CandidateScore[]): CandidateScore {
  let b = scores[0];
  for (const s of scores) {
    if (s['ndcg@10'] > b['ndcg@10'] || (s['ndcg@10'] === b['ndcg@10'] && s['recall@20'] > b['recall@20'])) b = s;
  }
  return b;
}

const trendName = (h: number) => (h > 0 ? `trend${h}` : 'popularity');

export interface SelectOptions {
  params: ServedParams;
  /** Learned models to consider (default: als, ease, item_knn). */
  learned?: LearnedKind[];
  /** Consider TIFU-KNN (default true). */
  tifu?: boolean;
  /** Learned models already fitted on this split's training part with `params`. */
  prefit?: Parameters<typeof fitServed>[3];
  /** Validation users scored per protocol (default SELECT_MAX_USERS): a seeded sample above it. */
  maxUsers?: number;
  /** Called once the components are fitted, before the candidates are scored (e.g. to queue other work for the background worker). */
  onFitted?: () => void;
  /** Called once the components' background fits are submitted (e.g. to queue low-priority work behind them). */
  onStarted?: () => void;
  /**
   * Score the candidates on two threads (select-split.ts: the same figures): true, false, or 'auto' (default: when
   * the validation customers × items reach SPLIT_MIN_WORK).
   */
  split?: boolean | 'auto';
}

/** Fits the components on the split's training part and chooses both lists on its test part (the validation window). */
export async function selectServed(split: EvalSplit, o: SelectOptions): Promise<Selection> {
  const learnedKinds = o.learned ?? ['als', 'ease', 'item_knn'];
  const useTifu = o.tifu ?? true;
  const maxUsers = o.maxUsers ?? SELECT_MAX_USERS;
  const scored = { discovery: scoredUsers(split, 'discovery', maxUsers), all: scoredUsers(split, 'all', maxUsers) };
  const nItems = split.reference.counts.cols;
  const splitScoring = o.split === true || ((o.split ?? 'auto') === 'auto' && (scored.discovery.users.length + scored.all.users.length) * nItems >= SPLIT_MIN_WORK);
  // the scoring worker loads its modules while the components are fitted
  const worker = splitScoring ? startSelectWorker() : null;
  let st: ServedState;
  try {
    st = await fitServed(splitInput(split), { learned: learnedKinds, tifu: useTifu, trends: TREND_HALF_LIVES }, o.params, o.prefit, o.onStarted);
  } catch (e) {
    await worker?.terminate();
    throw e;
  }
  o.onFitted?.();
  const t0 = performance.now();
  const learned = learnedKinds.filter((k) => !(k in st.skipped));
  const all: CandidateScore[] = [];
  // every component a candidate reads, cached per protocol on first use
  const base: CompId[] = ['pop', ...TREND_HALF_LIVES.map((h) => `t:${trendKey(h)}`), ...learned.map((m) => `l:${m}`)];
  const compsOf = { discovery: useTifu ? [...base, 'p:0'] : base, all: useTifu ? [...base, ...TIFU_ALPHAS.map((a) => `p:${a}`)] : base };
  // both protocols' caches at once (the learned lists' scores of a customer of both are computed once), on this
  // thread alone or split with a worker (select-split.ts)
  const parts: CachePart[] = [
    { protocol: 'discovery', comps: compsOf.discovery, users: scored.discovery.users },
    { protocol: 'all', comps: compsOf.all, users: scored.all.users },
  ];
  let scorer: CandidateScorer;
  try {
    scorer = worker ? new SplitScorer(st, split, parts, worker) : new LocalScorer(st, split, parts);
  } catch (e) {
    await worker?.terminate();
    throw e;
  }
  try {
    return await choose();
  } finally {
    await scorer.close();
  }

  async function choose(): Promise<Selection> {
    const run = async (protocol: 'discovery' | 'all', specs: ListSpec[]) => {
      const r = await scorer.score(protocol, specs);
      const s = candidateScores(protocol, specs, r.ndcg, r.recall);
      all.push(...s);
      return s;
    };

    // discovery: trend alone, learned alone (TIFU at α = 0 is its neighbours' part: own items are excluded)
    const trends = await run('discovery', TREND_HALF_LIVES.map((h) => listSpec(trendName(h), { trendHalfLifeDays: h, trendWeight: 1 })));
    const bestTrend = best(trends);
    const h = bestTrend.spec.trendHalfLifeDays;
    const alone: ListSpec[] = learned.map((m) => listSpec(m, { learned: m, learnedWeight: 1 }));
    if (useTifu) alone.push(listSpec('tifu_knn', { tifuWeight: 1, tifuAlpha: 0 }));
    const singles = await run('discovery', alone);
    // every learned model with the best trend at several weights
    const withTrend: ListSpec[] = [];
    for (const a of alone) {
      for (const w of TREND_WEIGHTS) withTrend.push({ ...a, name: `${a.name}+${w}·${trendName(h)}`, trendHalfLifeDays: h, trendWeight: w });
    }
    const blends = await run('discovery', withTrend);
    const bestBlend = best(blends);
    const rescan = await run(
      'discovery',
      TREND_HALF_LIVES.filter((x) => x !== h).map((x) => ({
        ...bestBlend.spec,
        name: `${bestBlend.spec.name.split('+')[0]}+${bestBlend.spec.trendWeight}·${trendName(x)}`,
        trendHalfLifeDays: x,
      })),
    );
    // the best learned list with a second learned model (normalised alike) added at two weights, the trend's
    // weight kept or scaled by the learned mass: models that validation ranks close together hedge each other
    const bestLearned = best([...singles, ...blends, ...rescan].filter((c) => c.spec.learned !== 'none'));
    const pairs: ListSpec[] = [];
    if (bestLearned) {
      const b = bestLearned.spec;
      for (const m2 of learned) {
        if (m2 === b.learned) continue;
        for (const w2 of PAIR_WEIGHTS) {
          for (const tw of new Set([b.trendWeight, b.trendWeight * (1 + w2)])) {
            const trendPart = tw > 0 ? `+${Math.round(tw * 1000) / 1000}·${trendName(b.trendHalfLifeDays)}` : '';
            pairs.push({ ...b, name: `${b.learned}+${w2}·${m2}${trendPart}`, learned2: m2, learned2Weight: w2 * b.learnedWeight, trendWeight: tw });
          }
        }
      }
    }
    const paired = await run('discovery', pairs);
    const discovery = best([...trends, ...singles, ...blends, ...rescan, ...paired]);

    // all: own items then trend (h = 0: repeat), own items then the discovery list, TIFU-KNN
    const repeatTrends = await run(
      'all',
      TREND_HALF_LIVES.map((x) => listSpec(x > 0 ? `repeat>${trendName(x)}` : 'repeat', { trendHalfLifeDays: x, trendWeight: x > 0 ? 1 : 0, ownedFirst: true })),
    );
    const bestRepeat = best(repeatTrends);
    const more: ListSpec[] = [{ ...discovery.spec, name: `repeat>${discovery.spec.name}`, ownedFirst: true }];
    if (useTifu) {
      const ha = bestRepeat.spec.trendHalfLifeDays;
      for (const a of TIFU_ALPHAS) {
        more.push(listSpec(`tifu_knn[α=${a}]`, { tifuWeight: 1, tifuAlpha: a }));
        for (const w of [0.1, 0.3]) more.push(listSpec(`tifu_knn[α=${a}]+${w}·${trendName(ha)}`, { tifuWeight: 1, tifuAlpha: a, trendHalfLifeDays: ha, trendWeight: w }));
      }
    }
    // the learned lists on all items (own items compete by their scores: fits rare repeats)
    for (const a of alone) if (a.learned !== 'none') more.push({ ...a, name: `${a.name} (all items)` });
    more.push({ ...discovery.spec, name: `${discovery.spec.name} (all items)` });
    // own items compete with the discovery list by a repeat score that fades with the time since they were
    // last bought (relative to the customer's latest purchase): stale one-off purchases give way to new picks
    for (const hw of OWN_HALF_LIVES) {
      for (const w of OWN_WEIGHTS) more.push({ ...discovery.spec, name: `own[${w}·log2(1+n)·2^(−age/${hw})]+(${discovery.spec.name})`, ownWeight: w, ownHalfLifeDays: hw, ownedFirst: false });
    }
    const others = await run('all', more);
    // TIFU-KNN with the discovery list's learned model and trend (its own items then compete with the learned picks)
    const bestTifu = best(others.filter((c) => c.spec.tifuWeight !== 0 && c.spec.learnedWeight === 0));
    const mixes: ListSpec[] = [];
    if (useTifu && bestTifu && discovery.spec.learned !== 'none') {
      for (const w of [0.25, 0.5, 1]) {
        mixes.push({ ...discovery.spec, name: `tifu_knn[α=${bestTifu.spec.tifuAlpha}]+${w}·(${discovery.spec.name})`, tifuWeight: 1, tifuAlpha: bestTifu.spec.tifuAlpha, learnedWeight: w * discovery.spec.learnedWeight, learned2Weight: w * (discovery.spec.learned2Weight ?? 0), trendWeight: w * discovery.spec.trendWeight, ownedFirst: false });
      }
    }
    const mixed = mixes.length ? await run('all', mixes) : [];
    const chosenAll = best([...repeatTrends, ...others, ...mixed]);
    // the buy-again protocol's served ranking from the caches (on both threads), before they go
    const baServed = await scorer.buyAgain(chosenAll.spec);
    // every list is scored: the caches' counters (the worker's told when it is closed, which stops it)
    await scorer.close();
    const scoring = scorer.stats();
    const scoringThreads = scorer.threads();

    // buy again: the rhythm formula, repeat or the chosen all-list, on the buy-again protocol
    const chosen: ServedSpec = { discovery: discovery.spec, all: chosenAll.spec };
    // on the same sample (the served ranking scores every item per customer)
    const ba = evaluateBuyAgain(split, { state: st, spec: chosen }, scored.all.users, baServed);
    const names: Record<string, BuyAgainRanking> = { buy_again: 'rhythm', repeat: 'repeat', served: 'served' };
    let baBest = 'buy_again';
    for (const k of Object.keys(ba)) if (ba[k]['ndcg@10'] > ba[baBest]['ndcg@10']) baBest = k;
    chosen.buyAgain = names[baBest];

    for (const c of all) {
      const chosenOne = c.protocol === 'discovery' ? discovery : chosenAll;
      const a = perUser.get(c);
      const b = perUser.get(chosenOne);
      if (a && b && a.length === b.length) c.vsChosen = pairedDiff(a, b);
    }
    const trendSpecOf = (s: ListSpec): ServedSpec => ({ discovery: s, all: s });
    return {
      spec: chosen,
      buyAgain: ba,
      candidates: all,
      validation: { discovery, all: chosenAll },
      baselines: {
        trend: trendSpecOf(bestTrend.spec),
        repeatTrend: { discovery: bestTrend.spec, all: bestRepeat.spec },
      },
      state: st,
      fit_s: st.fit_s,
      skipped: st.skipped,
      select_s: Math.round((performance.now() - t0) / 10) / 100,
      scoring,
      scoringThreads,
      users: {
        discovery: { of: scored.discovery.of, scored: scored.discovery.users.length },
        all: { of: scored.all.of, scored: scored.all.users.length },
      },
    };
  }
}
