/**
 * Background fits (src/models/background-fits.ts): a fit computed by the worker thread is bit-identical
 * to the same fit on the calling thread (so evaluation figures do not depend on where it ran); a job the
 * worker has not started runs on the caller; with the worker disabled everything runs inline; and an
 * evaluation with its fits in the background reports the same figures as one without.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../src/core/records.js';
import { mulberry32 } from '../src/core/random.js';
import { BackgroundFits, type BackgroundTask, runTask, useBackgroundFits } from '../src/models/background-fits.js';
import { timeSplit } from '../src/eval/time-split.js';
import { EaseRecommender } from '../src/models/ease.js';
import type { TrainingData } from '../src/core/recommender.js';
import { runEvaluation } from '../src/eval/run-evaluation.js';
import { resolveTrainConfig } from '../src/train/train-config.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

function history(): HistoryLine[] {
  const rnd = mulberry32(7);
  const lines: HistoryLine[] = [];
  let o = 0;
  for (let c = 0; c < 90; c++) {
    for (let b = 0; b < 2 + Math.floor(rnd() * 6); b++) {
      const day = Math.floor(rnd() * 90);
      const orderId = `o${o++}`;
      for (let l = 0; l < 1 + Math.floor(rnd() * 4); l++) {
        const item = (c % 4) * 9 + Math.floor(rnd() * 14);
        lines.push({ orderId, customerId: `C${c}`, sku: `S${item}`, time: T0 + day * DAY + c, quantity: 1, unitPrice: 1, storeId: null, channel: 'web' } as HistoryLine);
      }
    }
  }
  return lines;
}

function tasks(): BackgroundTask[] {
  const split = timeSplit(history(), T0 + 70 * DAY);
  const ref = split.reference;
  const p = ref.purchases;
  return [
    { kind: 'ease', counts: ref.counts, params: { lambda: 5 } },
    { kind: 'knn', counts: ref.counts, weights: null, params: { neighbours: 10 } },
    { kind: 'fbt', baskets: ref.baskets, params: { minSupport: 1, minConfidence: 0 } },
    { kind: 'als', matrix: ref.weights, params: { factors: 8, iterations: 3 } },
    { kind: 'tifu', lines: { customer: p.customer, order: p.order, item: p.item, time: p.time }, customers: ref.counts.rows, nItems: ref.counts.cols, params: { neighbours: 5 } },
    {
      kind: 'ease-scored',
      counts: ref.counts,
      params: { lambda: 5 },
      excludeRows: ref.weights,
      protocols: [
        { users: split.discoveryUsers, exclude: true },
        { users: split.allUsers, exclude: false },
      ],
      listLength: 7,
    },
  ];
}

/** Every typed array of a result (nested one level: 'ease-scored''s results and lists), as bytes (bit-identical comparison). */
const bytes = (v: unknown): number[][] =>
  (ArrayBuffer.isView(v) ? [v] : Object.values(v as object).flatMap((a) => (ArrayBuffer.isView(a) ? [a] : a && typeof a === 'object' ? Object.values(a).flatMap((x) => (ArrayBuffer.isView(x) ? [x] : x && typeof x === 'object' ? Object.values(x).filter((y) => ArrayBuffer.isView(y)) : [])) : []))).map((a) => [...new Uint8Array((a as ArrayBufferView).buffer, (a as ArrayBufferView).byteOffset, (a as ArrayBufferView).byteLength)]);

/**
 * Blocks this thread (it reads no messages meanwhile) until `ok()` holds; true then, false only past a guard far beyond
 * any run (a worker that never gets there: the test then fails on this, not on a timing).
 */
function until(ok: () => boolean, guardMs = 300_000): boolean {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > guardMs) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
  return true;
}

/** Waits (reading messages) until `ok()` holds. */
async function eventually(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 10));
}

