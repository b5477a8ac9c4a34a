/**
 * What the import pipeline writes: the batches of readDataFile, with order lines already planned
 * (grouped into orders, products, stores and identifiers: src/store/import-plan.ts). Reading,
 * parsing and planning can run in a worker thread, so that on a large file they overlap the
 * store's writes instead of taking turns with them on the main thread.
 */
import { statSync } from 'node:fs';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { moduleWorker } from '../core/module-worker.js';
import { workerDeadlineMs, seconds } from '../core/deadline.js';
import { OrderIdAllocator, PlanBuilder, type ImportPlan, type PlannedProduct } from '../store/import-plan.js';
import { readDataFile, type BatchBase, type ConsentBatch, type DataBatch, type InventoryBatch, type ReadOptions } from './read-data-file.js';
import { addCounts } from './reject-reasons.js';
import type { OrderLine } from '../core/records.js';

export type PlannedOrderBatch = BatchBase & { kind: 'orders'; plan: ImportPlan };
export type ImportBatch = PlannedOrderBatch | InventoryBatch | ConsentBatch;

/** Reserves n order ids in the store (Store.reserveOrderIds). */
export type ReserveOrderIds = (n: number) => Promise<number[]>;

export interface ImportBatchOptions extends ReadOptions {
  reserveOrderIds: ReserveOrderIds;
  /**
   * Read and plan in a worker thread: true, false, or 'auto' (the default): for files of at least
   * WORKER_MIN_BYTES on disk, where the thread's start-up (~0.1 s compiled, ~0.4 s under tsx) pays off
   * (bench:import --worker on/off, BENCHMARKS.md).
   */
  worker?: boolean | 'auto';
  /**
   * Lines of the first store batch (default FIRST_BATCH, at most batchSize); each next batch doubles it up
   * to batchSize, so that the first write starts once a few thousand lines are planned, not a whole batch.
   */
  firstBatchSize?: number;
  /**
   * Aborted by the caller when the import has failed elsewhere (the store unreachable, a write failed): a wait for
   * the reader thread's next batch then ends at once, so the generator can be closed (its thread stopped). Without
   * it, a reader thread blocked on what the failed store would have answered kept the import waiting until
   * WORKER_DEADLINE_MS (10 min).
   */
  signal?: AbortSignal;
}

export const WORKER_MIN_BYTES = 4 << 20;
/** Batches the worker may have planned ahead of the writer (bounds memory). */
const AHEAD = 2;
/** Order ids reserved at a time. */
export const ID_BLOCK = 20_000;
const YOUNG_GEN_MB = 96;

/** Lines of the first store batch by default (then 5,000, 10,000, … up to the batch size). */
export const FIRST_BATCH = 2_500;
/** Rows read at a time while planning: few, so that rows die young (cheap for the garbage collector). */
const READ_CHUNK = 2_000;
/**
 * Read batches (of READ_CHUNK rows) read ahead at most while reserved ids are on their way: on a fresh database the
 * first ids wait for the migrations (0.25-0.35 s, their index builds' fsyncs, a core otherwise idle), in which the
 * reader reads 100,000-150,000 rows (192,000 at most here: about 40 MB).
 */
export const READ_AHEAD = 96;

/**
 * Plans the order lines of read batches into store batches of about `batchSize` lines (ending
 * with an order), encoded under
 * reserved order ids (reserving a block of ids, or a chunk's need if larger, ahead of the
 * allocator running short); inventory and consent rows are gathered into batches of `batchSize` as
 * well. Counters (rows, rejects, skips) travel with the store batch that holds their chunk's first rows.
 */
