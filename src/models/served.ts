/**
 * Fitting the served model's components (src/core/served-model.ts) on training data, and the served
 * model as a Recommender for offline evaluation. Training builds the bundle from the same fitted state
 * (src/train/train-bundle.ts), so evaluation, validation selection and the service score alike.
 */
import type { TopKLists } from '../core/bundle.js';
import type { Csr } from '../core/csr.js';
import { NotSupportedError } from '../core/errors.js';
import type { BatchResult, RecommendOptions, Recommender, TrainingData } from '../core/recommender.js';
import {
  type LearnedKind,
  type ListSpec,
  type ServedPerson,
  type ServedSpec,
  type ServedTables,
  listUses,
  scoreListInto,
  ServedScratch,
  topAccepted,
  trendKey,
  trendTable,
} from '../core/served-model.js';
import { emptyBatch, excludedFor } from '../core/top-k.js';
import { SimdScorer } from '../serve/simd-scorer.js';
import { customersPerItem } from './popularity.js';
import { type AlsParams, AlsRecommender } from './als.js';
import { type EaseParams, EaseRecommender } from './ease.js';
import { type ItemKnnParams, ItemKnnRecommender } from './item-knn.js';
import { type BasketLines, type TifuParams, type TifuVectors, tifuOfCustomer } from './tifu-knn.js';
import { adoptFrom, type BackgroundJob, backgroundFits, type EaseScored } from './background-fits.js';

/** What the components are fitted on. */
export interface ServedInput {
  /** Binary purchases / line counts (EASE, item-kNN, repeat counts, trend). */
  reference: TrainingData & { pairLastTime?: Float64Array };
  /** The weighted matrix ALS is fitted on (built on first use). */
  weighted: () => TrainingData;
  /** Purchase lines for TIFU's baskets. */
  purchases: BasketLines;
  /** Reference time of the trend's decay (the cutoff, or the end of the training data). */
  now: number;
}

export interface ServedParams {
  als?: Partial<AlsParams>;
  ease?: Partial<EaseParams>;
  item_knn?: Partial<ItemKnnParams>;
  tifu_knn?: Partial<TifuParams>;
  /** Length of each item's EASE list served (B's largest positive weights). Default EASE_LIST_LENGTH. */
  easeListLength?: number;
}

export interface ServedNeeds {
  learned: LearnedKind[];
  tifu: boolean;
  /** Trend half-lives (days; 0 = popularity). */
  trends: number[];
}

/**
 * Length of each item's EASE list served (B's largest positive weights). On Online Retail's validation
 * windows, lists of 500 score 0.1–1.7 % above lists of 200 (1000: no better), closer to the dense B.
 */
export const EASE_LIST_LENGTH = 500;

/** The fitted components: the item-side tables and what each customer's record carries. */
export class ServedState {
  tables: ServedTables;
  als: AlsRecommender | null = null;
  tifu: TifuVectors | null = null;
  /** The fitted learned models themselves (their own figures are reported beside the served ones). */
  readonly models: { ease?: EaseRecommender; item_knn?: ItemKnnRecommender } = {};
  /** Seconds per component fit. */
  readonly fit_s: Record<string, number> = {};
  /** Components that could not be fitted (e.g. EASE above its item limit), with the reason. */
  readonly skipped: Record<string, string> = {};

  constructor(
    readonly counts: Csr,
    nItems: number,
    /** Last purchase time per entry of `counts` (customer records carry it as `lastTime`). */
    readonly lastTime: Float64Array | null = null,
  ) {
    this.tables = { nItems, popularity: new Float32Array(nItems), trends: {}, lists: {}, factors: null };
  }

  /** Customer row c as the scorer reads it (what the bundle's record holds). */
  person(c: number): ServedPerson {
    const { counts } = this;
    const s = counts.indptr[c];
    const e = counts.indptr[c + 1];
    const items = counts.indices.subarray(s, e);
    const k = this.als?.k ?? 0;
    return {
      items,
      counts: counts.data.subarray(s, e),
      lastTime: this.lastTime ? this.lastTime.subarray(s, e) : undefined,
      vector: this.als ? this.als.userFactors.subarray(c * k, c * k + k) : null,
      tifu: this.tifu ? tifuOfCustomer(this.tifu, c, items) : null,
    };
  }
}

const seconds = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;

