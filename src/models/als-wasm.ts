/**
 * The implicit-ALS alternation on the WebAssembly SIMD kernels (src/wasm/assembly/als.ts): every array of a fit
 * (both CSR orientations, both factor matrices, the Gram matrices, per-thread scratch) lives in one shared
 * WebAssembly memory; each half-iteration computes the fixed side's Gram YᵀY (f64, on the calling thread, in a
 * fixed order) and then solves disjoint row ranges on the calling thread and on worker threads at once, with no
 * copies: threads take chunks of rows from a shared atomic counter, so one that the OS deschedules holds up no one.
 * A row's solve depends on that row alone, so the factors are the same for any number of threads.
 */
import type { Worker } from 'node:worker_threads';
import type { Csr } from '../core/csr.js';
import { moduleWorker } from '../core/module-worker.js';
import { wasmApi, wasmModule, type WasmMemory } from '../core/wasm-modules.js';
import { within, withinOr, workerDeadlineMs, seconds } from '../core/deadline.js';
import { UnavailableError } from '../core/errors.js';

interface AlsExports {
  solveCgShared(indptr: number, indices: number, data: number, y: number, x: number, gram: number, k4: number, alpha: number, steps: number, rows: number, chunk: number, counter: number, scratch: number): void;
  gramAdd(y: number, from: number, to: number, k4: number, out: number): void;
}

/** Byte offsets of one CSR orientation in the shared memory. */
interface CsrAt {
  rows: number;
  indptr: number;
  indices: number;
  data: number;
  /** Nonzeros (the work of a half-iteration, for its deadline). */
  nnz: number;
  /** Rows per chunk taken from the shared counter. */
  chunk: number;
}

/** A solve request to a worker: solveCgShared's arguments. */
export interface WorkerTask {
  args: [number, number, number, number, number, number, number, number, number, number, number, number, number];
}

const align = (n: number) => (n + 15) & ~15;

export class WasmAls {
  private readonly k4: number;
  private readonly mem: WasmMemory;
  private readonly ex: AlsExports;
  private readonly scratch: number[] = [];
  private readonly gram32: number;
  private readonly gram64: number;
  /** The shared row-chunk counter (i32). */
  private readonly counter: number;
  private readonly users: CsrAt;
  private readonly items: CsrAt;
  /** Factor matrices (rows × k4 f32) of customers and items. */
  private readonly uAt: number;
  private readonly vAt: number;
  /** The factors of the side being solved, as they were before the half-iteration (with workers only). */
  private saved: Float32Array | null = null;

  private constructor(
    mod: object,
    private workers: Worker[],
    c: Csr,
    ct: Csr,
    readonly k: number,
  ) {
    const k4 = (this.k4 = (k + 3) & ~3);
    const threads = workers.length + 1;
    let at = 0;
    const take = (bytes: number) => {
      const o = at;
      at = align(at + bytes);
      return o;
    };
    for (let t = 0; t < threads; t++) this.scratch.push(take(3 * k4 * 4));
    this.gram32 = take(k4 * k4 * 4);
    this.gram64 = take(k4 * k4 * 8);
    this.counter = take(4);
    // a few dozen chunks per thread: small enough to even out, large enough that the counter is not contended
    const place = (m: Csr): CsrAt => ({ rows: m.rows, indptr: take((m.rows + 1) * 4), indices: take(m.indices.length * 4), data: take(m.data.length * 4), nnz: m.indices.length, chunk: Math.max(4, Math.ceil(m.rows / (threads * 32))) });
    this.users = place(c);
    this.items = place(ct);
    this.uAt = take(c.rows * k4 * 4);
    this.vAt = take(c.cols * k4 * 4);
    const pages = Math.ceil(at / 65536) + 1;
    if (pages > 65536) throw new Error(`als: ${at} bytes do not fit the 4 GiB of a WebAssembly memory`);
    this.mem = new wasmApi!.Memory({ initial: pages, maximum: 65536, shared: true });
    this.ex = new wasmApi!.Instance(mod, { env: { memory: this.mem } }).exports as AlsExports;
    const buf = this.mem.buffer;
    for (const [m, p] of [[c, this.users], [ct, this.items]] as const) {
      new Int32Array(buf, p.indptr, m.rows + 1).set(m.indptr);
      new Int32Array(buf, p.indices, m.indices.length).set(m.indices);
      new Float32Array(buf, p.data, m.data.length).set(m.data);
    }
  }

