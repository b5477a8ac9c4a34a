/**
 * Property-based fuzzing (fast-check) of every route in the route table, so routes added later are
 * fuzzed too: random and adversarial paths, ids, queries, headers and bodies (NUL and control
 * characters, huge and odd numbers, __proto__ / constructor keys, deep nesting, unicode and invalid
 * UTF-8, percent-encoding tricks, wrong and compressed content types, bad keys and customer tokens),
 * sent over a real socket to either dispatcher. Every answer must be a 2xx, 3xx or 4xx with a JSON
 * body (2xx of routes whose response is text, such as /metrics, excepted) within 5 s: never a 5xx, a hang or a dropped connection.
 *
 * FUZZ_RUNS cases per route (default 200); `npm run fuzz -- --runs 10000` runs more
 * (scripts/fuzz.ts), FUZZ_SEED replays a run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hashedEntry, parseApiKeys } from '../src/api/api-keys.js';
import { cacheModelAdmin } from '../src/api/cache-model-admin.js';
import { keyRateLimiter, parseRateLimits } from '../src/api/rate-limit.js';
import { cacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { API_KEYS, KEYS, type ServedWorld, serveTinyWorld } from './helpers/serve-fixture.js';
import { TINY_SKUS } from './helpers/tiny-bundle.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const TIMEOUT_MS = 5_000;
const SECRET = 'fuzz-customer-token-secret-0123456789abcdef';
const MOBILE = 'fuzz-mobile-key-0001';
const HASHED = 'fuzz-hashed-key-0001';

const backend = storeBackends().at(-1)!;
const dirs: string[] = [];

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** One request with a deadline; resolves with status, content type and body, rejects on a hang or a reset. */
function send(port: number, q: Sent): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    // a body always with its length (Node's client sends a DELETE's body bare, which no server can frame)
    const headers = q.body === undefined ? q.headers : { ...q.headers, 'content-length': String(q.body.length) };
    const req = http.request({ host: '127.0.0.1', port, method: q.method, path: q.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms (hang)`)));
    req.on('error', reject);
    req.end(q.body);
  });
}

// ---- arbitraries ----
const NASTY = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'a\u0000b@example.com',
  'tea@example.com\u0000',
  '\u0000L-777',
  '\u0007\u001b[2J',
  '\r\n',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '..',
  '.',
  '%',
  '%00',
  '%zz',
  '%E0%A4%A',
  '%2F',
  '%252F',
  '%C0%AE%C0%AE',
  '%ED%A0%80',
  '%FF%FE',
  '1e309',
  '-1',
  '-0',
  'NaN',
  'Infinity',
  '9007199254740993',
  '0x10',
  '1.5',
  '99999999999999999999999999',
  "' OR 1=1 --",
  '"; DROP TABLE customers; --',
  '*\r\nFLUSHALL\r\n',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '\ud800',
  '\uffff',
  '👩‍👩‍👧‍👦',
  'Ａ',
  'x'.repeat(129),
  'x'.repeat(5000),
  'email:tea@example.com',
  'TEA-1',
  'SOAP-2',
  'tea@example.com',
  'L-777',
  '+44 7700 900123',
];
const nasty = fc.constantFrom(...NASTY);
/** encodeURIComponent of any string (lone surrogates become U+FFFD; invalid UTF-8 comes from NASTY's %-escapes). */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
const encode = (s: string) => encodeURIComponent(wellFormed(s));
/** As little escaping as a request line allows: only what Node refuses (outside 0x21-0x7e) and "#". */
const rawSafe = (s: string) => wellFormed(s).replace(/[^\x21-\x22\x24-\x7e]/gu, (c) => encodeURIComponent(c));
const text = fc.oneof(nasty, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(...TINY_SKUS));
const numberText = fc.oneof(fc.integer().map(String), fc.double().map(String), fc.bigInt().map(String), fc.constantFrom('1', '10', '100', '101', '0'));
const value = fc.oneof({ weight: 3, arbitrary: text }, { weight: 2, arbitrary: numberText }, { weight: 1, arbitrary: fc.constantFrom('true', 'false', '1', '0', 'yes') });

/** A path segment: percent-encoded text, or raw bytes Node lets through (0x21-0x7e, no "/", "?", "#"). */
const segment = fc.oneof(
  { weight: 3, arbitrary: text.map(encode) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...'!$%&\'()*+,-.0123456789:;=@ABCZ[]^_`abcz{|}~'), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: nasty.filter((s) => s.length > 0 && !/[\s\u0000-\u001f/?#\u0080-\uffff]/.test(s)) },
);

/** JSON values with hostile shapes: deep nesting, __proto__ keys, huge numbers, unicode. */
const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withNullPrototype: true, withObjectString: true }).map((v) => { try { return JSON.parse(JSON.stringify(v) ?? 'null'); } catch { return null; } }) },
  { weight: 1, arbitrary: fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0, 0.1, 1e-320) },
);

