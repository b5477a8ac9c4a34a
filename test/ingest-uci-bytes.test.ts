/**
 * The byte-level Online Retail reader (src/ingest/uci-bytes.ts) against the string route it
 * replaces in the import pipeline: on generated files full of the cases the string route treats
 * specially, both must plan exactly the same store batches (COPY bytes, orders, order ids,
 * products, identifiers, rejects with row and raw text, skips, row counts), for any batch size
 * and wherever the file's chunks end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readAndPlan, type ImportBatch } from '../src/ingest/import-batches.js';
import { readImportFile } from '../src/ingest/read-data-file.js';

const tmp = mkdtempSync(join(tmpdir(), 'omnirec-uci-bytes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HEADERS = {
  retail: 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country',
  retail2: 'Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country',
};

/** \u0001 stands for a byte that is not UTF-8 (0xff), written as such. */
const BAD_BYTE = '\u0001';
const SKUS = ['85123A', '71053', '84406B', '22752', '21730', '85123a', ' 22633 ', 'POST', 'M', 'DOT', 'BANK CHARGES', 'gift_0001_40', 'DCGS0003', 'AMAZONFEE', '', 'AB\\C', '85 123', 'LONGSTOCKCODE-ABCDEFGHIJKLMNOP', 'ÄB12', '22086', 'c2'];
const DESCS = [
  'WHITE HANGING HEART T-LIGHT HOLDER', 'WHITE METAL LANTERN ', '  CREAM CUPID HEARTS COAT HANGER', '"SET 7 BABUSHKA NESTING BOXES, RED"', '"TOY ""GOLD"" CAR"',
  '"TWO\nLINES"', 'CAFÉ MUG', 'ÉTÉ ☀', '', '?', 'damaged', 'A'.repeat(90), `${BAD_BYTE} BAD BYTE`, 'X\tTAB',
];
const QUANTITIES = ['6', '8', '2', '-1', '12', '24', '0', '-0', '007', '+4', ' 3', '1e3', 'abc', '', '1.5', '999999999999999', '1234567890123456', '-12'];
const PRICES = ['2.55', '3.39', '0', '0.85', '1.25', '2.550', '.5', '1e2', '-0', '-11062.06', '0.0', '3.', '1234567890.5', '123456789.123456', '0.000001', '0.0000001', 'abc', '', ' 2.5', '4.1', '-0.5', '00.5'];
const DATES = ['2010-12-01 08:26:00', '2010-12-01 08:28:00', '2010-11-30 17:00:00', '12/1/2010 8:26', '2011-02-30 10:00:00', 'not a date', '', '2011-12-09T12:50:00Z', ' 2010-12-02 09:00:00 ', '2010-12-0３ 09:00:00'];
const CUSTOMERS = ['17850', '13047', '17850.0', '', 'nan', 'NaN', 'abc', ' 15311 ', '12345.5', '１２３'];
const COUNTRIES = ['United Kingdom', 'France', '"Korea, Republic of"', 'España', ''];
const INVOICES = ['C536379', 'c536380', '', ' 536366', 'A563185', '5363€'];

/** A seeded generator (tests must be reproducible). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

interface FileSpec {
  header: keyof typeof HEADERS;
  crlf: boolean;
  bom: boolean;
  finalNewline: boolean;
  invoices: number;
  seed: number;
  /** Lines per invoice at most. */
  maxLines?: number;
  /** The file ends inside a quoted field. */
  unterminated?: boolean;
}

