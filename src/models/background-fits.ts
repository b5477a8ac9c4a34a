/**
 * Fits that run beside the calling thread: EASE's weights (its dense inverse is most of an evaluation's
 * CPU time), TIFU-KNN's vectors (its neighbour search), item-kNN's and FBT's lists are pure functions of typed arrays, so one
 * worker thread computes them while the main thread fits and scores the other models ('ease-scored' also ranks the
 * evaluation's customers with EaseRecommender.recommend: src/eval/run-evaluation.ts ScoredInAdvance).
 *
 * Jobs run in the order submitted. A job the worker has not started when its result is asked for is
 * taken back and run on the calling thread (same function, same result), so nothing ever waits on an
 * idle or absent worker: when the worker cannot start (e.g. a test runner that cannot load TypeScript
 * workers) every job simply runs inline. A job whose worker fails mid-way is run inline too.
 * The worker is unref'd (it does not keep the process alive), except while a caller waits for its answer.
 *
 * @example
 * const job = backgroundFits().submit({ kind: 'ease', counts, params });
 * // ... other work ...
 * const { value: b, seconds } = await job.result();
 */
import type { Worker } from 'node:worker_threads';
import type { Csr } from '../core/csr.js';
import { moduleWorker } from '../core/module-worker.js';
import { seconds as secondsText, withinOr, workerDeadlineMs } from '../core/deadline.js';
import type { TopKLists } from '../core/bundle.js';
import type { BatchResult, TrainingData } from '../core/recommender.js';
import { type EaseParams, EaseRecommender, easeWeights } from './ease.js';
import { type ItemKnnParams, itemKnnLists } from './item-knn.js';
import { type FbtParams, fbtLists } from './fbt.js';
import { type BasketLines, fitTifu, type TifuParams, type TifuVectors } from './tifu-knn.js';
import { type AlsFitted, type AlsParams, AlsRecommender } from './als.js';

export type BackgroundTask =
  | { kind: 'ease'; counts: Csr; params: Partial<EaseParams> }
  | { kind: 'tifu'; lines: BasketLines; customers: number; nItems: number; params: Partial<TifuParams> }
  | { kind: 'knn'; counts: Csr; weights: Csr | null; params: Partial<ItemKnnParams> }
  | { kind: 'fbt'; baskets: Csr; params: Partial<FbtParams> }
  /** ALS's factors on `matrix` (the training weights or counts, as params.input says): AlsRecommender.fit on the worker (its own CG threads). */
  | { kind: 'als'; matrix: Csr; params: Partial<AlsParams> }
  /** EASE's weights, then its top 20 for each protocol's customers (`exclude`: minus their rows of `excludeRows`), as `recommend` returns them. */
  | {
      kind: 'ease-scored';
      counts: Csr;
      params: Partial<EaseParams>;
      excludeRows: Csr;
      protocols: { users: Int32Array; exclude: boolean }[];
      /** Also B's neighbour lists of this length (EaseRecommender.neighbourLists), as the served model reads them. */
      listLength?: number;
    };

/** What an 'ease-scored' task returns. */
export interface EaseScored {
  b: Float32Array;
  results: BatchResult[];
  /** neighbourLists(listLength), when asked for. */
  lists?: TopKLists;
}

type ValueOf<T extends BackgroundTask> = T extends { kind: 'ease' }
  ? Float32Array
  : T extends { kind: 'ease-scored' }
    ? EaseScored
    : T extends { kind: 'knn' | 'fbt' }
      ? TopKLists
      : T extends { kind: 'als' }
        ? AlsFitted
        : TifuVectors;

/** What a task returns and the seconds it took where it ran. */
export interface TaskResult<V> {
  value: V;
  seconds: number;
  /** Where it ran. */
  where: 'worker' | 'inline';
}

