/**
 * The selection's candidate scoring on two threads (src/eval/select.ts): the validation customers are split at a
 * pivot customer, this thread holds the candidate caches of the customers below it, a worker thread
 * (select-worker.ts) those from it on, each with a copy of the fitted state. Each batch of candidate lists is scored
 * by both halves at once; the per-customer figures are joined in customer order and summed there (candidateScores),
 * so every figure, and the caches' counters (lists scored, caches deepened: each customer's cache evolves alone), are
 * those of one thread scoring every customer.
 *
 * When the worker cannot start, fails or exits, this thread builds the upper half's caches itself and replays the
 * batches scored so far on them (same counters), then goes on alone: nothing is lost, nothing waits on a dead worker.
 */
import type { Worker } from 'node:worker_threads';
import { moduleWorker } from '../core/module-worker.js';
import { withinOr, workerDeadlineMs, seconds } from '../core/deadline.js';
import type { Csr } from '../core/csr.js';
import type { ListSpec } from '../core/served-model.js';
import type { ServedTables } from '../core/served-model.js';
import type { AlsRecommender } from '../models/als.js';
import { ServedState, servedFactors } from '../models/served.js';
import type { TifuVectors } from '../models/tifu-knn.js';
import { buyAgainServed, CAND_K, CandidateCache, type KeptLearned, scoreCandidateLists } from './select.js';
import type { EvalSplit } from './time-split.js';

export type Protocol = 'discovery' | 'all';

/** One protocol's cache: its components and the customers it holds (ascending). */
export interface CachePart {
  protocol: Protocol;
  comps: string[];
  users: Int32Array;
}

/** Per candidate, each customer's NDCG@10 and Recall@20 (customers in ascending order). */
export interface PerUser {
  ndcg: Float64Array[];
  recall: Float64Array[];
}

/** Scores batches of candidate lists against the caches of both protocols. */
export interface CandidateScorer {
  score(protocol: Protocol, specs: ListSpec[]): Promise<PerUser>;
  /** The buy-again protocol's served ranking with `spec` as the `all` list, per "all" customer (select.ts buyAgainServed). */
  buyAgain(spec: ListSpec): Promise<{ ndcg: Float64Array; recall: Float64Array }>;
  /** Per protocol: customers held, customer-lists scored, caches deepened. */
  stats(): Record<string, { users: number; lists: number; deepened: number }>;
  /** 2 when a worker scored its half of every batch, else 1. */
  threads(): number;
  close(): Promise<void>;
}

/** The fitted state's arrays, as posted to the worker (copied). */
export interface StatePayload {
  counts: { rows: number; cols: number; indptr: Int32Array | Float64Array; indices: Int32Array; data: Float32Array };
  lastTime: Float64Array | null;
  nItems: number;
  popularity: Float32Array;
  trends: Record<string, Float32Array>;
  lists: ServedTables['lists'];
  factors: { k: number; itemFactors: Float32Array } | null;
  als: { k: number; userFactors: Float32Array } | null;
  tifu: TifuVectors | null;
}

export function statePayload(st: ServedState): StatePayload {
  const c = st.counts;
  const t = st.tables;
  return {
    counts: { rows: c.rows, cols: c.cols, indptr: c.indptr, indices: c.indices, data: c.data },
    lastTime: st.lastTime,
    nItems: t.nItems,
    popularity: t.popularity,
    trends: t.trends,
    lists: t.lists,
    factors: t.factors ? { k: t.factors.k, itemFactors: t.factors.itemFactors } : null,
    als: st.als ? { k: st.als.k, userFactors: st.als.userFactors } : null,
    tifu: st.tifu,
  };
}

/** The state a payload describes: what the scorer reads of ServedState (tables, customers' rows, ALS vectors, TIFU vectors). */
export function stateFromPayload(p: StatePayload): ServedState {
  const st = new ServedState(p.counts as Csr, p.nItems, p.lastTime);
  st.tables.popularity = p.popularity;
  st.tables.trends = p.trends;
  st.tables.lists = p.lists;
  st.tables.factors = p.factors ? servedFactors(p.factors.itemFactors, p.factors.k, p.nItems) : null;
  // person() reads k and the customers' vectors
  st.als = p.als ? ({ k: p.als.k, userFactors: p.als.userFactors } as unknown as AlsRecommender) : null;
  st.tifu = p.tifu;
  return st;
}