export async function* plannedBatches(source: AsyncIterable<DataBatch>, reserve: ReserveOrderIds, batchSize: number, firstBatchSize = batchSize): AsyncGenerator<ImportBatch> {
  // the size this batch is cut at: firstBatchSize, doubled at each batch up to batchSize
  let limit = Math.max(1, Math.min(firstBatchSize, batchSize));
  const ids = new OrderIdAllocator();
  const builder = new PlanBuilder(ids);
  let base: BatchBase | null = null;
  const take = (): ImportBatch => {
    const b: ImportBatch = { ...(base as BatchBase), kind: 'orders', plan: builder.build() };
    base = null;
    return b;
  };
  let other: InventoryBatch | ConsentBatch | null = null;
  let more: Promise<number[]> | null = null;
  const it = source[Symbol.asyncIterator]();
  // read batches taken from the source ahead of their turn (see readAhead), in file order: a read
  // failure among them is thrown when its turn comes, after every batch before it
  const ahead: ({ batch: DataBatch } | { error: unknown })[] = [];
  let ended = false;
  /**
   * While reserved ids are on their way (the first block waits for the store's migrations on a fresh
   * database, a few hundred ms), the next read batches are read and parsed instead of waiting: up to
   * READ_AHEAD of them, until the ids arrive or the file ends.
   */
  const readAhead = async (ids: Promise<unknown>): Promise<void> => {
    let arrived = false;
    ids.then(
      () => (arrived = true),
      () => (arrived = true),
    );
    // (ids already there flag `arrived` before this continuation runs: nothing is read ahead then)
    await null;
    while (!arrived && !ended && ahead.length < READ_AHEAD && !ahead.some((a) => 'error' in a)) {
      try {
        const r = await it.next();
        if (r.done) ended = true;
        else ahead.push({ batch: r.value });
      } catch (error) {
        ahead.push({ error });
      }
    }
  };
  try {
    for (;;) {
      let b: DataBatch;
      const a = ahead.shift();
      if (a !== undefined) {
        if ('error' in a) throw a.error;
        b = a.batch;
      } else {
        if (ended) break;
        const r = await it.next();
        if (r.done) {
          ended = true;
          break;
        }
        b = r.value;
      }
      if (b.kind === 'inventory' || b.kind === 'consent') {
        other = other === null ? b : gather(other, b);
        if ((other.kind === 'inventory' ? other.inventory : other.consent).length >= batchSize) {
          yield other;
          other = null;
        }
        continue;
      }
      const { lines: _lines, kind: _kind, ...counts } = b;
      const n = b.lines.length;
      // the next block is asked for while half the current one is left, so that the reader
      // seldom waits for the round trip
      if (more === null && ids.available - n < ID_BLOCK / 2) {
        more = reserve(Math.max(ID_BLOCK, n));
        more.catch(() => undefined); // a failure is reported where it is awaited
      }
      if (ids.available < n) {
        more ??= reserve(Math.max(ID_BLOCK, n));
        more.catch(() => undefined);
        await readAhead(more);
      }
      while (ids.available < n) {
        ids.supply(await (more ?? reserve(Math.max(ID_BLOCK, n))));
        more = null;
      }
      base = base === null ? counts : mergeCounts(base as BatchBase, counts);
      // (the lines added by addUntilCut, a small function of its own: see there)
      for (let i = addUntilCut(builder, b.lines, 0, limit, batchSize); i < n; i = addUntilCut(builder, b.lines, i, limit, batchSize)) {
        limit = Math.min(batchSize, 2 * limit);
        yield take();
        base = { ...counts, rowsRead: 0, rejects: [], skipped: {}, droppedIdentifiers: undefined };
      }
    }
  } finally {
    // (stopped early, or failed: the source closed, as a for-await loop would)
    if (!ended) await it.return?.();
  }
  if (base !== null && (builder.lineCount > 0 || base.rowsRead > 0)) yield take();
  if (other !== null) yield other;
}

/**
 * Adds lines[from…] to the batch being planned until it is full; returns the index of the first line not added
 * (lines.length: all were). A full batch ends where an order does, so that an order whose lines are together in
 * the file is written by one transaction, whole (an order of more than batchSize lines ends a batch at twice that,
 * the smaller first batches included: they only end sooner between orders). An empty batch takes any line.
 * The per-line loop is kept out of plannedBatches: V8 optimizes a function whose loop runs hot as a whole, and
 * recompiles it at each rare path taken for the first time (a batch's end, an id reservation): the async
 * generator was compiled 7 times (~0.35 s of compile threads' time per import), this small function is not.
 */
export function addUntilCut(builder: PlanBuilder, lines: readonly OrderLine[], from: number, limit: number, batchSize: number): number {
  const n = lines.length;
  for (let i = from; i < n; i++) {
    const l = lines[i];
    if (builder.lineCount >= limit && (!builder.continues(l) || builder.lineCount >= 2 * batchSize)) return i;
    builder.add(l);
  }
  return n;
}

