/**
 * Worker side of importBatches (import-batches.ts): reads, plans and encodes one file, posting each
 * batch to the main thread, at most `ahead` batches beyond what the main thread has taken; asks the
 * main thread for reserved order ids when it needs them.
 * workerData: { path, options: ReadOptions, ahead }.
 * In: {type:'more'} (one batch taken) | {type:'ids', ids}.
 * Out: {type:'batch', batch} | {type:'ids', n} | {type:'end'} | {type:'error', name, message, context}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../core/errors.js';
import { hangsForTest } from '../core/deadline.js';
import { productColumns, readAndPlan } from './import-batches.js';
import type { ReadOptions } from './read-data-file.js';

// Each batch's COPY bytes are transferred to the main thread (below), which detaches their buffer; V8 learns of the first
// buffer detached in a thread by throwing away every optimized function that reads or writes a typed array (the
// parser's field offsets, the planner's byte writer: the hottest code here), to compile them again. One empty buffer
// detached now, before any code is optimized, leaves nothing to throw away then (--trace-deopt: "code dependencies").
const detached = new ArrayBuffer(0);
structuredClone(detached, { transfer: [detached] });

const { path, options, ahead } = workerData as { path: string; options: ReadOptions & { firstBatchSize?: number }; ahead: number };
const port = parentPort!;
let credit = ahead;
let wake: (() => void) | null = null;
let idsArrived: ((ids: number[]) => void) | null = null;
port.on('message', (m: { type: 'more' } | { type: 'ids'; ids: number[] }) => {
  if (m.type === 'ids') {
    idsArrived?.(m.ids);
    idsArrived = null;
    return;
  }
  credit++;
  wake?.();
  wake = null;
});
const reserve = (n: number) =>
  new Promise<number[]>((resolve) => {
    idsArrived = resolve;
    port.postMessage({ type: 'ids', n });
  });

try {
  // (titles not copied out of the file's text: each batch's plan reaches the main thread as a copy, and nothing here
  // keeps a title beyond its batch)
  for await (const batch of readAndPlan(path, { ...options, detachTitles: false }, reserve)) {
    while (credit <= 0) await new Promise<void>((r) => (wake = r));
    credit--;
    if (batch.kind === 'orders') {
      // the products as columns (productColumns: much cheaper to copy than as objects), rebuilt on the other side
      const products = productColumns(batch.plan.products);
      const transfer = [batch.plan.copy.buffer as ArrayBuffer];
      if (products === null) port.postMessage({ type: 'batch', batch }, transfer);
      else {
        transfer.push(products.price.buffer as ArrayBuffer, products.time.buffer as ArrayBuffer, products.fieldTimes.buffer as ArrayBuffer);
        port.postMessage({ type: 'batch', batch: { ...batch, plan: { ...batch.plan, products: [] } }, products }, transfer);
      }
    } else port.postMessage({ type: 'batch', batch });
    // (tests: a reader that sent a batch, then never answers; a slow reader that takes 0.3 s per batch)
    if (hangsForTest('import')) await new Promise(() => {});
    if (hangsForTest('import-slow')) await new Promise((r) => setTimeout(r, 300));
  }
  port.postMessage({ type: 'end' });
} catch (e) {
  const err = e as Error;
  port.postMessage({ type: 'error', name: err.name, message: err.message, context: e instanceof AppError ? e.context : {} });
}
port.close();
