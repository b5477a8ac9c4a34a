/**
 * Streaming readers for every importable file: order lines (Online Retail, canonical CSV/NDJSON),
 * store inventory and consent. Constant memory in file size; gzip detected by magic bytes; the
 * format detected from the header (or the first NDJSON object).
 *
 * @example
 * for await (const b of readOrderFile('online_retail.csv.gz')) {
 *   store.importLines(b.lines); // b.rejects: {row, reason, raw}[]; b.skipped: {non_product: n}
 * }
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { OrderLine } from '../core/records.js';
import { CANONICAL_COLUMNS, CONSENT_COLUMNS, INVENTORY_COLUMNS, detectFormat, looksLikeOfferJson, normaliseColumn, type DetectedFormat, type FileKind, type FormatName } from './detect-format.js';
import { consentRowParser, inventoryRowParser, type ConsentRow, type InventoryRow } from './companion-rows.js';
import { csvRecordBatches, flawReason, recordFields, splitCsvRecord, type RecordBatch, type RecordLimits } from './csv-records.js';
import { decodeChunk, hasControl, lineBatches, openText, type ByteLines, type LineBatch, type TextEncoding } from './open-text.js';
import { canonicalRowParser, UciLines } from './order-rows.js';
import { ReadCounts, type BatchBase } from './read-counts.js';
import type { Reject } from './reject-reasons.js';
import { objectList } from '../core/object-list.js';

export interface ReadOptions extends RecordLimits {
  /** Most items per yielded batch (default 10,000). */
  batchSize?: number;
  /** Country calling code for national phone numbers (default "44"). */
  defaultCountryCode?: string;
  /** Bytes per read (see OpenOptions.chunkSize). */
  chunkSize?: number;
  /** How the file's bytes are text (default 'utf8': rows with invalid UTF-8 are rejected; 'latin1' transcodes). */
  encoding?: TextEncoding;
  /** The system the file's order ids belong to (default: each row's channel): order identity is (source, order id). */
  source?: string;
  /** Order lines' titles copied out of the file's text (default true; see OrderParseOptions.detachTitles). */
  detachTitles?: boolean;
}

export type { BatchBase };
export type OrderBatch = BatchBase & { kind: 'orders'; lines: OrderLine[] };
export type InventoryBatch = BatchBase & { kind: 'inventory'; inventory: InventoryRow[] };
export type ConsentBatch = BatchBase & { kind: 'consent'; consent: ConsentRow[] };
export type DataBatch = OrderBatch | InventoryBatch | ConsentBatch;

/** What a file holds, from its first line, without reading further. */
export async function detectFile(path: string): Promise<{ kind: FileKind; format: FormatName; syntax: 'csv' | 'ndjson' | 'json'; gzip: boolean }> {
  const file = await openText(path);
  const it = file.batches[Symbol.asyncIterator]();
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) throw new InvalidArgumentError(`${path}: empty file`, { path });
      const first = r.value.lines.find((l) => l.trim() !== '');
      if (first === undefined) continue;
      // offers come as one JSON document (an array, or {"offers": [...]}), read whole (offer-file.ts)
      if (looksLikeOfferJson(first)) return { kind: 'offers', format: 'offers', syntax: 'json', gzip: file.gzip };
      const { fmt, syntax } = headerOf(first, path);
      return { kind: fmt.kind, format: fmt.name, syntax, gzip: file.gzip };
    }
  } finally {
    await it.return?.();
  }
}

function headerOf(first: string, path: string): { fmt: DetectedFormat; syntax: 'csv' | 'ndjson' } {
  if (first.trimStart().startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(first);
    } catch {
      throw new InvalidArgumentError(`${path}: first line is not valid JSON`, { path });
    }
    const keys = Object.keys(flattenNdjson(obj as Record<string, unknown>));
    const probe = detectFormat(keys, path);
    const header: string[] =
      probe.kind === 'orders' ? (probe.name === 'uci' ? keys : [...CANONICAL_COLUMNS]) : probe.kind === 'inventory' ? [...INVENTORY_COLUMNS] : [...CONSENT_COLUMNS];
    return { fmt: detectFormat(header, path), syntax: 'ndjson' };
  }
  return { fmt: detectFormat(splitCsvRecord(first), path), syntax: 'csv' };
}

/** Lifts a nested `identifiers` object ({email: ..}) or array ([{kind, value}]) to top-level keys. */
function flattenNdjson(obj: Record<string, unknown>): Record<string, unknown> {
  const ids = obj.identifiers;
  if (ids === undefined || ids === null) return obj;
  const out: Record<string, unknown> = { ...obj };
  delete out.identifiers;
  if (Array.isArray(ids)) {
    for (const e of ids) if (e && typeof e === 'object' && 'kind' in e) out[String((e as { kind: unknown }).kind)] ??= (e as { value: unknown }).value;
  } else if (typeof ids === 'object') {
    for (const [k, v] of Object.entries(ids as Record<string, unknown>)) out[k] ??= v;
  }
  return out;
}

const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

