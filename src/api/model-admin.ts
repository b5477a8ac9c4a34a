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
}
