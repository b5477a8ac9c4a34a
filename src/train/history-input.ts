/**
 * Where training and evaluation read unified history from: a file (`--data`, no database needed)
 * or the history store (the default).
 *
 * - `readHistory` holds every line in memory (evaluation's split needs them all);
 * - `datasetFromFile` streams a file straight into a DatasetBuilder (a few typed arrays per line),
 *   unifying identities with the in-memory identity graph once the whole file is read — the path
 *   that scales to tens of millions of lines;
 * - `datasetFromStore` streams the store's history (already unified) the same way.
 */
import { NotSupportedError } from '../core/errors.js';
import { IdentityResolver } from '../core/identity-graph.js';
import { LineInterner } from '../core/line-interner.js';
import { orderKey } from '../store/import-plan.js';
import { type HistoryLine, historyLineOf } from '../core/records.js';
import { readOrderFile } from '../ingest/read-data-file.js';
import { readHistoryFile, resolveOrderPath } from '../ingest/read-history-file.js';
import type { Store } from '../store/store.js';
import { type Dataset, DatasetBuilder } from './dataset.js';
import type { WeightingOptions } from './weighting.js';

/** Above this many bytes, a history file is worth starting the background-fit worker for while it is read. */
export const WARM_BYTES = 2_000_000;

/** The size of a file in bytes (0 when it cannot be read: the reader then reports why). */
export async function fileBytes(path: string): Promise<number> {
  const { stat } = await import('node:fs/promises');
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export interface HistoryInput {
  /** What was read, for the manifest ("file:<path>" or "store:<backend>"). */
  source: string;
  lines: HistoryLine[];
  /** Rows left out on purpose (non-product codes) and rejected (unreadable) by the reader, by reason. */
  skipped: Record<string, number>;
  rejected: Record<string, number>;
}

type ProgressFn = (done: number, total: number) => void;

/** Reads the whole history into memory. */
export async function readHistory(options: { data?: string; store?: Store; progress?: ProgressFn; maxIdentifiers?: number }): Promise<HistoryInput> {
  if (options.data) {
    const r = await readHistoryFile(options.data, { onProgress: options.progress, maxIdentifiers: options.maxIdentifiers });
    return { source: `file:${options.data}`, lines: r.lines, skipped: r.skipped, rejected: r.rejected };
  }
  if (options.store) {
    const lines: HistoryLine[] = [];
    const interner = new LineInterner();
    for await (const batch of options.store.historyLines({ batchSize: 50_000 })) {
      for (const l of batch) lines.push(interner.line(l));
      options.progress?.(lines.length, lines.length);
    }
    return { source: `store:${options.store.backend}`, lines, skipped: {}, rejected: {} };
  }
  throw new NotSupportedError('no history source: give a file or a store');
}

export interface DatasetInput {
  source: string;
  dataset: Dataset;
  /** Item index → category (null when unknown). */
  itemCategories: (string | null)[];
  skipped: Record<string, number>;
  rejected: Record<string, number>;
  /**
   * With `keepLines`: every line in file order, customers unified (what readHistory returns for the
   * same file), for the validation window and the evaluation, so that the file is parsed once.
   */
  lines?: HistoryLine[];
}

/** Streams an order file into a dataset (identities unified by the identity graph). */
export async function datasetFromFile(
  path: string,
  weighting: WeightingOptions,
  progress?: ProgressFn,
  policy: { maxIdentifiers?: number; keepLines?: boolean } = {},
): Promise<DatasetInput> {
  const file = await resolveOrderPath(path);
  // the import's identity rules (src/core/identity-graph.ts), line by line in file order
  const identities = new IdentityResolver({ maxIdentifiers: policy.maxIdentifiers, log: false });
  const kept: HistoryLine[] | undefined = policy.keepLines ? [] : undefined;
  const interner = new LineInterner();
  const keys: string[] = [];
  let prevKey = '';
  const builder = new DatasetBuilder();
  const categories = new Map<string, string>();
  const skipped: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const batch: HistoryLine[] = [];
  for await (const b of readOrderFile(file, { batchSize: 50_000 })) {
    for (const r of b.rejects) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
    for (const [k, v] of Object.entries(b.skipped)) skipped[k] = (skipped[k] ?? 0) + (v ?? 0);
    batch.length = 0;
    for (const l of b.lines) {
      // provisional customer: the order; resolved to its buyer's unified id once every link is known
      let key = orderKey(l.source ?? l.channel, l.orderId);
      // an order's lines share one key string (the kept lines hold one per line)
      if (key === prevKey) key = prevKey;
      else prevKey = key;
      identities.addLine(l.identifiers, key);
      if (l.category !== null) categories.set(l.sku, l.category);
      // (kept: the provisional id, one per order, is not interned; it is replaced below)
      const h = kept ? interner.line(historyLineOf(l, null)) : historyLineOf(l, key);
      h.customerId = key;
      batch.push(h);
      if (kept) {
        kept.push(h);
        keys.push(key);
      }
    }
    builder.add(batch);
    progress?.(b.bytesRead, b.totalBytes);
  }
  const idCache = new Map<string, string | null>();
  const unified = (key: string) => {
    let id = idCache.get(key);
    if (id === undefined) idCache.set(key, (id = identities.orderCustomerId(key)));
    return id;
  };
  builder.relabelCustomers(unified);
  const dataset = builder.finish(weighting);
  // the kept lines carried their order's key as provisional customer (the builder has copied them)
  if (kept)
    for (let i = 0; i < kept.length; i++) {
      const id = unified(keys[i]);
      kept[i].customerId = id === null ? null : interner.str(id);
    }
  return { source: `file:${path}`, dataset, itemCategories: dataset.items.map((s) => categories.get(s) ?? null), skipped, rejected, lines: kept };
}

/**
 * Streams the store's unified history into a dataset; categories from the store's products. With
 * `keepLines`, the lines are kept too (strings shared, src/core/line-interner.ts) for the validation
 * window and the evaluation: one read of the history instead of two.
 */
export async function datasetFromStore(store: Store, weighting: WeightingOptions, progress?: ProgressFn, policy: { keepLines?: boolean } = {}): Promise<DatasetInput> {
  const builder = new DatasetBuilder();
  const kept: HistoryLine[] | undefined = policy.keepLines ? [] : undefined;
  const interner = new LineInterner();
  for await (const batch of store.historyLines({ batchSize: 50_000 })) {
    if (kept) {
      const shared = batch.map((l) => interner.line(l));
      builder.add(shared);
      for (const l of shared) kept.push(l);
    } else builder.add(batch);
    progress?.(builder.linesRead, builder.linesRead);
  }
  const dataset = builder.finish(weighting);
  const categories = new Map<string, string | null>();
  for (const p of await store.products()) categories.set(p.sku, p.category);
  return {
    source: `store:${store.backend}`,
    dataset,
    itemCategories: dataset.items.map((s) => categories.get(s) ?? null),
    skipped: {},
    rejected: {},
    lines: kept,
  };
}
