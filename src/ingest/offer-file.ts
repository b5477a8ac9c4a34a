/**
 * Offer files for `npm run import` (docs/data-formats.md, "Offers"): a JSON document (an array of
 * offers, or `{"offers": [...]}`) or a CSV file with one offer per row, plain or gzip. Offers are few
 * (hundreds), so a file is read whole. Every offer goes through the one offer schema
 * (src/core/offer-schema.ts); a bad one is rejected, counted, and reported with its file, line and
 * the field at fault; the good ones are imported (a bad offer never aborts the import).
 */
import { InvalidArgumentError } from '../core/errors.js';
import { parseOffer } from '../core/offer-schema.js';
import type { Offer } from '../core/offers/types.js';
import { csvRecordBatches, recordFields, splitCsvRecord } from './csv-records.js';
import { looksLikeOfferJson, normaliseColumn } from './detect-format.js';

export { looksLikeOfferJson };
import { openText } from './open-text.js';
import type { Reject } from './reject-reasons.js';

/** CSV columns of an offer file (lists separated by "|"; empty cells: not given). */
export const OFFER_COLUMNS = [
  'id', 'title', 'description', 'kind', 'value', 'cost', 'target_skus', 'target_categories', 'channels', 'stores',
  'starts_at', 'ends_at', 'segments', 'min_orders', 'max_orders', 'min_spend', 'min_days_since_last_purchase',
  'new_customers_only', 'max_impressions', 'per_days', 'suppress_days_after_decline', 'max_acceptances', 'weight',
] as const;

/** Bigger offer files are refused (offers are hundreds, not millions). */
const MAX_BYTES = 64 << 20;

export interface OfferFile {
  syntax: 'json' | 'csv';
  offers: Offer[];
  /** Offers read (valid + rejected). */
  rows: number;
  rejects: Reject[];
}


/** Whether a CSV header is an offer file's (id, title and kind columns). */
export const isOfferHeader = (columns: ReadonlySet<string> | Map<string, number>): boolean => ['id', 'title', 'kind'].every((c) => columns.has(c));

export async function readOfferFile(path: string): Promise<OfferFile> {
  const file = await openText(path);
  if (file.totalBytes > MAX_BYTES) throw new InvalidArgumentError(`${path}: offer file larger than ${MAX_BYTES >> 20} MiB`, { path });
  const lines: string[] = [];
  for await (const b of file.batches) lines.push(...b.lines);
  const first = lines.find((l) => l.trim() !== '');
  if (first === undefined) throw new InvalidArgumentError(`${path}: empty file`, { path });
  if (looksLikeOfferJson(first)) return readJson(path, lines);
  return readCsv(path, lines);
}

function result(syntax: 'json' | 'csv', items: { row: number; raw: string; input: unknown }[], early: Reject[]): OfferFile {
  const offers: Offer[] = [];
  const rejects: Reject[] = [...early];
  for (const it of items) {
    const r = parseOffer(it.input);
    if (r.ok) offers.push(r.offer);
    else rejects.push({ row: it.row, reason: 'bad_offer', raw: it.raw.slice(0, 200), detail: r.issues.map((i) => `${i.field}: ${i.message}`).join('; ') });
  }
  rejects.sort((a, b) => a.row - b.row);
  return { syntax, offers, rows: items.length + early.length, rejects };
}

function readJson(path: string, lines: string[]): OfferFile {
  const text = lines.join('\n');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${path}: not a valid JSON document (${(e as Error).message})`, { path });
  }
  const list = Array.isArray(doc) ? doc : (doc as { offers?: unknown } | null)?.offers;
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${path}: expected an array of offers or {"offers": [...]}`, { path });
  const starts = elementLines(text);
  const items: { row: number; raw: string; input: unknown }[] = [];
  const early: Reject[] = [];
  list.forEach((input, i) => {
    const row = starts[i] ?? 1;
    const raw = JSON.stringify(input) ?? '';
    if (input === null || typeof input !== 'object' || Array.isArray(input)) early.push({ row, reason: 'malformed_row', raw: raw.slice(0, 200), detail: 'not a JSON object' });
    else items.push({ row, raw, input });
  });
  return result('json', items, early);
}

/**
 * The 1-based line where each element of the offers array starts: the root array, or the array value of
 * the root object's "offers" key. A scan that skips strings and counts nesting (the text is valid JSON).
 */
