/**
 * CSV records (RFC 4180: quotes, doubled quotes, separators and line breaks inside quotes)
 * from line batches. Lines without a quote take a fast split path.
 */
import type { LineBatch } from './open-text.js';

/**
 * A batch of records; rows[i] is the 1-based file line where record i starts. CSV batches hold
 * only the records' text, split into fields when each is parsed (splitCsvRecord), so that a
 * whole batch of field arrays is never alive at once; NDJSON batches hold the fields.
 */
export interface RecordBatch {
  records?: string[][];
  rows: number[];
  /** The raw text of each record (also for reject reports). */
  raws: string[];
  bytesRead: number;
}

/** Record i of a batch as fields. */
export const recordFields = (b: RecordBatch, i: number): string[] => b.records?.[i] ?? splitCsvRecord(b.raws[i]);

/** Splits one complete CSV record (may contain quoted line breaks). */
export function splitCsvRecord(text: string, sep = ','): string[] {
  if (text.indexOf('"') < 0) return text.split(sep);
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 34) {
      // quoted field
      let value = '';
      let start = ++i;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          value += text.slice(start);
          i = n;
          break;
        }
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(start, q + 1);
          i = start = q + 2;
          continue;
        }
        value += text.slice(start, q);
        i = q + 1;
        break;
      }
      // anything between the closing quote and the separator is kept verbatim
      const s = text.indexOf(sep, i);
      if (s < 0) {
        out.push(value + text.slice(i));
        return out;
      }
      out.push(value + text.slice(i, s));
      i = s + 1;
    } else {
      const s = text.indexOf(sep, i);
      if (s < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, s));
      i = s + 1;
    }
  }
}

/** Double quotes in a line: an odd count leaves a quoted field open. */
export function quoteCount(s: string): number {
  let c = 0;
  let i = s.indexOf('"');
  while (i >= 0) {
    c++;
    i = s.indexOf('"', i + 1);
  }
  return c;
}

/** Turns line batches into record batches; blank lines are not records. */
export async function* csvRecordBatches(batches: AsyncIterable<LineBatch>): AsyncGenerator<RecordBatch> {
  let pending: string | null = null;
  let pendingRow = 0;
  let pendingQuotes = 0;
  let bytesRead = 0;
  for await (const b of batches) {
    bytesRead = b.bytesRead;
    const rows: number[] = [];
    const raws: string[] = [];
    const { lines } = b;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (pending !== null) {
        pending += '\n' + line;
        pendingQuotes += quoteCount(line);
        if (pendingQuotes % 2 === 0) {
          rows.push(pendingRow);
          raws.push(pending);
          pending = null;
        }
        continue;
      }
      if (line.length === 0) continue;
      if (line.indexOf('"') >= 0) {
        const q = quoteCount(line);
        if (q % 2 === 1) {
          pending = line;
          pendingRow = b.firstLine + i;
          pendingQuotes = q;
          continue;
        }
      }
      rows.push(b.firstLine + i);
      raws.push(line);
    }
    if (rows.length) yield { rows, raws, bytesRead };
  }
  if (pending !== null) {
    // unterminated quote at end of file: one record as far as it goes
    yield { rows: [pendingRow], raws: [pending], bytesRead };
  }
}
