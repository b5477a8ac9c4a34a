/**
 * The CG row solves of ALS split across worker threads over shared memory (rows are
 * independent given the fixed factors). Falls back to the calling thread when workers cannot
 * start (e.g. a test runner that cannot load TypeScript workers) or `threads` ≤ 1.
 */
import type { Worker } from 'node:worker_threads';
import { moduleWorker } from '../core/module-worker.js';
import { availableParallelism } from 'node:os';
import type { Csr } from '../core/csr.js';
import { solveRowsCg } from './als-solvers.js';
import { withinOr, workerDeadlineMs, seconds } from '../core/deadline.js';

function shared<T extends Float32Array | Float64Array | Int32Array>(a: T): T {
  const C = a.constructor as { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const out = new C(new SharedArrayBuffer(a.length * C.BYTES_PER_ELEMENT));
  out.set(a as never);
  return out;
}

/** A pool of CG workers for one fit; `close()` when done. */
export class CgPool {
  private constructor(private workers: Worker[]) {}

  /**
   * Starts `threads` workers (default: available cores), or none when they cannot start: a module that fails to load
   * (an 'error'), or workers not online and answering a probe within WORKER_DEADLINE_MS (stopped, one line on stderr).
   */
  static async start(threads = availableParallelism()): Promise<CgPool> {
    if (threads <= 1) return new CgPool([]);
    const workers: Worker[] = [];
    let stopped = false;
    const started = (async () => {
      for (let t = 0; t < threads && !stopped; t++) {
        const w = moduleWorker(new URL('./als-worker.js', import.meta.url));
        workers.push(w);
        // a worker that cannot load its module fails fast; wait until it is online
        await new Promise<void>((resolve, reject) => {
          w.once('online', resolve);
          w.once('error', reject);
        });
      }
      // probe one round trip: a module that failed to load never answers
      await Promise.all(workers.map((w) => solveOn(w, { m: { rows: 0, cols: 0, indptr: new Int32Array(1), indices: new Int32Array(0), data: new Float32Array(0) }, y: new Float32Array(0), x: new Float32Array(0), k: 1, gram: new Float64Array(1), alpha: 0, steps: 0, from: 0, to: 0 })));
      return true;
    })();
    // (settled after the deadline, it is dropped)
    started.catch(() => {});
    const ms = workerDeadlineMs(0);
    let ok = false;
    try {
      ok = await withinOr(started, ms, false);
      if (!ok) process.stderr.write(`als: the worker threads did not start within ${seconds(ms)}; stopped, the fit runs on the calling thread\n`);
    } catch {
      // (a worker that cannot start: e.g. a runner that cannot load TypeScript workers)
    }
    if (ok) return new CgPool(workers);
    stopped = true;
    await Promise.all(workers.map((w) => w.terminate()));
    return new CgPool([]);
  }

  get threads(): number {
    return Math.max(1, this.workers.length);
  }

  /** solveRowsCg over all rows of m, split in contiguous ranges of about equal nonzeros. */
  async solve(m: Csr, y: Float32Array, x: Float32Array, k: number, gramReg: Float64Array, alpha: number, steps: number): Promise<void> {
    const n = this.workers.length;
    if (n === 0) {
      solveRowsCg(m, y, x, k, gramReg, alpha, steps);
      return;
    }
    const sm = { rows: m.rows, cols: m.cols, indptr: shared(Int32Array.from(m.indptr)), indices: shared(m.indices), data: shared(m.data) };
    const sy = shared(y);
    const sx = shared(x);
    // balance by work ≈ nnz + a per-row constant for the dense k² part
    const total = m.indices.length + m.rows * k;
    const bounds = [0];
    for (let t = 1; t < n; t++) {
      const target = (total * t) / n;
      let lo = bounds[t - 1];
      while (lo < m.rows && m.indptr[lo] + lo * k < target) lo++;
      bounds.push(lo);
    }
    bounds.push(m.rows);
    const answers = Promise.all(this.workers.map((w, t) => solveOn(w, { m: sm, y: sy, x: sx, k, gram: gramReg, alpha, steps, from: bounds[t], to: bounds[t + 1] })));
    // every wait has a deadline (WORKER_DEADLINE_MS per 10M nonzeros): past it the workers are stopped and the rows
    // solved here from x, which the workers never touched (the same result: a row's solve depends on that row alone)
    const ms = workerDeadlineMs(m.indices.length);
    if (await withinOr(answers.then(() => true), ms, false)) {
      x.set(sx);
      return;
    }
    process.stderr.write(`als: a worker thread did not answer within ${seconds(ms)}; workers stopped, the fit goes on on the calling thread\n`);
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
    solveRowsCg(m, y, x, k, gramReg, alpha, steps);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function solveOn(w: Worker, msg: unknown): Promise<void> {
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
