/**
 * The model bundle: everything training hands to serving, as plain typed arrays.
 * On disk it is models/<version>/ (manifest.json + binary arrays, written and read
 * by src/bundle/); in Redis it is the keys of src/cache/ under the version.
 * Item-side parts are small and live in each serving instance's memory;
 * customer-side parts (factors, segments, histories) are read per request.
 */
import type { Channel, Segment } from './records.js';
import type { ServedSpec } from './served-model.js';

/** Per-row top-K lists in CSR layout: row i's entries are [indptr[i], indptr[i+1]), best first. */
export interface TopKLists {
  indptr: Int32Array;
  indices: Int32Array;
  scores: Float32Array;
}

/** A ranked list of item indices, best first. */
export interface RankedList {
  items: Int32Array;
  scores: Float32Array;
}

export interface FileEntry {
  sha256: string;
  bytes: number;
  dtype?: 'float32' | 'float64' | 'int32' | 'uint8' | 'json';
  shape?: number[];
}

export interface BundleManifest {
  version: string;
  createdAt: string;
  /** What the models were trained on. */
  data: {
    source: string;
    from: string | null;
    to: string | null;
    customers: number;
    items: number;
    lines: number;
    orders: number;
    [key: string]: unknown;
  };
  /** Hyperparameters per model, and the interaction weighting. */
  params: Record<string, unknown>;
  /** Offline evaluation figures, when the training run evaluated. */
  metrics: Record<string, unknown>;
  /** Timings per stage, seconds. */
  timings: Record<string, number>;
  /** Every file of the bundle with its checksum. */
  files: Record<string, FileEntry>;
}

/** What one customer's row holds: enough for every personal list in one read. */
export interface CustomerRecord {
  customerId: string;
  /** ALS factor vector (k floats), or null when the model has none for them. */
  vector: Float32Array | null;
  segment: Segment | null;
  /** Item indices the customer bought (net of returns), with purchase counts and last purchase time. */
  items: Int32Array;
  counts: Float32Array;
  lastTime: Float64Array;
  /** Mean days between repeat purchases of each item (NaN when bought once). */
  intervalDays: Float32Array;
  /**
   * TIFU-KNN vectors (src/models/tifu-knn.ts) when the served model uses them: own weights aligned with
   * `items`, and the nearest customers' part over any items. Absent otherwise.
   */
  tifu?: { own: Float32Array; nbrItems: Int32Array; nbrScores: Float32Array } | null;
}

/**
 * The served model (src/core/served-model.ts): the two lists chosen on validation and the item-side
 * tables they read, so the service scores exactly as evaluation did.
 */
export interface ServedBundle {
  spec: ServedSpec;
  /** Distinct buyers / max, every item. */
  popularity: Float32Array;
  /** Trend per item by half-life key (days; "0" = no decay), every item. */
  trends: Record<string, Float32Array>;
  /** Per-item lists of the list-based learned model the spec uses (EASE or item-kNN). */
  lists: Partial<Record<'ease' | 'item_knn', TopKLists>>;
  /** Training's interaction weight of one purchase line (a guest session's items fold in with it). */
  foldInWeight: number;
}

/** The whole bundle in memory. */
export interface ModelBundle {
  manifest: BundleManifest;
  /** Item index → sku. */
  items: string[];
  /** Item index → category (null when unknown). */
  itemCategories: (string | null)[];
  /** Matrix factorisation: items × k item factors (row-major), and what fold-in needs. */
  als: { k: number; reg: number; alpha: number; itemFactors: Float32Array } | null;
  /** Item-item CF: top-K similar items per item. */
  neighbours: TopKLists;
  /** Frequently bought together: top-K by lift per item. */
  fbt: TopKLists;
  popular: {
    global: RankedList;
    trending: RankedList;
    byStore: Record<string, RankedList>;
    /**
     * Distinct buyers per channel (web, app, store) in the training histories. Absent in bundles
     * trained before per-channel lists, and for channels without purchases: serving uses global then.
     */
    byChannel?: Partial<Record<Channel, RankedList>>;
    bySegment: Partial<Record<Segment, RankedList>>;
  };
  /** How personal scores blend the learned model with buy-again (see src/core/blend.ts). */
  blend: Record<string, number>;
  /** The served model (absent in bundles trained before it: serving then uses the blend). */
  served?: ServedBundle;
  /** Customer-side data, one record per known customer. */
  customers: CustomerRecord[];
}
