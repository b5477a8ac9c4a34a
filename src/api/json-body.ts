/**
 * JSON request bodies: express.json(), with a shorter path for the plain case every storefront
 * client sends (Content-Type application/json, utf-8 or no charset, no Content-Encoding, a
 * Content-Length within the limit): read the bytes, decode, parse, exactly as body-parser would
 * (BOM dropped, empty body = {}, only an object or array at the top, the same error types for the
 * error handler), at a fraction of its per-request cost. Anything else (chunked, compressed, other
 * types or charsets, oversized) goes to express.json() itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';

/** A request whose body has been read (as Express's parsers leave it). */
export type WithBody = IncomingMessage & { body?: unknown };
/** Reads the body into req.body, then next(); next(err) with body-parser's error on failure. */
export type BodyReader = (req: WithBody, res: ServerResponse, next: (err?: unknown) => void) => void;

/** "64kb" → 65536 (body-parser's units: b, kb, mb; 1024-based); null when not of that form. */
export function limitBytes(limit: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb)?\s*$/i.exec(limit);
  if (!m) return null;
  const unit = { b: 1, kb: 1024, mb: 1024 * 1024 }[(m[2] ?? 'b').toLowerCase() as 'b' | 'kb' | 'mb'];
  return Math.floor(Number(m[1]) * unit);
}

const PLAIN_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);
const isPlainType = (type: string | undefined) => type === 'application/json' || (type !== undefined && PLAIN_TYPES.has(type.toLowerCase()));

/** An error the app's error handler maps like body-parser's (by `type` and `status`). */
function bodyError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, type, expose: true });
}

/** body-parser's strict JSON: '' → {}, the first non-blank character must open an object or array. */
export function parseStrictJson(text: string): unknown {
  if (text.length === 0) return {};
  if (text[0] !== '{' && text[0] !== '[') {
    const first = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d]|$)/.exec(text)?.[1];
    if (first !== '{' && first !== '[') throw bodyError(400, 'entity.parse.failed', `Unexpected token in JSON body`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw bodyError(400, 'entity.parse.failed', (err as Error).message);
  }
}

/** On Node's own request (both dispatchers use it; express.json() needs no Express helpers either). */
export function jsonBody(options: { limit: string }): BodyReader {
  const general = express.json({ limit: options.limit });
  const max = limitBytes(options.limit);
  return (req, res, next) => {
    const h = req.headers;
    const length = h['content-length'] === undefined ? NaN : Number(h['content-length']);
    const plain =
      max !== null &&
      h['transfer-encoding'] === undefined &&
      (h['content-encoding'] === undefined || h['content-encoding'].toLowerCase() === 'identity') &&
      Number.isInteger(length) &&
      length >= 0 &&
      length <= max &&
      isPlainType(h['content-type']) &&
      !req.readableEnded;
    if (!plain) return general(req as Request, res as Response, next);
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (err: unknown, body?: unknown) => {
      if (done) return;
      done = true;
      if (err) {
        // read off the rest of the request, as body-parser does, before answering
        req.resume();
        return next(err);
      }
      req.body = body;
      next();
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > length) finish(bodyError(400, 'request.size.invalid', 'request size did not match content length'));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (received !== length) return finish(bodyError(400, 'request.size.invalid', 'request size did not match content length'));
      let text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      try {
        finish(null, parseStrictJson(text));
      } catch (err) {
        finish(err);
      }
    });
    // a client that goes away mid-body: 'error' (ECONNRESET "aborted"); nobody is left to answer
    req.on('error', (err) => finish(Object.assign(err, { status: 400, statusCode: 400 })));
  };
}