/** Runs a task on the calling thread (the worker runs the same function). */
export async function runTask<T extends BackgroundTask>(task: T): Promise<ValueOf<T>> {
  if (task.kind === 'ease') return (await easeWeights(task.counts, task.params)) as ValueOf<T>;
  if (task.kind === 'ease-scored') {
    const b = await easeWeights(task.counts, task.params);
    const m = new EaseRecommender(task.params);
    m.adopt(b, { counts: task.counts } as TrainingData);
    // each customer is scored on its own (recommendDense): what one recommend call per protocol returns, each
    // customer's scores computed once for both protocols
    const results = m.recommendMany(
      task.protocols.map((p) => ({ users: p.users, options: p.exclude ? { exclude: task.excludeRows } : undefined })),
      SCORED_K,
    );
    return { b, results, ...(task.listLength ? { lists: m.neighbourLists(task.listLength) } : {}) } as ValueOf<T>;
  }
  if (task.kind === 'fbt') return fbtLists(task.baskets, task.params) as ValueOf<T>;
  if (task.kind === 'als') {
    const m = new AlsRecommender(task.params);
    await m.fit({ weights: task.matrix, counts: task.matrix } as TrainingData);
    return m.fitted() as ValueOf<T>;
  }
  if (task.kind === 'knn') return itemKnnLists({ counts: task.counts, weights: task.weights ?? task.counts }, task.params) as ValueOf<T>;
  return fitTifu(task.lines, task.customers, task.nItems, task.params) as ValueOf<T>;
}

/** The buffers of a result, moved (not copied) between threads. */
export function transferables(v: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const walk = (x: unknown, depth: number) => {
    if (ArrayBuffer.isView(x)) {
      if (x.buffer instanceof ArrayBuffer) out.add(x.buffer);
    } else if (x && typeof x === 'object' && depth < 3) for (const y of Object.values(x)) walk(y, depth + 1);
  };
  walk(v, 0);
  return [...out];
}

/** The list length evaluation asks for (src/eval/evaluate.ts: k = 20). */
export const SCORED_K = 20;

const seconds = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;

/** Below this many interactions a job runs on the calling thread (see BackgroundFits). */
export const MIN_WORK = 20_000;

const workOf = (t: BackgroundTask): number =>
  t.kind === 'tifu' ? t.lines.customer.length : t.kind === 'fbt' ? t.baskets.indices.length : t.kind === 'als' ? t.matrix.indices.length : t.counts.indices.length;

type State = 'queued' | 'running' | 'done' | 'inline';

/**
 * A job's state cell, shared with the worker (Int32Array over a SharedArrayBuffer): the worker claims a queued job
 * and the calling thread takes one back with a compare-and-exchange, so exactly one of them runs it, and the worker
 * chooses its next job itself (the calling thread may be busy for seconds without reading messages).
 */
