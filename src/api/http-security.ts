/**
 * Headers every response carries, whichever dispatcher answers it (dispatch.ts or Express):
 * helmet's security headers, set for a JSON API (Content-Security-Policy `default-src 'none';
 * frame-ancestors 'none'`, nosniff, no referrer, HSTS, …), and CORS (the cors package) for the
 * storefront origins of CORS_ORIGINS. helmet's headers do not depend on the request, so its
 * middleware is run once at start against a recorder and the list it set is applied to each
 * response; cors runs per request (its answer depends on Origin). Preflights (OPTIONS) go to
 * Express, where the same cors middleware answers them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';
import helmet from 'helmet';
import { InvalidArgumentError } from '../core/errors.js';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The headers helmet sets, in its order (computed once). */
export function helmetHeaders(): [string, string][] {
  const headers: [string, string][] = [];
  const recorder = { setHeader: (name: string, value: string) => void headers.push([name, value]), removeHeader: () => {} };
  const mw = helmet({ contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }) as unknown as Middleware;
  mw({} as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return headers;
}

/** The cors middleware for these origins (exact matches), or null when none are configured. */
export function corsMiddleware(origins: readonly string[]): Middleware | null {
  if (origins.length === 0) return null;
  return cors({
    origin: [...origins],
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    allowedHeaders: ['content-type', 'x-api-key', 'authorization', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
  }) as unknown as Middleware;
}

/**
 * Sets the security and CORS headers on a response. `next` is called when the request goes on
 * (always, but for a CORS preflight, which cors answers itself with 204).
 */
export function securityHeaders(options: { corsOrigins?: readonly string[] } = {}): Middleware {
  const fixed = helmetHeaders();
  const corsMw = corsMiddleware(options.corsOrigins ?? []);
  return (req, res, next) => {
    for (const [name, value] of fixed) res.setHeader(name, value);
    if (corsMw) corsMw(req, res, next);
    else next();
  };
}

/** Parses CORS_ORIGINS: comma-separated origins ("https://shop.example.com,https://m.example.com"). */
export function parseCorsOrigins(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((o) => {
      const u = URL.canParse(o) ? new URL(o) : null;
      if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.origin !== o) {
        throw new InvalidArgumentError(`CORS_ORIGINS: "${o}" is not an origin (scheme://host[:port], no path or trailing slash)`, { field: 'CORS_ORIGINS' });
      }
      return o;
    });
}
