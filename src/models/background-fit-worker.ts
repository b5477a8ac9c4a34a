/**
 * Worker side of background-fits.ts: queues each task it is sent ({ id, task, cell, low }) and runs them one after
 * another, choosing the next itself (the first without `low`, else the first low one), each with the same function
 * the calling thread would use, and posts { id, ok, value, seconds } (the result's buffers moved, not copied), or
 * { id, skipped } for a job the calling thread took back (its shared cell) before the worker claimed it.
 */
import { parentPort } from 'node:worker_threads';
import { setTfNotices } from '../train/tf-backend.js';
import { hangsForTest } from '../core/deadline.js';
import { type BackgroundTask, CELL, runTask, transferables } from './background-fits.js';

setTfNotices(() => {});

interface Posted {
  id: number;
  task: BackgroundTask;
  cell: Int32Array;
  low: boolean;
}

/** Jobs posted and not started, in the order received. */
const queue: Posted[] = [];
let running = false;
/** Jobs claimed so far (each claimed job's cell[1] records its place: see BackgroundJob.claimOrder). */
let claims = 0;

/** Runs queued jobs one after another: the first without `low`, else the first low one (see background-fits.ts submit). */
async function drain(): Promise<void> {
  running = true;
  try {
    while (queue.length > 0) {
      let at = queue.findIndex((m) => !m.low);
      if (at < 0) at = 0;
      const msg = queue.splice(at, 1)[0];
      // claimed here unless the calling thread took it back first
      if (Atomics.compareExchange(msg.cell, 0, CELL.queued, CELL.running) !== CELL.queued) {
        parentPort!.postMessage({ id: msg.id, skipped: true });
        continue;
      }
      Atomics.store(msg.cell, 1, ++claims);
      // (tests: a worker that hangs in its job)
      if (hangsForTest('fits')) await new Promise(() => {});
      const t0 = performance.now();
      try {
        const value = await runTask(msg.task);
        Atomics.store(msg.cell, 0, CELL.done);
        parentPort!.postMessage({ id: msg.id, ok: true, value, seconds: Math.round((performance.now() - t0) / 10) / 100 }, transferables(value));
      } catch (e) {
        // the calling thread runs it (and meets the same error there)
        Atomics.store(msg.cell, 0, CELL.taken);
        parentPort!.postMessage({ id: msg.id, ok: false, error: (e as Error).message });
      }
      // messages that arrived meanwhile are queued before the next job is chosen
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    running = false;
  }
}

parentPort?.on('message', (msg: Posted) => {
  queue.push(msg);
  if (!running) {
    running = true;
    // the other messages already waiting arrive first: the choice sees them all
    setImmediate(() => void drain());
  }
});
parentPort?.postMessage({ ready: true });
