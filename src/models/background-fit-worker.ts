/**
 * Worker side of background-fits.ts: runs each task it is sent ({ id, task }) with the same function the
 * calling thread would use, and posts { id, ok, value, seconds } (the result's buffers moved, not copied).
 * Posts { ready: true } once loaded.
 */
import { parentPort } from 'node:worker_threads';
import { setTfNotices } from '../train/tf-backend.js';
import { type BackgroundTask, runTask, transferables } from './background-fits.js';

setTfNotices(() => {});

parentPort?.on('message', async (msg: { id: number; task: BackgroundTask }) => {
  const t0 = performance.now();
  try {
    const value = await runTask(msg.task);
    parentPort!.postMessage({ id: msg.id, ok: true, value, seconds: Math.round((performance.now() - t0) / 10) / 100 }, transferables(value));
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: (e as Error).message });
  }
});
parentPort?.postMessage({ ready: true });
