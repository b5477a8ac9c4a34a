/**
 * The one place errors become HTTP: typed errors of src/core/errors.ts → status codes,
 * body-parser errors (bad JSON 400, too large 413), everything else 500 (logged, never
 * echoed). Bodies are always JSON `{error, message, ...}`. failRequest works on Node's own
 * request/response, so both dispatchers (dispatch.ts and Express's errorHandler) answer with it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import {
  AppError,
  ConflictError,
  InvalidArgumentError,
  ModelFitError,
  NotFoundError,
  NotSupportedError,
  UnavailableError,
} from '../core/errors.js';
import { RETRY_AFTER_S } from '../core/deadline.js';
import { isUnavailable } from '../store/pg-client.js';
import { writeJson } from './json-response.js';
import type { Logger } from './logger.js';
import { requestId } from './request-log.js';

/** A field-level problem in a request. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** Turns zod issues into a 400-able error naming each field ("query.limit: Too big ..."). */
export function validationError(where: 'params' | 'query' | 'body', err: ZodError): InvalidArgumentError {
  const fields: FieldIssue[] = err.issues.map((i) => ({
    field: [where, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  const text = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  return new InvalidArgumentError(`invalid request: ${text}`, { fields });
}

function statusOf(err: AppError): { status: number; error: string } {
  if (err instanceof InvalidArgumentError) return { status: 400, error: 'invalid_request' };
  if (err instanceof NotFoundError) return { status: 404, error: 'not_found' };
  if (err instanceof ConflictError) return { status: 409, error: 'conflict' };
  if (err instanceof NotSupportedError) return { status: 501, error: 'not_supported' };
  if (err instanceof UnavailableError) return { status: 503, error: 'unavailable' };
  if (err instanceof ModelFitError) return { status: 500, error: 'internal' };
  return { status: 500, error: 'internal' };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  writeJson(req, res, 404, { error: 'not_found', message: `no route ${req.method} ${req.path}` });
};

/**
 * Answers a request that failed with `err`; when the response is already under way, logs and
 * cuts the connection (what Express's final handler does then).
 */
export function failRequest(err: unknown, req: IncomingMessage, res: ServerResponse, logger: Logger): void {
  const reqId = requestId(res);
  if (res.headersSent) {
    logger.error('request failed after the response started', { reqId, err });
    req.socket.destroy();
    return;
  }
  if (err instanceof ZodError) err = validationError('body', err);
  // a dependency's own error saying it is down or too slow (refused, reset, timed out): 503, retry
  if (!(err instanceof AppError) && (err as { status?: unknown })?.status === undefined && isUnavailable(err)) {
    err = new UnavailableError(`a dependency is unavailable: ${(err as Error).message}`, { retryAfterS: RETRY_AFTER_S });
  }
  if (err instanceof AppError) {
    const { status, error } = statusOf(err);
    // a dependency down or slow is not a bug: its reason without a stack (the request line says 503 too)
    if (err instanceof UnavailableError) logger.warn('dependency unavailable', { reqId, reason: err.message });
    else if (status >= 500) logger.error('request failed', { reqId, err });
    if (err instanceof UnavailableError) res.setHeader('Retry-After', String(err.context.retryAfterS ?? 5));
    const { fields, conflict } = err.context as { fields?: FieldIssue[]; conflict?: unknown };
    const named = err instanceof ConflictError ? { conflict } : {};
    writeJson(req, res, status, { error, message: status === 500 ? 'internal error' : err.message, ...(fields ? { fields } : {}), ...named, reqId });
    return;
  }
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  const status = e.status ?? e.statusCode;
  if (e.type === 'entity.too.large') {
    writeJson(req, res, 413, { error: 'payload_too_large', message: 'request body too large', reqId });
    return;
  }
  if (e.type === 'entity.parse.failed') {
    writeJson(req, res, 400, { error: 'invalid_json', message: 'body: not valid JSON', fields: [{ field: 'body', message: 'not valid JSON' }], reqId });
    return;
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    writeJson(req, res, status, { error: 'bad_request', message: e.message ?? 'bad request', reqId });
    return;
  }
  logger.error('unhandled error', { reqId, err });
  writeJson(req, res, 500, { error: 'internal', message: 'internal error', reqId });
}

/** failRequest as Express's error-handling middleware (errors of the requests Express dispatches). */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => failRequest(err, req, res, logger);
}
