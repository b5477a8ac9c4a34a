/**
 * Worker side of the parallel CG solve (als-parallel.ts): solves a range of rows over shared
 * memory. Messages: { m: {rows, cols, indptr, indices, data}, y, x, k, gram, alpha, steps, from, to }.
 */
import { parentPort } from 'node:worker_threads';
import { solveRowsCg } from './als-solvers.js';
import { hangsForTest } from '../core/deadline.js';

parentPort?.on('message', (msg) => {
  // (tests: a worker that never answers, its start-up probe included)
  if (hangsForTest('als-start')) return;
  // (tests: a worker that takes rows, leaves them half written and never answers; the start-up probe, no rows, is answered)
  if (msg.to > msg.from && hangsForTest('als')) {
    msg.x.fill(Number.NaN, msg.from * msg.k, msg.to * msg.k);
    return;
  }
  try {
    solveRowsCg(msg.m, msg.y, msg.x, msg.k, msg.gram, msg.alpha, msg.steps, msg.from, msg.to);
    parentPort!.postMessage({ ok: true });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  }
});
