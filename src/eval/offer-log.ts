/**
 * The offer decision log as a CSV file (docs/data-formats.md, "Offer decision logs"): one row per offer shown,
 * with the probability the logging policy chose it with at its position and the reward it earned. Logs written by
 * `npm run simulate:offers -- --log-out`, read from the store (`--from-store`) or exported from another system.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { OFFER_CHANNELS, type OfferChannel } from '../core/offers/types.js';
import { SEGMENTS, type Segment } from '../core/records.js';
import { splitCsvRecord } from '../ingest/csv-records.js';
import { normaliseColumn } from '../ingest/detect-format.js';
import { parseTime } from '../ingest/parse-time.js';

export interface OfferLogRow {
  /** 1-based line of the file (header = line 1); 0 for rows that did not come from a file. */
  line: number;
  decisionId: string;
  /** Epoch ms, or null when the log has no time. */
  time: number | null;
  customerId: string | null;
  /** 'guest' or empty in the file: not personalised. */
  segment: Segment | 'guest';
  channel: OfferChannel;
  store: string | null;
  offerId: string;
  /** 1 = the top offer. */
  position: number;
  /** Probability with which the logging policy chose this offer at this position, in (0, 1]. */
  probability: number;
  reward: number;
  /** Whether the offer was accepted (default: reward > 0). */
  accepted: boolean;
  /** What an acceptance of this offer is worth, when the log says. */
  value: number | null;
  /** The offers the logging policy could choose from (suitable ones), when the log says. */
  candidates: string[] | null;
  /**
   * What this impression counted as in the learning: the customer's affinity lift for the offer (the service's and the
   * simulator's `impressionExposure`); absent or null: 1.
   */
  exposure?: number | null;
}

export const OFFER_LOG_REJECT_REASONS = [
  'malformed_row',
  'missing_offer_id',
  'bad_probability',
  'bad_reward',
  'bad_position',
  'bad_date',
  'bad_segment',
  'bad_channel',
  'bad_value',
  'bad_exposure',
] as const;
export type OfferLogRejectReason = (typeof OFFER_LOG_REJECT_REASONS)[number];

export interface OfferLogReject {
  file: string;
  line: number;
  reason: OfferLogRejectReason;
  raw?: string;
}

export interface ParsedOfferLog {
  rows: OfferLogRow[];
  rejects: OfferLogReject[];
  rejected: Partial<Record<OfferLogRejectReason, number>>;
}

/** Column order of the files this module writes (reading matches names case-insensitively, ignoring ` `, `_`, `-`). */
export const OFFER_LOG_COLUMNS = [
  'decision_id',
  'time',
  'customer_id',
  'segment',
  'channel',
  'store',
  'offer_id',
  'position',
  'probability',
  'reward',
  'accepted',
  'value',
  'candidates',
  'exposure',
] as const;
const REQUIRED = ['offer_id', 'probability', 'reward'] as const;

class RowError extends Error {
  constructor(readonly reason: OfferLogRejectReason) {
    super(reason);
  }
}

const SEGMENT_SET = new Set<string>(SEGMENTS);
const CHANNEL_SET = new Set<string>(OFFER_CHANNELS);

function parseRow(get: (col: (typeof OFFER_LOG_COLUMNS)[number]) => string, line: number): OfferLogRow {
  const offerId = get('offer_id').trim();
  if (!offerId) throw new RowError('missing_offer_id');
  const probability = Number(get('probability'));
  if (get('probability').trim() === '' || !(probability > 0 && probability <= 1)) throw new RowError('bad_probability');
  const reward = Number(get('reward'));
  if (get('reward').trim() === '' || !Number.isFinite(reward)) throw new RowError('bad_reward');
  const posText = get('position').trim();
  const position = posText === '' ? 1 : Number(posText);
  if (!Number.isInteger(position) || position < 1) throw new RowError('bad_position');
  const timeText = get('time').trim();
  let time: number | null = null;
  if (timeText !== '') {
    time = /^\d{12,14}$/.test(timeText) ? Number(timeText) : parseTime(timeText);
    if (!Number.isFinite(time)) throw new RowError('bad_date');
  }
  const segText = get('segment').trim().toLowerCase();
  if (segText !== '' && segText !== 'guest' && !SEGMENT_SET.has(segText)) throw new RowError('bad_segment');
  const chText = get('channel').trim().toLowerCase();
  if (chText !== '' && !CHANNEL_SET.has(chText)) throw new RowError('bad_channel');
  const valueText = get('value').trim();
  const value = valueText === '' ? null : Number(valueText);
  if (value !== null && !Number.isFinite(value)) throw new RowError('bad_value');
  const accText = get('accepted').trim().toLowerCase();
  let accepted = reward > 0;
  if (accText !== '') {
    if (/^(1|true|yes)$/.test(accText)) accepted = true;
    else if (/^(0|false|no)$/.test(accText)) accepted = false;
    else throw new RowError('bad_value');
  }
  const cand = get('candidates').trim();
  const expText = get('exposure').trim();
  const exposure = expText === '' ? null : Number(expText);
  if (exposure !== null && !(Number.isFinite(exposure) && exposure >= 0)) throw new RowError('bad_exposure');
  return {
    line,
    decisionId: get('decision_id').trim() || `line-${line}`,
    time,
    customerId: get('customer_id').trim() || null,
    segment: segText === '' ? 'guest' : (segText as Segment | 'guest'),
    channel: (chText || 'web') as OfferChannel,
    store: get('store').trim() || null,
    offerId,
    position,
    probability,
    reward,
    accepted,
    value,
    candidates: cand === '' ? null : cand.split('|').map((s) => s.trim()).filter(Boolean),
    exposure,
  };
}