/** Every path into a JSON value (object keys, array indices), the root included. */
function pathsOf(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...at, k]));
  return out;
}

/** The example with the value at one path changed by `change` (undefined: removed), or a key added beside it. */
function mutate(example: unknown, path: (string | number)[], change: (old: unknown) => unknown, addKey?: string): unknown {
  const copy = JSON.parse(JSON.stringify(example)) as unknown;
  if (path.length === 0) return change(copy);
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  const value = change(parent[last]);
  if (addKey !== undefined && parent[last] !== null && typeof parent[last] === 'object') (parent[last] as Record<string, unknown>)[addKey] = value;
  else if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
}

/** Characters slipped into a well-formed string: NUL and other controls, a lone surrogate, separators, escapes. */
const SLIPS = ['\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\ud800', '\u2028', '\ufeff', '%00', '\\', '"', "'"];

/** One hostile change to a well-formed example: a value replaced, removed, given a sibling, or a character slipped into a string. */
const mutated = (example: unknown): fc.Arbitrary<unknown> =>
  fc
    .tuple(
      fc.constantFrom(...pathsOf(example)),
      fc.oneof(
        { weight: 3, arbitrary: text.map((v) => () => v) },
        { weight: 2, arbitrary: jsonish.map((v) => () => v) },
        { weight: 1, arbitrary: fc.constant(() => undefined) },
        { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...SLIPS), fc.nat()).map(([c, at]) => (old: unknown) => (typeof old === 'string' ? old.slice(0, at % (old.length + 1)) + c + old.slice(at % (old.length + 1)) : c)) },
      ),
      fc.option(fc.constantFrom('__proto__', 'constructor', 'extra'), { freq: 4 }),
    )
    .map(([path, change, addKey]) => mutate(example, path, change, addKey ?? undefined));