/** The truth of `users` as offsets and items (Sets do not cross threads cheaply). */
function truthOf(truth: Map<number, Set<number>>, users: Int32Array): { ptr: Int32Array; items: Int32Array } {
  const ptr = new Int32Array(users.length + 1);
  const items: number[] = [];
  for (let q = 0; q < users.length; q++) {
    for (const j of truth.get(users[q]) ?? []) items.push(j);
    ptr[q + 1] = items.length;
  }
  return { ptr, items: Int32Array.from(items) };
}

/** What the worker is sent to build its caches. */
export interface InitMessage {
  type: 'init';
  state: StatePayload;
  parts: (CachePart & { truth: { ptr: Int32Array; items: Int32Array } })[];
  k: number;
}

/** A split-like view holding the truths of these parts (what CandidateCache reads of a split when `only` is given). */
export function splitOfParts(parts: InitMessage['parts']): EvalSplit {
  const truthNew = new Map<number, Set<number>>();
  const truthAll = new Map<number, Set<number>>();
  for (const p of parts) {
    const m = p.protocol === 'discovery' ? truthNew : truthAll;
    for (let q = 0; q < p.users.length; q++) m.set(p.users[q], new Set(p.truth.items.subarray(p.truth.ptr[q], p.truth.ptr[q + 1])));
  }
  return { truthNew, truthAll, discoveryUsers: new Int32Array(0), allUsers: new Int32Array(0) } as unknown as EvalSplit;
}

/** Both protocols' caches on this thread (CandidateCache.buildTogether). */
export function buildCaches(st: ServedState, split: EvalSplit, parts: CachePart[], k = CAND_K, kept?: KeptLearned): Map<Protocol, CandidateCache> {
  const caches = CandidateCache.buildTogether(
    st,
    split,
    parts.map((p) => ({ protocol: p.protocol, comps: p.comps, only: p.users })),
    k,
    kept,
  );
  return new Map(parts.map((p, i) => [p.protocol, caches[i]]));
}

/** Every customer on this thread. */
export class LocalScorer implements CandidateScorer {
  private readonly caches: Map<Protocol, CandidateCache>;

  constructor(
    private readonly st: ServedState,
    split: EvalSplit,
    parts: CachePart[],
    /** The caches' depth (CandidateCache). */
    k = CAND_K,
  ) {
    this.caches = buildCaches(st, split, parts, k);
  }

  async score(protocol: Protocol, specs: ListSpec[]): Promise<PerUser> {
    return scoreCandidateLists(this.st, this.caches.get(protocol)!, specs);
  }

  async buyAgain(spec: ListSpec): Promise<{ ndcg: Float64Array; recall: Float64Array }> {
    return buyAgainServed(this.st, this.caches.get('all')!, spec);
  }

  stats(): Record<string, { users: number; lists: number; deepened: number }> {
    return Object.fromEntries([...this.caches.values()].map((c) => [c.protocol, { users: c.users.length, lists: c.scored, deepened: c.deepened }]));
  }

  threads(): number {
    return 1;
  }

  async close(): Promise<void> {}
}

/** Validation work (customers × items, both protocols) above which the scoring is split across two threads. */
export const SPLIT_MIN_WORK = 2_000_000;

/** Workers that failed or exited (before a SplitScorer listened to them: they are never waited for). */
const gone = new WeakSet<Worker>();

/** Whether `w` failed or exited already (its 'exit' may have been emitted before anyone listened). */
const isGone = (w: Worker): boolean => gone.has(w) || w.threadId === -1;

/** A worker started by warmSelectWorker and not taken yet. */
let warmed: Worker | null = null;

/**
 * Starts the scoring worker now, for the next startSelectWorker to take: it loads its modules meanwhile (e.g. while
 * training reads a large file on the other thread, with a core to spare). Unref'd: harmless when nothing takes it.
 */
export function warmSelectWorker(): Worker | null {
  if (!warmed || isGone(warmed)) warmed = newSelectWorker();
  return warmed;
}

/**
 * A worker started ahead (it loads its modules while the components are fitted), the one warmSelectWorker started
 * when it is still there; null when it cannot start.
 */
export function startSelectWorker(): Worker | null {
  const w = warmed;
  warmed = null;
  if (w && !isGone(w)) return w;
  if (w) void w.terminate();
  return newSelectWorker();
}

/**
 * A worker a selection is done with (its counters told, every answer received), kept for the next selection of the
 * process (`train --evaluate`: the evaluation's own selection after training's) instead of stopped: it is told to
 * drop its state (`reset`: its caches and fitted copy go), unref'd, and taken by the next startSelectWorker. The next
 * selection then neither loads the worker's modules again nor recompiles its hot functions (the candidate loops are
 * large: V8 spends 0.1–0.6 s compiling one of them each time it optimises it, in every thread that runs them). The same figures: a worker's
 * answers depend only on its `init` and the batches it is sent. When one is kept already, this one is stopped.
 */
