/**
 * Request id in/out (x-request-id), one JSON log line per request and the latency histogram per
 * route, on Node's own request/response objects: the same function starts every request, whichever
 * dispatcher (dispatch.ts or Express) answers it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse } from 'node:url';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './service-metrics.js';

const REQ_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ROUTE = Symbol('route');
type Tagged = ServerResponse & { [ROUTE]?: string };

/** Marks the response with the route answering it (its OpenAPI path; "unmatched" otherwise). */
export function tagRoute(res: ServerResponse, path: string): void {
  (res as Tagged)[ROUTE] = path;
}

/** A URL's characters for which parseurl (Express's req.path) leaves its fast split for url.parse. */
const UNUSUAL = /[\t\n\f\r #\u00a0\ufeff]/;

/**
 * An origin-form URL with none of those characters, split as parseurl splits it: the path, and the
 * query after the first "?" ("" when none); null for any other URL.
 */
export function splitPlainUrl(url: string): { path: string; query: string } | null {
  if (url.charCodeAt(0) !== 0x2f || UNUSUAL.test(url)) return null;
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** Express's req.path for any request URL. */
const pathOf = (url: string): string => splitPlainUrl(url)?.path ?? parse(url).pathname ?? '';

/** The request's id (given, if well-formed, or new), as set on its response. */
export const requestId = (res: ServerResponse) => res.getHeader('x-request-id') as string | undefined;

export function requestLog(logger: Logger, metrics: ServiceMetrics): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const reqId = typeof given === 'string' && REQ_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', reqId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const route = (res as Tagged)[ROUTE] ?? 'unmatched';
      const method = req.method!;
      metrics.httpDuration.observe({ method, route, status: String(res.statusCode) }, ms / 1000);
      const level = res.statusCode >= 500 ? 'error' : 'info';
      logger[level]('request', { reqId, method, path: pathOf(req.url!), route, status: res.statusCode, ms: Math.round(ms * 100) / 100 });
    });
  };
}
