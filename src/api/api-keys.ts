/**
 * API keys with scopes, from API_KEYS ("key1:storefront+associate,key2:admin"), sent by
 * clients in the `x-api-key` header. Missing or unknown key → 401, a key without any of the
 * route's scopes → 403, both with a JSON body {error, message}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError } from '../core/errors.js';
import { writeJson } from './json-response.js';

export const SCOPES = ['storefront', 'associate', 'events', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** key → scopes. */
export type ApiKeys = Map<string, ReadonlySet<Scope>>;

/** Parses API_KEYS; throws InvalidArgumentError naming the bad entry. */
export function parseApiKeys(text: string): ApiKeys {
  const keys: ApiKeys = new Map();
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.lastIndexOf(':');
    const key = at > 0 ? entry.slice(0, at) : '';
    const scopes = at > 0 ? entry.slice(at + 1).split('+').map((s) => s.trim()).filter(Boolean) : [];
    if (!key || key.length < 8) {
      throw new InvalidArgumentError(`API_KEYS: entry "${mask(entry)}" must be "<key of 8+ chars>:<scope>+<scope>"`, { field: 'API_KEYS' });
    }
    const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || bad.length) {
      throw new InvalidArgumentError(`API_KEYS: key "${mask(key)}" has unknown or no scopes (${bad.join(', ') || 'none'}); allowed: ${SCOPES.join(', ')}`, {
        field: 'API_KEYS',
      });
    }
    keys.set(key, new Set(scopes as Scope[]));
  }
  return keys;
}

const mask = (s: string) => (s.length <= 4 ? '****' : `${s.slice(0, 2)}…${s.slice(-2)}`);

/**
 * Whether the request's key holds one of `scopes` (auth null = disabled); on refusal the 401/403
 * is written and false returned. The app calls it inline in each route's handler (one layer less).
 */
export function admitted(keys: ApiKeys | null, scopes: readonly Scope[], req: IncomingMessage, res: ServerResponse): boolean {
  if (!keys) return true;
  const key = req.headers['x-api-key'];
  if (!key) {
    writeJson(req, res, 401, { error: 'unauthorized', message: 'missing API key: send it in the x-api-key header' });
    return false;
  }
  const held = typeof key === 'string' ? keys.get(key) : undefined;
  if (!held) {
    writeJson(req, res, 401, { error: 'unauthorized', message: 'unknown API key' });
    return false;
  }
  if (!scopes.some((s) => held.has(s))) {
    writeJson(req, res, 403, {
      error: 'forbidden',
      message: `this API key lacks the scope for this route: needs ${scopes.join(' or ')}, has ${[...held].join(', ')}`,
    });
    return false;
  }
  return true;
}

/** Whether the request carries a key holding `scope` (no answer is written; for routes that show more to some keys). */
export function hasScope(keys: ApiKeys, scope: Scope, req: IncomingMessage): boolean {
  const key = req.headers['x-api-key'];
  return typeof key === 'string' && keys.get(key)?.has(scope) === true;
}