export const CELL = { queued: 0, running: 1, done: 2, taken: 3 } as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class BackgroundJob<V = any> {
  /** [0]: CELL.* (see CELL); [1]: the worker's claim count when it claimed this job (1 = its first), 0 until then. */
  readonly cell = new Int32Array(new SharedArrayBuffer(8));
  private inlined = false;
  private answered = false;
  private settled: Promise<TaskResult<V>> | null = null;
  private resolveWorker!: (r: TaskResult<V>) => void;
  private readonly fromWorker: Promise<TaskResult<V> | null>;

  constructor(
    readonly id: number,
    readonly task: BackgroundTask,
    private readonly pool: BackgroundFits,
    /** Started only when no other job is queued (see BackgroundFits.submit). */
    readonly low = false,
  ) {
    this.fromWorker = new Promise<TaskResult<V> | null>((resolve) => {
      this.resolveWorker = resolve as (r: TaskResult<V> | null) => void;
    });
  }

  /** Where the job is: queued, running or done on the worker, or run (or taken back to run) on the calling thread. */
  get state(): State {
    if (this.inlined) return 'inline';
    const c = Atomics.load(this.cell, 0);
    return c === CELL.running ? 'running' : c === CELL.done ? 'done' : c === CELL.taken ? 'inline' : 'queued';
  }

  /** The order in which the worker claimed this job among its jobs (1 = first), or 0 when it has not claimed it. */
  get claimOrder(): number {
    return Atomics.load(this.cell, 1);
  }

  /** The worker's answer (null: the worker failed or went away; the job then runs inline). */
  settle(r: TaskResult<V> | null): void {
    if (this.answered) return;
    this.answered = true;
    this.resolveWorker(r as TaskResult<V>);
  }

  /** Whether the result is ready or being computed by the worker (asking for it does not run it here). */
  get started(): boolean {
    const s = this.state;
    return s === 'running' || s === 'done';
  }

  /** Takes the job from the worker if it has not claimed it (true: the caller runs it). */
  takeBack(): boolean {
    return Atomics.compareExchange(this.cell, 0, CELL.queued, CELL.taken) === CELL.queued;
  }

  /** Runs the job on the calling thread now when the worker has not claimed it (true); result() then answers that. */
  takeOver(): boolean {
    if (this.settled || !this.pool.takeBack(this as BackgroundJob)) return false;
    this.settled = this.inline();
    return true;
  }

  /** The result: the worker's, or computed here if the worker has not started it (or failed). */
  result(): Promise<TaskResult<V>> {
    this.settled ??= (async () => {
      if (this.pool.takeBack(this as BackgroundJob)) return this.inline();
      // rather than idle while the worker computes it: low-priority work it has not started, here
      await this.pool.fillWait(this as BackgroundJob);
      // the worker is unref'd: while someone waits for its answer, it must keep the process alive
      this.pool.hold(+1);
      let r: TaskResult<V> | null;
      try {
        // a worker that neither answers nor exits within the deadline is taken for hung: stopped, the job run here
        const ms = workerDeadlineMs(workOf(this.task));
        r = await withinOr(this.fromWorker, ms, null, () => this.pool.abandon(`a ${this.task.kind} fit did not answer within ${secondsText(ms)}`));
      } finally {
        this.pool.hold(-1);
      }
      return r ?? this.inline();
    })();
    return this.settled;
  }

  private async inline(): Promise<TaskResult<V>> {
    this.inlined = true;
    const t0 = performance.now();
    const value = (await runTask(this.task)) as V;
    return { value, seconds: seconds(t0), where: 'inline' };
  }
}

/**
 * One worker thread and its jobs. Each job is posted to the worker when submitted (the worker queues them and picks
 * the next itself: the first without `low`, else the first low one), so the worker goes from one job to the next
 * even while the calling thread is busy; a job's shared state cell decides which thread runs it.
 */
export class BackgroundFits {
  private worker: Worker | null = null;
  private dead = false;
  /** Jobs posted to the worker and not answered yet. */
  private readonly posted = new Map<number, BackgroundJob>();
  private nextId = 1;

  /**
   * `enabled`: false runs every job inline. `minWork`: jobs on fewer interactions (nonzeros / purchase lines)
   * run inline too: starting the worker (loading its modules) costs more than a small fit.
   */
  constructor(
    private readonly enabled = true,
    private readonly minWork = MIN_WORK,
  ) {}

  /**
   * Queues `task`. `low`: the worker starts it only when no other job is queued (work to fill the worker's idle
   * time, e.g. training's fits on all of the data while validation's fits and the selection run): a job
   * submitted later without `low` goes first, unless the low one has started already (jobs are not pre-empted).
   */
  submit<T extends BackgroundTask>(task: T, options: { low?: boolean } = {}): BackgroundJob<ValueOf<T>> {
    const job = new BackgroundJob<ValueOf<T>>(this.nextId++, task, this, options.low ?? false);
    // a small job is never posted: it stays queued until its caller takes it back
    if (workOf(task) < this.minWork) return job;
    this.startWorker();
    const w = this.worker as Worker | null;
    if (!w) return job;
    this.posted.set(job.id, job as BackgroundJob);
    // the task's arrays are copied (the caller keeps them); the cell is shared
    w.postMessage({ id: job.id, task, cell: job.cell, low: job.low });
    return job;
  }

  /**
   * Starts the worker now (it loads its modules meanwhile) when jobs are expected soon, e.g. while a large input is
   * read: the first job then does not wait for the worker to start. Harmless when none comes (the worker is unref'd).
   */
  warm(): void {
    this.startWorker();
  }

  private waiting = 0;

