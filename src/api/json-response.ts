/**
 * JSON (and text) responses written on Node's own response object, so that the dispatcher in front of Express
 * (dispatch.ts) and Express itself share them: the bytes and headers of Express's res.json(body)
 * (Content-Type application/json; charset=utf-8, Content-Length; no ETag: disabled; HEAD: headers
 * only) without its generic send path. One difference by design: a GET carrying
 * `If-None-Match: *` gets the 200, not the 304 res.json would answer (no ETag is ever sent).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** JSON of frozen bodies (shared lists, see src/serve/list-cache.ts), made once per object. */
const serialised = new WeakMap<object, string>();

function serialise(body: object): string {
  let text = serialised.get(body);
  if (text === undefined) {
    text = JSON.stringify(body);
    if (Object.isFrozen(body)) serialised.set(body, text);
  }
  return text;
}

export function writeJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'object' && body !== null ? serialise(body) : JSON.stringify(body);
  writeJsonText(req, res, status, text);
}

/** writeJson of a body already serialised (`text` is its JSON). */
export function writeJsonText(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  writeText(req, res, status, 'application/json; charset=utf-8', text);
}

/** res.type(type).send(text) for a type that names its charset: Content-Type as given, Content-Length. */
export function writeText(req: IncomingMessage, res: ServerResponse, status: number, type: string, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (req.method === 'HEAD') res.end();
  else res.end(text);
}
