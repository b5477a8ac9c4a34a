/**
 * Customer tokens: what a key flagged `token` (api-keys.ts) must send with every call about a
 * customer, so that an app or a browser holding that key reads only its own person's lists and
 * cannot walk through customer ids. The token is a JWT signed with HS256 by the retailer's own
 * login with the shared secret CUSTOMER_TOKEN_SECRET, sent as `Authorization: Bearer <token>`,
 * with `sub` = the customer's unified id or one of their identifiers (`email:ann@example.com`,
 * `loyalty:L-777`, `phone:…`, `account:…`, `device:…`, `external:…`) and `exp`. It is verified
 * with jose (algorithm pinned to HS256; `sub` and `exp` required; 30 s of clock tolerance).
 *
 * The token's customer and the customer asked about are compared after merges (both resolved to
 * their surviving unified id), so a token issued before two accounts were merged still works:
 *   no token → 401 customer_token_required; bad signature, malformed, expired → 401 invalid_customer_token;
 *   another (or no known) customer → 403 forbidden; store down while resolving → 503 with Retry-After.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors as joseErrors, jwtVerify } from 'jose';
import { UnavailableError } from '../core/errors.js';
import { normaliseIdentifierValue } from '../core/identity.js';
import { IDENTIFIER_KINDS, type Identifier, type IdentifierKind } from '../core/records.js';
import type { CustomerAccessCache } from '../serve/customer-access.js';
import type { Store } from '../store/store.js';
import { writeJson } from './json-response.js';

/** Whom a request is about: a unified customer id, or an identifier (normalised or not: it is normalised here). */
export type CustomerRef = { id: string } | Identifier;

/** Checks the request's customer token against the customer asked about; false = answered (401/403). */
export type CustomerTokenCheck = (req: IncomingMessage, res: ServerResponse, about: CustomerRef) => Promise<boolean>;

/** `sub` → a CustomerRef: "<kind>:<value>" for an identifier kind, else a customer id. */
export function subjectRef(sub: string): CustomerRef {
  const at = sub.indexOf(':');
  const kind = at > 0 ? sub.slice(0, at) : '';
  if ((IDENTIFIER_KINDS as readonly string[]).includes(kind)) return { kind: kind as IdentifierKind, value: sub.slice(at + 1) };
  return { id: sub };
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9_\-.=]+)[ \t]*$/i;

export function customerTokenCheck(options: {
  secret: string;
  store: Pick<Store, 'findCustomer'>;
  access: Pick<CustomerAccessCache, 'resolve'>;
  defaultCountryCode?: string;
}): CustomerTokenCheck {
  const key = new TextEncoder().encode(options.secret);
  const { store, access } = options;

  /** The surviving unified id of a reference; null when unknown; UnavailableError when the store cannot tell. */
  async function canonical(ref: CustomerRef): Promise<string | null> {
    if ('id' in ref) {
      const a = await access.resolve(ref.id);
      if (a.status === 'store_unavailable') throw new UnavailableError('cannot check the customer token: the history store is unavailable', { retryAfterS: 5 });
      return a.status === 'unknown_customer' ? null : a.customerId;
    }
    const value = normaliseIdentifierValue(ref.kind, ref.value, { defaultCountryCode: options.defaultCountryCode });
    if (value === null) return null;
    try {
      return await store.findCustomer({ kind: ref.kind, value });
    } catch {
      throw new UnavailableError('cannot check the customer token: the history store is unavailable', { retryAfterS: 5 });
    }
  }

  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, error: string, message: string) => {
    writeJson(req, res, status, { error, message });
    return false;
  };

  return async (req, res, about) => {
    const header = req.headers.authorization;
    if (!header) {
      return refuse(req, res, 401, 'customer_token_required', 'this API key needs a customer token for calls about a customer: send "Authorization: Bearer <token>"');
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) return refuse(req, res, 401, 'invalid_customer_token', 'the Authorization header must be "Bearer <token>"');
    let sub: string;
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'], clockTolerance: 30 });
      sub = payload.sub!;
    } catch (err) {
      const why =
        err instanceof joseErrors.JWTExpired
          ? 'the customer token has expired'
          : err instanceof joseErrors.JWSSignatureVerificationFailed
            ? 'the customer token signature does not verify'
            : err instanceof joseErrors.JWTClaimValidationFailed
              ? `the customer token's claims are not valid (${err.claim}: ${err.reason})`
              : 'the customer token is malformed or not an HS256 JWT';
      return refuse(req, res, 401, 'invalid_customer_token', why);
    }
    const mine = subjectRef(sub);
    if ('id' in mine && 'id' in about && mine.id === about.id) return true;
    const [a, b] = await Promise.all([canonical(mine), canonical(about)]);
    if (a === null) return refuse(req, res, 403, 'forbidden', 'the customer token names no known customer');
    if (a !== b) return refuse(req, res, 403, 'forbidden', 'the customer token is for another customer');
    return true;
  };
}
