/**
 * The API's dispatcher, in front of Express. Express's own per-request work (swapping the
 * prototypes of req/res, walking the router's layers, its response helpers) costs more CPU than
 * most of our handlers, and 50 connections queue behind it on one event loop. This listener
 * matches the API's routes itself and runs the same per-route function Express runs for them
 * (create-app.ts), on Node's own request/response, with the same request log, body reader and
 * error mapping; every request it does not take (other methods and paths, URLs parseurl would not
 * split plainly, parameters Express fails to decode) goes to the Express app untouched, which
 * still registers every route.
 *
 * Matching follows Express 5's router (router 2 / path-to-regexp 8, defaults): routes in
 * declaration order, the whole path case-insensitively, a parameter is one or more characters
 * other than "/", one trailing "/" allowed, HEAD answered by the GET route, parameters
 * percent-decoded (decodeURIComponent), the query parsed by node:querystring (Express's default
 * "simple" query parser) from what follows the first "?".
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { BodyReader, WithBody } from './json-body.js';
import { splitPlainUrl } from './request-log.js';
import type { RouteDef } from './route-def.js';

export interface CompiledRoute {
  def: RouteDef;
  /**
   * Runs before the body is read: route tag, API key, rate limit. False (or a promise of it) when
   * it answered the request itself (401, 403, 429): the body is then never read.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean>;
  /** Reads the JSON body first (routes that take one), or null. */
  body: BodyReader | null;
  /**
   * After the body: validation of params/query/body, the customer token (keys flagged `token`), the
   * handler and its response. Rejects with the error to map.
   */
  run(req: IncomingMessage, res: ServerResponse, params: unknown, query: unknown, body: unknown): Promise<void>;
}

export interface DispatchHooks {
  /** Starts every request taken here (request id, log line, metrics): requestLog. */
  start(req: IncomingMessage, res: ServerResponse): void;
  /** Answers a failed request: failRequest. */
  fail(err: unknown, req: IncomingMessage, res: ServerResponse): void;
  /** Everything else: the Express app. */
  fallback: RequestListener;
}

interface Matcher {
  route: CompiledRoute;
  pattern: RegExp;
  names: string[];
}

/** "/v1/items/{sku}/similar" → what path-to-regexp 8 makes of "/v1/items/:sku/similar" (non-strict, case-insensitive). */
export function compilePath(path: string): { pattern: RegExp; names: string[] } {
  // split() with a capturing group: literal text at even indices, parameter names at odd ones
  const parts = path.split(/\{(\w+)\}/);
  const names = parts.filter((_, i) => i % 2 === 1);
  const source = parts.map((part, i) => (i % 2 === 1 ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return { pattern: new RegExp(`^(?:${source})(?:/$)?$`, 'i'), names };
}

/** Decoded parameters, or null when one does not decode (Express answers that request: 400). */
function decodeParams(names: readonly string[], hit: RegExpExecArray): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const raw = hit[i + 1];
    if (raw.indexOf('%') === -1) params[names[i]] = raw;
    else {
      try {
        params[names[i]] = decodeURIComponent(raw);
      } catch {
        return null;
      }
    }
  }
  return params;
}

export function dispatcher(routes: readonly CompiledRoute[], hooks: DispatchHooks): RequestListener {
  const byMethod = new Map<string, Matcher[]>([['GET', []], ['POST', []], ['PUT', []], ['DELETE', []]]);
  for (const route of routes) byMethod.get(route.def.method.toUpperCase())!.push({ route, ...compilePath(route.def.path) });
  byMethod.set('HEAD', byMethod.get('GET')!);
  const { start, fail, fallback } = hooks;

  return (req: WithBody, res) => {
    const matchers = byMethod.get(req.method!);
    const url = splitPlainUrl(req.url!);
    if (matchers === undefined || url === null) return fallback(req, res);
    for (const m of matchers) {
      const hit = m.pattern.exec(url.path);
      if (hit === null) continue;
      const params = decodeParams(m.names, hit);
      if (params === null) break;
      start(req, res);
      const query = parseQuery(url.query);
      const run = (body: unknown) => m.route.run(req, res, params, query, body).catch((err: unknown) => fail(err, req, res));
      const read = m.route.body;
      const go = () => {
        if (read === null) void run(undefined);
        else read(req, res, (err) => (err ? fail(err, req, res) : void run(req.body)));
      };
      const admitted = m.route.admit(req, res);
      if (admitted === true) go();
      else if (admitted !== false) admitted.then((yes) => yes && go(), (err: unknown) => fail(err, req, res));
      return;
    }
    fallback(req, res);
  };
}
