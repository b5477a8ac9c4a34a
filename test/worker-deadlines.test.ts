/**
 * Every wait on a worker thread has a deadline (WORKER_DEADLINE_MS, scaled to the work: src/core/deadline.ts): a
 * worker that takes its work and never answers (nor exits) is stopped once the deadline passes, and its work is done
 * on the calling thread, with the same results as if no worker had been used: the background fits' worker
 * (src/models/background-fits.ts), the selection's scoring worker (src/eval/select-split.ts) and the ALS fit's
 * workers (src/models/als-wasm.ts, src/models/als-parallel.ts). The hang is injected
 * with the test hook OMNIREC_TEST_WORKER_HANG (read by the workers).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DAY, groupHistory, T0 } from './helpers/group-history.js';
import { WORKER_DEADLINE_DEFAULT_MS, WORKER_DEADLINE_WORK, workerDeadlineMs } from '../src/core/deadline.js';
import { BackgroundFits, type BackgroundTask, runTask } from '../src/models/background-fits.js';
import { selectServed, type Selection } from '../src/eval/select.js';
import { timeSplit } from '../src/eval/time-split.js';
import { AlsRecommender, gramWithReg } from '../src/models/als.js';
import { CgPool } from '../src/models/als-parallel.js';
import { WasmAls } from '../src/models/als-wasm.js';
import { solveRowsCg } from '../src/models/als-solvers.js';
import { fillNormal } from '../src/core/random.js';

const history = groupHistory;

/** Runs `fn` with these variables set (the workers started meanwhile see them), then puts the environment back. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Every typed array of a value (one level down), as bytes. */
const bytes = (v: unknown): number[][] =>
  (ArrayBuffer.isView(v) ? [v] : Object.values(v as object).filter((a) => ArrayBuffer.isView(a))).map((a) => [...new Uint8Array((a as ArrayBufferView).buffer, (a as ArrayBufferView).byteOffset, (a as ArrayBufferView).byteLength)]);

/** What `fn` wrote to stderr (still written through). */
async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const write = process.stderr.write;
  let said = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    said += String(chunk);
    return write.call(process.stderr, chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return said;
}

afterEach(() => {
  delete process.env.OMNIREC_TEST_WORKER_HANG;
});