/** ALS's item factors as the scorer reads them, with the service's WebAssembly SIMD kernel when built (the same f32 sums as factorScoresF32). */
export function servedFactors(itemFactors: Float32Array, k: number, n: number): NonNullable<ServedTables['factors']> {
  const simd = SimdScorer.create(itemFactors, k, n);
  return {
    k,
    itemFactors,
    ...(simd ? { dot: (x: Float32Array) => simd.scores(x) } : {}),
    ...(simd?.many ? { dotMany: (xs: Float32Array, count: number) => simd.scoresMany(xs, count) } : {}),
  };
}

/** Fits what `needs` asks for (ALS, item-kNN, EASE and TIFU-KNN may be given fitted on the same data with the same parameters). */
export async function fitServed(
  input: ServedInput,
  needs: ServedNeeds,
  params: ServedParams,
  prefit: { als?: AlsRecommender; item_knn?: ItemKnnRecommender; ease?: EaseRecommender; tifu?: TifuVectors } = {},
  /** Called once the background fits are submitted (e.g. to queue low-priority work behind them). */
  onSubmitted?: () => void,
): Promise<ServedState> {
  const ref = input.reference;
  const n = ref.counts.cols;
  const st = new ServedState(ref.counts, n, ref.pairLastTime ?? null);
  // EASE's weights, item-kNN's lists and TIFU-KNN's vectors are computed by the background worker
  // (background-fits.ts) while ALS is fitted here; submitted first (before the item tables), awaited after (same results either way;
  // a job the worker has not started by then is fitted here)
  const kinds = [...new Set(needs.learned)];
  const bg = backgroundFits();
  let easeModel: EaseRecommender | null = null;
  let easeJob: BackgroundJob<EaseScored> | null = null;
  const easeListLength = params.easeListLength ?? EASE_LIST_LENGTH;
  if (kinds.includes('ease')) {
    easeModel = prefit.ease ?? new EaseRecommender(params.ease);
    if (n > easeModel.params.maxItems) {
      st.skipped.ease = `${n} items exceed ease.maxItems ${easeModel.params.maxItems}`;
      easeModel = null;
    } else if (!prefit.ease) {
      // the weights and the neighbour lists read below (no customers scored)
      easeJob = bg.submit({ kind: 'ease-scored', counts: ref.counts, params: easeModel.params, excludeRows: ref.counts, protocols: [], listLength: easeListLength });
    }
  }
  const knnModel = kinds.includes('item_knn') ? (prefit.item_knn ?? new ItemKnnRecommender(params.item_knn)) : null;
  const knnJob =
    knnModel && !prefit.item_knn ? bg.submit({ kind: 'knn', counts: ref.counts, weights: knnModel.params.input === 'weights' ? ref.weights : null, params: knnModel.params }) : null;
  const tifuJob = needs.tifu && !prefit.tifu ? bg.submit({ kind: 'tifu', lines: basketLines(input.purchases), customers: ref.counts.rows, nItems: n, params: params.tifu_knn ?? {} }) : null;
  onSubmitted?.();
  // the item tables once the jobs are submitted (the worker starts on them meanwhile)
  const pop = customersPerItem(ref.counts);
  let max = 0;
  for (const v of pop) max = Math.max(max, v);
  for (let j = 0; j < n; j++) st.tables.popularity[j] = max > 0 ? pop[j] / max : 0;
  const lastTime = ref.pairLastTime ?? new Float64Array(ref.counts.indices.length);
  for (const h of new Set(needs.trends)) st.tables.trends[trendKey(h)] = trendTable(n, ref.counts.indices, lastTime, h, input.now);
  for (const kind of kinds) {
    if (kind === 'item_knn' && tifuJob && !tifuJob.started) {
      // the worker is still on an earlier job (EASE's weights): this thread takes TIFU-KNN's vectors, the longer of the
      // two queued fits, and leaves item-kNN's lists to the worker (the same results wherever they run)
      await tifuJob.result();
    }
    const t0 = performance.now();
    if (kind === 'als') {
      const als = prefit.als ?? new AlsRecommender(params.als);
      if (!prefit.als) await als.fit(input.weighted());
      st.als = als;
      st.tables.factors = servedFactors(als.itemFactors, als.k, n);
    } else if (kind === 'item_knn' && knnModel) {
      const fit = await adoptFrom(knnJob, knnModel, ref);
      st.models.item_knn = knnModel;
      st.tables.lists.item_knn = copyLists(knnModel.scoringLists());
      st.fit_s.item_knn = Math.round((fit + seconds(t0)) * 100) / 100;
      continue;
    } else continue;
    st.fit_s[kind] = seconds(t0);
  }
  if (easeModel) {
    const t0 = performance.now();
    let fit = 0;
    if (easeJob) {
      const r = await easeJob.result();
      easeModel.adopt(r.value.b, ref);
      if (r.value.lists) easeModel.keepNeighbourLists(easeListLength, r.value.lists);
      fit = r.seconds;
    }
    st.models.ease = easeModel;
    const lists = { ...st.tables.lists };
    st.tables.lists = {};
    // the lists in the order of needs.learned (as when fitted in turn)
    for (const kind of kinds) {
      if (kind === 'ease') st.tables.lists.ease = easeModel.neighbourLists(easeListLength);
      else if (kind === 'item_knn' && lists.item_knn) st.tables.lists.item_knn = lists.item_knn;
    }
    st.fit_s.ease = Math.round((fit + seconds(t0)) * 100) / 100;
  }
  if (tifuJob) {
    const r = await tifuJob.result();
    st.tifu = r.value;
    st.fit_s.tifu_knn = r.seconds;
  } else if (needs.tifu) {
    st.tifu = prefit.tifu!;
    st.fit_s.tifu_knn = 0;
  }
  return st;
}

