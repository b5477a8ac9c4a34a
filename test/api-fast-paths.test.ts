/**
 * The serving stack's short paths give the answers of the general ones: JSON bodies read by the
 * plain-case reader parse (and fail) exactly like express.json(), which still takes chunked,
 * compressed and oversized bodies; list responses carry res.json's headers (HEAD included); the
 * logger's no-replacer path writes the same lines; the wrk helpers of bench:serve.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { parseApiKeys } from '../src/api/api-keys.js';
import { createApp } from '../src/api/create-app.js';
import { limitBytes, parseStrictJson } from '../src/api/json-body.js';
import { createLogger, stdoutLine } from '../src/api/logger.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import type { Store } from '../src/store/store.js';
import { gcBetween, luaString, parseGcMetrics, parseWrk, wrkScript } from '../scripts/load-generator.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

const KEY = 'fast-key-0001';
const NOW = Date.UTC(2026, 10, 1, 12);

function tinyApp() {
  const store = {
    async customerAccess() {
      return null;
    },
    async inventory() {
      return new Map<string, Set<string>>();
    },
    async ping() {},
  } as unknown as Store;
  return createApp({
    store,
    source: staticModelSource(tinyBundle({ tea: 'c-tea', mug: 'c-mug', novec: 'c-novec' }, NOW)),
    inventory: new InventorySnapshot(() => store.inventory()),
    logger: createLogger('silent'),
    apiKeys: parseApiKeys(`${KEY}:storefront`),
    chain: ['personal', 'neighbours', 'segment', 'popular'],
    defaultMetrics: false,
    now: () => NOW,
    bodyLimit: '2kb',
  }).listener;
}

describe('JSON request bodies', () => {
  const app = tinyApp();
  const post = (body: string | Buffer, type: string, extra: Record<string, string> = {}) =>
    request(app).post('/v1/sessions/recommendations').set('x-api-key', KEY).set('x-request-id', 'r-1').set('content-type', type).set(extra).send(body);

  const bodies = [
    '{"items":["TEA-1"],"limit":3}',
    '\ufeff{"items":["MUG-1"],"limit":2}', // a BOM (dropped by body-parser too)
    ' \n\t{"items":["TEA-2"]}',
    '', // empty = {} → items required
    '{"items": [',
    '"items"',
    '  42',
    '[]',
    '{"items":["TEA-1"],"limit":"3"}',
  ];
  for (const body of bodies) {
    it(`the plain-case reader answers like express.json() for ${JSON.stringify(body).slice(0, 40)}`, async () => {
      const fast = await post(body, 'application/json');
      // a quoted charset is not the plain case: express.json() reads this one
      const general = await post(body, 'application/json; charset="utf-8"');
      expect(fast.status).toBe(general.status);
      expect(fast.text).toBe(general.text);
      expect(fast.headers['content-type']).toBe(general.headers['content-type']);
    });
  }

  it('plain case really differs from the general one only in the reader: valid → 200, bad JSON → 400 invalid_json', async () => {
    expect((await post(bodies[0], 'application/json')).status).toBe(200);
    expect((await post('{"items": [', 'application/json')).body).toMatchObject({ error: 'invalid_json', fields: [{ field: 'body' }] });
  });

  /** A POST over a real socket: the body as given (Buffer, or string chunks: chunked transfer). */
  async function raw(body: Buffer | string[], headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      return await new Promise((resolve, reject) => {
        const req = http.request(
          { port, host: '127.0.0.1', method: 'POST', path: '/v1/sessions/recommendations', headers: { 'x-api-key': KEY, 'x-request-id': 'r-1', ...headers } },
          (r) => {
            let text = '';
            r.on('data', (d) => (text += d));
            r.on('end', () => resolve({ status: r.statusCode!, text }));
          },
        );
        req.on('error', reject);
        if (Buffer.isBuffer(body)) req.end(body);
        else {
          for (const chunk of body) req.write(chunk);
          req.end();
        }
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it('compressed and oversized bodies go to express.json(): gzip inflated, over the limit → 413', async () => {
    const plain = (await post(bodies[0], 'application/json')).text;
    const gz = await raw(gzipSync(Buffer.from(bodies[0])), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(gz).toEqual({ status: 200, text: plain });
    const big = await post(JSON.stringify({ items: ['TEA-1'], pad: 'x'.repeat(3000) }), 'application/json');
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('payload_too_large');
  });

  it('a chunked body (no Content-Length) is read too', async () => {
    const res = await raw(['{"items":["TEA-1"],', '"limit":3}'], { 'content-type': 'application/json' });
    expect(res).toEqual({ status: 200, text: (await post(bodies[0], 'application/json')).text });
  });

  it('limitBytes reads body-parser units; parseStrictJson keeps its rules', () => {
    expect(limitBytes('64kb')).toBe(65536);
    expect(limitBytes('1mb')).toBe(1048576);
    expect(limitBytes('100')).toBe(100);
    expect(limitBytes('lots')).toBeNull();
    expect(parseStrictJson('')).toEqual({});
    expect(parseStrictJson(' [1]')).toEqual([1]);
    expect(() => parseStrictJson('true')).toThrow(expect.objectContaining({ type: 'entity.parse.failed', status: 400 }));
  });
});

describe('JSON responses', () => {
  const app = tinyApp();
  it("a list carries res.json's headers; HEAD gets them without a body", async () => {
    const get = await request(app).get('/v1/items/TEA-1/similar?limit=3').set('x-api-key', KEY).expect(200);
    expect(get.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(get.headers['content-length'])).toBe(Buffer.byteLength(get.text));
    expect(get.headers.etag).toBeUndefined();
    const head = await request(app).head('/v1/items/TEA-1/similar?limit=3').set('x-api-key', KEY).expect(200);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text ?? '').toBe('');
  });
});

describe('logger', () => {
  it('the default sink writes the lines of one event-loop turn to stdout in one write, in order', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      stdoutLine('{"a":1}');
      stdoutLine('{"b":2}');
      expect(write).not.toHaveBeenCalled();
      await new Promise((r) => setImmediate(r));
      expect(write.mock.calls).toEqual([['{"a":1}\n{"b":2}\n']]);
      stdoutLine('x'.repeat(70_000));
      expect(write).toHaveBeenCalledTimes(2);
      await new Promise((r) => setImmediate(r));
      expect(write).toHaveBeenCalledTimes(2);
    } finally {
      write.mockRestore();
    }
  });

  it('lines without object fields are the same as through the error replacer; errors still serialise', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l), { service: 'x' });
    log.info('request', { reqId: 'a', status: 200, ms: 1.5 });
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', msg: 'request', service: 'x', reqId: 'a', status: 200, ms: 1.5 });
    expect(Object.keys(line)).toEqual(['time', 'level', 'msg', 'service', 'reqId', 'status', 'ms']);
    log.error('failed', { err: new Error('boom') });
    expect(JSON.parse(lines[1]).err).toMatchObject({ name: 'Error', message: 'boom' });
    createLogger('info', (l) => lines.push(l), { context: { err: new RangeError('base') } }).warn('w');
    expect(JSON.parse(lines[2]).context.err).toMatchObject({ name: 'RangeError', message: 'base' });
  });
});