function uciFile(spec: FileSpec): Buffer {
  const r = random(spec.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const often = <T>(usual: T, odd: readonly T[], p = 0.15): T => (r() < p ? pick(odd) : usual);
  const nl = spec.crlf ? '\r\n' : '\n';
  const lines = [HEADERS[spec.header]];
  let invoice = 536365;
  for (let n = 0; n < spec.invoices; n++) {
    invoice += 1 + Math.floor(r() * 3);
    const id = often(String(invoice), INVOICES, 0.12);
    const cancel = r() < 0.1 ? 'C' : '';
    const customer = often('1' + String(2000 + Math.floor(r() * 40)), CUSTOMERS, 0.25);
    const date = often(`2010-12-${String(1 + Math.floor(r() * 9)).padStart(2, '0')} ${String(8 + Math.floor(r() * 10)).padStart(2, '0')}:${r() < 0.5 ? '26' : '45'}:00`, DATES, 0.1);
    const count = 1 + Math.floor(r() * (spec.maxLines ?? 8));
    for (let k = 0; k < count; k++) {
      const skuIndex = Math.floor(r() * 6);
      const sku = often(['85123A', '71053', '84406B', '22752', '21730', '22086'][skuIndex], SKUS, 0.2);
      const desc = often(['WHITE HANGING HEART T-LIGHT HOLDER', 'WHITE METAL LANTERN', 'CREAM CUPID HEARTS COAT HANGER', 'GLASS STAR FROSTED T-LIGHT HOLDER', 'HAND WARMER UNION JACK', 'PAPER CHAIN KIT 50S CHRISTMAS'][skuIndex], DESCS, 0.25);
      const fields = [
        cancel + id, sku, desc, often(String(1 + Math.floor(r() * 24)), QUANTITIES, 0.1), r() < 0.05 ? pick(DATES) : date,
        often(`${Math.floor(r() * 10)}.${String(1 + Math.floor(r() * 99)).padStart(2, '0')}`.replace(/0$/, ''), PRICES, 0.15), r() < 0.03 ? pick(CUSTOMERS) : customer, pick(COUNTRIES),
      ];
      const odd = r();
      if (odd < 0.02) fields.push('extra');
      else if (odd < 0.04) fields.pop();
      else if (odd < 0.05) lines.push('');
      else if (odd < 0.06) lines.push('   ');
      else if (odd < 0.07) lines.push('\r');
      lines.push(fields.join(','));
    }
  }
  let text = (spec.bom ? '\ufeff' : '') + lines.join(nl).replace(/\n(?=LINES)/g, nl);
  if (spec.unterminated) text += `${nl}536999,22086,"NEVER CLOSED${nl}3,2010-12-09 10:00:00,1.5,17850,France`;
  else if (spec.finalNewline) text += nl;
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 1) bytes[i] = 0xff;
  return bytes;
}

function write(name: string, bytes: Buffer, gzip = false): string {
  const path = join(tmp, name);
  writeFileSync(path, gzip ? gzipSync(bytes) : bytes);
  return path;
}

/** All planned batches of a file, by one route; progress (bytesRead) left out: it depends on read timing. */
async function plan(path: string, batchSize: number, chunkSize: number | undefined, byteLevel: boolean) {
  let next = 1000;
  const reserve = async (n: number) => Array.from({ length: n }, () => next++);
  const out: unknown[] = [];
  for await (const b of readAndPlan(path, { batchSize, chunkSize }, reserve, byteLevel)) {
    const { bytesRead: _progress, ...rest } = b as ImportBatch;
    out.push(rest.kind === 'orders' ? { ...rest, plan: { ...rest.plan, copy: Buffer.from(rest.plan.copy).toString('latin1') } } : rest);
  }
  return out;
}

async function expectSamePlans(path: string, batchSize: number, chunkSize?: number) {
  const strings = await plan(path, batchSize, chunkSize, false);
  const bytes = await plan(path, batchSize, chunkSize, true);
  expect(bytes, `batch size ${batchSize}, chunk size ${chunkSize ?? 'default'}`).toEqual(strings);
  return strings;
}