export function parkSelectWorker(w: Worker): Promise<void> | void {
  if (isGone(w) || (warmed && !isGone(warmed))) return w.terminate().then(() => undefined);
  w.postMessage({ type: 'reset' });
  w.unref();
  warmed = w;
}

function newSelectWorker(): Worker | null {
  try {
    const w = moduleWorker(new URL('./select-worker.js', import.meta.url));
    // an error while it loads is not thrown at anyone: it is remembered, and the main thread scores alone
    w.on('error', () => gone.add(w));
    w.on('exit', () => gone.add(w));
    w.unref();
    return w;
  } catch {
    return null;
  }
}

/**
 * The pivot customer: the customers of both protocols (ascending, each counted once) split where the work on each
 * side is about even, a customer's work taken as a fixed part (the scans over the catalogue) plus its history's length
 * (the list-based scores).
 */
export function pivotOf(st: ServedState, parts: CachePart[]): number {
  const union = Int32Array.from(new Set(parts.flatMap((p) => [...p.users]))).sort();
  if (union.length < 2) return Infinity;
  const base = 64;
  const ip = st.counts.indptr;
  const w = (u: number) => base + (u + 1 < ip.length ? ip[u + 1] - ip[u] : 0) * parts.filter((p) => p.users.length > 0).length;
  let total = 0;
  for (const u of union) total += w(u);
  let acc = 0;
  for (const u of union) {
    acc += w(u);
    if (acc * 2 >= total) return u + 1;
  }
  return Infinity;
}

/** Customers below the pivot on this thread, the rest on the worker (see the top of the file). */
export class SplitScorer implements CandidateScorer {
  private readonly low: Map<Protocol, CandidateCache>;
  private high: Map<Protocol, CandidateCache> | null = null;
  private readonly highParts: CachePart[];
  private worker: Worker | null;
  private readonly pending = new Map<number, (r: { ndcg: Float64Array[]; recall: Float64Array[]; stats?: Record<string, { users: number; lists: number; deepened: number }> } | null) => void>();
  private seq = 0;
  /** The batches the worker was sent (replayed on this thread if it fails). */
  private readonly sent: { protocol: Protocol; specs: ListSpec[] }[] = [];
  private workerStats: Record<string, { users: number; lists: number; deepened: number }> | null = null;

  constructor(
    private readonly st: ServedState,
    private readonly split: EvalSplit,
    parts: CachePart[],
    worker: Worker,
    pivot = pivotOf(st, parts),
    /** The caches' depth (CandidateCache). */
    private readonly k = CAND_K,
  ) {
    const lowParts = parts.map((p) => ({ ...p, users: p.users.filter((u) => u < pivot) }));
    this.highParts = parts.map((p) => ({ ...p, users: p.users.filter((u) => u >= pivot) }));
    this.worker = worker;
    worker.on('message', this.onMessage);
    worker.on('error', this.down);
    worker.on('exit', this.down);
    if (isGone(worker)) {
      // it failed or exited before this: never sent anything, its half is scored here
      this.worker = null;
      void worker.terminate();
    }
    const truth = (p: CachePart) => truthOf(p.protocol === 'discovery' ? split.truthNew : split.truthAll, p.users);
    const init: InitMessage = { type: 'init', state: statePayload(st), parts: this.highParts.map((p) => ({ ...p, truth: truth(p) })), k };
    // the worker builds its half while this thread builds the other
    this.worker?.postMessage(init);
    this.low = buildCaches(st, split, lowParts, k);
  }

  private readonly onMessage = (m: { id: number; ndcg?: Float64Array[]; recall?: Float64Array[]; stats?: Record<string, { users: number; lists: number; deepened: number }>; error?: string }) => {
    const done = this.pending.get(m.id);
    this.pending.delete(m.id);
    done?.(m.error !== undefined ? null : { ndcg: m.ndcg!, recall: m.recall!, stats: m.stats });
  };

  private readonly down = () => this.fail();

