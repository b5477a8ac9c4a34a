/**
 * The part of the configuration that opening the history store needs (DATABASE_URL, PGLITE_DIR, the identity
 * and consent policies, the erasure key, DEFAULT_COUNTRY_CODE), parsed without zod: `npm run import` reads
 * only these, and loading zod (about 100 modules) was a tenth of its start-up. The rules are the ones of
 * src/config.ts (which shares CONSENT_DEFAULTS' parser and these constants with this module); a test checks
 * that both agree, value for value and error for error (test/config.test.ts).
 */
import { setDefaultCountryCode } from './core/identity.js';
import { CONSENT_PURPOSES, type ConsentPurpose } from './core/records.js';

/** The public development default of ERASURE_KEY (warned about at start when in use). */
export const DEV_ERASURE_KEY = 'omnirec-dev-erasure-key-change-me';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A URL, or a comma-separated list of them, without passwords (for messages and logs). */
export const redactUrl = (url: string) => url.replace(/\/\/([^:@/,]*):[^@/,]*@/g, '//$1:***@');

/** DEFAULT_COUNTRY_CODE's rule and message. */
export const COUNTRY_CODE = /^[1-9]\d{0,2}$/;
export const COUNTRY_CODE_MESSAGE = '1 to 3 digits, no leading 0 or +';
/** ERASURE_KEY's shortest length. */
export const ERASURE_KEY_MIN = 16;
/** MAX_IDENTIFIERS_PER_CUSTOMER's range. */
export const MAX_IDENTIFIERS_RANGE = [1, 10_000] as const;
/** The message of a URL variable whose scheme is not one of `schemes`. */
export const urlMessage = (schemes: string[]) => `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`;

/** CONSENT_DEFAULTS: "purpose:granted|refused,…" → the purposes granted by default (each purpose once), or what is wrong. */
export function parseConsentDefaults(value: string): Partial<Record<ConsentPurpose, boolean>> | { error: string } {
  const out: Partial<Record<ConsentPurpose, boolean>> = {};
  for (const entry of value.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const m = /^([a-z]+)\s*:\s*(granted|refused)$/.exec(entry);
    if (!m || !(CONSENT_PURPOSES as readonly string[]).includes(m[1])) {
      return { error: `"${entry}": expected purpose:granted or purpose:refused, purpose one of ${CONSENT_PURPOSES.join(', ')}` };
    }
    if (m[1] in out) return { error: `purpose ${m[1]} given twice` };
    out[m[1] as ConsentPurpose] = m[2] === 'granted';
  }
  return out;
}

/** What opening the store needs (a subset of Config, src/config.ts, with the same values). */
export interface StoreConfig {
  DATABASE_URL?: string;
  PGLITE_DIR: string;
  DEFAULT_COUNTRY_CODE: string;
  MAX_IDENTIFIERS_PER_CUSTOMER: number;
  CONSENT_DEFAULTS: Partial<Record<ConsentPurpose, boolean>>;
  ERASURE_KEY: string;
}

/** The store's variables of an environment (empty = unset); throws ConfigError naming each bad one, as parseConfig does. */
export function parseStoreConfig(env: Record<string, string | undefined> = process.env): StoreConfig {
  const get = (k: string): string | undefined => (env[k] === '' ? undefined : env[k]);
  const issues: string[] = [];
  const bad = (key: string, message: string) => issues.push(`  ${key}=${JSON.stringify(redactUrl(get(key) as string))}: ${message}`);

  const DATABASE_URL = get('DATABASE_URL');
  if (DATABASE_URL !== undefined && !['postgres', 'postgresql'].some((s) => DATABASE_URL.startsWith(`${s}://`))) bad('DATABASE_URL', urlMessage(['postgres', 'postgresql']));
  const DEFAULT_COUNTRY_CODE = get('DEFAULT_COUNTRY_CODE') ?? '44';
  if (!COUNTRY_CODE.test(DEFAULT_COUNTRY_CODE)) bad('DEFAULT_COUNTRY_CODE', COUNTRY_CODE_MESSAGE);
  // as z.coerce.number().int().min().max(): Number() of the text
  const rawMax = get('MAX_IDENTIFIERS_PER_CUSTOMER');
  const MAX_IDENTIFIERS_PER_CUSTOMER = rawMax === undefined ? 20 : Number(rawMax);
  if (!Number.isInteger(MAX_IDENTIFIERS_PER_CUSTOMER) || MAX_IDENTIFIERS_PER_CUSTOMER < MAX_IDENTIFIERS_RANGE[0] || MAX_IDENTIFIERS_PER_CUSTOMER > MAX_IDENTIFIERS_RANGE[1]) {
    bad('MAX_IDENTIFIERS_PER_CUSTOMER', `must be an integer from ${MAX_IDENTIFIERS_RANGE[0]} to ${MAX_IDENTIFIERS_RANGE[1]}`);
  }
  const rawConsent = get('CONSENT_DEFAULTS');
  const consent = rawConsent === undefined ? {} : parseConsentDefaults(rawConsent);
  if ('error' in consent) bad('CONSENT_DEFAULTS', consent.error as string);
  const ERASURE_KEY = get('ERASURE_KEY') ?? DEV_ERASURE_KEY;
  if (ERASURE_KEY.length < ERASURE_KEY_MIN) bad('ERASURE_KEY', `at least ${ERASURE_KEY_MIN} characters`);
  if (issues.length > 0) throw new ConfigError(`invalid configuration:\n${issues.join('\n')}`);
  return {
    DATABASE_URL,
    PGLITE_DIR: get('PGLITE_DIR') ?? '.data/pglite',
    DEFAULT_COUNTRY_CODE,
    MAX_IDENTIFIERS_PER_CUSTOMER,
    CONSENT_DEFAULTS: consent as Partial<Record<ConsentPurpose, boolean>>,
    ERASURE_KEY,
  };
}

let cached: StoreConfig | undefined;
/** The process's store configuration, parsed once (DEFAULT_COUNTRY_CODE then applies to every phone number normalised). */
export function storeConfig(): StoreConfig {
  if (cached === undefined) {
    cached = parseStoreConfig();
    setDefaultCountryCode(cached.DEFAULT_COUNTRY_CODE);
  }
  return cached;
}
