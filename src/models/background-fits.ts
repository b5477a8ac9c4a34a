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
import type { TopKLists } from '../core/bundle.js';
import type { BatchResult, TrainingData } from '../core/recommender.js';
import { type EaseParams, EaseRecommender, easeWeights } from './ease.js';
import { type ItemKnnParams, itemKnnLists } from './item-knn.js';
import { type FbtParams, fbtLists } from './fbt.js';
import { type BasketLines, fitTifu, type TifuParams, type TifuVectors } from './tifu-knn.js';

export type BackgroundTask =
  | { kind: 'ease'; counts: Csr; params: Partial<EaseParams> }
  | { kind: 'tifu'; lines: BasketLines; customers: number; nItems: number; params: Partial<TifuParams> }
  | { kind: 'knn'; counts: Csr; weights: Csr | null; params: Partial<ItemKnnParams> }
  | { kind: 'fbt'; baskets: Csr; params: Partial<FbtParams> }
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

type ValueOf<T extends BackgroundTask> = T extends { kind: 'ease' } ? Float32Array : T extends { kind: 'ease-scored' } ? EaseScored : T extends { kind: 'knn' | 'fbt' } ? TopKLists : TifuVectors;

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

const workOf = (t: BackgroundTask): number => (t.kind === 'tifu' ? t.lines.customer.length : t.kind === 'fbt' ? t.baskets.indices.length : t.counts.indices.length);

type State = 'queued' | 'running' | 'done' | 'inline';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export class BackgroundJob<V = any> {
  state: State = 'queued';
  private settled: Promise<TaskResult<V>> | null = null;
  private resolveWorker!: (r: TaskResult<V>) => void;
  private readonly fromWorker: Promise<TaskResult<V> | null>;

  constructor(
    readonly id: number,
    readonly task: BackgroundTask,
    private readonly pool: BackgroundFits,
  ) {
    this.fromWorker = new Promise<TaskResult<V> | null>((resolve) => {
      this.resolveWorker = resolve as (r: TaskResult<V> | null) => void;
    });
  }

  /** The worker's answer (null: the worker failed; the job then runs inline). */
  settle(r: TaskResult<V> | null): void {
    this.state = r ? 'done' : 'queued';
    this.resolveWorker(r as TaskResult<V>);
  }

  /** Whether the result is ready or being computed by the worker (asking for it does not run it here). */
  get started(): boolean {
    return this.state === 'running' || this.state === 'done';
  }

  /** The result: the worker's, or computed here if the worker has not started it (or failed). */
  result(): Promise<TaskResult<V>> {
    this.settled ??= (async () => {
      if (this.state === 'queued' && this.pool.takeBack(this as BackgroundJob)) return this.inline();
      // the worker is unref'd: while someone waits for its answer, it must keep the process alive
      this.pool.hold(+1);
      let r: TaskResult<V> | null;
      try {
        r = await this.fromWorker;
      } finally {
        this.pool.hold(-1);
      }
      return r ?? this.inline();
    })();
    return this.settled;
  }

  private async inline(): Promise<TaskResult<V>> {
    this.state = 'inline';
    const t0 = performance.now();
    const value = (await runTask(this.task)) as V;
    return { value, seconds: seconds(t0), where: 'inline' };
  }
}

/** One worker thread and its queue of jobs. */
export class BackgroundFits {
  private worker: Worker | null = null;
  private ready = false;
  private dead = false;
  private readonly queue: BackgroundJob[] = [];
  private current: BackgroundJob | null = null;
  private nextId = 1;

  /**
   * `enabled`: false runs every job inline. `minWork`: jobs on fewer interactions (nonzeros / purchase lines)
   * run inline too: starting the worker (loading its modules) costs more than a small fit.
   */
  constructor(
    private readonly enabled = true,
    private readonly minWork = MIN_WORK,
  ) {}

  submit<T extends BackgroundTask>(task: T): BackgroundJob<ValueOf<T>> {
    const job = new BackgroundJob<ValueOf<T>>(this.nextId++, task, this);
    // a small job is never posted: it stays queued until its caller takes it back
    if (workOf(task) < this.minWork) return job;
    this.queue.push(job as BackgroundJob);
    this.startWorker();
    this.pump();
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

  /** Removes a queued job for the caller to run (false when the worker already has it). */
  takeBack(job: BackgroundJob): boolean {
    if (job.state !== 'queued') return false;
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
    return true;
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
    w.on('message', (msg: { ready?: boolean; id?: number; ok?: boolean; value?: unknown; seconds?: number }) => {
      if (msg.ready) {
        this.ready = true;
        this.pump();
        return;
      }
      const job = this.current;
      this.current = null;
      if (job && job.id === msg.id) job.settle(msg.ok ? { value: msg.value, seconds: msg.seconds ?? 0, where: 'worker' } : null);
      this.pump();
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

  /** The job in flight goes back to its caller (run inline). */
  private fail(): void {
    const job = this.current;
    this.current = null;
    job?.settle(null);
  }

  private pump(): void {
    if (!this.worker || !this.ready || this.current || this.dead) return;
    const job = this.queue.shift();
    if (!job) return;
    this.current = job;
    job.state = 'running';
    this.worker.postMessage({ id: job.id, task: job.task });
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
