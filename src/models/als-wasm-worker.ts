/**
 * Worker side of WasmAls (als-wasm.ts): instantiates the ALS kernels over the fit's shared memory once
 * ({ module, memory }), then takes part in each half-iteration it is sent ({ args }: solveCgShared's arguments).
 */
import { parentPort } from 'node:worker_threads';
import { wasmApi } from '../core/wasm-modules.js';
import type { WorkerTask } from './als-wasm.js';

let solve: ((...args: WorkerTask['args']) => void) | null = null;

parentPort?.on('message', (msg: { module?: object; memory?: unknown } & Partial<WorkerTask>) => {
  try {
    if (msg.module) {
      const ex = new wasmApi!.Instance(msg.module, { env: { memory: msg.memory } }).exports as { solveCgShared: typeof solve };
      solve = ex.solveCgShared;
    } else if (msg.args) {
      if (!solve) throw new Error('als worker: no module');
      solve(...msg.args);
    }
    parentPort!.postMessage({ ok: true });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  }
});
