/**
 * Identifier normalisation: the one place that decides when two spellings of an
 * identifier are the same person's. Pure, no I/O.
 *
 * - email: trimmed and lower-cased; must look like local@domain.tld.
 * - phone: digits only, with the country code: "+1 (555) 010-9999" → "15550109999";
 *   a national number with a trunk "0" gets the default country code: "07700 900123" → "447700900123";
 *   "00" international prefix is dropped; "+44 (0) 7700…" drops the bracketed trunk 0. 7 to 15 digits (E.164);
 *   letters are invalid.
 * - account, loyalty, device, external: trimmed, taken as given (no inner control characters).
 * Values are detached from the text they were cut from (src/core/detach-string.ts): they are kept as keys.
 */
import { detachString } from './detach-string.js';
import { IDENTIFIER_KINDS, type Identifier, type IdentifierKind } from './records.js';

export interface NormaliseOptions {
  /** Country calling code for national phone numbers (digits, e.g. "44"). Default "44". */
  defaultCountryCode?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_CHARS = /^\+?[\d\s().\-/]+$/;

/** Lower-cased, trimmed email, or null when it is not an email address. */
export function normaliseEmail(raw: string): string | null {
  const v = raw.trim().toLowerCase();
  return EMAIL.test(v) ? detachString(v) : null;
}

/** Digits with country code, or null when it is not a phone number. */
export function normalisePhone(raw: string, defaultCountryCode = '44'): string | null {
  const v = raw.trim();
  if (!PHONE_CHARS.test(v)) return null;
  // "+44 (0) 7700 900123": the bracketed trunk zero is not dialled from abroad
  let digits = (v.startsWith('+') ? v.replace(/\(0\)/g, '') : v).replace(/\D/g, '');
  if (v.startsWith('+')) {
    // already international
  } else if (digits.startsWith('00')) {
    digits = digits.slice(2);
  } else if (digits.startsWith('0')) {
    digits = defaultCountryCode + digits.slice(1);
  } else if (digits.length <= 10) {
    digits = defaultCountryCode + digits;
  }
  return digits.length >= 7 && digits.length <= 15 && digits[0] !== '0' ? digits : null;
}

/** Trimmed opaque id (account, loyalty, device, external), or null when empty or with control characters. */
export function normaliseOpaqueId(raw: string): string | null {
  const v = raw.trim();
  // eslint-disable-next-line no-control-regex
  return v !== '' && v.length <= 256 && !/[\u0000-\u001f\u007f]/.test(v) ? detachString(v) : null;
}

/** The normalised value of one identifier, or null when the raw value is invalid for its kind. */
export function normaliseIdentifierValue(kind: IdentifierKind, raw: string, options: NormaliseOptions = {}): string | null {
  switch (kind) {
    case 'email':
      return normaliseEmail(raw);
    case 'phone':
      return normalisePhone(raw, options.defaultCountryCode ?? '44');
    default:
      return normaliseOpaqueId(raw);
  }
}

/** A normalised Identifier, or null when invalid. */
export function normaliseIdentifier(kind: IdentifierKind, raw: string, options: NormaliseOptions = {}): Identifier | null {
  const value = normaliseIdentifierValue(kind, raw, options);
  return value === null ? null : { kind, value };
}

export const isIdentifierKind = (s: string): s is IdentifierKind => (IDENTIFIER_KINDS as readonly string[]).includes(s);

/** "kind:value", the key under which an identifier is unique. */
export const identifierKey = (id: Identifier): string => `${id.kind}:${id.value}`;
