/**
 * Reads of per-customer facts gathered into one statement: `read(id)` queues the id, and the ids queued in the
 * same turn of the event loop are read together (one `readMany` call: one round trip, one snapshot, one slot of
 * the store's pool) once that turn ends. Background reads (refreshes of what is still served) are not urgent:
 * they wait up to `backgroundMs` for others to join them (or until `maxBatch` wait), so that the periodic
 * re-reads of many active customers cost a few statements per second instead of one or more per customer.
 * A foreground read takes the background ids waiting with it. A failed statement fails each read of it.
 */
export interface BatchedReadsOptions {
  /** Most ids per statement (default 500). */
  maxBatch?: number;
  /** How long a background read waits for others (ms; default 100). */
  backgroundMs?: number;
}

interface Waiter<V> {
  resolve: (v: V | null) => void;
  reject: (e: unknown) => void;
}

export class BatchedReads<V> {
  private readonly foreground = new Map<string, Waiter<V>[]>();
  private readonly background = new Map<string, Waiter<V>[]>();
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Statements issued and ids read (metrics, tests). */
  statements = 0;
  ids = 0;

  constructor(
    private readonly readMany: (ids: string[]) => Promise<Map<string, V>>,
    private readonly options: BatchedReadsOptions = {},
  ) {}

  /** The value read for `id` (null: none), by a statement issued after this call. */
  read(id: string, background = false): Promise<V | null> {
    return new Promise<V | null>((resolve, reject) => {
      const queue = background ? this.background : this.foreground;
      let waiters = queue.get(id);
      if (!waiters) queue.set(id, (waiters = []));
      waiters.push({ resolve, reject });
      const max = this.options.maxBatch ?? 500;
      if (!background || this.background.size >= max) {
        this.immediate ??= setImmediate(() => this.flush());
      } else if (!this.timer && !this.immediate) {
        this.timer = setTimeout(() => this.flush(), this.options.backgroundMs ?? 100);
        this.timer.unref();
      }
    });
  }

  /** A foreground caller waits for reads already queued in the background: they go at the end of this turn. */
  hurry(): void {
    if (this.background.size) this.immediate ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    this.immediate = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const max = this.options.maxBatch ?? 500;
    const batch = new Map<string, Waiter<V>[]>();
    const take = (from: Map<string, Waiter<V>[]>) => {
      for (const [id, ws] of from) {
        if (batch.size >= max && !batch.has(id)) break;
        const prev = batch.get(id);
        if (prev) prev.push(...ws);
        else batch.set(id, ws);
        from.delete(id);
      }
    };
    take(this.foreground);
    take(this.background);
    if (this.foreground.size || this.background.size) this.immediate = setImmediate(() => this.flush());
    if (batch.size === 0) return;
    const ids = [...batch.keys()];
    this.statements++;
    this.ids += ids.length;
    let read: Promise<Map<string, V>>;
    try {
      read = this.readMany(ids);
    } catch (e) {
      read = Promise.reject(e);
    }
    read.then(
      (values) => {
        for (const [id, ws] of batch) {
          const v = values.get(id) ?? null;
          for (const w of ws) w.resolve(v);
        }
      },
      (err: unknown) => {
        for (const ws of batch.values()) for (const w of ws) w.reject(err);
      },
    );
  }
}
