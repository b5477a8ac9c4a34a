/**
 * Timestamps of the formats the importers accept, to epoch milliseconds (UTC):
 * - ISO 8601: `2011-12-09 12:50:00`, `2011-12-09T12:50:00Z`, `2011-12-09T12:50+01:00`, `2011-12-09`
 *   (no offset → UTC);
 * - the UCI spreadsheet form `12/1/2010 8:26` (M/D/YYYY H:MM[:SS], UTC).
 * Returns NaN for anything else, an impossible date (2011-02-30) or a year before 1900 (`0001-01-01`).
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const MDY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

// Order files repeat the same timestamp on every line of an order: remember the last one.
let lastText = '';
let lastTime = NaN;

/** The earliest year accepted: older dates in retail data are typing errors (and Date.UTC maps years 0–99 to 1900–1999). */
export const MIN_YEAR = 1900;

function build(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (y < MIN_YEAR || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NaN;
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const dt = new Date(t);
  return dt.getUTCDate() === d && dt.getUTCMonth() === mo - 1 ? t : NaN;
}

function parseUncached(s: string): number {
  let m = ISO.exec(s);
  if (m) {
    const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
    let t = build(+m[1], +m[2], +m[3], m[4] ? +m[4] : 0, m[5] ? +m[5] : 0, m[6] ? +m[6] : 0, ms);
    const off = m[8];
    if (off && off.toUpperCase() !== 'Z') {
      const sign = off[0] === '-' ? -1 : 1;
      const digits = off.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
      if (oh > 23 || om > 59) return NaN;
      t -= sign * (oh * 60 + om) * 60_000;
    }
    return t;
  }
  m = MDY.exec(s);
  if (m) return build(+m[3], +m[1], +m[2], m[4] ? +m[4] : 0, m[5] ? +m[5] : 0, m[6] ? +m[6] : 0, 0);
  return NaN;
}

/** Epoch milliseconds, or NaN when the text is not a timestamp of an accepted form. */
export function parseTime(text: string): number {
  if (text === lastText) return lastTime;
  const t = parseUncached(text.trim());
  lastText = text;
  lastTime = t;
  return t;
}
