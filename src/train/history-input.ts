/**
 * Where training and evaluation read unified history from: a file (`--data`, no database needed;
 * src/ingest's readHistoryFile) or the history store (the default).
 */
import { NotSupportedError } from '../core/errors.js';
import type { HistoryLine } from '../core/records.js';
import { readHistoryFile } from '../ingest/read-history-file.js';

export interface HistoryInput {
  /** What was read, for the manifest ("file:<path>" or "store:<backend>"). */
  source: string;
  lines: HistoryLine[];
  /** Rows left out on purpose (non-product codes) and rejected (unreadable) by the reader, by reason. */
  skipped: Record<string, number>;
  rejected: Record<string, number>;
}

/** Reads the whole history into memory. */
export async function readHistory(options: { data?: string; progress?: (done: number, total: number) => void }): Promise<HistoryInput> {
  if (options.data) {
    const r = await readHistoryFile(options.data, { onProgress: options.progress });
    return { source: `file:${options.data}`, lines: r.lines, skipped: r.skipped, rejected: r.rejected };
  }
  throw new NotSupportedError('reading from the history store is not available yet: pass --data <file>');
}
