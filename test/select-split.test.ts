/**
 * The selection's candidate scoring split across this thread and a worker (src/eval/select-split.ts): the same
 * choice, figures and counters as one thread scoring every customer; a worker that fails is replaced by this thread.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DAY, groupHistory, T0 } from './helpers/group-history.js';
import { selectServed, type Selection } from '../src/eval/select.js';
import { type CachePart, LocalScorer, parkSelectWorker, SplitScorer, startSelectWorker, warmSelectWorker } from '../src/eval/select-split.js';
import { timeSplit } from '../src/eval/time-split.js';
import { listSpec } from '../src/models/served.js';

const history = groupHistory;

const params = { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 }, item_knn: { neighbours: 5 } } as never;

/** What a selection chose and reported (the fitted state aside). */
const figures = (s: Selection) => ({
  spec: s.spec,
  candidates: s.candidates,
  validation: s.validation,
  baselines: s.baselines,
  buyAgain: s.buyAgain,
  scoring: s.scoring,
  users: s.users,
});

// (timeouts far beyond a run: the third test took up to 55 s at load 27 on 2 cores; nothing here is timed)
describe('candidate scoring split across two threads', () => {
  it('chooses and reports exactly what one thread does (figures, paired differences, lists scored, caches deepened)', async () => {
    const split = timeSplit(history(), T0 + 75 * DAY);
    const one = await selectServed(split, { params, split: false });
    const two = await selectServed(split, { params, split: true });
    expect(one.scoringThreads).toBe(1);
    expect(two.scoringThreads).toBe(2);
    expect(figures(two)).toEqual(figures(one));
    // some customers' caches had to be deepened (the counters are summed over both halves)
    expect(one.scoring.discovery.lists).toBeGreaterThan(0);
    expect(one.scoring.all.users + one.scoring.discovery.users).toBeGreaterThan(100);
  }, 300_000);

  it('the selection takes the worker started ahead (warmSelectWorker) when it is still there, a new one otherwise', async () => {
    const warm = warmSelectWorker();
    expect(warm).not.toBeNull();
    expect(warmSelectWorker()).toBe(warm);
    const taken = startSelectWorker();
    expect(taken).toBe(warm);
    const next = startSelectWorker();
    expect(next).not.toBe(warm);
    // one that exited meanwhile is not handed out
    const gone = warmSelectWorker()!;
    await new Promise((r) => {
      gone.once('exit', r);
      void gone.terminate();
    });
    const fresh = startSelectWorker();
    expect(fresh).not.toBe(gone);
    await Promise.all([taken, next, fresh].map((w) => w?.terminate()));
    // and a selection scores with the warmed worker as with any: the same figures as one thread
    const split = timeSplit(history(), T0 + 75 * DAY);
    warmSelectWorker();
    const two = await selectServed(split, { params, split: true });
    expect(two.scoringThreads).toBe(2);
    expect(figures(two)).toEqual(figures(await selectServed(split, { params, split: false })));
  }, 300_000);

  it("keeps its worker for the process's next selection (state dropped, not stopped): the next selection takes it and chooses as one thread does", async () => {
    const w0 = warmSelectWorker()!;
    expect(w0).not.toBeNull();
    const first = await selectServed(timeSplit(history(), T0 + 75 * DAY), { params, split: true });
    expect(first.scoringThreads).toBe(2);
    // the same worker, alive, handed to the next selection; its caches and state gone: a batch without an init is refused
    const kept = startSelectWorker()!;
    expect(kept).toBe(w0);
    expect(kept.threadId).toBeGreaterThan(0);
    const refused = await new Promise<{ id: number; error?: string }>((resolve) => {
      kept.once('message', resolve);
      kept.postMessage({ type: 'score', id: 7, protocol: 'all', specs: [listSpec('popularity', { trendHalfLifeDays: 0, trendWeight: 1 })] });
    });
    expect(refused).toEqual({ id: 7, error: 'not initialised' });
    parkSelectWorker(kept);
    // another split, scored with the kept worker: what one thread chooses and reports
    const split = timeSplit(history(), T0 + 70 * DAY);
    const second = await selectServed(split, { params, split: true });
    expect(second.scoringThreads).toBe(2);
    expect(figures(second)).toEqual(figures(await selectServed(split, { params, split: false })));
    expect(startSelectWorker()).toBe(w0);
    // one kept already: a second worker done with its selection is stopped, not kept beside it
    const other = startSelectWorker()!;
    expect(other).not.toBe(w0);
    parkSelectWorker(w0);
    await parkSelectWorker(other);
    expect(other.threadId).toBe(-1);
    expect(startSelectWorker()).toBe(w0);
    await w0.terminate();
  }, 300_000);

  it('gives the per-customer figures of one thread for any pivot, and replaces a worker that dies (even before it is listened to)', async () => {
    const split = timeSplit(history(), T0 + 75 * DAY);
    const sel = await selectServed(split, { params, split: false });
    const st = sel.state;
    const base = ['pop', 't:0', 't:7', 'l:als', 'l:ease', 'l:item_knn'];
    const parts: CachePart[] = [
      { protocol: 'discovery', comps: [...base, 'p:0'], users: split.discoveryUsers },
      { protocol: 'all', comps: [...base, 'p:0.5'], users: split.allUsers },
    ];
    const batches: ['discovery' | 'all', ReturnType<typeof listSpec>[]][] = [
      ['discovery', [listSpec('als+2·trend7', { learned: 'als', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 2 }), listSpec('ease', { learned: 'ease', learnedWeight: 1 })]],
      ['all', [listSpec('repeat>trend7', { trendHalfLifeDays: 7, trendWeight: 1, ownedFirst: true }), listSpec('tifu', { tifuWeight: 1, tifuAlpha: 0.5, trendHalfLifeDays: 0, trendWeight: 0.3 })]],
      ['discovery', [{ ...listSpec('knn+ease', { learned: 'item_knn', learnedWeight: 1, trendHalfLifeDays: 7, trendWeight: 1 }), learned2: 'ease', learned2Weight: 0.5 }]],
      ['all', [{ ...listSpec('own+als', { learned: 'als', learnedWeight: 1 }), ownWeight: 1, ownHalfLifeDays: 60 }]],
    ];
    // shallow caches (depth 2): many customers' caches are deepened
    const local = new LocalScorer(st, split, parts, 2);
    const want = [];
    for (const [p, specs] of batches) want.push(await local.score(p, specs));
    // and the buy-again protocol's served ranking from the "all" caches (no counter moves)
    const again = [batches[1][1][0], batches[3][1][0], batches[1][1][1]];
    const wantAgain = [];
    for (const spec of again) wantAgain.push(await local.buyAgain(spec));
    const wantStats = local.stats();
    const users = [...new Set([...split.discoveryUsers, ...split.allUsers])].sort((a, b) => a - b);
    // the pivot at the first customer (all on the worker), in the middle, past the last (all here); then a worker
    // that exits at once, and one stopped after its first answer
    const exited = async () => {
      const w = new Worker('process.exit(4)', { eval: true });
      await new Promise((r) => w.once('exit', r));
      return w;
    };
    const cases: { pivot?: number; worker: () => Worker | Promise<Worker>; kill?: number; threads: number }[] = [
      { pivot: users[0], worker: () => startSelectWorker()!, threads: 2 },
      { worker: () => startSelectWorker()!, threads: 2 },
      { pivot: users[users.length - 1] + 1, worker: () => startSelectWorker()!, threads: 2 },
      { worker: () => new Worker('process.exit(3)', { eval: true }), threads: 1 },
      { worker: () => startSelectWorker()!, kill: 1, threads: 1 },
      // a worker gone before the scorer listens (its 'exit' already emitted): never waited for
      { worker: exited, threads: 1 },
    ];
    for (const c of cases) {
      const w = await c.worker();
      const scorer = new SplitScorer(st, split, parts, w, c.pivot, 2);
      const got = [];
      for (let b = 0; b < batches.length; b++) {
        if (b === c.kill) await w.terminate();
        got.push(await scorer.score(...batches[b]));
      }
      const gotAgain = [];
      for (const spec of again) gotAgain.push(await scorer.buyAgain(spec));
      await scorer.close();
      expect(got).toEqual(want);
      expect(gotAgain).toEqual(wantAgain);
      expect(gotAgain[0].ndcg.length).toBe(split.allUsers.length);
      expect(scorer.stats()).toEqual(wantStats);
      expect(wantStats.discovery.deepened + wantStats.all.deepened).toBeGreaterThan(0);
      expect(scorer.threads()).toBe(c.threads);
      // the caches this thread built once its worker failed keep their scores under the thread's one budget
      const held = scorer as unknown as { low: Map<string, { kept: unknown }>; high?: Map<string, { kept: unknown }> };
      if (c.threads === 1 && c.pivot === undefined) expect(held.high).toBeDefined();
      if (held.high) for (const p of ['discovery', 'all']) expect(held.high.get(p)!.kept).toBe(held.low.get('all')!.kept);
    }
  }, 300_000);
});
