/**
 * The counters every reader batch carries (rows read, rejects with their raw text, skips, progress),
 * kept by the reader (read-data-file.ts).
 */
import type { IdentifierDrop } from '../core/identity.js';
import type { FormatName } from './detect-format.js';
import { isSkipReason, type Reject, type RejectReason, type SkipReason } from './reject-reasons.js';

export interface BatchBase {
  format: FormatName;
  /** 'csv' or 'ndjson'. */
  syntax: 'csv' | 'ndjson';
  /** Data rows read in this batch (accepted + rejected + skipped). */
  rowsRead: number;
  rejects: Reject[];
  skipped: Partial<Record<SkipReason, number>>;
  /** Identifiers dropped from rows that were kept (unparseable, placeholder); absent: none. */
  droppedIdentifiers?: Partial<Record<IdentifierDrop, number>>;
  /** File bytes consumed so far (compressed bytes for gzip), for progress. */
  bytesRead: number;
  totalBytes: number;
}

/** Raw text kept per reject. */
const RAW_MAX = 300;

/** The counters of the rows read since the last batch. */
export class ReadCounts {
  rowsRead = 0;
  rejects: Reject[] = [];
  skipped: Partial<Record<SkipReason, number>> = {};
  droppedIdentifiers: Partial<Record<IdentifierDrop, number>> = {};
  /** Progress of the chunk being read. */
  bytesRead = 0;

  constructor(
    private readonly format: FormatName,
    private readonly syntax: 'csv' | 'ndjson',
    private readonly totalBytes: number,
  ) {}

  /** Counts one row read: `result` is what its parser returned; false unless it was accepted. */
  count<T extends object>(result: T | string, row: number, raw: string): result is T {
    this.rowsRead++;
    if (typeof result !== 'string') return true;
    if (isSkipReason(result)) this.skipped[result] = (this.skipped[result] ?? 0) + 1;
    else this.rejects.push({ row, reason: result as RejectReason, raw: raw.slice(0, RAW_MAX) });
    return false;
  }

  /** Counts an identifier dropped from a row (the row is kept). */
  dropIdentifier = (reason: IdentifierDrop): void => {
    this.droppedIdentifiers[reason] = (this.droppedIdentifiers[reason] ?? 0) + 1;
  };

  /** The counters for a batch; counting starts again. */
  take(): BatchBase {
    const { format, syntax, rowsRead, rejects, skipped, droppedIdentifiers, bytesRead, totalBytes } = this;
    this.rowsRead = 0;
    this.rejects = [];
    this.skipped = {};
    this.droppedIdentifiers = {};
    return { format, syntax, rowsRead, rejects, skipped, bytesRead, totalBytes, ...(Object.keys(droppedIdentifiers).length ? { droppedIdentifiers } : {}) };
  }
}
