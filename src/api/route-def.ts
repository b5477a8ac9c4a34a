/**
 * One route of the API, declared once: path, scopes, zod schemas and handler. The Express
 * router and the OpenAPI document are both generated from the same list of RouteDefs.
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Scope } from './api-keys.js';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  req: Request;
  res: Response;
}

export interface RouteDef<P = any, Q = any, B = any> {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI-style path, e.g. "/v1/items/{sku}/similar". */
  path: string;
  summary: string;
  description?: string;
  tag: 'recommendations' | 'customers' | 'events' | 'admin' | 'operations';
  /** Scopes admitted (any one); null = no API key needed. */
  scopes: readonly Scope[] | null;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  response: z.ZodType;
  /** Other statuses the route documents besides 200 and the common errors. */
  extraResponses?: Record<string, string>;
  /** Returns the JSON body (status 200), or writes the response itself and returns undefined. */
  handler: (input: RouteInput<P, Q, B>) => Promise<unknown> | unknown;
}

/** Identity with inference of P/Q/B from the schemas. */
export const route = <P, Q, B>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> => def;

/** "/v1/items/{sku}/similar" → "/v1/items/:sku/similar". */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');