  /** Every answer still awaited is answered "failed" and the worker stopped: this thread scores its half from then on. */
  private fail(): void {
    const w = this.worker;
    this.worker = null;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const done of waiting) done(null);
    void w?.terminate();
  }

  /** The worker's answer, or null once its deadline passed (the worker is then stopped: this thread scores its half). */
  private deadline<T>(answer: Promise<T | null>, work: number, what: string): Promise<T | null> {
    const ms = workerDeadlineMs(work);
    return withinOr(answer, ms, null, () => {
      process.stderr.write(`select: the scoring worker did not answer within ${seconds(ms)} (${what}); stopped, its customers scored on the main thread\n`);
      this.fail();
    });
  }

  /** The upper half's caches on this thread, every batch the worker was sent replayed on them (the same counters). */
  private highHere(): Map<Protocol, CandidateCache> {
    if (!this.high) {
      // (this thread's kept scores are the low caches': one budget per thread)
      this.high = buildCaches(this.st, this.split, this.highParts, this.k, this.low.values().next().value?.kept);
      for (const b of this.sent) scoreCandidateLists(this.st, this.high.get(b.protocol)!, b.specs);
    }
    return this.high;
  }

  async score(protocol: Protocol, specs: ListSpec[]): Promise<PerUser> {
    let answer: Promise<PerUser | null> = Promise.resolve(null);
    if (this.worker) {
      const id = ++this.seq;
      answer = new Promise((resolve) => this.pending.set(id, resolve));
      // the worker is unref'd: while its answer is awaited, it keeps the process alive
      this.worker.ref();
      this.worker.postMessage({ type: 'score', id, protocol, specs });
    }
    const mine = scoreCandidateLists(this.st, this.low.get(protocol)!, specs);
    let theirs = await this.deadline(answer, this.highParts.reduce((a, p) => a + p.users.length, 0) * specs.length, 'scoring');
    this.worker?.unref();
    if (theirs) this.sent.push({ protocol, specs });
    else theirs = scoreCandidateLists(this.st, this.highHere().get(protocol)!, specs);
    return {
      ndcg: mine.ndcg.map((a, c) => concat(a, theirs.ndcg[c])),
      recall: mine.recall.map((a, c) => concat(a, theirs.recall[c])),
    };
  }

  async buyAgain(spec: ListSpec): Promise<{ ndcg: Float64Array; recall: Float64Array }> {
    let answer: Promise<PerUser | null> = Promise.resolve(null);
    if (this.worker) {
      const id = ++this.seq;
      answer = new Promise((resolve) => this.pending.set(id, resolve));
      this.worker.ref();
      this.worker.postMessage({ type: 'buyAgain', id, spec });
    }
    const mine = buyAgainServed(this.st, this.low.get('all')!, spec);
    const all = this.highParts.find((p) => p.protocol === 'all');
    let theirs = await this.deadline(answer, all?.users.length ?? 0, 'buy again');
    this.worker?.unref();
    const t = theirs ? { ndcg: theirs.ndcg[0], recall: theirs.recall[0] } : buyAgainServed(this.st, this.highHere().get('all')!, spec);
    return { ndcg: concat(mine.ndcg, t.ndcg), recall: concat(mine.recall, t.recall) };
  }

  stats(): Record<string, { users: number; lists: number; deepened: number }> {
    const theirs = this.high ? Object.fromEntries([...this.high.values()].map((c) => [c.protocol, { users: c.users.length, lists: c.scored, deepened: c.deepened }])) : this.workerStats;
    return Object.fromEntries(
      [...this.low.values()].map((c) => {
        const t = theirs?.[c.protocol] ?? { users: 0, lists: 0, deepened: 0 };
        return [c.protocol, { users: c.users.length + t.users, lists: c.scored + t.lists, deepened: c.deepened + t.deepened }];
      }),
    );
  }

  threads(): number {
    return this.high ? 1 : 2;
  }

  /** Asks the worker for its counters, then stops it. */
  async close(): Promise<void> {
    if (this.worker && !this.high) {
      const id = ++this.seq;
      const answer = new Promise<{ stats?: Record<string, { users: number; lists: number; deepened: number }> } | null>((resolve) => this.pending.set(id, resolve));
      this.worker.ref();
      this.worker.postMessage({ type: 'stats', id });
      const r = await this.deadline(answer, 0, 'its counters');
      if (r?.stats) this.workerStats = r.stats;
    }
    // the worker went away before telling its counters: they are those of its caches rebuilt and replayed here
    if (!this.workerStats) this.highHere();
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    // this scorer stops listening; a worker that answered everything is kept for the process's next selection
    w.off('message', this.onMessage);
    w.off('error', this.down);
    w.off('exit', this.down);
    if (this.workerStats && this.pending.size === 0) await parkSelectWorker(w);
    else await w.terminate();
  }
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
