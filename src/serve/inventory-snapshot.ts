/**
 * The in-stock snapshot serving filters with: store id → skus with quantity > 0, loaded from
 * the store at start and refreshed in the background. A failed refresh keeps the previous
 * snapshot (and reports it in status()).
 */
export interface InventoryStatus {
  state: 'ok' | 'degraded' | 'empty';
  stores: number;
  loadedAt: string | null;
  detail?: string;
}

export class InventorySnapshot {
  private stock = new Map<string, Set<string>>();
  private loadedAt: Date | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly load: () => Promise<Map<string, Set<string>>>,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Loads once; never throws (a failure leaves the snapshot as it was). */
  async refresh(): Promise<boolean> {
    try {
      this.stock = await this.load();
      this.loadedAt = new Date();
      this.lastError = null;
      return true;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.onError(err);
      return false;
    }
  }

  /** First load, then a refresh every `intervalMs` (timer unref'd: it never holds the process). */
  async start(intervalMs: number): Promise<void> {
    await this.refresh();
    this.stop();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Skus in stock at a store, or undefined when the store has no inventory on record. */
  inStock(storeId: string): ReadonlySet<string> | undefined {
    return this.stock.get(storeId);
  }

  status(): InventoryStatus {
    return {
      state: this.lastError ? 'degraded' : this.loadedAt ? 'ok' : 'empty',
      stores: this.stock.size,
      loadedAt: this.loadedAt?.toISOString() ?? null,
      ...(this.lastError ? { detail: this.lastError } : {}),
    };
  }
}
