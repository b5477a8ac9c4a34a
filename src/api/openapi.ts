/**
 * The OpenAPI 3.1 document, generated from the same RouteDefs (and zod schemas) that
 * validate requests, so the document cannot drift from the code.
 */
import { z } from 'zod';
import { ErrorResponse } from './schemas.js';
import type { RouteDef } from './route-def.js';

type JsonSchema = Record<string, unknown>;

const jsonSchema = (s: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** Parameters of an object schema (path or query), one per property. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }));
}

export function openApiDocument(routes: RouteDef[], info: { title: string; version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const error = { content: { 'application/json': { schema: jsonSchema(ErrorResponse, 'output') } } };
  for (const r of routes) {
    const responses: Record<string, JsonSchema> = {
      '200': { description: 'OK', content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } },
    };
    if (r.params || r.query || r.body) responses['400'] = { description: 'Invalid request (the message and `fields` name each bad field)', ...error };
    if (r.scopes) {
      responses['401'] = { description: 'Missing or unknown API key', ...error };
      responses['403'] = { description: `API key lacks the scope (${r.scopes.join(' or ')}), or the customer token is for another customer`, ...error };
      responses['429'] = { description: 'The API key is over its rate limit (RATE_LIMITS): retry after Retry-After seconds', ...error };
    }
    if (r.body) responses['413'] = { description: 'Body too large', ...error };
    for (const [code, description] of Object.entries(r.extraResponses ?? {})) responses[code] = { description, ...error };
    paths[r.path] ??= {};
    paths[r.path][r.method] = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      operationId: `${r.method}${r.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(\w)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(r.scopes ? { security: [{ apiKey: [] }], 'x-scopes': r.scopes } : { security: [] }),
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'Product recommendations for omnichannel retail.' },
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        customerToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'HS256 JWT from the retailer\'s login (sub = customer id or identifier, exp): required with keys flagged `token` on calls about a customer',
        },
      },
    },
    paths,
  };
}
