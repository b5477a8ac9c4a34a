/**
 * What the admin model endpoints need from the cache's publishing functions (src/cache/publish.ts);
 * server.ts adapts those functions to this shape. Absent → the endpoints answer 501.
 */
export interface ModelAdmin {
  /** Published versions (newest first) and the current pointer. */
  list(): Promise<{ current: string | null; versions: Record<string, unknown>[] }>;
  /** Publishes MODEL_DIR/<version> (or re-points to an already published one) and announces it. */
  publish(version: string): Promise<Record<string, unknown>>;
  /** Points back to the previous (or the named) published version. */
  rollback(version?: string): Promise<Record<string, unknown>>;
  /**
   * The bundles trained in MODEL_DIR (newest first) with their evaluation figures, marked published
   * (in the cache) and current; the console's Models view. Optional: without it the route answers 501.
   */
  bundles?(): Promise<{ current: string | null; bundles: TrainedBundle[] }>;
}

/** One bundle in MODEL_DIR as the admin API lists it (from its manifest). */
export interface TrainedBundle {
  version: string;
  createdAt: string;
  data: Record<string, unknown>;
  metrics: Record<string, unknown>;
  published: boolean;
  current: boolean;
}
