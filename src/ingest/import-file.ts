/**
 * The import pipeline: reads order, inventory and consent files (format detected per file)
 * and writes them to a Store in batches, reading the next batch while the store writes the
 * current one (and handing it to the store before that one ends: on PostgreSQL its lines are copied
 * meanwhile, Store.importPlan `after`); each batch's orders and lines in one transaction, committed
 * in file order, so no order is ever committed without its lines. Bad rows never abort an import: every row is accounted for
 * (rows = imported + duplicates + rejected + skipped, per file), every rejection has its file,
 * line and reason (onReject; the first few are kept as samples). A file that cannot be read to its
 * end (a gzip cut short) fails the import with an error naming the file, after the batches before
 * it were committed whole. The import ends with ANALYZE (Store.analyzeImport, started beside the last
 * batch's write) and Store.finishImport (a synchronous commit).
 *
 * @example
 * const store = await openStore(config());
 * const s = await importFiles(store, ['data/orders.csv.gz', 'data/consent.csv']);
 * s.rejected; // { bad_date: 3 }
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../core/errors.js';
import type { ImportBatchResult, Store } from '../store/store.js';
import type { FileKind } from './detect-format.js';
import { ID_BLOCK, importBatches, type ImportBatch, type ImportBatchOptions, type ReserveOrderIds } from './import-batches.js';
import { detectFile } from './read-data-file.js';
import type { TextEncoding } from './open-text.js';
import { addCounts, type Reject } from './reject-reasons.js';

export interface ImportOptions {
  /** Lines per store batch (default 20,000). */
  batchSize?: number;
  /** Lines of the first store batch, doubled at each batch up to batchSize (default 2,500: the first write starts sooner). */
  firstBatchSize?: number;
  /** Recorded in the summary: with strict, any rejection makes `ok` false (the CLI then exits 1). */
  strict?: boolean;
  /** Country calling code for national phone numbers (default "44"). */
  defaultCountryCode?: string;
  /** Rejected rows kept as samples (default 10). */
  maxSamples?: number;
  /** Called after every batch. */
  onProgress?: (p: ImportProgress) => void;
  /** Read and plan in a worker thread: true, false or 'auto' (default: files of 4 MiB and more). */
  worker?: boolean | 'auto';
  /** The system the files' order ids belong to (default: each row's channel). */
  source?: string;
  /** How the files' bytes are text (default utf8; latin1 for Excel exports in Latin-1). */
  encoding?: TextEncoding;
  /** Caps of a quoted field running over line breaks (see csv-records.ts; defaults 1 MiB, 100 lines). */
  maxFieldBytes?: number;
  maxFieldLines?: number;
  /** Called with every rejected row (file, line, reason, raw text), in file order. */
  onReject?: (r: Reject & { file: string }) => void;
  /**
   * Where a file's planned batches come from (default importBatches: read, parsed and planned now).
   * The write-only benchmark passes batches planned beforehand, so that only the writes are timed.
   */
  readBatches?: (path: string, options: ImportBatchOptions) => AsyncGenerator<ImportBatch>;
  /**
   * The store is usable once this resolves (`npm run import` applies the migrations meanwhile): the
   * first file's reader starts before, so that its thread's start and first batch overlap the
   * migrations; every store call waits for it. A rejection is the import's failure.
   */
  storeReady?: Promise<unknown>;
}

export interface ImportProgress {
  file: string;
  fileIndex: number;
  files: number;
  bytesRead: number;
  totalBytes: number;
  rows: number;
}

/** What one file contributed. */
export interface FileSummary {
  path: string;
  kind: FileKind;
  format: string;
  rows: number;
  imported: number;
  duplicates: number;
  rejected: Record<string, number>;
  skipped: Record<string, number>;
  seconds: number;
}

export interface ImportSummary {
  /** False when strict and anything was rejected. */
  ok: boolean;
  files: FileSummary[];
  /** Data rows read (imported + duplicates + rejected + skipped). */
  rows: number;
  /** Order lines newly written + inventory rows + consent rows applied. */
  imported: number;
  /** Order lines already present (idempotent re-import). */
  duplicates: number;
  /** Customer merges caused by this import. */
  merges: number;
  /** Identity links refused by the conflict policy (see src/core/identity-graph.ts). */
  conflicts: number;
  /** Records skipped as erased (dated before the erasure of an identifier they carry); order lines are kept as a guest's. */
  erased: number;
  /** Identifiers dropped from rows that were kept: invalid_identifier, placeholder_identifier. */
  droppedIdentifiers: Record<string, number>;
  rejected: Record<string, number>;
  skipped: Record<string, number>;
  /** First rejected rows, with file and row number. */
  samples: (Reject & { file: string })[];
  /** Totals in the store after the import. */
  customers: number;
  products: number;
  orders: number;
  lines: number;
  stores: number;
  seconds: number;
}