function elementLines(text: string): number[] {
  const out: number[] = [];
  let line = 1;
  let depth = 0;
  let arrayDepth = -1;
  let expectElement = false;
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = text.slice(i + 1, j);
      if (expectElement && depth === arrayDepth) {
        out.push(line);
        expectElement = false;
      }
      lastKey = s;
      i = j;
      continue;
    }
    if (expectElement && depth === arrayDepth && c !== ']') {
      out.push(line);
      expectElement = false;
    }
    if (c === '[' || c === '{') {
      depth++;
      if (c === '[' && arrayDepth < 0 && (depth === 1 || (depth === 2 && lastKey === 'offers'))) {
        arrayDepth = depth;
        expectElement = true;
      }
    } else if (c === ']' || c === '}') {
      if (depth === arrayDepth && c === ']') arrayDepth = -2; // done: later arrays are not the offers
      depth--;
    } else if (c === ',' && depth === arrayDepth) expectElement = true;
  }
  return out;
}

const list = (v: string) => v.split('|').map((s) => s.trim()).filter(Boolean);
/** A number cell: the number, or the text itself so that the schema's 400-style issue names the field. */
const num = (v: string): number | string => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
const bool = (v: string): boolean | string => {
  const t = v.trim().toLowerCase();
  return t === 'true' || t === '1' || t === 'yes' ? true : t === 'false' || t === '0' || t === 'no' ? false : v;
};

async function readCsv(path: string, lines: string[]): Promise<OfferFile> {
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  const source = (async function* () {
    yield { lines: lines.slice(headerAt), firstLine: headerAt + 1, bytesRead: 0 };
  })();
  let header: string[] | null = null;
  // the header's width: every record is checked against it (and the header's own line against itself)
  const width = splitCsvRecord(lines[headerAt]).length;
  const items: { row: number; raw: string; input: unknown }[] = [];
  const early: Reject[] = [];
  for await (const rb of csvRecordBatches(source, width)) {
    early.push(...rb.rejects);
    for (let i = 0; i < rb.rows.length; i++) {
      const fields = recordFields(rb, i);
      if (header === null) {
        header = fields.map(normaliseColumn);
        const cols = new Set(header);
        if (!isOfferHeader(cols)) throw new InvalidArgumentError(`${path}: offer CSV header needs id, title and kind columns`, { path });
        const known = new Set<string>(OFFER_COLUMNS.map(normaliseColumn));
        const unknown = fields.filter((f) => !known.has(normaliseColumn(f)));
        if (unknown.length) throw new InvalidArgumentError(`${path}: unknown offer column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (see docs/data-formats.md)`, { path });
        continue;
      }
      if (fields.length === 1 && fields[0].trim() === '') continue;
      if (fields.length !== header.length) {
        early.push({ row: rb.rows[i], reason: 'malformed_row', raw: rb.raws[i].slice(0, 200), detail: `${fields.length} fields, header has ${header.length}` });
        continue;
      }
      const cell: Record<string, string> = {};
      header.forEach((h, k) => (cell[h] = fields[k]));
      items.push({ row: rb.rows[i], raw: rb.raws[i], input: offerFromCells(cell) });
    }
  }
  return result('csv', items, early);
}

/** A CSV row (normalised column → cell) as an offer input: empty cells are not given. */
function offerFromCells(c: Record<string, string>): Record<string, unknown> {
  const given = (k: string) => c[k] !== undefined && c[k].trim() !== '';
  const set = (into: Record<string, unknown>, key: string, col: string, conv: (v: string) => unknown) => {
    if (given(col)) into[key] = conv(c[col]);
  };
  const o: Record<string, unknown> = {};
  const eligibility: Record<string, unknown> = {};
  const contact: Record<string, unknown> = {};
  const str = (v: string) => v.trim();
  set(o, 'id', 'id', str);
  set(o, 'title', 'title', str);
  set(o, 'description', 'description', (v) => v);
  set(o, 'kind', 'kind', str);
  set(o, 'value', 'value', num);
  set(o, 'cost', 'cost', num);
  if (given('targetskus') || given('targetcategories')) o.targets = { skus: given('targetskus') ? list(c.targetskus) : [], categories: given('targetcategories') ? list(c.targetcategories) : [] };
  set(o, 'channels', 'channels', list);
  set(o, 'stores', 'stores', list);
  set(o, 'startsAt', 'startsat', str);
  set(o, 'endsAt', 'endsat', str);
  set(eligibility, 'segments', 'segments', list);
  set(eligibility, 'minOrders', 'minorders', num);
  set(eligibility, 'maxOrders', 'maxorders', num);
  set(eligibility, 'minSpend', 'minspend', num);
  set(eligibility, 'minDaysSinceLastPurchase', 'mindayssincelastpurchase', num);
  set(eligibility, 'newCustomersOnly', 'newcustomersonly', bool);
  set(contact, 'maxImpressions', 'maximpressions', num);
  set(contact, 'perDays', 'perdays', num);
  set(contact, 'suppressDaysAfterDecline', 'suppressdaysafterdecline', num);
  set(contact, 'maxAcceptances', 'maxacceptances', num);
  set(o, 'weight', 'weight', num);
  if (Object.keys(eligibility).length) o.eligibility = eligibility;
  if (Object.keys(contact).length) o.contact = contact;
  return o;
}
