/**
 * The decision log, written in batches off the request path: a decision is queued and answered at
 * once; the queue is written (Store.logDecisions, one statement) every `intervalMs` or as soon as
 * `batchSize` decisions wait, one write at a time. A failed write keeps its decisions queued and is
 * retried at the next tick (up to `maxQueued`; beyond that the oldest are dropped and counted).
 * close() writes everything queued (clean shutdown loses nothing). A crash loses what was queued and
 * not yet written: at most the decisions of the last interval (default 200 ms) and of a write in flight.
 * Decisions of customers erased before their write are not written (the store leaves them out): counted in
 * `erased` and told to `onErased`.
 */
import type { DecisionToLog, LoggedDecisions, PreparedDecision } from '../store/store.js';

export interface DecisionLogWriterOptions {
  /**
   * Encodes a decision as it is queued (the store's row, e.g. sql-offers' prepareDecision): the queue then holds its
   * row's bytes (off the JavaScript heap) instead of its trace, which would otherwise outlive a few young-generation
   * collections and be promoted; a write joins the rows. A decision it throws on is queued as it is.
   */
  prepare?: (entry: DecisionToLog) => PreparedDecision;
  intervalMs?: number;
  batchSize?: number;
  maxQueued?: number;
  onError?: (err: unknown, queued: number) => void;
  /** A write left out `count` decisions of customers erased (the store's LoggedDecisions.erased). */
  onErased?: (count: number) => void;
}

export class DecisionLogWriter {
  private queue: (DecisionToLog | PreparedDecision)[] = [];
  /** The write in flight (resolves when it has ended, whatever its outcome); null when none. */
  private writing: Promise<void> | null = null;
  /** Decisions of the write in flight. */
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Decisions out of the queue for good so far (written, erased or dropped): flushes wait for this count. */
  private settled = 0;
  /** Partial batches are written while a flush (flush() or the interval's) waits for decisions still queued: until `settled` reaches this. */
  private flushTarget = 0;
  /** flush() calls waiting: each for `settled` to reach its target (or a write to fail). */
  private waiting: { target: number; resolve: () => void }[] = [];
  /** Decisions dropped because the queue was full (the store failing for long). */
  dropped = 0;
  /** Decisions written. */
  written = 0;
  /** Decisions not written because their customer was erased before the write. */
  erased = 0;

  constructor(
    /** (a store that says nothing of what it wrote: every decision counts as written) */
    private readonly store: { logDecisions(entries: readonly (DecisionToLog | PreparedDecision)[]): Promise<LoggedDecisions | void> },
    private readonly options: DecisionLogWriterOptions = {},
  ) {}

  /**
   * Queues a decision. A full batch waiting is written at once when no write is in flight; one in flight writes the
   * next full batch when it ends. Nothing here waits on the write in flight: no promise or callback per decision
   * (before, each decision added while a write was in flight and a batch waited chained a continuation onto that
   * write, which chained itself again onto every later write while the queue kept up: under steady load tens of
   * thousands of pending promises, re-chained at every batch; test/decision-log-writer.test.ts).
   */
  add(entry: DecisionToLog): void {
    let queued: DecisionToLog | PreparedDecision = entry;
    if (this.options.prepare) {
      try {
        queued = this.options.prepare(entry);
      } catch {
        // written as it is
      }
    }
    this.queue.push(queued);
    const max = this.options.maxQueued ?? 100_000;
    if (this.queue.length > max) {
      const over = this.queue.length - max;
      this.dropped += over;
      this.queue.splice(0, over);
      this.settle(over);
    }
    if (this.queue.length >= this.batchSize) this.pump();
    else this.arm();
  }

  private get batchSize(): number {
    return this.options.batchSize ?? 500;
  }

  /** The interval's timer, when none is set: then what is queued is flushed. */
  private arm(): void {
    if (this.timer || this.closed || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.want();
    }, this.options.intervalMs ?? 200);
    this.timer.unref();
  }

  /** Everything queued now (and in flight) to be written: partial batches allowed until it is. */
  private want(): number {
    const target = this.settled + this.inFlight + this.queue.length;
    if (target > this.flushTarget) this.flushTarget = target;
    this.pump();
    return target;
  }

  /** `n` decisions out for good: the flushes waiting for them answered. */
  private settle(n: number): void {
    this.settled += n;
    if (this.waiting.length === 0) return;
    const still: typeof this.waiting = [];
    for (const w of this.waiting) {
      if (this.settled >= w.target) w.resolve();
      else still.push(w);
    }
    this.waiting = still;
  }

  /**
   * Starts the next write when none is in flight: a full batch, or a partial one while a flush waits for decisions
   * still queued. One write at a time; each ends by calling this again.
   */
  private pump(): void {
    if (this.writing !== null || this.queue.length === 0) return;
    const size = this.batchSize;
    if (this.queue.length < size && this.settled + this.inFlight >= this.flushTarget) return;
    // a backlog left by a failing store is written back in batches, not as one statement that grows with the outage
    // (and one buffer of it all built on the event loop)
    const batch = this.queue.splice(0, size);
    this.inFlight = batch.length;
    this.writing = this.store.logDecisions(batch).then(
      (r) => {
        const erased = r ? r.erased : 0;
        this.written += batch.length - erased;
        if (erased > 0) this.erased += erased;
        this.writing = null;
        this.inFlight = 0;
        this.settle(batch.length);
        // (the writer's state first: a callback that throws must not stop the writes)
        if (erased > 0) notify(() => this.options.onErased?.(erased));
        this.pump();
        this.arm();
      },
      (err: unknown) => {
        this.queue = batch.concat(this.queue);
        this.writing = null;
        this.inFlight = 0;
        // a failed write ends the flushes waiting (they never throw; their decisions stay queued), and the partial
        // batches they asked for: retried at the next tick
        this.flushTarget = this.settled;
        const waiting = this.waiting;
        this.waiting = [];
        for (const w of waiting) w.resolve();
        notify(() => this.options.onError?.(err, this.queue.length));
        this.arm();
      },
    );
  }

  /** Writes what is queued now (after a write in flight), batchSize at a time; never throws (failures stay queued): resolves once those decisions are out of the queue for good, or a write failed. */
  flush(): Promise<void> {
    const target = this.want();
    if (this.settled >= target) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiting.push({ target, resolve }));
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Writes everything queued, retrying failures until `deadlineMs` (default 5 s), never longer; resolves with what is left unwritten (queued or in a write still in flight). */
  async close(deadlineMs = 5000): Promise<number> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const end = Date.now() + deadlineMs;
    // a write that never ends (a store that hangs) holds no one past the deadline
    const until = (p: Promise<unknown>, ms: number) => {
      let t: NodeJS.Timeout | undefined;
      return Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, Math.max(0, ms))))]).finally(() => clearTimeout(t));
    };
    while ((this.queue.length || this.writing) && Date.now() < end) {
      await until(this.flush(), end - Date.now());
      if (this.queue.length) await until(new Promise((r) => setTimeout(r, 50)), end - Date.now());
    }
    return this.queue.length + this.inFlight;
  }
}

/** Runs an observer's callback (a counter, a log line); one that throws is reported, not let through the writer. */
function notify(callback: () => void): void {
  try {
    callback();
  } catch (e) {
    process.stderr.write(`decision log writer: a callback failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}
