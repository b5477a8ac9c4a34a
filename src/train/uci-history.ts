/**
 * A small, fast reader of the UCI Online Retail / Online Retail II CSV (plain or gzipped) into
 * HistoryLine[] — a stop-gap for training until src/ingest's readHistoryFile lands.
 * Same row rules as /work/shared/tools/reference_eval.py: stock codes trimmed and upper-cased,
 * non-product codes skipped, `17850.0` → `17850`, empty customer → guest (null). Cancellations are kept
 * as negative lines (the protocol and the weighting decide what to do with them).
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { InvalidArgumentError } from '../core/errors.js';
import type { HistoryLine } from '../core/records.js';

/** Non-product stock codes, exactly reference_eval.py's NON_PRODUCT. */
export const NON_PRODUCT = /^(POST|DOT|M|D|C2|BANK CHARGES|AMAZONFEE|S|B|CRUK|PADS|ADJUST\d*|TEST\d*|gift_.*|DCGS.*)$/i;

/** Splits one CSV record (RFC 4180 quoting, no embedded newlines). */
function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i <= n) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          v += line.slice(i);
          i = n;
          break;
        }
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      const c = line.indexOf(',', i);
      i = c < 0 ? n + 1 : c + 1;
    } else {
      const c = line.indexOf(',', i);
      out.push(c < 0 ? line.slice(i) : line.slice(i, c));
      i = c < 0 ? n + 1 : c + 1;
    }
  }
  return out;
}

/** `YYYY-MM-DD HH:MM[:SS]` or `M/D/YYYY H:MM` as UTC epoch ms; NaN when unparsed. */
export function parseUciDate(s: string): number {
  const t = s.trim();
  let m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?/.exec(t);
  if (m) return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0);
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (m) return Date.UTC(+m[3], +m[1] - 1, +m[2], +m[4], +m[5], m[6] ? +m[6] : 0);
  return NaN;
}

/** Reads a UCI Online Retail (I or II) file into history lines. */
export async function readUciHistory(path: string): Promise<{ lines: HistoryLine[]; skipped: number; rejected: number }> {
  let buf = await readFile(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const text = buf.toString('utf8');
  let pos = text.indexOf('\n');
  if (pos < 0) throw new InvalidArgumentError(`${path}: empty file`);
  const header = splitCsv(text.slice(0, pos).replace(/\r$/, '').replace(/^\uFEFF/, '')).map((h) => h.toLowerCase().replace(/[ _]/g, ''));
  const col = (...names: string[]) => {
    for (const n of names) {
      const i = header.indexOf(n);
      if (i >= 0) return i;
    }
    throw new InvalidArgumentError(`${path}: not an Online Retail file (no ${names.join('/')} column)`);
  };
  const cInv = col('invoiceno', 'invoice');
  const cCode = col('stockcode');
  const cQty = col('quantity');
  const cDate = col('invoicedate');
  const cPrice = col('unitprice', 'price');
  const cCust = col('customerid');
  const lines: HistoryLine[] = [];
  let skipped = 0;
  let rejected = 0;
  pos++;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    pos = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    const f = splitCsv(line);
    const sku = (f[cCode] ?? '').trim().toUpperCase();
    if (sku === '') {
      rejected++;
      continue;
    }
    if (NON_PRODUCT.test(sku)) {
      skipped++;
      continue;
    }
    const quantity = Number(f[cQty]);
    const time = parseUciDate(f[cDate] ?? '');
    if (!Number.isFinite(quantity) || quantity === 0 || !Number.isFinite(time)) {
      rejected++;
      continue;
    }
    let cust = (f[cCust] ?? '').trim();
    if (cust.toLowerCase() === 'nan') cust = '';
    const dot = cust.indexOf('.');
    if (dot >= 0) cust = cust.slice(0, dot);
    const price = Number(f[cPrice]);
    lines.push({
      customerId: cust === '' ? null : cust,
      orderId: f[cInv].trim(),
      channel: 'web',
      storeId: null,
      time,
      sku,
      quantity,
      unitPrice: Number.isFinite(price) ? price : 0,
    });
  }
  return { lines, skipped, rejected };
}
