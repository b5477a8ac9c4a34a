/**
 * Worker side of WasmAls (als-wasm.ts): instantiates the ALS kernels over the fit's shared memory once
 * ({ module, memory }), then solves the row ranges it is sent ({ args }: solveCg's arguments).
 */
import { parentPort } from 'node:worker_threads';
import { wasmApi } from '../core/wasm-modules.js';
import type { WorkerTask } from './als-wasm.js';

let solveCg: ((...args: WorkerTask['args']) => void) | null = null;

parentPort?.on('message', (msg: { module?: object; memory?: unknown } & Partial<WorkerTask>) => {
  try {
    if (msg.module) {
      const ex = new wasmApi!.Instance(msg.module, { env: { memory: msg.memory } }).exports as { solveCg: typeof solveCg };
      solveCg = ex.solveCg;
    } else if (msg.args) {
      if (!solveCg) throw new Error('als worker: no module');
      solveCg(...msg.args);
    }
    parentPort!.postMessage({ ok: true });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  }
});
