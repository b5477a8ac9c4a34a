/**
 * Group commit (src/store/group-commit.ts): one batch at a time, the writes that arrive meanwhile
 * together next in arrival order; writes sharing a key never in one batch; a write whose caller gave
 * up before its turn is never run; a full queue refuses at once; each write gets its own outcome.
 */
import { describe, expect, it } from 'vitest';
import { GroupCommit, type Settled } from '../src/store/group-commit.js';

interface Item {
  id: string;
  keys: string[];
  fail?: boolean;
}

function queue(maxBatch = 64, maxQueued = 100) {
  const batches: string[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const q = new GroupCommit<Item, string>({
    run: async (items) => {
      batches.push(items.map((i) => i.id));
      if (hold) await new Promise<void>((r) => (release = r));
      return items.map((i): Settled<string> => (i.fail ? { ok: false, error: new Error(`bad ${i.id}`) } : { ok: true, value: `done ${i.id}` }));
    },
    keys: (i) => i.keys,
    maxBatch,
    maxQueued,
    onFull: () => new Error('full'),
  });
  return {
    q,
    batches,
    hold: () => void (hold = true),
    release: () => {
      hold = false;
      release?.();
    },
  };
}

describe('group commit', () => {
  it('a lone write runs at once; those arriving meanwhile run together next, in order, each with its own outcome', async () => {
    const t = queue();
    t.hold();
    const first = t.q.submit({ id: 'a', keys: ['a'] });
    const rest = ['b', 'c', 'd'].map((id) => t.q.submit({ id, keys: [id], fail: id === 'c' }));
    expect(t.batches).toEqual([['a']]);
    expect(t.q.waiting).toBe(3);
    t.release();
    expect(await first).toBe('done a');
    const out = await Promise.allSettled(rest);
    expect(t.batches).toEqual([['a'], ['b', 'c', 'd']]);
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['done b', 'bad c', 'done d']);
  });

  it('writes sharing a key never share a batch; a later write with a held-back key stays behind it', async () => {
    const t = queue();
    t.hold();
    const all = [
      t.q.submit({ id: 'x', keys: ['x'] }),
      t.q.submit({ id: 'o1', keys: ['k1'] }),
      t.q.submit({ id: 'o2', keys: ['k1'] }), // same order as o1
      t.q.submit({ id: 'o3', keys: ['k2'] }),
      t.q.submit({ id: 'o4', keys: ['k1', 'k2'] }), // behind o2 (k1) and o3 (k2)
    ];
    t.release();
    await Promise.all(all);
    expect(t.batches).toEqual([['x'], ['o1', 'o3'], ['o2'], ['o4']]);
  });

  it('batches hold at most maxBatch writes', async () => {
    const t = queue(2);
    t.hold();
    const all = ['a', 'b', 'c', 'd', 'e'].map((id) => t.q.submit({ id, keys: [id] }));
    t.release();
    await Promise.all(all);
    expect(t.batches).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it('a write whose caller gave up before its turn is never run, and rejects with the reason', async () => {
    const t = queue();
    t.hold();
    const a = t.q.submit({ id: 'a', keys: ['a'] });
    const ac = new AbortController();
    const b = t.q.submit({ id: 'b', keys: ['b'] }, ac.signal);
    const c = t.q.submit({ id: 'c', keys: ['c'] });
    ac.abort(new Error('deadline passed'));
    t.release();
    await a;
    await expect(b).rejects.toThrow('deadline passed');
    expect(await c).toBe('done c');
    expect(t.batches).toEqual([['a'], ['c']]);
    // already aborted: refused without queueing
    await expect(t.q.submit({ id: 'd', keys: ['d'] }, AbortSignal.abort(new Error('late')))).rejects.toThrow('late');
  });

  it('a full queue refuses new writes at once', async () => {
    const t = queue(64, 2);
    t.hold();
    const a = t.q.submit({ id: 'a', keys: ['a'] }); // running
    const b = t.q.submit({ id: 'b', keys: ['b'] });
    const c = t.q.submit({ id: 'c', keys: ['c'] });
    await expect(t.q.submit({ id: 'd', keys: ['d'] })).rejects.toThrow('full');
    t.release();
    expect(await Promise.all([a, b, c])).toEqual(['done a', 'done b', 'done c']);
  });

  it('a batch runner that throws fails each write of the batch; the queue goes on', async () => {
    let calls = 0;
    const q = new GroupCommit<Item, string>({
      run: async (items) => {
        if (++calls === 1) throw new Error('store down');
        return items.map((i) => ({ ok: true, value: i.id }));
      },
      keys: (i) => i.keys,
      maxBatch: 8,
      maxQueued: 8,
      onFull: () => new Error('full'),
    });
    await expect(q.submit({ id: 'a', keys: ['a'] })).rejects.toThrow('store down');
    expect(await q.submit({ id: 'b', keys: ['b'] })).toBe('b');
  });
});