/** The columns TIFU-KNN reads (a dataset's purchases carry more). */
const basketLines = (p: BasketLines): BasketLines => ({ customer: p.customer, order: p.order, item: p.item, time: p.time });

const copyLists = (l: TopKLists): TopKLists => ({ indptr: l.indptr, indices: l.indices, scores: l.scores });

/** What a served spec needs fitted. */
export function needsOf(spec: ServedSpec): ServedNeeds {
  const learned = new Set<LearnedKind>();
  const trends = new Set<number>();
  let tifu = false;
  for (const s of [spec.discovery, spec.all]) {
    if (s.learned !== 'none' && s.learnedWeight !== 0) learned.add(s.learned);
    if (s.learned2 && s.learned2 !== 'none' && s.learned2Weight) learned.add(s.learned2);
    if (s.trendWeight !== 0 || s.ownedFirst) trends.add(s.trendHalfLifeDays);
    if (s.tifuWeight !== 0) tifu = true;
  }
  return { learned: [...learned], tifu, trends: [...trends] };
}

/**
 * A served spec as a Recommender: the discovery list when the caller excludes items (the discovery
 * protocol), the repeat-inclusive list otherwise. Scores through src/core/served-model.ts.
 */
export class ServedRecommender implements Recommender {
  state: ServedState | null = null;

  constructor(
    readonly name: string,
    readonly spec: ServedSpec,
    private readonly params: ServedParams = {},
    private readonly input?: (data: TrainingData) => ServedInput,
  ) {}

  async fit(data: TrainingData): Promise<void> {
    await this.fitWith(data);
  }

  /** fit, with components already fitted on `data` with this model's parameters (e.g. TIFU-KNN's vectors from the background worker). */
  async fitWith(data: TrainingData, prefit: Parameters<typeof fitServed>[3] = {}): Promise<void> {
    const input = this.input ? this.input(data) : defaultInput(data);
    this.state = await fitServed(input, needsOf(this.spec), this.params, prefit);
  }

  /** TIFU-KNN's parameters (its vectors do not depend on the list's α). */
  get tifuParams(): Partial<TifuParams> {
    return this.params.tifu_knn ?? {};
  }

  /** Scores with an already fitted state (validation selection, training). */
  static fromState(name: string, spec: ServedSpec, state: ServedState): ServedRecommender {
    const r = new ServedRecommender(name, spec);
    r.state = state;
    return r;
  }

  async recommend(customers: ArrayLike<number>, k: number, options?: RecommendOptions): Promise<BatchResult> {
    const st = this.state;
    if (!st) throw new NotSupportedError(`${this.name}: not fitted`);
    const spec: ListSpec = options?.exclude ? this.spec.discovery : this.spec.all;
    const res = emptyBatch(customers.length, k);
    const out = new Float64Array(st.tables.nItems);
    const mask = new Uint8Array(st.tables.nItems);
    // the service's per-request scorer (scoreListInto: scoreList's scores bit for bit, without its per-call arrays)
    const scratch = new ServedScratch(st.tables.nItems);
    // ALS's x · y_j for DOT_BATCH customers at once (bit for bit the per-customer dot; each item's factors read once)
    const batched = alsBatches(st, spec);
    for (let n = 0; n < customers.length; n++) {
      const ex = excludedFor(options, n, customers[n]);
      for (const i of ex) mask[i] = 1;
      const tables = batched ? batched.tablesFor(customers, n) : st.tables;
      const top = topAccepted(scoreListInto(tables, spec, st.person(customers[n]), out, scratch), k, (i) => mask[i] === 0);
      for (const i of ex) mask[i] = 0;
      for (let j = 0; j < k; j++) {
        res.ids[n * k + j] = j < top.length ? top[j].id : -1;
        res.scores[n * k + j] = j < top.length ? top[j].score : -Infinity;
      }
    }
    return res;
  }