describe('worker deadlines', () => {
  it('scale with the work: WORKER_DEADLINE_MS per WORKER_DEADLINE_WORK units, at least once; a bad value names the variable', () => {
    expect(workerDeadlineMs(0, {})).toBe(WORKER_DEADLINE_DEFAULT_MS);
    expect(workerDeadlineMs(WORKER_DEADLINE_WORK * 3, {})).toBe(WORKER_DEADLINE_DEFAULT_MS * 3);
    expect(workerDeadlineMs(10, { WORKER_DEADLINE_MS: '250' })).toBe(250);
    expect(() => workerDeadlineMs(10, { WORKER_DEADLINE_MS: 'never' })).toThrow(/WORKER_DEADLINE_MS="never"/);
  });

  it('a background fit whose worker takes the job and never answers: stopped at the deadline, the job and later ones run here, same result', async () => {
    await withEnv({ OMNIREC_TEST_WORKER_HANG: 'fits', WORKER_DEADLINE_MS: '500' }, async () => {
      const split = timeSplit(history(), T0 + 70 * DAY);
      const task: BackgroundTask = { kind: 'knn', counts: split.reference.counts, weights: null, params: { neighbours: 10 } };
      const pool = new BackgroundFits(true, 0);
      try {
        const job = pool.submit(task);
        // the worker claims it (and then hangs)
        for (let i = 0; i < 6000 && job.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
        expect(job.state).toBe('running');
        const r = await job.result();
        expect(r.where).toBe('inline');
        expect(bytes(r.value)).toEqual(bytes(await runTask(task)));
        const after = pool.submit(task);
        expect((await after.result()).where).toBe('inline');
      } finally {
        await pool.close();
      }
    });
  }, 120_000);

  it("the selection's scoring worker never answers: stopped at the deadline, its customers scored here, the same choice and figures as one thread", async () => {
    const params = { als: { factors: 8, iterations: 3, threads: 1 }, tifu_knn: { neighbours: 10 }, item_knn: { neighbours: 5 } } as never;
    const figures = (s: Selection) => ({ spec: s.spec, candidates: s.candidates, validation: s.validation, baselines: s.baselines, buyAgain: s.buyAgain, scoring: s.scoring, users: s.users });
    const split = timeSplit(history(), T0 + 75 * DAY);
    const one = await selectServed(split, { params, split: false });
    const hung = await withEnv({ OMNIREC_TEST_WORKER_HANG: 'select', WORKER_DEADLINE_MS: '500' }, () => selectServed(split, { params, split: true }));
    expect(hung.scoringThreads).toBe(1);
    expect(figures(hung)).toEqual(figures(one));
  }, 120_000);

  it('an ALS fit whose worker takes rows, leaves them half written and never answers: stopped at the deadline, the fit ends here with the factors of one thread', async () => {
    const data = timeSplit(history(), T0 + 70 * DAY).reference;
    const one = new AlsRecommender({ factors: 7, iterations: 4, threads: 1 });
    await one.fit(data);
    const hung = new AlsRecommender({ factors: 7, iterations: 4, threads: 2 });
    // the workers start under the default deadline (however loaded the machine), and the half-iterations' waits have
    // 0.5 s: the hang is met in a half-iteration, never at start-up
    const start = WasmAls.start.bind(WasmAls);
    let started = 0;
    const spy = vi.spyOn(WasmAls, 'start').mockImplementation(async (...args) => {
      const s = await start(...args);
      started++;
      process.env.WORKER_DEADLINE_MS = '500';
      return s;
    });
    let said: string;
    try {
      said = await stderrOf(() => withEnv({ OMNIREC_TEST_WORKER_HANG: 'als', WORKER_DEADLINE_MS: String(WORKER_DEADLINE_DEFAULT_MS) }, () => hung.fit(data)));
    } finally {
      spy.mockRestore();
    }
    expect(started).toBe(1);
    expect(said).toMatch(/^als: a worker thread did not answer within 0.5 s; workers stopped, the fit goes on on the calling thread\n$/);
    expect(hung.kernel).toBe('wasm-simd');
    expect(hung.threadsUsed).toBe(1);
    expect(Buffer.from(hung.userFactors.buffer).equals(Buffer.from(one.userFactors.buffer))).toBe(true);
    expect(Buffer.from(hung.itemFactors.buffer).equals(Buffer.from(one.itemFactors.buffer))).toBe(true);
    expect(Array.from(hung.itemGram)).toEqual(Array.from(one.itemGram));
  }, 120_000);

  it("the JavaScript ALS pool's worker takes rows and never answers: stopped at the deadline, the rows solved here as on one thread", async () => {
    const { c, k, y, start, g, expected } = cgCase(6, 5, 6);
    await withEnv({ OMNIREC_TEST_WORKER_HANG: 'als' }, async () => {
      // (started under the default deadline, however loaded the machine: the hang is met in the solve)
      const pool = await CgPool.start(2);
      try {
        expect(pool.threads).toBe(2);
        const x = start.slice();
        expect(await stderrOf(() => withEnv({ WORKER_DEADLINE_MS: '300' }, () => pool.solve(c, y, x, k, g, 1, 3)))).toMatch(/^als: a worker thread did not answer within 0.3 s;/);
        expect(pool.threads).toBe(1);
        expect(Buffer.from(x.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
        // later solves run here too
        const again = start.slice();
        await pool.solve(c, y, again, k, g, 1, 3);
        expect(Buffer.from(again.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      } finally {
        await pool.close();
      }
    });
  }, 120_000);

  it("the JavaScript ALS pool's workers never answer their start-up probe: given up at the deadline (one line), the rows solved here as on one thread", async () => {
    const { c, k, y, start, g, expected } = cgCase(5, 7, 8);
    await withEnv({ OMNIREC_TEST_WORKER_HANG: 'als-start', WORKER_DEADLINE_MS: '300' }, async () => {
      let pool: CgPool | undefined;
      const said = await stderrOf(async () => void (pool = await CgPool.start(2)));
      try {
        expect(said).toBe('als: the worker threads did not start within 0.3 s; stopped, the fit runs on the calling thread\n');
        expect(pool!.threads).toBe(1);
        const x = start.slice();
        await pool!.solve(c, y, x, k, g, 1, 3);
        expect(Buffer.from(x.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      } finally {
        await pool?.close();
      }
    });
  }, 120_000);
});

/** A CG solve's inputs on the test history (k factors, seeded item and start factors) and its rows solved on one thread. */
function cgCase(k: number, seedY: number, seedStart: number) {
  const c = timeSplit(history(), T0 + 70 * DAY).reference.weights;
  const y = new Float32Array(c.cols * k);
  fillNormal(y, 0.1, seedY);
  const start = new Float32Array(c.rows * k);
  fillNormal(start, 0.01, seedStart);
  const g = gramWithReg(y, k, 1);
  const expected = start.slice();
  solveRowsCg(c, y, expected, k, g, 1, 3);
  return { c, k, y, start, g, expected };
}
