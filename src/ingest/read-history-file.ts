/**
 * Unified history straight from an order file, for training and evaluation without a database.
 * Online Retail: customerId is the account id (CustomerID); canonical files: identifiers are
 * unified by the in-memory identity graph (src/core/identity-graph.ts); guests are null.
 * Returns and cancellations are kept as negative lines; non-product codes are skipped.
 *
 * @example
 * const { lines, rejected, skipped } = await readHistoryFile('../shared/data/online_retail.csv.gz');
 */
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../core/errors.js';
import { LineInterner } from '../core/line-interner.js';
import { IdentityResolver } from '../core/identity-graph.js';
import { orderKey } from '../store/import-plan.js';
import { type HistoryLine, historyLineOf } from '../core/records.js';
import { readOrderFile, type ReadOptions } from './read-data-file.js';

export interface HistoryFile {
  /** Lines in file order. */
  lines: HistoryLine[];
  /** Rejected rows by reason. */
  rejected: Record<string, number>;
  /** Rows left out on purpose (non-product codes) by reason. */
  skipped: Record<string, number>;
  /** Data rows read. */
  rows: number;
  /** Distinct unified customers. */
  customers: number;
  /** Identity merges performed (canonical files with several identifiers per person). */
  merges: number;
  format: string;
}

/** A generated directory's order file (orders.csv, orders.csv.gz, orders.ndjson[.gz]), or the path itself. */
export async function resolveOrderPath(path: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new NotFoundError(`no such file or directory: ${path}`, { path });
  }
  if (!st.isDirectory()) return path;
  const names = await readdir(path);
  const hit = ['orders.csv', 'orders.csv.gz', 'orders.ndjson', 'orders.ndjson.gz'].find((n) => names.includes(n));
  if (!hit) throw new NotFoundError(`${path} holds no orders.csv[.gz] or orders.ndjson[.gz]`, { path });
  return join(path, hit);
}

export async function readHistoryFile(
  path: string,
  options: ReadOptions & { onProgress?: (bytesRead: number, totalBytes: number) => void; maxIdentifiers?: number } = {},
): Promise<HistoryFile> {
  const file = await resolveOrderPath(path);
  // the import's identity rules (src/core/identity-graph.ts), line by line in file order
  const identities = new IdentityResolver({ maxIdentifiers: options.maxIdentifiers, log: false });
  const lines: HistoryLine[] = [];
  // shared strings per line (src/core/line-interner.ts): 20M lines are GiBs of heap otherwise
  const interner = new LineInterner();
  const keys: string[] = [];
  let prevKey: string | undefined;
  let prevId = '';
  let prevSource = '';
  const rejected: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  let rows = 0;
  let format = '';
  for await (const b of readOrderFile(file, { batchSize: 50_000, ...options })) {
    format = b.format;
    rows += b.rowsRead;
    for (const r of b.rejects) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
    for (const [k, v] of Object.entries(b.skipped)) skipped[k] = (skipped[k] ?? 0) + (v ?? 0);
    for (const l of b.lines) {
      // lines of one order share their key string (one per order, not per line)
      const key = prevKey !== undefined && l.orderId === prevId && (l.source ?? l.channel) === prevSource ? prevKey : orderKey(l.source ?? l.channel, l.orderId);
      prevKey = key;
      prevId = l.orderId;
      prevSource = l.source ?? l.channel;
      identities.addLine(l.identifiers, key);
      keys.push(key);
      lines.push(interner.line(historyLineOf(l, null)));
    }
    options.onProgress?.(b.bytesRead, b.totalBytes);
  }
  // ids are assigned once every identifier is known, so a late link still unifies early lines
  const idCache = new Map<string, string | null>();
  lines.forEach((l, i) => {
    let id = idCache.get(keys[i]);
    if (id === undefined) {
      id = identities.orderCustomerId(keys[i]);
      idCache.set(keys[i], (id = id === null ? null : interner.str(id)));
    }
    l.customerId = id;
  });
  return { lines, rejected, skipped, rows, customers: identities.components(), merges: identities.mergeCount, format };
}
