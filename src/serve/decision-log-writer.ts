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
  private writing: Promise<void> | null = null;
  /** Decisions of the write in flight. */
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
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
      this.dropped += this.queue.length - max;
      this.queue.splice(0, this.queue.length - max);
    }
    if (this.queue.length >= (this.options.batchSize ?? 500)) void this.write(true);
    else if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.options.intervalMs ?? 200);
      this.timer.unref();
    }
  }

  /** Writes what is queued now (after a write in flight), batchSize at a time; never throws (failures stay queued). */
  flush(): Promise<void> {
    const step = (): Promise<void> => {
      if (this.queue.length === 0) return Promise.resolve();
      return this.write().then((ok) => (ok ? step() : undefined));
    };
    return this.writing ? this.writing.then(step) : step();
  }

  /**
   * One write of at most batchSize decisions (after a write in flight): what piled up while the store failed is
   * written back in batches, not as one statement that grows with the outage (and one buffer of it all built on
   * the event loop). Resolves false when it failed (its decisions are queued again, a retry is scheduled). `onlyFull`:
   * nothing unless a full batch waits.
   */
  private write(onlyFull = false): Promise<boolean> {
    if (this.writing) return this.writing.then(() => this.write(onlyFull));
    const size = this.options.batchSize ?? 500;
    // a full batch's trigger (add, a backlog) finds the queue written meanwhile: the timer writes the rest
    if (this.queue.length === 0 || (onlyFull && this.queue.length < size)) return Promise.resolve(true);
    const batch = this.queue.splice(0, size);
    this.inFlight = batch.length;
    const done = this.store.logDecisions(batch).then(
      (r) => {
        const erased = r ? r.erased : 0;
        this.written += batch.length - erased;
        if (erased > 0) {
          this.erased += erased;
          this.options.onErased?.(erased);
        }
        return true;
      },
      (err: unknown) => {
        this.queue = batch.concat(this.queue);
        this.options.onError?.(err, this.queue.length);
        if (!this.timer && !this.closed) {
          this.timer = setTimeout(() => {
            this.timer = null;
            void this.flush();
          }, this.options.intervalMs ?? 200);
          this.timer.unref();
        }
        return false;
      },
    );
    this.writing = done.then(() => {
      this.writing = null;
      this.inFlight = 0;
    });
    return done.then((ok) => {
      // a full batch more waiting (a backlog, or a burst): written at once, one write at a time
      if (ok && this.queue.length >= size) void this.write(true);
      return ok;
    });
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