const DATA_FILE = /\.(csv|ndjson|jsonl|json)(\.gz)?$/i;
const KIND_ORDER: Record<FileKind, number> = { orders: 0, inventory: 1, consent: 2, offers: 3 };

/**
 * Expands directories to their data files (*.csv, *.ndjson, *.jsonl; *.json when it is an offer file, others are
 * passed to `onSkip` with the reason; optionally .gz) and orders
 * everything orders → inventory → consent, so that consent finds the customers the orders made.
 */
export async function expandImportPaths(paths: string[], onSkip?: (path: string, why: string) => void): Promise<{ path: string; kind: FileKind }[]> {
  // a directory's .json files are taken only when they are offer files (a generator's summary.json is not data)
  const files: { path: string; optional: boolean }[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new NotFoundError(`no such file or directory: ${p}`, { path: p });
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).filter((n) => DATA_FILE.test(n)).sort();
      if (names.length === 0) throw new NotFoundError(`${p} holds no .csv/.ndjson files`, { path: p });
      files.push(...names.map((n) => ({ path: join(p, n), optional: /\.json(\.gz)?$/i.test(n) })));
    } else files.push({ path: p, optional: false });
  }
  const out: { path: string; kind: FileKind; i: number }[] = [];
  for (let i = 0; i < files.length; i++) {
    const { path, optional } = files[i];
    if (!optional) {
      out.push({ path, kind: (await detectFile(path)).kind, i });
      continue;
    }
    const d = await detectFile(path).then((f) => ({ kind: f.kind, why: '' }), (e: Error) => ({ kind: null, why: e.message }));
    // a pretty-printed document's first line is "{" whatever it holds (the generator's summary.json): read it whole
    if (d.kind === 'offers') {
      const { readOfferFile } = await import('./offer-file.js');
      const whole = await readOfferFile(path).then(
        () => '',
        (e: Error) => e.message,
      );
      if (whole) {
        onSkip?.(path, whole);
        continue;
      }
    }
    if (d.kind === 'offers') out.push({ path, kind: d.kind, i });
    else onSkip?.(path, d.kind ? `a ${d.kind} file in JSON is not read from a directory` : d.why);
  }
  out.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.i - b.i);
  return out.map(({ path, kind }) => ({ path, kind }));
}


/**
 * Order-id reservation for one orders file whose first block (ID_BLOCK, what the reader asks for
 * first) is reserved at once: the round trip then overlaps the reader's start (a worker thread's
 * start-up) instead of following it on the import's critical path.
 */
function prefetchedIds(store: Store, ready: Promise<unknown>): ReserveOrderIds {
  let first: Promise<number[]> | null = ready.then(() => store.reserveOrderIds(ID_BLOCK));
  first.catch(() => undefined); // reported when the reader asks for it
  return (n) => {
    const ids = first;
    first = null;
    return ids !== null && n <= ID_BLOCK ? ids : store.reserveOrderIds(n);
  };
}

/**
 * An offer file (src/ingest/offer-file.ts): the valid offers written in one statement, those identical
 * to the stored ones counted as duplicates (a re-import changes nothing), bad ones counted by reason with
 * their line and the field at fault.
 */
/** A finished file: its time recorded, its counts added to the import's. */
function addFile(summary: Pick<ImportSummary, 'files' | 'rows' | 'imported' | 'duplicates' | 'rejected' | 'skipped'>, fs: FileSummary, startedAt: number): void {
  fs.seconds = Number(((performance.now() - startedAt) / 1000).toFixed(3));
  summary.files.push(fs);
  summary.rows += fs.rows;
  summary.imported += fs.imported;
  summary.duplicates += fs.duplicates;
  addCounts(summary.rejected, fs.rejected);
  addCounts(summary.skipped, fs.skipped);
}

