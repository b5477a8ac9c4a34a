/**
 * API keys with scopes, from API_KEYS, sent by clients in the `x-api-key` header. An entry is
 * `<key>:<scope>+<scope>` (the key itself, 8+ characters) or `sha256:<64 hex>:<scope>+<scope>` (the
 * SHA-256 of the key, so the configuration holds no usable secret). Besides the scopes an entry may
 * carry the flag `token`: that key must send a customer token with every call about a customer
 * (customer-token.ts), the setting for a key shipped in a mobile app or a browser.
 *
 * Every presented key is hashed and compared with every configured hash by crypto.timingSafeEqual
 * (no early exit), so neither the time of a comparison nor which entry matched leaks. Missing or
 * unknown key → 401, a key without any of the route's scopes → 403, both with a JSON body {error, message}.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError } from '../core/errors.js';
import { writeJson } from './json-response.js';

export const SCOPES = ['storefront', 'associate', 'events', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
/** Flags an entry may carry beside its scopes. */
export const KEY_FLAGS = ['token'] as const;

export interface ApiKey {
  /** The first 12 hex digits of the key's SHA-256: names the key in logs, rate limits and RATE_LIMITS. */
  id: string;
  scopes: ReadonlySet<Scope>;
  /** Calls about a customer need a customer token (flag `token`). */
  customerToken: boolean;
}

interface Entry extends ApiKey {
  hash: Buffer;
}

/** One-shot SHA-256 (crypto.hash: a third of createHash's cost per request). */
const sha256 = (text: string): Buffer => hash('sha256', text, 'buffer');

/** The configured keys; find() compares in constant time. */
export class ApiKeys {
  private readonly entries: Entry[];
  constructor(entries: Entry[]) {
    this.entries = entries;
  }
  get size(): number {
    return this.entries.length;
  }
  /** Every configured key (without its hash). */
  list(): ApiKey[] {
    return this.entries.map(({ hash: _h, ...k }) => k);
  }
  /** The entry of a presented key, or undefined: every entry is compared, whichever matches. */
  find(presented: string): ApiKey | undefined {
    const hash = sha256(presented);
    let hit: Entry | undefined;
    for (const e of this.entries) if (timingSafeEqual(hash, e.hash)) hit = e;
    return hit;
  }
}

/** The API_KEYS entry for a key given as its hash: what `npm run api-key` prints. */
export const hashedEntry = (key: string, scopes: readonly string[]) => `sha256:${sha256(key).toString('hex')}:${scopes.join('+')}`;

const HASHED = /^sha256:([0-9a-fA-F]{64})$/;

/** Parses API_KEYS; throws InvalidArgumentError naming the bad entry (keys masked). */
export function parseApiKeys(text: string): ApiKeys {
  const entries: Entry[] = [];
  const fail = (message: string) => {
    throw new InvalidArgumentError(`API_KEYS: ${message}`, { field: 'API_KEYS' });
  };
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.lastIndexOf(':');
    const key = at > 0 ? entry.slice(0, at) : '';
    const words = at > 0 ? entry.slice(at + 1).split('+').map((s) => s.trim()).filter(Boolean) : [];
    const hashed = HASHED.exec(key);
    if (!hashed && key.startsWith('sha256:')) fail(`entry "${mask(entry)}": a hashed key is "sha256:<64 hex digits>:<scope>+<scope>"`);
    if (!key || key.length < 8) fail(`entry "${mask(entry)}" must be "<key of 8+ chars>:<scope>+<scope>" or "sha256:<hex>:<scope>+<scope>"`);
    const scopes = words.filter((w) => (SCOPES as readonly string[]).includes(w)) as Scope[];
    const bad = words.filter((w) => !(SCOPES as readonly string[]).includes(w) && !(KEY_FLAGS as readonly string[]).includes(w));
    if (scopes.length === 0 || bad.length) {
      fail(`key "${mask(key)}" has unknown or no scopes (${bad.join(', ') || 'none'}); allowed: ${SCOPES.join(', ')} (and the flag ${KEY_FLAGS.join(', ')})`);
    }
    const hash = hashed ? Buffer.from(hashed[1], 'hex') : sha256(key);
    const id = hash.toString('hex').slice(0, 12);
    if (entries.some((e) => e.id === id)) fail(`key "${mask(key)}" is listed twice`);
    entries.push({ id, hash, scopes: new Set(scopes), customerToken: words.includes('token') });
  }
  return new ApiKeys(entries);
}

const mask = (s: string) => (s.length <= 4 ? '****' : `${s.slice(0, 2)}…${s.slice(-2)}`);

/** What a route admits when auth is disabled or the route needs no key: every scope, no token. */
export const OPEN: ApiKey = Object.freeze({ id: 'open', scopes: new Set(SCOPES), customerToken: false });

/**
 * The request's key if it holds one of `scopes` (auth null = disabled: OPEN); on refusal the
 * 401/403 is written and null returned. Runs before the body is read.
 */
export function authenticate(keys: ApiKeys | null, scopes: readonly Scope[], req: IncomingMessage, res: ServerResponse): ApiKey | null {
  if (!keys) return OPEN;
  const presented = req.headers['x-api-key'];
  if (!presented) {
    writeJson(req, res, 401, { error: 'unauthorized', message: 'missing API key: send it in the x-api-key header' });
    return null;
  }
  const held = typeof presented === 'string' ? keys.find(presented) : undefined;
  if (!held) {
    writeJson(req, res, 401, { error: 'unauthorized', message: 'unknown API key' });
    return null;
  }
  if (!scopes.some((s) => held.scopes.has(s))) {
    writeJson(req, res, 403, {
      error: 'forbidden',
      message: `this API key lacks the scope for this route: needs ${scopes.join(' or ')}, has ${[...held.scopes].join(', ')}`,
    });
    return null;
  }
  return held;
}

/** Whether the request carries a key holding `scope` (no answer is written; for routes that show more to some keys). */
export function hasScope(keys: ApiKeys, scope: Scope, req: IncomingMessage): boolean {
  const key = req.headers['x-api-key'];
  return typeof key === 'string' && keys.find(key)?.scopes.has(scope) === true;
}