  async similarItems(): Promise<BatchResult> {
    throw new NotSupportedError(`${this.name}: no item similarity`);
  }

  async recommendForItems(): Promise<BatchResult> {
    throw new NotSupportedError(`${this.name}: scores customers of its training data`);
  }

  save(): never {
    throw new NotSupportedError(`${this.name}: saved as part of the bundle`);
  }

  load(): void {
    throw new NotSupportedError(`${this.name}: loaded as part of the bundle`);
  }
}

/** Customers whose ALS scores are computed together (ServedTables.factors.dotMany). */
export const DOT_BATCH = 16;

/**
 * ALS scores of customers in batches of DOT_BATCH for a list that reads ALS (null otherwise, or without dotMany):
 * `tablesFor(customers, n)` answers the tables with a `dot` that returns customer n's row of its batch's
 * scores (computed when n starts a batch): the values `dot` itself would return, as scoreListInto reads them.
 */
export function alsBatches(st: ServedState, spec: ListSpec): { tablesFor(customers: ArrayLike<number>, n: number): ServedTables } | null {
  const f = st.tables.factors;
  if (!f?.dotMany || !st.als || !listUses(spec, 'als')) return null;
  const k = f.k;
  const n = st.tables.nItems;
  const xs = new Float32Array(DOT_BATCH * k);
  const row = new Map<number, number>();
  let rows: Float32Array = new Float32Array(0);
  let current = -1;
  const factors = { ...f, dot: (x: Float32Array) => (current >= 0 ? rows.subarray(current * n, current * n + n) : f.dot!(x)) };
  const tables: ServedTables = { ...st.tables, factors };
  const uf = st.als.userFactors;
  return {
    tablesFor(customers, at) {
      if (at % DOT_BATCH === 0) {
        row.clear();
        const end = Math.min(customers.length, at + DOT_BATCH);
        for (let q = at; q < end; q++) {
          const c = customers[q];
          if (c < 0 || (c + 1) * k > uf.length) continue;
          row.set(q, row.size);
          xs.set(uf.subarray(c * k, c * k + k), (row.size - 1) * k);
        }
        rows = f.dotMany!(xs, row.size);
      }
      current = row.get(at) ?? -1;
      return tables;
    },
  };
}

/** Input from TrainingData alone: the weighted matrix is the same data, trend time = the latest purchase. */
function defaultInput(data: TrainingData & { pairLastTime?: Float64Array; purchases?: BasketLines }): ServedInput {
  let now = -Infinity;
  for (const t of data.pairLastTime ?? []) if (t > now) now = t;
  return {
    reference: data,
    weighted: () => data,
    purchases: data.purchases ?? { customer: new Int32Array(0), order: new Int32Array(0), item: new Int32Array(0), time: new Float64Array(0) },
    now: Number.isFinite(now) ? now : 0,
  };
}

/** Baseline and single-model specs by name (registry entries and the evaluation's reference rows). */
export function listSpec(name: string, p: Partial<ListSpec>): ListSpec {
  return { name, learned: 'none', learnedWeight: 0, trendHalfLifeDays: 0, trendWeight: 0, tifuWeight: 0, tifuAlpha: 0.7, ownedFirst: false, ...p };
}

/** Trend alone (own items excluded or not): recency-weighted distinct buyers, half-life h. */
export const trendSpec = (h: number): ServedSpec => {
  const s = listSpec(h > 0 ? `trend${h}` : 'popularity', { trendHalfLifeDays: h, trendWeight: 1 });
  return { discovery: s, all: s };
};

/** Own items by purchase count (ties by trend), then the trend list. */
export const repeatTrendSpec = (h: number): ServedSpec => ({
  discovery: listSpec(h > 0 ? `trend${h}` : 'popularity', { trendHalfLifeDays: h, trendWeight: 1 }),
  all: listSpec(h > 0 ? `repeat>trend${h}` : 'repeat', { trendHalfLifeDays: h, trendWeight: h > 0 ? 1 : 0, ownedFirst: true }),
});

/** TIFU-KNN alone at α. */
export const tifuSpec = (alpha: number): ServedSpec => {
  const s = listSpec(`tifu_knn[α=${alpha}]`, { tifuWeight: 1, tifuAlpha: alpha });
  return { discovery: s, all: s };
};