describe('byte-level Online Retail reader: the same store batches as the string route', () => {
  const files: [string, FileSpec][] = [
    ['retail-lf', { header: 'retail', crlf: false, bom: false, finalNewline: true, invoices: 300, seed: 1 }],
    ['retail2-crlf-bom', { header: 'retail2', crlf: true, bom: true, finalNewline: false, invoices: 300, seed: 2 }],
    ['retail-crlf-unterminated', { header: 'retail', crlf: true, bom: false, finalNewline: false, invoices: 120, seed: 3, unterminated: true }],
    ['retail2-long-invoices', { header: 'retail2', crlf: false, bom: true, finalNewline: true, invoices: 40, seed: 4, maxLines: 60 }],
  ];

  for (const [name, spec] of files) {
    for (const gzip of [false, true]) {
      it(`${name}${gzip ? ' (gzip)' : ''}: every batch size and chunk size`, async () => {
        const path = write(`${name}.csv${gzip ? '.gz' : ''}`, uciFile(spec), gzip);
        for (const batchSize of [1, 3, 7, 50, 20_000]) {
          for (const chunkSize of [64, 1000, undefined]) await expectSamePlans(path, batchSize, chunkSize);
        }
      }, 120_000);
    }
  }

  it('a small file cut into chunks at every position', async () => {
    const bytes = uciFile({ header: 'retail', crlf: true, bom: true, finalNewline: true, invoices: 3, seed: 5 });
    const path = write('small.csv', bytes);
    // chunk sizes up to the file's length: every byte is a chunk's end in some run
    for (let chunkSize = 1; chunkSize <= bytes.length; chunkSize++) await expectSamePlans(path, 4, chunkSize);
  }, 120_000);

  it('the generated files hold every case: rejects of each reason, skips, quoted and multi-line records, lines', async () => {
    const path = write('cases.csv', uciFile({ header: 'retail', crlf: false, bom: false, finalNewline: true, invoices: 300, seed: 1 }));
    const batches = (await expectSamePlans(path, 20_000)) as ImportBatch[];
    const reasons = new Set(batches.flatMap((b) => b.rejects.map((x) => x.reason)));
    expect([...reasons].sort()).toEqual(['bad_date', 'bad_identifier', 'bad_number', 'malformed_row', 'missing_order_id', 'missing_sku', 'zero_quantity']);
    expect(batches.reduce((n, b) => n + (b.skipped.non_product ?? 0), 0)).toBeGreaterThan(10);
    expect(batches.some((b) => b.rejects.some((x) => x.raw?.includes('\n')))).toBe(true);
    const lines = batches.reduce((n, b) => n + (b.kind === 'orders' ? b.plan.lineCount : 0), 0);
    expect(lines).toBeGreaterThan(800);
    // the byte level is what the import reads: the file comes as encoded lines
    const first = await readImportFile(path, { batchSize: 100 }).next();
    expect(first.value?.kind).toBe('uci-lines');
  });

  it('reads the lines exactly: COPY rows, titles, prices, identifiers of a known file', async () => {
    const text = [
      HEADERS.retail,
      '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER ,6,2010-12-01 08:26:00,2.55,17850,United Kingdom',
      '536365,85123a,,2,2010-12-01 08:26:00,2.550,17850,United Kingdom',
      'C536379,71053,"LANTERN, WHITE",1,2010-12-01 09:41:00,3.39,17850.0,United Kingdom',
      '536380,22086,CAFÉ MUG,12,2010-12-01 10:00:00,.5,,France',
    ].join('\n');
    const path = write('known.csv', Buffer.from(text));
    const [b] = (await expectSamePlans(path, 100)) as ImportBatch[];
    if (b.kind !== 'orders') throw new Error('expected orders');
    expect(Buffer.from(b.plan.copy as unknown as string, 'latin1').toString('utf8')).toBe('1000,1,85123A,6,2.55,\n1000,2,85123A,2,2.55,\n1001,1,71053,-1,3.39,\n1002,1,22086,12,0.5,\n');
    expect(b.plan.products).toEqual([
      { sku: '85123A', title: 'WHITE HANGING HEART T-LIGHT HOLDER', category: null, price: 2.55, time: Date.UTC(2010, 11, 1, 8, 26) },
      { sku: '71053', title: 'LANTERN, WHITE', category: null, price: null, time: Date.UTC(2010, 11, 1, 9, 41) },
      { sku: '22086', title: 'CAFÉ MUG', category: null, price: 0.5, time: Date.UTC(2010, 11, 1, 10) },
    ]);
    expect(b.plan.identifiers).toEqual([{ kind: 'account', value: '17850' }]);
    expect(b.plan.orders.map((o) => [o.sourceId, o.identifiers.length])).toEqual([['536365', 1], ['C536379', 1], ['536380', 0]]);
  });
});
