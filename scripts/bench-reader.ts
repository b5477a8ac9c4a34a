/**
 * npx tsx scripts/bench-reader.ts [FILE] [--runs N]: CPU seconds of reading and planning a file (readAndPlan, this
 * thread, no store: order ids made up), per run, and a digest of every batch's plan (so that two versions of the
 * reader can be checked to plan the same bytes).
 */
import { createHash } from 'node:crypto';
import { readAndPlan } from '../src/ingest/import-batches.js';

const path = process.argv[2] ?? '../shared/data/online_retail.csv.gz';
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3);
for (let r = 0; r < runs; r++) {
  let next = 1;
  const reserve = async (n: number) => Array.from({ length: n }, () => next++);
  const h = createHash('sha256');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let lines = 0;
  for await (const b of readAndPlan(path, { batchSize: 20_000 }, reserve)) {
    if (b.kind !== 'orders') continue;
    lines += b.plan.lineCount;
    h.update(b.plan.copy);
    h.update(JSON.stringify([b.plan.orders, b.plan.orderIds, b.plan.products, b.plan.identifiers, b.plan.identityEvents, b.plan.stores, b.plan.uniqueLines, b.plan.freshIds, b.rowsRead, b.rejects, b.skipped]));
  }
  const c = process.cpuUsage(c0);
  console.log(`run ${r}: ${lines} lines, ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ${((c.user + c.system) / 1e6).toFixed(2)} s cpu, digest ${h.digest('hex').slice(0, 16)}`);
}