/** The counters of two consecutive read batches; progress from the later one. */
function mergeCounts(a: BatchBase, b: BatchBase): BatchBase {
  const { format, syntax, bytesRead, totalBytes } = b;
  const skipped = addCounts({ ...a.skipped }, b.skipped);
  const dropped = a.droppedIdentifiers || b.droppedIdentifiers ? { droppedIdentifiers: addCounts({ ...a.droppedIdentifiers }, b.droppedIdentifiers ?? {}) } : {};
  return { format, syntax, bytesRead, totalBytes, rowsRead: a.rowsRead + b.rowsRead, rejects: a.rejects.concat(b.rejects), skipped, ...dropped };
}

/** Two consecutive inventory (or consent) batches of one file as one. */
function gather(a: InventoryBatch | ConsentBatch, b: InventoryBatch | ConsentBatch): InventoryBatch | ConsentBatch {
  const counts = mergeCounts(a, b);
  if (a.kind === 'inventory' && b.kind === 'inventory') return { ...counts, kind: 'inventory', inventory: a.inventory.concat(b.inventory) };
  if (a.kind === 'consent' && b.kind === 'consent') return { ...counts, kind: 'consent', consent: a.consent.concat(b.consent) };
  throw new Error('gather: batches of different kinds');
}

/** The file's batches, planned, read on this thread or a worker (see ImportBatchOptions.worker). */
export async function* importBatches(path: string, options: ImportBatchOptions): AsyncGenerator<ImportBatch> {
  const { worker = 'auto', reserveOrderIds, signal, ...read } = options;
  let useWorker = worker === true;
  if (worker === 'auto') {
    try {
      useWorker = statSync(path).size >= WORKER_MIN_BYTES;
    } catch {
      useWorker = false; // the reader reports the missing, empty or unknown file
    }
  }
  if (!useWorker) {
    yield* readAndPlan(path, read, reserveOrderIds);
    return;
  }
  yield* workerBatches(path, read, reserveOrderIds, signal);
}

/**
 * The file read (readDataFile) in small chunks, planned into store batches of `options.batchSize` lines
 * (the first ones smaller: ImportBatchOptions.firstBatchSize).
 */
export function readAndPlan(path: string, options: ReadOptions & { firstBatchSize?: number }, reserve: ReserveOrderIds): AsyncGenerator<ImportBatch> {
  const { firstBatchSize = FIRST_BATCH, ...rest } = options;
  const batchSize = rest.batchSize ?? 10_000;
  const read = { ...rest, batchSize: Math.min(batchSize, READ_CHUNK) };
  return plannedBatches(readDataFile(path, read), reserve, batchSize, firstBatchSize);
}

/**
 * A batch's products as columns, the way the reader thread posts them: each product an object was most of the cost
 * of copying a batch between the threads (a structured clone writes and rebuilds every object key by key; a
 * batch names ~2,000 products, 60 % of its message). Prices are never NaN (a sale's price, or null: NaN here).
 */
export interface ProductColumns {
  sku: string[];
  title: (string | null)[];
  category: (string | null)[];
  price: Float64Array;
  time: Float64Array;
  /** titleAt, categoryAt, priceAt, one after the other (n each). */
  fieldTimes: Float64Array;
}

/** Products as columns (null when one's price is NaN, which the columns could not tell from null: sent as they are). */
export function productColumns(products: readonly PlannedProduct[]): ProductColumns | null {
  const n = products.length;
  const c: ProductColumns = { sku: new Array(n), title: new Array(n), category: new Array(n), price: new Float64Array(n), time: new Float64Array(n), fieldTimes: new Float64Array(3 * n) };
  for (let i = 0; i < n; i++) {
    const p = products[i];
    if (Number.isNaN(p.price)) return null;
    c.sku[i] = p.sku;
    c.title[i] = p.title;
    c.category[i] = p.category;
    c.price[i] = p.price ?? NaN;
    c.time[i] = p.time;
    c.fieldTimes[i] = p.titleAt;
    c.fieldTimes[n + i] = p.categoryAt;
    c.fieldTimes[2 * n + i] = p.priceAt;
  }
  return c;
}

/** The products of productColumns, as they were. */
export function columnProducts(c: ProductColumns): PlannedProduct[] {
  const n = c.sku.length;
  const out: PlannedProduct[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const price = c.price[i];
    out[i] = {
      sku: c.sku[i], title: c.title[i], titleAt: c.fieldTimes[i], category: c.category[i], categoryAt: c.fieldTimes[n + i],
      price: Number.isNaN(price) ? null : price, priceAt: c.fieldTimes[2 * n + i], time: c.time[i],
    };
  }
  return out;
}

