/**
 * One route of the API, declared once: path, scopes, zod schemas and handler. The dispatcher
 * (dispatch.ts), the Express router and the OpenAPI document are all generated from the same
 * list of RouteDefs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Scope } from './api-keys.js';
import type { CustomerRef } from './customer-token.js';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Node's own request/response (no Express helpers: both dispatchers call the handler). */
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborted once the request deadline has passed (the client was answered 503): start nothing more. */
  signal: AbortSignal;
}

/**
 * A handler's input, its signal made on first use (Deadline.signal). A class instance, not an object
 * literal with a `get signal()` closing over the deadline: with that literal, ~30 % of the bytes every
 * request allocated (req, res, params, … as well) survived young-generation collections and were
 * promoted, whatever the semi-space size, until the next mark-compact; with the class, 0–1 %
 * (measured with --trace-gc-nvp on the service under wrk; BENCHMARKS.md, section session-p99).
 */
export class HandlerInput implements RouteInput<unknown, unknown, unknown> {
  constructor(
    readonly params: unknown,
    readonly query: unknown,
    readonly body: unknown,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly deadline: { readonly signal: AbortSignal },
  ) {}
  get signal(): AbortSignal {
    return this.deadline.signal;
  }
}


export interface RouteDef<P = any, Q = any, B = any> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI-style path, e.g. "/v1/items/{sku}/similar". */
  path: string;
  summary: string;
  description?: string;
  tag: 'recommendations' | 'offers' | 'customers' | 'events' | 'admin' | 'operations';
  /** Scopes admitted (any one); null = no API key needed. */
  scopes: readonly Scope[] | null;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  response: z.ZodType;
  /**
   * Answers about one person: sent with `Cache-Control: no-store`. Default: a path under
   * /customers/, or tag customers or events (a request naming a customer is no-store whatever this says).
   */
  personal?: boolean;
  /**
   * Whom a (validated) request is about, for customer tokens (customer-token.ts) and no-store; null = nobody.
   * Default: params.id on /customers/{id} paths, else query or body customerId.
   */
  customer?: (input: { params: P; query: Q; body: B }) => CustomerRef | null;
  /** Other statuses the route documents besides 200 and the common errors. */
  extraResponses?: Record<string, string>;
  /** Returns the JSON body (status 200), or writes the response itself (json-response.ts) and returns undefined. */
  handler: (input: RouteInput<P, Q, B>) => Promise<unknown> | unknown;
}

/** Identity with inference of P/Q/B from the schemas. */
export const route = <P, Q, B>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> => def;

/** RouteDef.personal with its default. */
export const isPersonal = (def: RouteDef) => def.personal ?? (def.path.includes('/customers/') || def.tag === 'customers' || def.tag === 'events');

/** RouteDef.customer with its default. */
export function customerOf(def: RouteDef): (input: { params: any; query: any; body: any }) => CustomerRef | null {
  if (def.customer) return def.customer;
  if (def.path.includes('/customers/{id}')) return ({ params }) => ({ id: params.id });
  return ({ query, body }) => {
    const id = query?.customerId ?? body?.customerId;
    return typeof id === 'string' ? { id } : null;
  };
}

/** "/v1/items/{sku}/similar" → "/v1/items/:sku/similar". */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');