async function importOffers(store: Store, path: string, fs: FileSummary, samples: (Reject & { file: string })[], maxSamples: number): Promise<void> {
  // (the offer schema is loaded only for offer files)
  const { readOfferFile } = await import('./offer-file.js');
  const file = await readOfferFile(path);
  fs.format = `offers-${file.syntax}`;
  fs.rows = file.rows;
  for (const r of file.rejects) {
    fs.rejected[r.reason] = (fs.rejected[r.reason] ?? 0) + 1;
    if (samples.length < maxSamples) samples.push({ ...r, file: path });
  }
  const stored = new Map((await store.offers()).map((o) => [o.id, JSON.stringify(o)]));
  const changed = file.offers.filter((o) => stored.get(o.id) !== JSON.stringify(o));
  if (changed.length) await store.putOffers(changed);
  fs.imported = changed.length;
  fs.duplicates = file.offers.length - changed.length;
}

/** Imports one file. */
export async function importFile(store: Store, path: string, options: ImportOptions = {}): Promise<ImportSummary> {
  return importFiles(store, [path], options);
}

/** Rows of a file not accounted for (0 when rows = imported + duplicates + rejected + skipped). */
export function unaccounted(f: Pick<FileSummary, 'rows' | 'imported' | 'duplicates' | 'rejected' | 'skipped'>): number {
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  return f.rows - f.imported - f.duplicates - sum(f.rejected) - sum(f.skipped);
}

/** A file as expandImportPaths found it: its path and what it holds. */
export type DetectedPath = { path: string; kind: FileKind };

/**
 * Imports files and directories (see expandImportPaths) and returns the summary with store totals.
 * `paths` may be expandImportPaths' answer already (every entry detected: not read again).
 */
