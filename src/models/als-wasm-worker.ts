/**
 * Worker side of WasmAls (als-wasm.ts): instantiates the ALS kernels over the fit's shared memory once
 * ({ module, memory }), then takes part in each half-iteration it is sent ({ args }: solveCgShared's arguments).
 */
import { parentPort } from 'node:worker_threads';
import { wasmApi } from '../core/wasm-modules.js';
import { hangsForTest } from '../core/deadline.js';
import type { WorkerTask } from './als-wasm.js';

let solve: ((...args: WorkerTask['args']) => void) | null = null;
let memory: { buffer: ArrayBuffer } | null = null;

/**
 * (tests: a worker that takes a chunk of rows, leaves it half written and never answers; when the calling thread
 * already took every chunk, it writes over the last one all the same, as a broken worker might)
 */
function hang([, , , , x, , k4, , , rows, chunk, counter]: WorkerTask['args']): void {
  let from = Atomics.add(new Int32Array(memory!.buffer, counter, 1), 0, 1) * chunk;
  if (from >= rows) from = Math.max(0, rows - chunk);
  const to = Math.min(rows, from + chunk);
  new Float32Array(memory!.buffer, x + from * k4 * 4, (to - from) * k4).fill(Number.NaN);
}

parentPort?.on('message', (msg: { module?: object; memory?: unknown } & Partial<WorkerTask>) => {
  try {
    if (msg.module) {
      const ex = new wasmApi!.Instance(msg.module, { env: { memory: msg.memory } }).exports as { solveCgShared: typeof solve };
      solve = ex.solveCgShared;
      memory = msg.memory as { buffer: ArrayBuffer };
    } else if (msg.args && hangsForTest('als')) {
      hang(msg.args);
      return;
    } else if (msg.args) {
      if (!solve) throw new Error('als worker: no module');
      solve(...msg.args);
    }
    parentPort!.postMessage({ ok: true });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  }
});
