/**
 * Group commit: writes that must run one after another (purchase events, under the identity lock)
 * go through one queue per store. One batch runs at a time; the writes that arrive meanwhile wait
 * in memory (holding no pooled connection) and run together as the next batch, in arrival order:
 * one transaction, one lock, one durable commit for all of them. A lone write runs at once, so an
 * idle service pays no latency for it; a busy one pays one transaction per batch instead of one per
 * write, and the lock's throughput grows with the load instead of capping it.
 *
 * Back-pressure: a write whose caller has given up (its AbortSignal aborted, e.g. the request's
 * deadline passed) before its batch starts is dropped, never run, and rejected with the signal's
 * reason; a queue longer than `maxQueued` refuses new writes at once (`onFull`'s error).
 *
 * Writes whose keys overlap (two events with the same order id) never share a batch: the later
 * one waits for the next, so a batch sees each key once, as the writes would one at a time.
 */

/** One write's outcome, as the batch runner reports it. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Entry<I, O> {
  item: I;
  keys: readonly string[];
  signal?: AbortSignal;
  resolve: (v: O) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions<I, O> {
  /** Runs a batch (items in arrival order); one outcome per item, in the same order. */
  run: (items: I[]) => Promise<Settled<O>[]>;
  /** The keys of an item; items sharing a key never share a batch. */
  keys: (item: I) => readonly string[];
  /** Most items per batch. */
  maxBatch: number;
  /** Most items waiting; past it submit rejects with onFull(). */
  maxQueued: number;
  onFull: () => unknown;
}

export class GroupCommit<I, O> {
  private queue: Entry<I, O>[] = [];
  private running = false;

  constructor(private readonly o: GroupCommitOptions<I, O>) {}

  /** Items waiting for a batch (not counting the batch running). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: I, signal?: AbortSignal): Promise<O> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queue.length >= this.o.maxQueued) return Promise.reject(this.o.onFull());
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, keys: this.o.keys(item), signal, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        if (batch.length === 0) continue;
        let out: Settled<O>[];
        try {
          out = await this.o.run(batch.map((e) => e.item));
        } catch (error) {
          out = batch.map(() => ({ ok: false, error }));
        }
        batch.forEach((e, i) => {
          const r = out[i] ?? { ok: false, error: new Error('group commit: no outcome for a write') };
          if (r.ok) e.resolve(r.value);
          else e.reject(r.error);
        });
      }
    } finally {
      this.running = false;
    }
  }

  /** The next batch: waiting items in order, skipping (and rejecting) abandoned ones, without two sharing a key. */
  private take(): Entry<I, O>[] {
    const batch: Entry<I, O>[] = [];
    const rest: Entry<I, O>[] = [];
    const taken = new Set<string>();
    // an item held back keeps its keys blocked, so a later item with one of them stays behind it
    const blocked = new Set<string>();
    for (const e of this.queue) {
      if (e.signal?.aborted) {
        e.reject(e.signal.reason);
        continue;
      }
      if (batch.length >= this.o.maxBatch || e.keys.some((k) => taken.has(k) || blocked.has(k))) {
        rest.push(e);
        for (const k of e.keys) blocked.add(k);
        continue;
      }
      for (const k of e.keys) taken.add(k);
      batch.push(e);
    }
    this.queue = rest;
    return batch;
  }
}
