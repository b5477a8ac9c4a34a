/**
 * The dispatcher in front of Express (src/api/dispatch.ts): the API's routes are answered without
 * Express, with the same bytes as Express answers them (status, headers but Date, body, log line);
 * everything else falls through to the Express app.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseApiKeys } from '../src/api/api-keys.js';
import { type App, createApp } from '../src/api/create-app.js';
import { compilePath, dispatcher } from '../src/api/dispatch.js';
import { writeJson, writeText } from '../src/api/json-response.js';
import { createLogger } from '../src/api/logger.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { UnavailableError } from '../src/core/errors.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import type { Store } from '../src/store/store.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const KEY = 'disp-key-0001';
const ADMIN = 'disp-adm-0001';
const NOW = Date.UTC(2026, 10, 1, 12);
const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** What the stand-in store's lookups do: answer, or throw. */
let lookup: () => Promise<string | null> = async () => null;

function world(): { app: App; logs: Record<string, unknown>[] } {
  const store = {
    async customerAccess(id: string) {
      return id === 'c-tea' ? { canonicalId: id, personalisation: true } : null;
    },
    async customerSkus() {
      return [];
    },
    async findCustomer() {
      return lookup();
    },
    async inventory() {
      return new Map([['S1', new Set(['TEA-1'])]]);
    },
    async ping() {},
  } as unknown as Store;
  const logs: Record<string, unknown>[] = [];
  const app = createApp({
    store,
    source: staticModelSource(tinyBundle({ tea: 'c-tea', mug: 'c-mug', novec: 'c-novec' }, NOW)),
    inventory: new InventorySnapshot(() => store.inventory()),
    logger: createLogger('info', (l) => logs.push(JSON.parse(l) as Record<string, unknown>)),
    apiKeys: parseApiKeys(`${KEY}:storefront+associate,${ADMIN}:admin`),
    chain: ['personal', 'neighbours', 'segment', 'popular'],
    defaultMetrics: false,
    now: () => NOW,
    bodyLimit: '2kb',
    corsOrigins: ['https://shop.example.com'],
  });
  return { app, logs };
}

interface Sent {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}
interface Got {
  status: number;
  /** Raw header lines in order, Date left out. */
  headers: string[];
  body: string;
}

/** One request over a real socket; the headers exactly as written (name case and order). */
function send(port: number, q: Sent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', method: q.method, path: q.path, headers: { 'x-request-id': 'disp-1', 'x-api-key': KEY, ...(q.body !== undefined ? { 'content-type': 'application/json' } : {}), ...q.headers } },
      (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => {
          const headers: string[] = [];
          for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i].toLowerCase() !== 'date') headers.push(`${r.rawHeaders[i]}: ${r.rawHeaders[i + 1]}`);
          resolve({ status: r.statusCode!, headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(q.body);
  });
}