  /**
   * A solver for this fit with `threads` threads (the calling one and threads − 1 workers; fewer when workers
   * cannot start), or null when the kernels are not available here (see wasmUnavailable('als')).
   */
  static async start(c: Csr, ct: Csr, k: number, threads: number): Promise<WasmAls | null> {
    const mod = wasmModule('als');
    if (!mod || !wasmApi) return null;
    const workers = await startWorkers(Math.max(0, threads - 1));
    const s = new WasmAls(mod, workers, c, ct, k);
    try {
      const ms = workerDeadlineMs(0);
      const ready = await withinOr(Promise.all(workers.map((w) => call(w, { module: mod, memory: s.mem }))), ms, null);
      if (!ready) {
        process.stderr.write(`als: a worker thread did not take the fit's memory within ${seconds(ms)}; workers stopped, the fit runs on the calling thread\n`);
        throw new Error('als: worker start-up');
      }
    } catch {
      await s.close();
      return new WasmAls(mod, [], c, ct, k);
    }
    return s;
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Sets the factors (rows × k, unpadded) of customers ('users') or items. */
  setFactors(which: 'users' | 'items', f: Float32Array): void {
    const rows = which === 'users' ? this.users.rows : this.items.rows;
    const view = new Float32Array(this.mem.buffer, which === 'users' ? this.uAt : this.vAt, rows * this.k4);
    if (this.k4 === this.k) view.set(f);
    else {
      view.fill(0);
      for (let r = 0; r < rows; r++) view.set(f.subarray(r * this.k, r * this.k + this.k), r * this.k4);
    }
  }

  /** The factors of customers or items, rows × k (unpadded), into `out`. */
  getFactors(which: 'users' | 'items', out: Float32Array): void {
    const rows = which === 'users' ? this.users.rows : this.items.rows;
    const view = new Float32Array(this.mem.buffer, which === 'users' ? this.uAt : this.vAt, rows * this.k4);
    if (this.k4 === this.k) out.set(view);
    else for (let r = 0; r < rows; r++) out.set(view.subarray(r * this.k4, r * this.k4 + this.k), r * this.k);
  }

  /** YᵀY (k × k, f64, unpadded) of the customers' or items' factors. */
  gram(which: 'users' | 'items'): Float64Array {
    this.computeGram(which);
    const g = new Float64Array(this.mem.buffer, this.gram64, this.k4 * this.k4);
    const out = new Float64Array(this.k * this.k);
    for (let a = 0; a < this.k; a++) for (let b = 0; b < this.k; b++) out[a * this.k + b] = g[a * this.k4 + b];
    return out;
  }

  /** One half-iteration: the rows of `which` solved against the other side's factors held fixed. */
  async solve(which: 'users' | 'items', reg: number, alpha: number, steps: number): Promise<void> {
    const fixed = which === 'users' ? 'items' : 'users';
    this.computeGram(fixed);
    const k4 = this.k4;
    const g64 = new Float64Array(this.mem.buffer, this.gram64, k4 * k4);
    const g32 = new Float32Array(this.mem.buffer, this.gram32, k4 * k4);
    for (let i = 0; i < k4 * k4; i++) g32[i] = g64[i];
    for (let a = 0; a < k4; a++) g32[a * k4 + a] = g64[a * k4 + a] + reg;
    const m = which === 'users' ? this.users : this.items;
    const y = which === 'users' ? this.vAt : this.uAt;
    const x = which === 'users' ? this.uAt : this.vAt;
    Atomics.store(new Int32Array(this.mem.buffer, this.counter, 1), 0, 0);
    const task = (t: number): WorkerTask['args'] => [m.indptr, m.indices, m.data, y, x, this.gram32, k4, alpha, steps, m.rows, m.chunk, this.counter, this.scratch[t]];
    if (this.workers.length === 0) {
      this.ex.solveCgShared(...task(0));
      return;
    }
    // the rows' current factors (each row's solve starts from them), to solve them again here if a worker hangs
    // (one buffer for the fit, the larger side's factors: rows × k4 f32 beside the shared memory)
    this.saved ??= new Float32Array(Math.max(this.users.rows, this.items.rows) * k4);
    const before = this.saved.subarray(0, m.rows * k4);
    before.set(new Float32Array(this.mem.buffer, x, m.rows * k4));
    const pending = this.workers.map((w, t) => call(w, { args: task(t + 1) } satisfies WorkerTask));
    this.ex.solveCgShared(...task(0));
    // every wait has a deadline (WORKER_DEADLINE_MS per 10M nonzeros): a worker that took rows and never answered
    // may have left them half solved, so past it the workers are stopped and the whole half-iteration is solved
    // again on this thread from the same starting factors (a row's solve depends on that row alone: the same result)
    const ms = workerDeadlineMs(m.nnz);
    const done = await withinOr(Promise.all(pending).then(() => true), ms, false);
    if (done) return;
    process.stderr.write(`als: a worker thread did not answer within ${seconds(ms)}; workers stopped, the fit goes on on the calling thread\n`);
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
    new Float32Array(this.mem.buffer, x, m.rows * k4).set(before);
    Atomics.store(new Int32Array(this.mem.buffer, this.counter, 1), 0, 0);
    this.ex.solveCgShared(...task(0));
  }

  private computeGram(which: 'users' | 'items'): void {
    new Float64Array(this.mem.buffer, this.gram64, this.k4 * this.k4).fill(0);
    const rows = which === 'users' ? this.users.rows : this.items.rows;
    this.ex.gramAdd(which === 'users' ? this.uAt : this.vAt, 0, rows, this.k4, this.gram64);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

async function startWorkers(n: number): Promise<Worker[]> {
  const workers: Worker[] = [];
  try {
    for (let t = 0; t < n; t++) {
      const w = moduleWorker(new URL('./als-wasm-worker.js', import.meta.url));
      workers.push(w);
      // within WORKER_DEADLINE_MS (within() clears its timer: a pending timer would hold the process open after the work is done)
      const ms = workerDeadlineMs(0);
      await within(
        new Promise<void>((resolve, reject) => {
          w.once('online', resolve);
          w.once('error', reject);
        }),
        ms,
        'an ALS worker starting',
      ).catch((e: unknown) => {
        if (e instanceof UnavailableError) process.stderr.write(`als: a worker thread did not start within ${seconds(ms)}; stopped, the fit runs on the calling thread\n`);
        throw e;
      });
    }
    return workers;
  } catch {
    await Promise.all(workers.map((w) => w.terminate()));
    return []; // the calling thread alone (e.g. a runner that cannot load TypeScript workers)
  }
}

function call(w: Worker, msg: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMsg = (r: { ok: boolean; error?: string }) => {
      w.off('error', onErr);
      if (r.ok) resolve();
      else reject(new RangeError(r.error));
    };
    const onErr = (e: Error) => {
      w.off('message', onMsg);
      reject(e);
    };
    w.once('message', onMsg);
    w.once('error', onErr);
    w.postMessage(msg);
  });
}