describe('background fits', () => {
  it('the worker computes what the calling thread computes, bit for bit', async () => {
    const pool = new BackgroundFits(true, 0);
    try {
      const list = tasks();
      const jobs = list.map((t) => pool.submit(t));
      // wait until the worker has answered them all, however long it takes to start under load (bounded by the test's timeout)
      await eventually(() => !jobs.some((j) => j.state === 'queued' || j.state === 'running'));
      for (let i = 0; i < list.length; i++) {
        const r = await jobs[i].result();
        expect(r.where).toBe('worker');
        expect(bytes(r.value)).toEqual(bytes(await runTask(list[i])));
      }
    } finally {
      await pool.close();
    }
  }, 300_000);

  it('the worker goes from job to job while the calling thread is busy, non-low jobs before low ones', async () => {
    const pool = new BackgroundFits(true, 0);
    try {
      const list = tasks();
      const first = pool.submit(list[0]);
      const low = pool.submit(list[1], { low: true });
      const next = pool.submit(list[2]);
      // this thread blocks (reads no messages) until the worker has started `next`: it got there on its own
      expect(until(() => next.state === 'running' || next.state === 'done')).toBe(true);
      expect(first.state).toBe('done');
      expect(until(() => low.state === 'done')).toBe(true);
      // the low job, submitted before `next`, waited until nothing else was queued: the worker claimed it last (the
      // claim order, not a state seen by polling, which misses small jobs that start and end between two looks)
      expect([first.claimOrder, next.claimOrder, low.claimOrder]).toEqual([1, 2, 3]);
      for (const [job, task] of [[first, list[0]], [low, list[1]], [next, list[2]]] as const) {
        const r = await job.result();
        expect(r.where).toBe('worker');
        expect(bytes(r.value)).toEqual(bytes(await runTask(task)));
      }
    } finally {
      await pool.close();
    }
  }, 600_000);

  it('a caller waiting for a job the worker runs does queued low-priority jobs meanwhile, leaving the worker one', async () => {
    const list = tasks();
    // a job long enough to be still running when it is asked for: EASE's inverse of 2,000 items (seconds)
    const rnd = mulberry32(3);
    const rows = 3000;
    const cols = 2000;
    const indptr = new Int32Array(rows + 1);
    const indices: number[] = [];
    for (let r = 0; r < rows; r++) {
      const items = new Set<number>();
      while (items.size < 20) items.add(Math.floor(rnd() * cols));
      indices.push(...[...items].sort((x, y) => x - y));
      indptr[r + 1] = indices.length;
    }
    const big: BackgroundTask = { kind: 'ease', counts: { rows, cols, indptr, indices: Int32Array.from(indices), data: new Float32Array(indices.length).fill(1) }, params: { lambda: 5 } };
    // what is checked needs the long job still running when the caller asks for it; a run where this thread was held
    // off the CPU until the worker had finished it (a loaded machine) checks nothing, and is run again
    let checked = 0;
    for (let attempt = 0; attempt < 5 && checked === 0; attempt++) {
      const pool = new BackgroundFits(true, 0);
      try {
        const long = pool.submit(big);
        expect(until(() => long.state !== 'queued')).toBe(true);
        const low1 = pool.submit(list[1], { low: true });
        const low2 = pool.submit(list[2], { low: true });
        // (read right before asking: result() decides synchronously, microseconds later, against seconds of work)
        const runningWhenAsked = long.state === 'running';
        const answer = long.result();
        expect((await answer).where).toBe('worker');
        if (!runningWhenAsked) {
          expect(long.state).toBe('done');
          continue;
        }
        checked++;
        // the first low job ran here while the caller waited; the last one queued was left to the worker
        expect(low1.state).toBe('inline');
        expect(low2.state).not.toBe('inline');
        expect(until(() => low2.state === 'done')).toBe(true);
        expect((await low2.result()).where).toBe('worker');
        for (const [job, task] of [[low1, list[1]], [low2, list[2]]] as const) expect(bytes((await job.result()).value)).toEqual(bytes(await runTask(task)));
      } finally {
        await pool.close();
      }
    }
    expect(checked).toBe(1);
  }, 600_000);

  it('runs a job the worker has not started on the calling thread', async () => {
    const pool = new BackgroundFits(true, 0);
    try {
      const [task] = tasks();
      const job = pool.submit(task);
      // asked for before the worker could even report ready: taken back
      const r = await job.result();
      expect(r.where).toBe('inline');
      expect(bytes(r.value)).toEqual(bytes(await runTask(task)));
    } finally {
      await pool.close();
    }
  });

  it('a worker that dies mid-job: the job runs on the caller, same result, and later jobs too', async () => {
    // the worker takes its first job and stays in it (test hook): it is mid-job when it dies, whatever the machine's load
    process.env.OMNIREC_TEST_WORKER_HANG = 'fits';
    const pool = new BackgroundFits(true, 0);
    try {
      const list = tasks();
      const jobs = list.map((t) => pool.submit(t));
      await eventually(() => jobs[0].state === 'running');
      // the worker thread ends abruptly (as a crash would: 'exit' without an answer)
      await (pool as unknown as { worker: { terminate(): Promise<number> } | null }).worker?.terminate();
      for (let i = 0; i < list.length; i++) {
        const r = await jobs[i].result();
        expect(r.where).toBe('inline');
        expect(bytes(r.value)).toEqual(bytes(await runTask(list[i])));
      }
      // the worker claimed the first job only
      expect(jobs.map((j) => j.claimOrder)).toEqual([1, 0, 0, 0, 0, 0]);
      const after = pool.submit(list[1]);
      expect((await after.result()).where).toBe('inline');
    } finally {
      delete process.env.OMNIREC_TEST_WORKER_HANG;
      await pool.close();
    }
  }, 300_000);

  it('runs everything inline when disabled, and small jobs inline', async () => {
    for (const pool of [new BackgroundFits(false, 0), new BackgroundFits(true, 1e9)]) {
      const task = tasks()[4];
      const job = pool.submit(task);
      await new Promise((r) => setTimeout(r, 100));
      expect(job.state).toBe('queued');
      expect((await job.result()).where).toBe('inline');
      await pool.close();
    }
  });

  it('an evaluation reports the same figures with its fits in the background or not', async () => {
    const config = await resolveTrainConfig({}, undefined);
    config.models.als = { ...config.models.als, factors: 8, iterations: 3, threads: 1 };
    config.models.tifu_knn = { ...config.models.tifu_knn, neighbours: 10 };
    const figures = async () => {
      const r = await runEvaluation(history(), { holdoutDays: 15, models: ['popularity', 'item_knn', 'ease', 'als', 'fbt', 'tifu_knn'], config, source: 'test' });
      return { served: r.served, models: Object.fromEntries(Object.entries(r.models).map(([k, v]) => [k, { discovery: v.discovery, all: v.all }])), order: Object.keys(r.models) };
    };
    const prev0 = useBackgroundFits(new BackgroundFits(true, 0));
    const a = await figures();
    if (prev0) useBackgroundFits(prev0);
    expect(a.order).toEqual(['popularity', 'item_knn', 'ease', 'als', 'fbt', 'tifu_knn', 'served', 'trend', 'repeat_trend']);
    // the same evaluation with every fit on the calling thread
    const prev = useBackgroundFits(new BackgroundFits(false));
    try {
      expect(await figures()).toEqual(a);
    } finally {
      if (prev) useBackgroundFits(prev);
    }
  }, 120_000);

  it("'ease-scored' returns what the model's own recommend and neighbourLists return", async () => {
    const task = tasks()[5];
    if (task.kind !== 'ease-scored') throw new Error('task order');
    const v = await runTask(task);
    const m = new EaseRecommender(task.params);
    m.adopt(v.b, { counts: task.counts } as TrainingData);
    expect(bytes(v.lists)).toEqual(bytes(m.neighbourLists(7)));
    expect(v.lists!.indices.length).toBeGreaterThan(0);
    for (let i = 0; i < task.protocols.length; i++) {
      const p = task.protocols[i];
      expect(bytes(v.results[i])).toEqual(bytes(await m.recommend(p.users, 20, p.exclude ? { exclude: task.excludeRows } : undefined)));
    }
    // the lists kept from elsewhere are what neighbourLists answers for that length, and only for it
    const other = new EaseRecommender(task.params);
    other.adopt(v.b, { counts: task.counts } as TrainingData);
    other.keepNeighbourLists(7, v.lists!);
    expect(other.neighbourLists(7)).toBe(v.lists);
    expect(bytes(other.neighbourLists(5))).toEqual(bytes(m.neighbourLists(5)));
  });
});
