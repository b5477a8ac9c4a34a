/**
 * The one place errors become HTTP: typed errors of src/core/errors.ts → status codes,
 * body-parser errors (bad JSON 400, too large 413), everything else 500 (logged, never
 * echoed). Bodies are always JSON `{error, message, ...}`.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import {
  AppError,
  InvalidArgumentError,
  ModelFitError,
  NotFoundError,
  NotSupportedError,
  UnavailableError,
} from '../core/errors.js';
import type { Logger } from './logger.js';

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
  if (err instanceof NotSupportedError) return { status: 501, error: 'not_supported' };
  if (err instanceof UnavailableError) return { status: 503, error: 'unavailable' };
  if (err instanceof ModelFitError) return { status: 500, error: 'internal' };
  return { status: 500, error: 'internal' };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', message: `no route ${req.method} ${req.path}` });
};

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const reqId = res.locals.reqId as string | undefined;
    if (err instanceof ZodError) err = validationError('body', err);
    if (err instanceof AppError) {
      const { status, error } = statusOf(err);
      if (status >= 500) logger.error('request failed', { reqId, err });
      if (err instanceof UnavailableError) res.set('Retry-After', String(err.context.retryAfterS ?? 5));
      const fields = (err.context as { fields?: FieldIssue[] }).fields;
      res.status(status).json({ error, message: status === 500 ? 'internal error' : err.message, ...(fields ? { fields } : {}), reqId });
      return;
    }
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
    const status = e.status ?? e.statusCode;
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'payload_too_large', message: 'request body too large', reqId });
      return;
    }
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid_json', message: 'body: not valid JSON', fields: [{ field: 'body', message: 'not valid JSON' }], reqId });
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: 'bad_request', message: e.message ?? 'bad request', reqId });
      return;
    }
    logger.error('unhandled error', { reqId, err });
    res.status(500).json({ error: 'internal', message: 'internal error', reqId });
  };
}