export async function importFiles(store: Store, paths: readonly string[] | readonly DetectedPath[], options: ImportOptions = {}): Promise<ImportSummary> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const ready = options.storeReady ?? Promise.resolve();
  ready.catch(() => undefined); // reported where it is awaited
  const detected = paths.length > 0 && paths.every((p) => typeof p !== 'string');
  const files = detected ? (paths as readonly DetectedPath[]).map(({ path, kind }) => ({ path, kind })) : await expandImportPaths(paths as string[]);
  const maxSamples = options.maxSamples ?? 10;
  // ANALYZE, started once the last file is read (or at the end)
  const stats: { analyzing: Promise<void> | null } = { analyzing: null };
  const startAnalyze = (): void => {
    if (stats.analyzing !== null) return;
    stats.analyzing = ready.then(() => store.analyzeImport());
    stats.analyzing.catch(() => undefined); // reported where it is awaited
  };
  const summary: Omit<ImportSummary, 'customers' | 'products' | 'orders' | 'lines' | 'stores' | 'seconds' | 'ok'> = {
    files: [],
    rows: 0,
    imported: 0,
    duplicates: 0,
    merges: 0,
    conflicts: 0,
    erased: 0,
    droppedIdentifiers: {},
    rejected: {},
    skipped: {},
    samples: [],
  };
  for (let fi = 0; fi < files.length; fi++) {
    const { path } = files[fi];
    const tf = performance.now();
    const fs: FileSummary = { path, kind: files[fi].kind, format: '', rows: 0, imported: 0, duplicates: 0, rejected: {}, skipped: {}, seconds: 0 };
    if (fs.kind === 'offers') {
      await ready;
      await importOffers(store, path, fs, summary.samples, maxSamples);
      addFile(summary, fs, tf);
      continue;
    }
    // (stops a wait for the reader thread when the import fails elsewhere: see below)
    const stop = new AbortController();
    const it = (options.readBatches ?? importBatches)(path, {
      signal: stop.signal,
      batchSize: options.batchSize ?? 20_000,
      firstBatchSize: options.firstBatchSize,
      defaultCountryCode: options.defaultCountryCode,
      worker: options.worker,
      source: options.source,
      encoding: options.encoding,
      maxFieldBytes: options.maxFieldBytes,
      maxFieldLines: options.maxFieldLines,
      // (batches given by readBatches were planned, and their ids reserved, beforehand)
      reserveOrderIds: files[fi].kind === 'orders' && !options.readBatches ? prefetchedIds(store, ready) : (n) => ready.then(() => store.reserveOrderIds(n)),
    });
    const count = (res: ImportBatchResult) => {
      fs.imported += res.imported;
      fs.duplicates += res.duplicates;
      summary.merges += res.merges;
      summary.conflicts += res.conflicts ?? 0;
      summary.erased += res.erased ?? 0;
    };
    // the next batch is read while the store writes this one: its failure is reported when awaited.
    // Once the last file has no batch left, the statistics are refreshed beside the last batch's write
    const last = fi === files.length - 1;
    const ahead = () => {
      const p = it.next();
      p.catch(() => undefined);
      if (last) p.then((r) => r.done === true && startAnalyze(), () => undefined);
      return p;
    };
    // the batch being written: the next one is handed to the store before it ends (Store.importPlan
    // `after`: on PostgreSQL its lines are copied beside it), and counted once it has
    let writing: Promise<ImportBatchResult> | null = null;
    const settle = async () => {
      const w = writing;
      writing = null;
      if (w !== null) count(await w);
    };
    try {
      let next = ahead();
      // (the reader is under way: the store's migrations end meanwhile)
      await ready;
      for (;;) {
        const r = await next;
        if (r.done) break;
        const b: ImportBatch = r.value;
        next = ahead();
        fs.format = b.format;
        fs.rows += b.rowsRead;
        for (const rej of b.rejects) {
          fs.rejected[rej.reason] = (fs.rejected[rej.reason] ?? 0) + 1;
          if (summary.samples.length < maxSamples) summary.samples.push({ ...rej, file: path });
          options.onReject?.({ ...rej, file: path });
        }
        addCounts(fs.skipped, b.skipped);
        if (b.droppedIdentifiers) addCounts(summary.droppedIdentifiers, b.droppedIdentifiers);
        if (b.kind === 'orders') {
          if (b.plan.lineCount) {
            const before = writing;
            writing = store.importPlan(b.plan, before === null ? { deferProductUpdates: true } : { deferProductUpdates: true, after: before });
            writing.catch(() => undefined); // reported when awaited (in turn)
            if (before !== null) count(await before);
          }
        } else if (b.kind === 'inventory') {
          await settle();
          if (b.inventory.length) await store.setInventory(b.inventory);
          fs.imported += b.inventory.length;
        } else {
          await settle();
          if (b.consent.length) {
            // the reader keeps only events with identifiers: the ones not recorded were already there
            const identity = { erased: 0, conflicts: 0 };
            const n = await store.importConsent(b.consent, identity);
            fs.imported += n;
            fs.duplicates += b.consent.length - n - identity.erased;
            fs.skipped.erased = (fs.skipped.erased ?? 0) + identity.erased;
            summary.erased += identity.erased;
            summary.conflicts += identity.conflicts;
          }
        }
        options.onProgress?.({ file: path, fileIndex: fi, files: files.length, bytesRead: b.bytesRead, totalBytes: b.totalBytes, rows: fs.rows });
      }
      await settle();
    } catch (e) {
      // a batch handed to the store after the one that failed rolls back (it waits for it): let it end
      await (writing as Promise<unknown> | null)?.catch(() => undefined);
      // the batch being read is not wanted any more: a reader thread waiting on the failed store (for order ids) would
      // otherwise hold it.return() until its deadline
      stop.abort();
      // what was imported keeps its product updates, even when a later batch failed
      await it.return(undefined).catch(() => undefined);
      await store.flushProductUpdates().catch(() => undefined);
      await stats.analyzing?.catch(() => undefined);
      throw e;
    }
    const missing = unaccounted(fs);
    // (the last file's deferred product updates: written by finishImport, in the transaction of the card summaries)
    if (!last || missing !== 0) await store.flushProductUpdates();
    if (missing !== 0) throw new Error(`${path}: ${missing} rows not accounted for (rows ${fs.rows}, imported ${fs.imported}, duplicates ${fs.duplicates}): a bug`);
    addFile(summary, fs, tf);
  }
  const rejectedCount = Object.values(summary.rejected).reduce((a, b) => a + b, 0);
  const ok = !(options.strict && rejectedCount > 0);
  await ready;
  startAnalyze();
  // the statistics, the durable record of the run and the totals: side by side (on PostgreSQL, each on
  // its connection); every batch committed before, so the totals are the import's
  const [, , totals] = await Promise.all([
    stats.analyzing,
    store.finishImport({
      files: files.map((f) => f.path),
      rows: summary.rows,
      imported: summary.imported,
      duplicates: summary.duplicates,
      rejected: rejectedCount,
      skipped: Object.values(summary.skipped).reduce((a, b) => a + b, 0),
      ok,
      startedAt,
    }),
    store.totals(),
  ]);
  return {
    ok,
    ...summary,
    customers: totals.customers,
    products: totals.products,
    orders: totals.orders,
    lines: totals.lines,
    stores: totals.stores,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
  };
}