describe('bench:serve wrk helpers', () => {
  it('luaString escapes every byte outside a safe set as \\ddd', () => {
    expect(luaString('/v1/items/A%20B/similar?limit=10')).toBe('"/v1/items/A%20B/similar?limit=10"');
    expect(luaString('{"a":"\\\\"}\n')).toBe('"{\\034a\\034:\\034\\092\\092\\034}\\010"');
    expect(luaString('é')).toBe('"\\195\\169"');
  });
  it('wrkScript lists every request with headers; parseWrk reads the done() line', () => {
    const script = wrkScript({
      url: 'http://127.0.0.1:1',
      pid: process.pid,
      connections: 1,
      seconds: 1,
      headers: { 'x-api-key': KEY },
      requests: [{ method: 'GET', path: '/a' }, { method: 'POST', path: '/b', body: '{}' }],
    });
    expect(script).toContain('{"GET", "/a", nil}');
    expect(script).toContain('{"POST", "/b", "{}"}');
    expect(script).toContain('["x-api-key"] = "fast-key-0001"');
    const r = parseWrk('Running 5s test\nWRK_RESULT {"requests":5000,"duration_us":2500000,"p50_us":1500,"p99_us":9000,"status":3,"socket":1}\n', 1_000_000);
    expect(r).toEqual({ rps: 2000, p50: 1.5, p99: 9, non2xx: 3, errors: 1, cpuUsPerReq: 200 });
    expect(() => parseWrk('no line', 0)).toThrow(/no result line/);
  });
  it("gcBetween reads the service's GC counters (prom-client nodejs_gc_duration_seconds) before and after a run", () => {
    const text = (minor: number, major: number, minorS: number, majorS: number, buckets: [string, number][]) =>
      [
        '# TYPE nodejs_gc_duration_seconds histogram',
        ...buckets.map(([le, c]) => `nodejs_gc_duration_seconds_bucket{le="${le}",kind="minor"} ${c}`),
        `nodejs_gc_duration_seconds_sum{kind="minor"} ${minorS}`,
        `nodejs_gc_duration_seconds_count{kind="minor"} ${minor}`,
        `nodejs_gc_duration_seconds_bucket{le="0.01",kind="major"} ${major}`,
        `nodejs_gc_duration_seconds_bucket{le="+Inf",kind="major"} ${major}`,
        `nodejs_gc_duration_seconds_sum{kind="major"} ${majorS}`,
        `nodejs_gc_duration_seconds_count{kind="major"} ${major}`,
        'process_cpu_seconds_total 12',
      ].join('\n');
    const before = text(10, 1, 0.02, 0.01, [['0.001', 8], ['0.01', 10], ['+Inf', 10]]);
    expect(parseGcMetrics(before).count).toEqual({ minor: 10, major: 1 });
    // 20 more minor (the slowest under 10 ms), 2 more major; 0.05 s + 0.02 s of pauses over 5 s, 10,000 requests
    const after = text(30, 3, 0.07, 0.03, [['0.001', 10], ['0.01', 30], ['+Inf', 30]]);
    const gc = gcBetween(before, after, 10_000, 5);
    expect(gc.minorPer1k).toBeCloseTo(2, 12);
    expect(gc.majorPer1k).toBeCloseTo(0.2, 12);
    expect(gc.msPerS).toBeCloseTo(14, 9);
    expect(gc.maxBucketMs).toBe(10);
  });
});