  /** Counts callers waiting for the worker's answer: the worker is ref'd (keeps the process alive) while any does. */
  hold(delta: 1 | -1): void {
    this.waiting += delta;
    if (this.waiting > 0) this.worker?.ref();
    else this.worker?.unref();
  }

  /**
   * While `job` runs on the worker and the caller waits for it: low-priority jobs the worker has not claimed are run
   * on the calling thread, first submitted first, while `job` is still running and another job stays queued for the
   * worker (so that the worker, once done with `job`, never idles for want of a job this thread took). Same results
   * wherever a job runs; a thread that would otherwise wait does work that is needed later (e.g. training's FBT lists
   * while the validation's EASE weights are computed).
   */
  async fillWait(job: BackgroundJob): Promise<void> {
    for (;;) {
      if (job.state !== 'running') return;
      const queued = [...this.posted.values()].filter((j) => j !== job && j.state === 'queued');
      const low = queued.find((j) => j.low);
      if (!low || queued.length < 2 || !low.takeOver()) return;
      await low.result();
    }
  }

  /** Takes a job the worker has not claimed back for the caller to run (false when the worker has it). */
  takeBack(job: BackgroundJob): boolean {
    if (!job.takeBack()) return false;
    this.posted.delete(job.id);
    return true;
  }

  /** A worker that stopped answering: terminated, every job posted to it (and every later one) runs on the calling thread. */
  abandon(why: string): void {
    const w = this.worker;
    if (!w) return;
    process.stderr.write(`background fits: ${why}; worker stopped, its jobs run on the main thread\n`);
    this.dead = true;
    this.worker = null;
    this.fail();
    void w.terminate();
  }

  /** Stops the worker (queued jobs then run inline when asked for). */
  async close(): Promise<void> {
    this.dead = true;
    const w = this.worker;
    this.worker = null;
    this.fail();
    await w?.terminate();
  }

  private startWorker(): void {
    if (this.worker || this.dead || !this.enabled) return;
    let w: Worker;
    try {
      w = moduleWorker(new URL('./background-fit-worker.js', import.meta.url));
    } catch {
      this.dead = true;
      return;
    }
    this.worker = w;
    w.on('message', (msg: { ready?: boolean; id?: number; ok?: boolean; skipped?: boolean; value?: unknown; seconds?: number }) => {
      if (msg.ready || msg.id === undefined) return;
      const job = this.posted.get(msg.id);
      this.posted.delete(msg.id);
      if (!job || msg.skipped) return;
      job.settle(msg.ok ? { value: msg.value, seconds: msg.seconds ?? 0, where: 'worker' } : null);
    });
    const down = () => {
      this.dead = true;
      this.worker = null;
      this.fail();
    };
    w.on('error', down);
    w.on('exit', down);
    // after the listeners (attaching a 'message' listener refs the worker's port again)
    w.unref();
  }

  /** Every job posted and not answered goes back to its caller (run inline). */
  private fail(): void {
    const jobs = [...this.posted.values()];
    this.posted.clear();
    for (const job of jobs) {
      // a job the worker never claimed is taken back; one it was running is answered "failed": both run inline
      job.takeBack();
      job.settle(null);
    }
  }
}

let shared: BackgroundFits | null = null;

/**
 * The process's background fits (one worker, started on first use). BACKGROUND_FITS=0 runs every job
 * on the calling thread (same results; for comparing timings).
 */
export function backgroundFits(): BackgroundFits {
  shared ??= new BackgroundFits(process.env.BACKGROUND_FITS !== '0');
  return shared;
}

/** Replaces the process's background fits (tests: a disabled pool runs everything inline); returns the previous one. */
export function useBackgroundFits(pool: BackgroundFits): BackgroundFits | null {
  const prev = shared;
  shared = pool;
  return prev;
}

/** The background job's result taken over by `model` (nothing when there is no job); the job's fit seconds. */
export async function adoptFrom<V>(job: BackgroundJob<V> | null, model: { adopt(value: V, data: TrainingData): void }, data: TrainingData): Promise<number> {
  if (!job) return 0;
  const r = await job.result();
  model.adopt(r.value, data);
  return r.seconds;
}
