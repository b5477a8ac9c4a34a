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
function quoteCount(s: string): number {
  let c = 0;
  let i = s.indexOf('"');
  while (i >= 0) {
    c++;
    i = s.indexOf('"', i + 1);
  }
  return c;
}

/**
 * A record whose quoted field spans line breaks, joined line by line until its quotes balance
 * (shared by csvRecordBatches and the byte-level reader, uci-bytes.ts).
 */
export class OpenRecord {
  /** The record's text so far; null when none is open. */
  text: string | null = null;
  /** The file line where the record starts (still there after take). */
  row = 0;
  private quotes = 0;

  /**
   * A line that starts a record: true when it leaves a quoted field open (the record is then
   * kept here until complete), false when it is a whole record.
   */
  opens(line: string, row: number): boolean {
    if (line.indexOf('"') < 0) return false;
    const q = quoteCount(line);
    if (q % 2 === 0) return false;
    this.text = line;
    this.row = row;
    this.quotes = q;
    return true;
  }

  /** The next line of the open record: the complete record once its quotes balance, else null. */
  add(line: string): string | null {
    this.text += '\n' + line;
    this.quotes += quoteCount(line);
    return this.quotes % 2 === 0 ? this.take() : null;
  }

  /** The open record as far as it goes (null if none), closing it. */
  take(): string | null {
    const t = this.text;
    this.text = null;
    return t;
  }
}

/** Turns line batches into record batches; blank lines are not records. */
export async function* csvRecordBatches(batches: AsyncIterable<LineBatch>): AsyncGenerator<RecordBatch> {
  const open = new OpenRecord();
  let bytesRead = 0;
  for await (const b of batches) {
    bytesRead = b.bytesRead;
    const rows: number[] = [];
    const raws: string[] = [];
    const { lines } = b;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (open.text !== null) {
        const record = open.add(line);
        if (record !== null) {
          rows.push(open.row);
          raws.push(record);
        }
        continue;
      }
      if (line.length === 0 || open.opens(line, b.firstLine + i)) continue;
      rows.push(b.firstLine + i);
      raws.push(line);
    }
    if (rows.length) yield { rows, raws, bytesRead };
  }
  // unterminated quote at end of file: one record as far as it goes
  const rest = open.take();
  if (rest !== null) yield { rows: [open.row], raws: [rest], bytesRead };
}