type WorkerMessage =
  | { type: 'batch'; batch: ImportBatch; products?: ProductColumns }
  | { type: 'ids'; n: number }
  | { type: 'end' }
  | { type: 'error'; name: string; message: string; context: Record<string, unknown> };

/** Rebuilds the typed errors the reader throws (the CLI maps them to exit codes). */
function rebuildError(m: Extract<WorkerMessage, { type: 'error' }>): Error {
  if (m.name === 'NotFoundError') return new NotFoundError(m.message, m.context);
  if (m.name === 'InvalidArgumentError') return new InvalidArgumentError(m.message, m.context);
  return new Error(m.message);
}

async function* workerBatches(path: string, options: ReadOptions & { firstBatchSize?: number }, reserve: ReserveOrderIds, signal?: AbortSignal): AsyncGenerator<ImportBatch> {
  // a young generation large enough for a batch's short-lived rows: scavenges then rarely promote them
  const w = moduleWorker(new URL('./read-worker.js', import.meta.url), { path, options, ahead: AHEAD }, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GEN_MB } });
  const queue: Exclude<WorkerMessage, { type: 'ids' }>[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const silence = readerSilence(path);
  w.on('message', (m: WorkerMessage) => {
    silence.heard();
    if (m.type === 'ids') {
      silence.reserving(+1);
      reserve(m.n).then(
        (ids) => {
          silence.reserving(-1);
          w.postMessage({ type: 'ids', ids });
        },
        (e: Error) => {
          silence.reserving(-1);
          failure ??= e;
          notify();
        },
      );
      return;
    }
    queue.push(m);
    notify();
  });
  w.on('error', (e) => {
    failure ??= e;
    notify();
  });
  w.on('exit', (code) => {
    failure ??= new Error(`the import reader thread exited (code ${code}) before the end of ${path}`);
    notify();
  });
  const aborted = () => {
    failure ??= new Error(`the import of ${path} was stopped`);
    notify();
  };
  if (signal?.aborted) aborted();
  signal?.addEventListener('abort', aborted, { once: true });
  try {
    for (;;) {
      // (a reader that sends nothing for too long is taken for hung: readerSilence)
      const since = performance.now();
      // (a failure reported while waiting — a reservation refused, the thread's error or exit, an abort — is kept:
      // the wait's own answer is only its deadline's)
      while (queue.length === 0 && failure === null) {
        const late = await silence.wait(since, new Promise<void>((r) => (wake = r)));
        failure ??= late;
      }
      const m = queue.shift();
      if (m === undefined) throw failure;
      if (m.type === 'end') return;
      if (m.type === 'error') throw rebuildError(m);
      w.postMessage({ type: 'more' });
      // (products sent as columns: rebuilt)
      if (m.products !== undefined && m.batch.kind === 'orders') m.batch.plan.products = columnProducts(m.products);
      yield m.batch;
    }
  } finally {
    signal?.removeEventListener('abort', aborted);
    w.removeAllListeners('exit');
    await w.terminate();
  }
}

/**
 * Every wait has a deadline: the wait for the reader thread's next batch ends the import once the thread has sent
 * nothing for WORKER_DEADLINE_MS (default 10 min) since the wait began: no progress, not the file's total time
 * (a batch of a few thousand lines is planned in well under a second; a big file takes minutes). Order-id
 * reservations under way are the store's wait (with its own deadlines), not the reader's silence.
 */
function readerSilence(path: string) {
  const ms = workerDeadlineMs(0);
  let heard = 0;
  let reserving = 0;
  return {
    heard(): void {
      heard = performance.now();
    },
    reserving(d: number): void {
      reserving += d;
      heard = performance.now();
    },
    /** `woken`, or the import's failure once the reader was silent for the deadline since `since`. */
    async wait(since: number, woken: Promise<void>): Promise<Error | null> {
      const quiet = reserving > 0 ? 0 : performance.now() - Math.max(since, heard);
      if (quiet >= ms) return new Error(`the import reader thread sent nothing for ${seconds(ms)} while reading ${path} (WORKER_DEADLINE_MS); stopped, the import failed`);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, ms - quiet)))]);
      } finally {
        clearTimeout(timer);
      }
      return null;
    },
  };
}
