/**
 * CSV records (RFC 4180: quotes, doubled quotes, separators and line breaks inside quotes)
 * from line batches. Lines without a quote take a fast split path.
 */
import { FLAW_TOO_LONG, FLAW_UTF8, type LineBatch } from './open-text.js';
import type { Reject, RejectReason } from './reject-reasons.js';
import { objectList } from '../core/object-list.js';

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
  /** Records rejected while reading them (a stray quote, a flawed line, a line that is not JSON). */
  rejects: Reject[];
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

/** How far a quoted field may run over line breaks before its record is rejected. */
export interface RecordLimits {
  /** Most bytes (UTF-16 units) of a record spanning lines (default MAX_FIELD_BYTES). */
  maxFieldBytes?: number;
  /** Most physical lines of one record (default MAX_FIELD_LINES). */
  maxFieldLines?: number;
}
export const MAX_FIELD_BYTES = 1 << 20;
export const MAX_FIELD_LINES = 100;

/** Reject reason of a line, from its LineBatch flaws (the worst first). */
export function flawReason(flaw: number): RejectReason | null {
  if (flaw === 0) return null;
  if (flaw & FLAW_TOO_LONG) return 'too_long';
  if (flaw & FLAW_UTF8) return 'invalid_utf8';
  return 'control_character';
}

/**
 * Turns line batches into record batches; blank lines are not records. A record whose quoted
 * field runs over line breaks is joined until its quotes balance, within the limits; when they do
 * not balance within them (or before the end of the file), or balance into the wrong number of
 * fields (`width`, the header's), the quote was a stray one: the record's first line is rejected
 * (`unbalanced_quote`) and reading resumes on the line after it, so one stray quote costs one row.
 * A record holding a flawed line (open-text.ts: invalid UTF-8, control characters, too long) is
 * rejected with that reason.
 */
export async function* csvRecordBatches(batches: AsyncIterable<LineBatch>, width: number, limits: RecordLimits = {}): AsyncGenerator<RecordBatch> {
  const maxBytes = limits.maxFieldBytes ?? MAX_FIELD_BYTES;
  const maxLines = Math.max(1, limits.maxFieldLines ?? MAX_FIELD_LINES);
  // the open record: its lines, their file line numbers and flaws, the quote count and length so far
  let open: { lines: string[]; rows: number[]; flaws: number[]; quotes: number; bytes: number } | null = null;
  let bytesRead = 0;
  let rows: number[] = [];
  let raws = objectList<string>();
  let rejects = objectList<Reject>();

  const record = (row: number, raw: string, flaw: number) => {
    const reason = flawReason(flaw);
    if (reason !== null) rejects.push({ row, reason, raw });
    else {
      rows.push(row);
      raws.push(raw);
    }
  };
  /** One physical line, in file order. */
  const line = (text: string, row: number, flaw: number): void => {
    if (open === null) {
      if (text.length === 0 && flaw === 0) return;
      // (a line cut for being too long has lost its end: its quotes mean nothing)
      if ((flaw & FLAW_TOO_LONG) === 0 && text.indexOf('"') >= 0) {
        const q = quoteCount(text);
        if (q % 2 === 1) {
          open = { lines: [text], rows: [row], flaws: [flaw], quotes: q, bytes: text.length };
          return;
        }
      }
      record(row, text, flaw);
      return;
    }
    const o = open;
    o.lines.push(text);
    o.rows.push(row);
    o.flaws.push(flaw);
    o.quotes += quoteCount(text);
    o.bytes += text.length + 1;
    // (a line too long on its own is past the byte cap too: open-text.ts cut it, with the same cap)
    if (o.bytes > maxBytes || o.lines.length > maxLines || flaw & FLAW_TOO_LONG) strayQuote();
    else if (o.quotes % 2 === 0) {
      const joined = o.lines.join('\n');
      if (splitCsvRecord(joined).length === width) {
        open = null;
        record(o.rows[0], joined, o.flaws.reduce((a, b) => a | b, 0));
      } else strayQuote();
    }
  };
  /** The open record's first line rejected; its other lines read again as new lines. */
  const strayQuote = (): void => {
    const o = open!;
    open = null;
    rejects.push({ row: o.rows[0], reason: 'unbalanced_quote', raw: o.lines[0] });
    for (let i = 1; i < o.lines.length; i++) line(o.lines[i], o.rows[i], o.flaws[i]);
  };
  const take = (): RecordBatch => {
    const b = { rows, raws, bytesRead, rejects };
    rows = [];
    raws = objectList();
    rejects = objectList();
    return b;
  };

  for await (const b of batches) {
    bytesRead = b.bytesRead;
    const { lines, flaws, firstLine } = b;
    for (let i = 0; i < lines.length; i++) line(lines[i], firstLine + i, flaws === undefined ? 0 : flaws[i]);
    if (rows.length || rejects.length) yield take();
  }
  // a quote still open at the end of the file: a stray one (its other lines are read again, and may open another)
  while (open !== null) strayQuote();
  if (rows.length || rejects.length) yield take();
}