const CASES: Sent[] = [
  { method: 'GET', path: '/v1/items/TEA-1/similar?limit=3' },
  { method: 'HEAD', path: '/v1/items/TEA-1/similar?limit=3' },
  { method: 'GET', path: '/v1/items/TEA-1/similar/?limit=2' }, // one trailing slash: same route
  { method: 'GET', path: '/V1/Items/TEA-1/SIMILAR' }, // case-insensitive paths
  { method: 'GET', path: '/v1/items/TEA%2D1/similar?limit=2&store=S1' }, // encoded parameter
  { method: 'GET', path: '/v1/items/%E0%A4%A/similar' }, // undecodable parameter: Express's 400
  { method: 'GET', path: '/v1/items/TEA-1/similar?limit=1&limit=2' }, // repeated key: an array → 400
  { method: 'GET', path: '/v1/items/TEA-1/similar?limit=0' },
  { method: 'GET', path: '/v1/items//similar' },
  { method: 'GET', path: '/v1/items/TEA-1/similar//' },
  { method: 'GET', path: '/v1/items/TEA-1/similar', headers: { 'x-api-key': '' } },
  { method: 'GET', path: '/v1/items/TEA-1/similar', headers: { 'x-api-key': 'nope-nope' } },
  { method: 'GET', path: '/v1/items/TEA-1/similar', headers: { 'x-api-key': ADMIN } },
  { method: 'GET', path: '/v1/items/TEA-1/similar', headers: { 'x-request-id': 'not a valid id!' } },
  { method: 'GET', path: '/v1/customers/c-tea/recommendations?limit=3&excludePurchased=false' },
  { method: 'GET', path: '/v1/customers/c-tea/buy-again' },
  { method: 'HEAD', path: '/v1/customers/nobody/recommendations' },
  { method: 'POST', path: '/v1/baskets/recommendations', body: '{"items":["TEA-1"],"limit":3}' },
  { method: 'POST', path: '/v1/sessions/recommendations', body: '{"items":["TEA-1","MUG-1"]}' },
  { method: 'POST', path: '/v1/sessions/recommendations', body: '{"items": [' },
  { method: 'POST', path: '/v1/sessions/recommendations', body: '{"items":[]}' },
  { method: 'POST', path: '/v1/sessions/recommendations', body: JSON.stringify({ items: ['TEA-1'], pad: 'x'.repeat(3000) }) },
  { method: 'POST', path: '/v1/sessions/recommendations', body: '{"items":["TEA-1"]}', headers: { 'content-type': 'text/plain' } },
  // the key before the body: 401 / 403, the body never read (malformed, too large, not gzip)
  { method: 'POST', path: '/v1/sessions/recommendations', body: '{"items": [', headers: { 'x-api-key': '' } },
  { method: 'POST', path: '/v1/sessions/recommendations', body: JSON.stringify({ items: ['TEA-1'], pad: 'x'.repeat(3000) }), headers: { 'x-api-key': 'nope-nope' } },
  { method: 'POST', path: '/v1/baskets/recommendations', body: 'not gzip', headers: { 'x-api-key': ADMIN, 'content-encoding': 'gzip' } },
  // CORS: a configured origin, another one
  { method: 'GET', path: '/v1/items/TEA-1/similar?limit=1', headers: { origin: 'https://shop.example.com' } },
  { method: 'GET', path: '/v1/customers/c-tea/buy-again', headers: { origin: 'https://evil.example' } },
  { method: 'GET', path: '/v1/customers/lookup?email=a@b.c' }, // store lookup: 404 / 500 / 503 per `lookup`
  { method: 'GET', path: '/v1/admin/models', headers: { 'x-api-key': ADMIN } }, // no publishing here: 501
  { method: 'DELETE', path: '/v1/items/TEA-1/similar' }, // known path, other method: 404
  { method: 'PUT', path: '/v1/items/TEA-1/similar' },
  { method: 'OPTIONS', path: '/v1/items/TEA-1/similar' },
  { method: 'GET', path: '/v1/nothing-here' },
  { method: 'HEAD', path: '/v1/nothing-here' },
  { method: 'GET', path: '/healthz' },
  { method: 'HEAD', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/openapi.json' },
];

describe('the dispatcher in front of Express', () => {
  const fast = world();
  const slow = world();
  const servers: http.Server[] = [];
  let fastPort = 0;
  let slowPort = 0;
  const listen = async (l: http.RequestListener) => {
    const s = http.createServer(l).listen(0, '127.0.0.1');
    servers.push(s);
    await new Promise((r) => s.once('listening', r));
    return (s.address() as AddressInfo).port;
  };
  beforeAll(async () => {
    fastPort = await listen(fast.app.listener);
    slowPort = await listen(slow.app.app);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const lookups: [string, () => Promise<string | null>][] = [
    ['not found', async () => null],
    ['failing', async () => Promise.reject(new Error('boom'))],
    ['unavailable', async () => Promise.reject(new UnavailableError('store down', { retryAfterS: 7 }))],
  ];
  for (const [name, fn] of lookups) {
    it(`answers every case with Express's bytes (status, headers but Date, body) and log line; store lookup ${name}`, async () => {
      lookup = fn;
      for (const q of CASES) {
        // new request ids (for a malformed one given) are random, each app has its own swap time
        const same = (g: Got) => JSON.stringify(g).replace(UUID, 'UUID').replace(ISO, 'TIME');
        const a = same(await send(fastPort, q));
        const b = same(await send(slowPort, q));
        expect({ q, a }).toEqual({ q, a: b });
      }
      const strip = (l: Record<string, unknown>) => {
        const { time: _t, ms: _m, reqId, ...rest } = l;
        // error log lines carry the error's stack (one per app)
        return { ...rest, reqId: typeof reqId === 'string' && reqId.startsWith('disp') ? reqId : 'uuid', err: rest.err ? 'err' : undefined };
      };
      expect(fast.logs.filter((l) => l.msg === 'request')).toHaveLength(CASES.length);
      expect(fast.logs.map(strip)).toEqual(slow.logs.map(strip));
      fast.logs.length = 0;
      slow.logs.length = 0;
    });
  }

  it('takes the API routes itself and hands everything else to Express', async () => {
    // Express's app(req, res) is app.handle(req, res, next)
    const handle = vi.spyOn(fast.app.app as unknown as { handle: (...args: unknown[]) => void }, 'handle');
    try {
      for (const q of CASES.slice(0, 5)) await send(fastPort, q);
      await send(fastPort, { method: 'POST', path: '/v1/baskets/recommendations', body: '{"items":["TEA-1"]}' });
      expect(handle).not.toHaveBeenCalled();
      for (const path of ['/v1/nothing-here', '/v1/items/%E0%A4%A/similar', '/v1/items/TEA-1/similar/x']) await send(fastPort, { method: 'GET', path });
      await send(fastPort, { method: 'OPTIONS', path: '/healthz' });
      expect(handle).toHaveBeenCalledTimes(4);
    } finally {
      handle.mockRestore();
    }
  });

  it('request ids: a valid one is echoed, else a new one; error bodies carry the same id', async () => {
    const given = await send(fastPort, { method: 'GET', path: '/v1/items/TEA-1/similar?limit=0', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers).toContain('x-request-id: abc-123');
    expect(JSON.parse(given.body).reqId).toBe('abc-123');
    const made = await send(fastPort, { method: 'GET', path: '/v1/items/TEA-1/similar?limit=0', headers: { 'x-request-id': 'bad id' } });
    const id = made.headers.find((h) => h.startsWith('x-request-id: '))!.slice('x-request-id: '.length);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(made.body).reqId).toBe(id);
  });
});

describe('writeJson / writeText', () => {
  it("write the bytes of Express's res.json / res.type().send (status, headers, body; HEAD without body)", async () => {
    const bodies: [number, unknown][] = [
      [200, { items: [{ sku: 'é', score: 0.5 }], n: null }],
      [200, Object.freeze({ frozen: true })],
      [503, { error: 'unavailable', message: 'x' }],
      [404, ['a', 1]],
      [200, 'text'],
    ];
    const app = express();
    app.disable('etag');
    app.disable('x-powered-by');
    const TYPE = 'text/plain; version=0.0.4; charset=utf-8';
    app.get('/express/:i', (req, res) => {
      const i = Number(req.params.i);
      if (i === bodies.length) res.type(TYPE).send('# metrics ü\n');
      else res.status(bodies[i][0]).json(bodies[i][1]);
    });
    app.get('/ours/:i', (req, res) => {
      const i = Number(req.params.i);
      if (i === bodies.length) writeText(req, res, 200, TYPE, '# metrics ü\n');
      else writeJson(req, res, bodies[i][0], bodies[i][1]);
    });
    const s = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    try {
      const { port } = s.address() as AddressInfo;
      for (let i = 0; i <= bodies.length; i++) {
        for (const method of ['GET', 'HEAD']) {
          const ours = await send(port, { method, path: `/ours/${i}` });
          expect(ours).toEqual(await send(port, { method, path: `/express/${i}` }));
          expect(ours.headers.some((h) => h.startsWith('Content-Type: '))).toBe(true);
        }
      }
    } finally {
      await new Promise((r) => s.close(r));
    }
  });
});

describe('dispatcher matching', () => {
  it('compiles OpenAPI paths like path-to-regexp 8 (whole path, case-insensitive, one trailing slash, literal dots)', () => {
    const { pattern, names } = compilePath('/v1/items/{sku}/similar');
    expect(names).toEqual(['sku']);
    expect(pattern.exec('/v1/items/A.B/similar')?.[1]).toBe('A.B');
    expect(pattern.test('/V1/ITEMS/x/Similar/')).toBe(true);
    expect(pattern.test('/v1/items/x/similar//')).toBe(false);
    expect(pattern.test('/v1/items/x/y/similar')).toBe(false);
    expect(pattern.test('/v1/items//similar')).toBe(false);
    expect(compilePath('/openapi.json').pattern.test('/openapiXjson')).toBe(false);
  });

  it('routes in declaration order; unknown methods, absolute-form and fragment URLs go to the fallback', () => {
    const seen: string[] = [];
    const route = (method: 'get' | 'post', path: string) => ({
      def: { method, path } as never,
      admit: () => true,
      body: null,
      run: async (_req: unknown, _res: unknown, params: unknown, query: unknown) => void seen.push(`${path} ${JSON.stringify(params)} ${JSON.stringify(query)}`),
    });
    const listener = dispatcher([route('get', '/a/lookup'), route('get', '/a/{id}'), route('post', '/a/{id}')], {
      start: () => {},
      fail: () => {},
      fallback: (req) => void seen.push(`fallback ${req.method} ${req.url}`),
    });
    const call = (method: string, url: string) => listener({ method, url, headers: {} } as never, {} as never);
    call('GET', '/a/lookup?x=1&x=2');
    call('HEAD', '/a/b%20c');
    call('POST', '/a/b');
    call('PATCH', '/a/b');
    call('GET', 'http://host/a/b');
    call('GET', '/a/b#frag');
    expect(seen).toEqual([
      '/a/lookup {} {"x":["1","2"]}',
      '/a/{id} {"id":"b c"} {}',
      '/a/{id} {"id":"b"} {}',
      'fallback PATCH /a/b',
      'fallback GET http://host/a/b',
      'fallback GET /a/b#frag',
    ]);
  });
});
