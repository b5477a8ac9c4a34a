import { describe, expect, it } from 'vitest';
import { detectFormat } from '../src/ingest/detect-format.js';
import { UciLines, UciRows } from '../src/ingest/order-rows.js';
import { DECIMAL_RULE, strictDecimal, strictDecimalAt } from '../src/ingest/strict-numbers.js';

/**
 * UciLines.parseLine (an Online Retail line without a double quote, parsed where it is) must give what
 * UciRows.parse gives for the line's fields (line.split(',')), row after row: the same line, reason and numbering.
 */
const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
const HEADER_II = 'Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country';

const sameRows = (header: string, lines: string[]) => {
  const fmt = detectFormat(header.split(','));
  const fields = new UciRows(fmt);
  const inPlace = new UciLines(fmt);
  return lines.map((l) => ({ line: l, inPlace: inPlace.parseLine(l), fields: fields.parse(l.split(',')) }));
};

const CELLS = {
  inv: ['536365', '536365', ' 536365 ', '536366', 'C536379', 'c1', '', '   ', 'X'.repeat(201), '536366'],
  sku: ['85123A', '85123a', ' 71053 ', 'POST', 'm', 'DCGSSBOY', 'gift_0001_10', '', 'Y'.repeat(201), '22752'],
  desc: ['WHITE HANGING HEART T-LIGHT HOLDER', '', '  padded  ', 'SET 7 BABUSHKA NESTING BOXES', 'x'],
  qty: ['6', '-6', '0', '-0', '0.0004', '0.0005', '1.5', '.5', '5.', '+3', ' 7 ', '1e5', '0x10', '1_000', 'Infinity', 'NaN', '', '-',
    '1.2.3', '99999999999', '100000000000', '0000000000000000012', '12345678901234567', '1.23456789012345678', '007', '4,5'],
  date: ['12/1/2010 8:26', '12/1/2010 8:26', '12/1/2010 8:28', '2010-12-01 08:26:00', '2010-12-01T08:26:00+01:00', ' 12/1/2010 8:26 ',
    '2/30/2011 10:00', '1/1/0001 0:00', 'yesterday', ''],
  price: ['2.55', '3.39', '0', '-11062.06', '-0', '0.001', '9999999999', '10000000000', '1e2', '', '  4.25', '2.5500000000000000001'],
  cust: ['17850.0', '17850', '17850.0', '', 'nan', 'NaN', ' 13047 ', '1.5', 'abc', '9'.repeat(201), '12583.00'],
  country: ['United Kingdom', 'France', '', 'EIRE'],
};

/** A deterministic pseudo-random generator (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

describe('UciLines.parseLine', () => {
  it('gives what parse of the split line gives, for hand-picked and generated lines (numbers, dates, ids, widths)', () => {
    const rnd = random(13);
    const pick = (a: string[]) => a[Math.floor(rnd() * a.length)];
    const lines = [
      '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom',
      '536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom',
      '536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0',
      '536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom,extra',
      '',
      ',,,,,,,',
    ];
    for (let n = 0; n < 20_000; n++) {
      // runs of lines repeating a cell, as an order's lines do
      const row = [pick(CELLS.inv), pick(CELLS.sku), pick(CELLS.desc), pick(CELLS.qty), pick(CELLS.date), pick(CELLS.price), pick(CELLS.cust), pick(CELLS.country)];
      lines.push(row.join(','));
      if (rnd() < 0.5) lines.push([row[0], pick(CELLS.sku), row[2], pick(CELLS.qty), row[4], pick(CELLS.price), row[6], row[7]].join(','));
    }
    for (const header of [HEADER, HEADER_II]) {
      const rows = sameRows(header, lines);
      const differ = rows.filter((r) => JSON.stringify(r.inPlace) !== JSON.stringify(r.fields) || Object.is(r.inPlace, -0) !== Object.is(r.fields, -0));
      expect(differ.slice(0, 3)).toEqual([]);
      // every kind of answer was met
      const reasons = new Set(rows.map((r) => (typeof r.fields === 'string' ? r.fields : 'line')));
      expect([...reasons].sort()).toEqual(
        ['bad_date', 'bad_identifier', 'bad_number', 'line', 'malformed_row', 'missing_order_id', 'missing_sku', 'non_product', 'out_of_range', 'too_long', 'zero_quantity'].sort(),
      );
    }
  });

  it('numbers lines within their order as parse does, whichever of the two reads each line', () => {
    const fmt = detectFormat(HEADER.split(','));
    const mixed = new UciLines(fmt);
    const lines = ['1,A1,a,1,12/1/2010 8:26,1,17850,UK', '2,B1,b,1,12/1/2010 8:26,1,17850,UK', '1,C1,c,1,12/1/2010 8:26,1,17850,UK', '1,D1,d,1,12/1/2010 8:26,1,17850,UK'];
    const nos = lines.map((l, i) => {
      const r = i % 2 === 0 ? mixed.parseLine(l) : mixed.parse(l.split(','));
      return typeof r === 'string' ? r : `${r.orderId}:${r.lineNo}`;
    });
    expect(nos).toEqual(['1:1', '2:1', '1:2', '1:3']);
  });
});

describe('strictDecimalAt', () => {
  it('reads a slice of a line as its rule and Number() read the slice (bit for bit, -0 included), and strictDecimal the same', () => {
    const rnd = random(7);
    const samples = ['0', '-0', '+0.0', '1', '2.55', '.5', '5.', '-11062.06', '0.1', '0.2', '0.3', '123456789012345', '1234567890123456', '0.000000000000001',
      '999999999999999', '9007199254740993', '1.7976931348623157', ' 42 ', '\t3.5', '', '-', '.', '+', '1e5', '0x10', '1_0', '1.2.3', '--1', 'Infinity'];
    for (let n = 0; n < 20_000; n++) {
      const digits = Math.floor(rnd() * 18) + 1;
      let s = '';
      for (let i = 0; i < digits; i++) s += String(Math.floor(rnd() * 10));
      const dot = Math.floor(rnd() * (digits + 2));
      if (dot <= digits) s = s.slice(0, dot) + '.' + s.slice(dot);
      samples.push((rnd() < 0.3 ? '-' : '') + s);
    }
    const wrong = samples.filter((s) => {
      const line = `a,${s},b`;
      const a = strictDecimalAt(line, 2, 2 + s.length);
      const trimmed = s.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
      const b = DECIMAL_RULE.test(trimmed) ? Number(trimmed) : NaN;
      return !Object.is(a, b) || !Object.is(strictDecimal(s), b);
    });
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});