const quotes = (line: string): number => {
  let n = 0;
  for (let i = line.indexOf('"'); i >= 0; i = line.indexOf('"', i + 1)) n++;
  return n;
};

/**
 * CSV records (RFC 4180) with the file line each starts on; blank lines are skipped. A quoted field may span lines;
 * a quote still open at the end of the file was a stray one: that record's first line is reported and reading
 * resumes on the line after it.
 */
function csvRecords(text: string, stray: (line: number) => void): { record: string[]; info: { lines: number } }[] {
  const lines = text.split(/\r?\n/);
  const out: { record: string[]; info: { lines: number } }[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i] === '') {
      i++;
      continue;
    }
    let j = i;
    let q = quotes(lines[i]);
    while (q % 2 === 1 && j + 1 < lines.length) q += quotes(lines[++j]);
    if (q % 2 === 1) {
      stray(i + 1);
      i++;
      continue;
    }
    out.push({ record: splitCsvRecord(lines.slice(i, j + 1).join('\n')), info: { lines: i + 1 } });
    i = j + 1;
  }
  return out;
}

/** Parses a decision log's text; bad rows are counted and listed with file and line, never fatal. */
export function parseOfferLog(text: string, file: string): ParsedOfferLog {
  const rows: OfferLogRow[] = [];
  const rejects: OfferLogReject[] = [];
  const rejected: ParsedOfferLog['rejected'] = {};
  const reject = (line: number, reason: OfferLogRejectReason, raw?: string): void => {
    rejects.push({ file, line, reason, ...(raw !== undefined ? { raw } : {}) });
    rejected[reason] = (rejected[reason] ?? 0) + 1;
  };
  const records = csvRecords(text.replace(/^\uFEFF/, ''), (line) => reject(line, 'malformed_row'));
  if (records.length === 0) throw new Error(`${file}: empty log (no header)`);
  const header = records[0].record.map(normaliseColumn);
  const index = new Map<string, number>();
  OFFER_LOG_COLUMNS.forEach((c) => {
    const i = header.indexOf(normaliseColumn(c));
    if (i >= 0) index.set(c, i);
  });
  const missing = REQUIRED.filter((c) => !index.has(c));
  if (missing.length > 0) throw new Error(`${file}: line 1: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r];
    const line = info.lines;
    if (record.length !== header.length) {
      reject(line, 'malformed_row', record.join(','));
      continue;
    }
    try {
      rows.push(parseRow((c) => (index.has(c) ? record[index.get(c)!] : ''), line));
    } catch (e) {
      if (e instanceof RowError) reject(line, e.reason, record.join(','));
      else throw e;
    }
  }
  return { rows, rejects, rejected };
}

/** Reads a decision log file (plain or gzip, detected by its magic bytes). */
export async function readOfferLog(path: string): Promise<ParsedOfferLog> {
  let bytes = await readFile(path);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  return parseOfferLog(bytes.toString('utf8'), path);
}

const csvField = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The CSV text of `rows` (header first, columns OFFER_LOG_COLUMNS); times as ISO 8601. */
export function formatOfferLog(rows: readonly Omit<OfferLogRow, 'line'>[]): string {
  const out = [OFFER_LOG_COLUMNS.join(',')];
  for (const r of rows) {
    out.push(
      [
        r.decisionId,
        r.time === null ? '' : new Date(r.time).toISOString(),
        r.customerId ?? '',
        r.segment,
        r.channel,
        r.store ?? '',
        r.offerId,
        String(r.position),
        String(r.probability),
        String(r.reward),
        r.accepted ? '1' : '0',
        r.value === null ? '' : String(r.value),
        r.candidates === null ? '' : r.candidates.join('|'),
        r.exposure == null ? '' : String(r.exposure),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return `${out.join('\n')}\n`;
}