function bodyFor(examples: Record<string, unknown>[]): fc.Arbitrary<Buffer | undefined> {
  const near = examples.length ? fc.constantFrom(...examples).chain(mutated).map((v) => JSON.stringify(v) ?? '') : fc.constant('{}');
  const raw = fc.oneof(
    { weight: 5, arbitrary: near },
    { weight: 1, arbitrary: near.map((t) => (t.startsWith('{') ? `{"__proto__": {"polluted": true}, ${t.slice(1)}` : t)) },
    { weight: 2, arbitrary: jsonish.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '"x"', '1e999', '{"items": "\\u0000"}', '\ufeff{}', '{"a":1,"a":2}', 'x'.repeat(70_000)) },
  );
  return fc.oneof(
    { weight: 8, arbitrary: raw.map((t) => Buffer.from(t, 'utf8')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

interface Examples {
  /** Well-formed query strings (as key/value objects), bodies and path parameters. */
  queries?: Record<string, string>[];
  bodies?: Record<string, unknown>[];
  params?: string[];
}

/** Well-formed requests per route, mutated by the fuzzer; routes not listed get generic queries and bodies. */
function examples(w: ServedWorld): Record<string, Examples> {
  const lines = [{ sku: 'TEA-1', quantity: 1, unitPrice: 2.5 }, { sku: 'NEW-SKU', quantity: 2 }];
  return {
    '/v1/items/{sku}/similar': { queries: [{ limit: '3', store: 'S1', channel: 'web', category: 'tea,mug', customerId: w.ids.tea, excludePurchased: 'true' }, {}], params: ['TEA-1', 'NOPE'] },
    '/v1/baskets/recommendations': { bodies: [{ items: ['TEA-1'], customerId: w.ids.tea, store: 'S1', limit: 3, excludePurchased: false, category: ['tea'], excludeCategory: 'soap' }] },
    '/v1/customers/{id}/recommendations': { queries: [{ limit: '3', channel: 'app', excludeCategory: 'soap', store: 'S2' }, {}], params: [w.ids.tea, w.ids.merged, w.ids.nocons, 'nobody'] },
    '/v1/sessions/recommendations': { bodies: [{ items: ['TEA-1', 'MUG-1'], store: 'S2', limit: 5, channel: 'store' }] },
    '/v1/customers/{id}/buy-again': { queries: [{ limit: '5', category: 'tea' }, {}], params: [w.ids.tea, w.ids.mug] },
    '/v1/customers/lookup': { queries: [{ email: 'tea@example.com' }, { loyalty: 'L-777' }, { phone: '07700 900123' }] },
    '/v1/events/purchases': {
      bodies: [
        { orderId: 'FUZZ-1', channel: 'store', store: 'S1', time: '2026-10-01T10:00:00Z', customerId: w.ids.mug, lines },
        { orderId: 'FUZZ-2', channel: 'web', identifiers: { email: 'fuzz@example.com', phone: '07700 900999', loyalty: 'L-9' }, lines },
      ],
    },
    '/v1/customers/{id}': { params: [w.ids.novec, '999999'] },
    '/v1/admin/models/{version}/publish': { params: ['tiny-1', 'v1', '..'] },
    '/v1/admin/models/rollback': { bodies: [{ version: 'tiny-1' }, {}] },
    '/v1/customers/{id}/profile': { queries: [{ store: 'S1', limit: '5' }, {}], params: [w.ids.tea, w.ids.merged, w.ids.nocons] },
    '/v1/products': { queries: [{ q: 'TEA', limit: '5' }, { q: 'mug' }] },
    '/v1/products/{sku}': { queries: [{ store: 'S1', limit: '3' }, {}], params: ['TEA-1', 'MUG-2'] },
    '/v1/customers/{id}/next-best-offer': { queries: [{ channel: 'web', limit: '3' }, { channel: 'store', store: 'S1' }], params: [w.ids.tea, w.ids.merged, w.ids.nocons, 'nobody'] },
    '/v1/sessions/next-best-offer': { bodies: [{ items: ['TEA-1', 'MUG-1'], channel: 'web', limit: 2 }, { items: [], channel: 'store', store: 'S2' }] },
    '/v1/events/offers': {
      bodies: [
        { eventId: 'FUZZ-E1', offerId: 'fuzz-offer', customerId: w.ids.tea, channel: 'app', type: 'impression', time: '2026-10-01T10:00:00Z' },
        { eventId: 'FUZZ-E2', decisionId: 'd-1', offerId: 'fuzz-offer', customerId: w.ids.merged, channel: 'store', type: 'declined' },
      ],
    },
    '/v1/admin/offers/{id}': {
      bodies: [
        {
          id: 'fuzz-offer', title: 'Fuzz', kind: 'percent_off', value: 5, targets: { skus: ['TEA-1'], categories: ['tea'] }, channels: ['web', 'store'],
          stores: ['S1'], startsAt: '2026-01-01T00:00:00Z', endsAt: null, eligibility: { segments: ['vip'], minOrders: 1 }, contact: { maxImpressions: 2, perDays: 30 }, weight: 1,
        },
      ],
      params: ['fuzz-offer', 'nope'],
    },
  };
}

// the world is built before the tests are declared: one property per route of its table
const { store, cleanup } = await backend.open();
const w: ServedWorld = await world(store);

async function world(store: Store): Promise<ServedWorld> {
  const modelDir = await mkdtemp(path.join(os.tmpdir(), 'omnirec-fuzz-'));
  dirs.push(modelDir);
  const cache = new MemoryCache('memory://');
  return serveTinyWorld(store, {
    apiKeys: parseApiKeys(`${API_KEYS},${MOBILE}:storefront+associate+token,${hashedEntry(HASHED, ['storefront', 'associate', 'events', 'admin'])}`),
    admin: cacheModelAdmin({ cache: async () => cache, keys: cacheKeys('fuzz'), modelDir }),
    deps: {
      customerTokenSecret: SECRET,
      corsOrigins: ['https://shop.example.com'],
      rateLimit: keyRateLimiter(parseRateLimits('storefront=1000000'), { windowS: 60 }),
    },
  });
}

describe(`fuzz every route (${backend.name}, ${RUNS} cases each)`, () => {
  const servers: http.Server[] = [];
  const ports: number[] = [];
  const tokens: string[] = [];

  beforeAll(async () => {
    for (const l of [w.listener, w.app]) {
      const s = http.createServer(l).listen(0, '127.0.0.1');
      servers.push(s);
      await new Promise((r) => s.once('listening', r));
      ports.push((s.address() as AddressInfo).port);
    }
    const sign = (sub: string, exp: number | string, secret = SECRET) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(exp).sign(new TextEncoder().encode(secret));
    tokens.push(
      await sign(w.ids.tea, '10m'),
      await sign(w.ids.merged, '10m'),
      await sign('email:tea@example.com', '10m'),
      await sign('phone:\u0000', '10m'),
      await sign('loyalty:' + 'x'.repeat(300), '10m'),
      await sign('__proto__', '10m'),
      await sign(w.ids.mug, 1),
      await sign(w.ids.tea, '10m', 'another-secret-another-secret-0000'),
    );
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await cleanup();
  });

  for (const r of w.routes) {
    it(`${r.method.toUpperCase()} ${r.path}: every answer a non-5xx with a JSON body, within ${TIMEOUT_MS} ms`, async () => {
      const ex = examples(w)[r.path] ?? {};
      const textRoute = r.response instanceof z.ZodString;
      const keyFor = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...(r.scopes ?? ['storefront']).map((s) => KEYS[s as keyof typeof KEYS]), HASHED) },
        { weight: 2, arbitrary: fc.constant(MOBILE) },
        { weight: 1, arbitrary: fc.constantFrom(...Object.values(KEYS)) },
        { weight: 1, arbitrary: fc.oneof(text, fc.constant(undefined)) },
      );
      const paramNames = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const pathArb = fc
        .tuple(
          fc.array(fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...(ex.params ?? ['x'])).map(encode) }, { weight: 2, arbitrary: segment }), {
            minLength: paramNames.length,
            maxLength: paramNames.length,
          }),
          fc.oneof({ weight: 12, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('/', '//', '/x', '%2F', '%00', '/..') }),
          fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        )
        .map(([values, tail, upper]) => {
          let k = 0;
          const p = r.path.replace(/\{(\w+)\}/g, () => values[k++]) + tail;
          return upper ? p.toUpperCase() : p;
        });
      // a well-formed query with one value changed, pairs added (repeated keys, odd names), or pairs alone
      const extraPairs = fc.oneof({ weight: 2, arbitrary: fc.constant([] as [string, string][]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...Object.keys(ex.queries?.[0] ?? {}), 'limit', 'customerId', '__proto__', 'constructor', 'a[b]', 'limit[]', ''), value), { minLength: 1, maxLength: 3 }) });
      const queryArb = fc
        .tuple(ex.queries?.length ? fc.constantFrom(...ex.queries).chain((q) => fc.oneof(fc.constant(q), mutated(q))) : fc.constant({}), extraPairs, fc.boolean())
        .map(([q, more, raw]) => {
          const pairs = [...Object.entries(q !== null && typeof q === 'object' ? q : {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''] as const), ...more];
          if (pairs.length === 0) return '';
          return `?${pairs.map(([k, v]) => (raw ? `${rawSafe(k)}=${rawSafe(v)}` : `${encode(k)}=${encode(v)}`)).join('&')}`;
        });
      const headersArb = fc.record(
        {
          key: keyFor,
          auth: fc.oneof(fc.constantFrom(...tokens).map((t) => `Bearer ${t}`), text, fc.constant('Bearer')),
          type: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', ''),
          encoding: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
          origin: fc.constantFrom('https://shop.example.com', 'https://evil.example', 'null'),
          requestId: text,
        },
        { requiredKeys: ['key', 'type'] },
      );
      const methodArb = fc.oneof({ weight: 9, arbitrary: fc.constant(r.method.toUpperCase()) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS') });
      const caseArb = fc.record({ method: methodArb, path: pathArb, query: queryArb, headers: headersArb, body: bodyFor(ex.bodies ?? []), gzip: fc.boolean(), port: fc.constantFrom(0, 1) });

      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const headers: Record<string, string> = {};
          const h = c.headers;
          const header = (name: string, v: string | undefined) => {
            // only what Node lets a client send: no control characters, Latin-1
            if (v !== undefined && !/[^\t\x20-\x7e\x80-\xff]/.test(v)) headers[name] = v;
          };
          header('x-api-key', h.key);
          header('authorization', h.auth);
          if (h.type) header('content-type', h.type);
          header('origin', h.origin);
          header('x-request-id', h.requestId);
          let body = c.method === 'GET' || c.method === 'HEAD' ? undefined : c.body;
          if (body !== undefined && h.encoding !== undefined) {
            header('content-encoding', h.encoding);
            if (h.encoding === 'gzip' && c.gzip) body = gzipSync(body);
          }
          const got = await send(ports[c.port], { method: c.method, path: c.path + c.query, headers, body });
          const where = `${c.method} ${c.path}${c.query} → ${got.status} ${got.body.slice(0, 300)}`;
          expect(got.status, where).toBeLessThan(500);
          if (c.method === 'HEAD' || got.status === 204) return;
          // routes that answer text (the metrics, a page) are JSON only in their errors
          if (textRoute && got.status < 300) return;
          expect(got.type, where).toMatch(/^application\/json/);
          expect(() => JSON.parse(got.body), where).not.toThrow();
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    }, 60_000 + RUNS * 100);
  }
});