async function* ndjsonRecordBatches(batches: AsyncIterable<LineBatch>, header: string[]): AsyncGenerator<RecordBatch> {
  const pos = new Map(header.map((h, i) => [normaliseColumn(h), i]));
  for await (const b of batches) {
    const records: string[][] = [];
    const rows: number[] = [];
    const raws: string[] = [];
    const rejects: Reject[] = [];
    for (let i = 0; i < b.lines.length; i++) {
      const line = b.lines[i];
      const flaw = flawReason(b.flaws?.[i] ?? 0);
      if (flaw !== null) {
        rejects.push({ row: b.firstLine + i, reason: flaw, raw: line });
        continue;
      }
      if (line.trim() === '') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        obj = undefined;
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
        rejects.push({ row: b.firstLine + i, reason: 'malformed_row', raw: line });
        continue;
      }
      const fields = new Array<string>(header.length).fill('');
      let control = false;
      for (const [k, v] of Object.entries(flattenNdjson(obj as Record<string, unknown>))) {
        const p = pos.get(normaliseColumn(k));
        if (p !== undefined) {
          fields[p] = cell(v);
          // a JSON escape (\u0000) puts a control character in a value without one in the line
          control ||= hasControl(fields[p]);
        }
      }
      if (control) {
        rejects.push({ row: b.firstLine + i, reason: 'control_character', raw: line });
        continue;
      }
      records.push(fields);
      rows.push(b.firstLine + i);
      raws.push(line);
    }
    yield { records, rows, raws, bytesRead: b.bytesRead, rejects };
  }
}

/**
 * Reads any importable file as typed batches (orders, inventory or consent). Never throws
 * for a bad row (it becomes a reject); throws NotFoundError / InvalidArgumentError when the
 * file is missing, empty or of an unknown format.
 */
export function readDataFile(path: string, options: ReadOptions = {}): AsyncGenerator<DataBatch> {
  return readBatches(path, options);
}

async function* readBatches(path: string, options: ReadOptions): AsyncGenerator<DataBatch> {
  const batchSize = options.batchSize ?? 10_000;
  const encoding = options.encoding ?? 'utf8';
  const file = await openText(path, { chunkSize: options.chunkSize, encoding, maxLineBytes: options.maxFieldBytes });
  const it = file.chunks[Symbol.asyncIterator]();
  // find the header line
  let chunk: ByteLines | undefined;
  let lines: string[] = [];
  let flaws: Uint8Array | undefined;
  let firstLine = 1;
  let headerIndex = -1;
  while (headerIndex < 0) {
    const r = await it.next();
    if (r.done) throw new InvalidArgumentError(`${path}: empty file`, { path });
    firstLine += lines.length;
    chunk = r.value;
    ({ lines, flaws } = decodeChunk(chunk.bytes, encoding));
    headerIndex = lines.findIndex((l) => l.trim() !== '');
  }
  const fc = chunk as ByteLines;
  if (flaws?.[headerIndex]) throw new InvalidArgumentError(`${path}: the header line is unreadable (${flawReason(flaws[headerIndex])})`, { path });
  const { fmt, syntax } = headerOf(lines[headerIndex], path);
  if (fmt.kind === 'offers') throw new InvalidArgumentError(`${path} is an offer file: read it with readOfferFile`, { path });
  const counts = new ReadCounts(fmt.name, syntax, file.totalBytes);
  const restChunks: AsyncIterable<ByteLines> = { [Symbol.asyncIterator]: () => it };
  async function* rest(): AsyncGenerator<LineBatch> {
    // the NDJSON first line is data, the CSV first line is the header
    const skip = syntax === 'csv' ? headerIndex + 1 : headerIndex;
    const first: LineBatch = { lines: lines.slice(skip), firstLine: firstLine + skip, bytesRead: fc.bytesRead };
    if (flaws) first.flaws = flaws.subarray(skip);
    yield first;
    yield* lineBatches(restChunks, firstLine + lines.length, encoding);
  }
  const source = syntax === 'csv' ? csvRecordBatches(rest(), fmt.header.length, options) : ndjsonRecordBatches(rest(), fmt.header);
  const opts = { defaultCountryCode: options.defaultCountryCode, source: options.source, onDroppedIdentifier: counts.dropIdentifier, detachTitles: options.detachTitles };
  // Online Retail: a line without a double quote (nearly all) is parsed in place (UciLines.parseLine), others
  // split into fields, by the same parser (one numbering of lines)
  const uci = fmt.kind === 'orders' && fmt.name === 'uci' ? new UciLines(fmt, opts) : null;
  const parseLine = uci !== null && syntax === 'csv' ? uci.parseLine : null;
  const parse: (f: string[]) => object | string =
    uci !== null ? uci.parse : fmt.kind === 'orders' ? canonicalRowParser(fmt, opts) : fmt.kind === 'inventory' ? inventoryRowParser(fmt) : consentRowParser(fmt, opts);

  let items = objectList<object>();
  const make = (): DataBatch => {
    const base = counts.take();
    const b: DataBatch =
      fmt.kind === 'orders'
        ? { ...base, kind: 'orders', lines: items as OrderLine[] }
        : fmt.kind === 'inventory'
          ? { ...base, kind: 'inventory', inventory: items as InventoryRow[] }
          : { ...base, kind: 'consent', consent: items as ConsentRow[] };
    items = objectList();
    return b;
  };
  for await (const rb of source) {
    counts.bytesRead = rb.bytesRead;
    for (const r of rb.rejects) counts.count(r.reason, r.row, r.raw ?? '');
    const { rows, raws } = rb;
    for (let i = 0; i < rows.length; i++) {
      const r = parseLine !== null && rb.records === undefined && raws[i].indexOf('"') < 0 ? parseLine(raws[i]) : parse(recordFields(rb, i));
      if (counts.count(r, rows[i], raws[i])) {
        items.push(r);
        if (items.length >= batchSize) yield make();
      }
    }
    // bounded memory even when most rows are rejected or skipped
    if (counts.rowsRead >= 4 * batchSize) yield make();
  }
  yield make();
}

/** Order lines only: throws InvalidArgumentError when the file holds inventory or consent. */
export async function* readOrderFile(path: string, options: ReadOptions = {}): AsyncGenerator<OrderBatch> {
  for await (const b of readDataFile(path, options)) {
    if (b.kind !== 'orders') throw new InvalidArgumentError(`${path} is a ${b.kind} file, not an order file`, { path });
    yield b;
  }
}
