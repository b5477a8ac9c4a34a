/**
 * Where training and evaluation read unified history from: a file (`--data`, no database needed)
 * or the history store (the default).
 */
import { NotSupportedError } from '../core/errors.js';
import type { HistoryLine } from '../core/records.js';
import { readUciHistory } from './uci-history.js';

export interface HistoryInput {
  /** What was read, for the manifest ("file:<path>" or "store:<backend>"). */
  source: string;
  lines: HistoryLine[];
  /** Rows skipped (non-product codes) and rejected (unreadable) by the reader. */
  skipped: number;
  rejected: number;
}

/** Reads the whole history into memory (what evaluation needs for its split). */
export async function readHistory(options: { data?: string; progress?: (done: number, total: number) => void }): Promise<HistoryInput> {
  if (options.data) {
    const r = await readUciHistory(options.data);
    return { source: `file:${options.data}`, lines: r.lines, skipped: r.skipped, rejected: r.rejected };
  }
  throw new NotSupportedError('reading from the history store is not available yet: pass --data <file>');
}
