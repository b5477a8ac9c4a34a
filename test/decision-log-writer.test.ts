/**
 * The decision log's writer (src/serve/decision-log-writer.ts): batches of at most batchSize per write, in order,
 * every decision once; a store that fails keeps its decisions queued, and what piled up is written back in batches
 * (not as one statement that grows with the outage). Under steady load nothing is chained per decision onto the write
 * in flight, and a flush ends once what was queued at its call is written, however many decisions follow.
 */
import { createHook } from 'node:async_hooks';
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

  /** A store whose writes end when the test says: the batches it was given, and how to end the oldest write. */
  function manualStore() {
    const batches: string[][] = [];
    const ends: (() => void)[] = [];
    return {
      batches,
      inFlight: () => ends.length,
      end: () => ends.shift()!(),
      logDecisions: (entries: readonly { decisionId: string }[]) =>
        new Promise<void>((resolve) => {
          batches.push(entries.map((e) => e.decisionId));
          ends.push(resolve);
        }),
    };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('decisions added while a write is in flight and a full batch waits chain nothing onto that write (no promise per decision)', async () => {
    const store = manualStore();
    const w = new DecisionLogWriter(store, { batchSize: 4, intervalMs: 60_000 });
    for (let k = 0; k < 4; k++) w.add(decision(k));
    expect(store.inFlight()).toBe(1);
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    });
    hook.enable();
    try {
      for (let k = 4; k < 2004; k++) w.add(decision(k));
    } finally {
      hook.disable();
    }
    // (base: one continuation per decision added, 2,000, each chained again at every later write)
    expect(promises).toBeLessThan(10);
    expect(store.inFlight()).toBe(1);
    // the next full batch follows the write in flight at once, and so on, in order, each decision once
    for (let i = 0; i < 501; i++) {
      store.end();
      await settle();
    }
    expect(w.pending).toBe(0);
    expect(store.batches.flat()).toEqual(Array.from({ length: 2004 }, (_, k) => `d${k}`));
    expect(store.batches.every((b) => b.length === 4)).toBe(true);
    expect(await w.close()).toBe(0);
  });

  it('a flush ends once what was queued at its call is written, while decisions keep coming faster than full batches leave', async () => {
    const store = manualStore();
    const w = new DecisionLogWriter(store, { batchSize: 4, intervalMs: 60_000 });
    for (let k = 0; k < 10; k++) w.add(decision(k));
    let flushed = false;
    void w.flush().then(() => (flushed = true));
    let next = 10;
    const writtenWhenFlushed: number[] = [];
    for (let round = 0; round < 12; round++) {
      for (let j = 0; j < 5; j++) w.add(decision(next++));
      store.end();
      await settle();
      if (flushed && writtenWhenFlushed.length === 0) writtenWhenFlushed.push(store.batches.slice(0, -1).flat().length);
    }
    // base: the flush went on until the queue was empty, which it never is here: it never ended
    expect(flushed).toBe(true);
    // it ended after the writes holding d0…d9 (4 + 4 + the rest), not before
    expect(writtenWhenFlushed[0]).toBeGreaterThanOrEqual(10);
    expect(writtenWhenFlushed[0]).toBeLessThanOrEqual(12);
    expect(store.batches.flat()).toEqual(Array.from({ length: store.batches.flat().length }, (_, k) => `d${k}`));
    // while nothing is flushed, only full batches are written
    expect(store.batches.slice(3).every((b) => b.length === 4)).toBe(true);
    while (store.inFlight()) {
      store.end();
      await settle();
    }
    const closing = w.close();
    while (w.pending || store.inFlight()) {
      await settle();
      if (store.inFlight()) store.end();
    }
    expect(await closing).toBe(0);
    expect(store.batches.flat()).toEqual(Array.from({ length: next }, (_, k) => `d${k}`));
  });

  it('an observer callback that throws (onErased, onError) stops no write: every decision is still written, in order', async () => {
    const written: string[] = [];
    let fail = 2; // the first two writes fail
    const store = {
      logDecisions: async (entries: readonly { decisionId: string }[]) => {
        if (fail-- > 0) throw new Error('store down');
        written.push(...entries.map((e) => e.decisionId));
        return { written: entries.length - 1, erased: 1 };
      },
    };
    const w = new DecisionLogWriter(store, {
      batchSize: 2,
      intervalMs: 2,
      onErased: () => {
        throw new Error('a broken counter');
      },
      onError: () => {
        throw new Error('a broken logger');
      },
    });
    for (let k = 0; k < 7; k++) w.add(decision(k));
    const left = await w.close();
    expect(left).toBe(0);
    expect(written).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6']);
  });
});
