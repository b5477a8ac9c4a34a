/**
 * Per-customer reads gathered into one statement (src/serve/batched-reads.ts), and the access cache over a store
 * that reads many ids at once: the reads of one turn go together, background refreshes wait for others, a
 * foreground read takes them along, a failed statement fails each of its reads; an invalidation made while a
 * batched refresh waits or runs still wins over it (the refreshed answer is not remembered).
 */
import { describe, expect, it } from 'vitest';
import { BatchedReads } from '../src/serve/batched-reads.js';
import { CustomerAccessCache } from '../src/serve/customer-access.js';

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function manyStore(values: Record<string, string>) {
  const calls: string[][] = [];
  let fail = false;
  return {
    calls,
    failNext: (v: boolean) => void (fail = v),
    readMany: async (ids: string[]) => {
      calls.push([...ids]);
      if (fail) throw new Error('ECONNRESET');
      return new Map(ids.filter((id) => id in values).map((id) => [id, values[id]]));
    },
  };
}

describe('BatchedReads', () => {
  it('reads queued in one turn go in one statement; unknown ids read as null', async () => {
    const s = manyStore({ a: 'A', b: 'B' });
    const r = new BatchedReads(s.readMany);
    const out = await Promise.all([r.read('a'), r.read('b'), r.read('a'), r.read('zz')]);
    expect(out).toEqual(['A', 'B', 'A', null]);
    expect(s.calls).toEqual([['a', 'b', 'zz']]);
    expect(await r.read('b')).toBe('B');
    expect(s.calls.length).toBe(2);
  });

  it('background reads wait for others; a foreground read takes them along at once', async () => {
    const s = manyStore({ a: 'A', b: 'B', c: 'C' });
    const r = new BatchedReads(s.readMany, { backgroundMs: 60_000 });
    const bg = [r.read('a', true), r.read('b', true)];
    await turn();
    await turn();
    expect(s.calls).toEqual([]); // still waiting for others
    expect(await r.read('c')).toBe('C');
    expect(await Promise.all(bg)).toEqual(['A', 'B']);
    expect(s.calls).toEqual([['c', 'a', 'b']]);
  });

  it('background reads go once their window ends, or as soon as maxBatch wait', async () => {
    const s = manyStore({ a: 'A', b: 'B', c: 'C' });
    const r = new BatchedReads(s.readMany, { backgroundMs: 20 });
    expect(await Promise.all([r.read('a', true), r.read('b', true)])).toEqual(['A', 'B']);
    expect(s.calls).toEqual([['a', 'b']]);
    const full = new BatchedReads(s.readMany, { backgroundMs: 60_000, maxBatch: 2 });
    expect(await Promise.all([full.read('a', true), full.read('b', true), full.read('c', true)])).toEqual(['A', 'B', 'C']);
    expect(s.calls.slice(1)).toEqual([['a', 'b'], ['c']]);
  });

  it('a failed statement fails each of its reads, and the next ones read again', async () => {
    const s = manyStore({ a: 'A' });
    const r = new BatchedReads(s.readMany);
    s.failNext(true);
    const failed = await Promise.allSettled([r.read('a'), r.read('b')]);
    expect(failed.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    s.failNext(false);
    expect(await r.read('a')).toBe('A');
  });
});

describe('CustomerAccessCache over customerAccessMany', () => {
  function accessStore(answers: Record<string, { canonicalId: string; personalisation: boolean }>) {
    const calls: string[][] = [];
    let gate: Promise<void> | null = null;
    return {
      calls,
      hold: (p: Promise<void> | null) => void (gate = p),
      set: (id: string, a: { canonicalId: string; personalisation: boolean }) => void (answers[id] = a),
      store: {
        canonicalCustomerId: () => Promise.reject(new Error('not used')),
        hasConsent: () => Promise.reject(new Error('not used')),
        customerAccess: () => Promise.reject(new Error('not used')),
        async customerAccessMany(ids: readonly string[]) {
          calls.push([...ids]);
          // the statement's snapshot: the answers as they are when it begins
          const out = new Map(ids.filter((id) => answers[id]).map((id) => [id, { ...answers[id] }]));
          const g = gate;
          if (g) await g;
          return out;
        },
      },
    };
  }

  it("several customers' first reads in one statement; their stale answers refreshed together in the background", async () => {
    const s = accessStore({ a: { canonicalId: 'a', personalisation: true }, b: { canonicalId: 'b', personalisation: true } });
    const cache = new CustomerAccessCache(s.store, { ttlMs: 200, maxEntries: 10 });
    expect(await Promise.all([cache.resolve('a'), cache.resolve('b'), cache.resolve('nobody')])).toEqual([
      { status: 'ok', customerId: 'a' },
      { status: 'ok', customerId: 'b' },
      { status: 'unknown_customer' },
    ]);
    expect(s.calls).toEqual([['a', 'b', 'nobody']]);
    await sleep(110); // past half the TTL: served as held, refreshed behind
    s.set('a', { canonicalId: 'a', personalisation: false });
    expect((await cache.resolve('a')).status).toBe('ok');
    expect((await cache.resolve('b')).status).toBe('ok');
    await sleep(150); // the refresh window (100 ms)
    expect(s.calls.slice(1)).toEqual([['a', 'b']]);
    expect((await cache.resolve('a')).status).toBe('no_consent');
  });

  for (const when of ['waits in the batch', 'is being read'] as const) {
    it(`an invalidation while a batched read ${when} wins: that answer is not remembered, the others are`, async () => {
      const s = accessStore({ a: { canonicalId: 'a', personalisation: true }, b: { canonicalId: 'b', personalisation: true } });
      const cache = new CustomerAccessCache(s.store, { ttlMs: 60_000, maxEntries: 10 });
      let release!: () => void;
      s.hold(new Promise<void>((r) => (release = r)));
      const reads = [cache.resolve('a'), cache.resolve('b')];
      if (when === 'is being read') await turn(); // the statement has begun, with a's old answer
      expect(s.calls.length).toBe(when === 'is being read' ? 1 : 0);
      // a consent withdrawal of a, announced meanwhile
      s.set('a', { canonicalId: 'a', personalisation: false });
      cache.invalidate('a');
      release();
      s.hold(null);
      // answered as read (the statement that had not begun sees the withdrawal)
      expect((await Promise.all(reads)).map((x) => x.status)).toEqual([when === 'is being read' ? 'ok' : 'no_consent', 'ok']);
      if (when === 'waits in the batch') s.set('a', { canonicalId: 'a', personalisation: true }); // a later change, announced lost: a must be re-read to see it
      const before = s.calls.length;
      expect((await cache.resolve('b')).status).toBe('ok'); // b remembered
      expect(s.calls.length).toBe(before);
      expect((await cache.resolve('a')).status).toBe(when === 'is being read' ? 'no_consent' : 'ok'); // a read again: the invalidation won
      expect(s.calls.length).toBe(before + 1);
    });
  }
});
