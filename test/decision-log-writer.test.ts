/**
 * The decision log's writer (src/serve/decision-log-writer.ts): batches of at most batchSize per write, in order,
 * every decision once; a store that fails keeps its decisions queued, and what piled up is written back in batches
 * (not as one statement that grows with the outage).
 */
import { describe, expect, it } from 'vitest';
import { DecisionLogWriter } from '../src/serve/decision-log-writer.js';
import type { DecisionToLog } from '../src/store/store.js';

const decision = (k: number): DecisionToLog => ({
  decisionId: `d${k}`,
  time: k,
  customerId: null,
  context: {},
  considered: [],
  shown: [],
  policy: { name: 'p', version: '1' },
  holdout: false,
});

describe('DecisionLogWriter', () => {
  it('a backlog left by a failing store is written back batchSize at a time, in order, each decision once', async () => {
    const writes: string[][] = [];
    let failing = true;
    const store = {
      logDecisions: async (entries: readonly { decisionId: string }[]) => {
        if (failing) throw new Error('store down');
        writes.push(entries.map((e) => e.decisionId));
      },
    };
    const errors: number[] = [];
    const w = new DecisionLogWriter(store, { batchSize: 10, intervalMs: 5, onError: (_e, queued) => errors.push(queued) });
    for (let k = 0; k < 95; k++) w.add(decision(k));
    await w.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(w.pending).toBe(95);
    failing = false;
    await w.flush();
    expect(w.pending).toBe(0);
    expect(w.written).toBe(95);
    expect(writes.every((b) => b.length <= 10)).toBe(true);
    expect(writes.flat()).toEqual(Array.from({ length: 95 }, (_, k) => `d${k}`));
    expect(await w.close()).toBe(0);
  });

  it('a burst beyond batchSize is written in full batches at once, without waiting for the interval', async () => {
    const writes: number[] = [];
    const w = new DecisionLogWriter({ logDecisions: async (entries) => void writes.push(entries.length) }, { batchSize: 4, intervalMs: 60_000 });
    for (let k = 0; k < 9; k++) w.add(decision(k));
    await new Promise((r) => setTimeout(r, 20));
    expect(writes).toEqual([4, 4]);
    expect(w.pending).toBe(1);
    expect(await w.close()).toBe(0);
    expect(writes).toEqual([4, 4, 1]);
  });
  it('a store that hangs never holds up a decision: one write in flight, the queue bounded (the oldest dropped and counted), close() ends at its deadline with what is left', async () => {
    let calls = 0;
    const w = new DecisionLogWriter({ logDecisions: () => (calls++, new Promise<void>(() => {})) }, { batchSize: 4, intervalMs: 5, maxQueued: 20 });
    const t0 = performance.now();
    for (let k = 0; k < 100; k++) w.add(decision(k));
    expect(performance.now() - t0).toBeLessThan(1000); // add() answers at once, whatever the store does
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(1); // the first full batch, still in flight: no second write piles up behind it
    expect(w.pending).toBe(20);
    expect(w.dropped).toBe(100 - 4 - 20);
    expect(await w.close(50)).toBe(24); // 20 queued + the 4 of the write that never ended
  });
});
