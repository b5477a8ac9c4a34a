/**
 * Identifier normalisation: the one place that decides when two spellings of an
 * identifier are the same person's. Pure, no I/O.
 *
 * - email: trimmed and lower-cased; must look like local@domain.tld.
 * - phone: digits only, with the country code: "+1 (555) 010-9999" → "15550109999";
 *   a national number with a trunk "0" gets the default country code: "07700 900123" → "447700900123";
 *   "00" international prefix is dropped; "+44 (0) 7700…" drops the bracketed trunk 0. 7 to 15 digits (E.164);
 *   letters are invalid.
 *   "0044 (0)7700 900123", "+44 (0)7700 900123" and "07700 900123" (default country code 44) are one number.
 * - account, loyalty, device, external: trimmed, taken as given (no inner control characters).
 * - placeholders are no one's identifier and are dropped like invalid values (PLACEHOLDERS below:
 *   "none@none.com", "test@test.com", "n/a", "unknown", "0000000000", …).
 * Values are detached from the text they were cut from (src/core/detach-string.ts): they are kept as keys.
 */
import { detachString } from './detach-string.js';
import { IDENTIFIER_KINDS, type Identifier, type IdentifierKind } from './records.js';

export interface NormaliseOptions {
  /** Country calling code for national phone numbers (digits, e.g. "44"). Default: setDefaultCountryCode's, "44" until set. */
  defaultCountryCode?: string;
}

let processCountryCode = '44';
/** The country code national numbers get when a caller passes none (the service sets DEFAULT_COUNTRY_CODE at start). */
export function setDefaultCountryCode(code: string): void {
  if (!/^[1-9]\d{0,2}$/.test(code)) throw new Error(`invalid country code ${JSON.stringify(code)}`);
  processCountryCode = code;
}

/**
 * Values that stand for "no identifier" in retailers' exports (documented in docs/data-formats.md),
 * compared after normalisation: the same for every kind.
 */
export const PLACEHOLDERS: ReadonlySet<string> = new Set([
  // emails
  'none@none.com', 'test@test.com', 'no@email.com', 'noemail@noemail.com', 'noemail@email.com', 'email@email.com',
  'na@na.com', 'a@a.com', 'x@x.com', 'xx@xx.com', 'example@example.com', 'user@example.com', 'unknown@unknown.com',
  'noreply@noreply.com', 'no-reply@no-reply.com', 'nobody@nowhere.com', 'customer@customer.com', 'guest@guest.com',
  // opaque ids (account, loyalty, device, external), lower-cased
  'n/a', 'na', 'n.a.', 'none', 'null', 'nil', 'unknown', 'undefined', 'test', 'guest', 'anonymous', 'tbc', 'tba',
  '-', '--', '?', '0', 'x', 'xx', 'xxx', '#n/a', 'nan', 'not provided', 'not available', 'no', 'blank',
]);

/** Whether a phone number's digits are a filler: one digit repeated ("0000000000") or a run ("1234567890"). */
function placeholderDigits(d: string): boolean {
  if (/^(\d)\1*$/.test(d)) return true;
  return d.length >= 6 && ('01234567890123456789'.includes(d) || '98765432109876543210'.includes(d));
}

/** Why a raw identifier is dropped: not a value of its kind, or a placeholder. */
export type IdentifierDrop = 'invalid_identifier' | 'placeholder_identifier';

/** The normalised value of a raw identifier, or why it is dropped. */
export function classifyIdentifier(kind: IdentifierKind, raw: string, options: NormaliseOptions = {}): { value: string } | { dropped: IdentifierDrop } {
  const trimmed = raw.trim();
  if (PLACEHOLDERS.has(trimmed.toLowerCase())) return { dropped: 'placeholder_identifier' };
  if (kind === 'phone') {
    const digits = trimmed.replace(/\D/g, '');
    if (digits.length > 0 && PHONE_CHARS.test(trimmed) && (placeholderDigits(digits) || placeholderDigits(digits.replace(/^0+/, '')))) {
      return { dropped: 'placeholder_identifier' };
    }
  }
  const value =
    kind === 'email' ? normaliseEmail(trimmed) : kind === 'phone' ? normalisePhone(trimmed, options.defaultCountryCode ?? processCountryCode) : normaliseOpaqueId(trimmed);
  if (value === null) return { dropped: 'invalid_identifier' };
  if (PLACEHOLDERS.has(value.toLowerCase())) return { dropped: 'placeholder_identifier' };
  return { value };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_CHARS = /^\+?[\d\s().\-/]+$/;

/** Lower-cased, trimmed email, or null when it is not an email address. */
export function normaliseEmail(raw: string): string | null {
  const v = raw.trim().toLowerCase();
  return EMAIL.test(v) ? detachString(v) : null;
}

/** Digits with country code, or null when it is not a phone number. */
export function normalisePhone(raw: string, defaultCountryCode = processCountryCode): string | null {
  const v = raw.trim();
  if (!PHONE_CHARS.test(v)) return null;
  // international: "+44…" or "0044…" (the 00 international prefix); "+44 (0) 7700 900123": the bracketed
  // trunk zero is not dialled from abroad
  const intl = v.startsWith('+') ? v.slice(1) : /^00/.test(v) ? v.slice(2) : null;
  let digits = (intl !== null ? intl.replace(/\(0\)/g, '') : v).replace(/\D/g, '');
  if (intl !== null) {
    // already international
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

/** The normalised value of one identifier, or null when the raw value is invalid for its kind or a placeholder. */
export function normaliseIdentifierValue(kind: IdentifierKind, raw: string, options: NormaliseOptions = {}): string | null {
  const c = classifyIdentifier(kind, raw, options);
  return 'value' in c ? c.value : null;
}

/** A normalised Identifier, or null when invalid. */
export function normaliseIdentifier(kind: IdentifierKind, raw: string, options: NormaliseOptions = {}): Identifier | null {
  const value = normaliseIdentifierValue(kind, raw, options);
  return value === null ? null : { kind, value };
}

export const isIdentifierKind = (s: string): s is IdentifierKind => (IDENTIFIER_KINDS as readonly string[]).includes(s);

/** "kind:value", the key under which an identifier is unique. */
export const identifierKey = (id: Identifier): string => `${id.kind}:${id.value}`;
