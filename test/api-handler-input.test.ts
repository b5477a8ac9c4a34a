/**
 * The input every route handler gets (route-def.ts HandlerInput): the request's parts, and a signal
 * made only when the handler asks for it. It is a class instance whose `signal` accessor lives on the
 * prototype: one object literal with its own getter per request (the former shape) made a third of
 * each request's allocation outlive young-generation collections (BENCHMARKS.md, session-p99).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { HandlerInput } from '../src/api/route-def.js';
import { createApp } from '../src/api/create-app.js';
import { createLogger } from '../src/api/logger.js';
import { parseApiKeys } from '../src/api/api-keys.js';
import { staticModelSource } from '../src/cache/model-source.js';
import { InventorySnapshot } from '../src/serve/inventory-snapshot.js';
import type { Store } from '../src/store/store.js';
import { tinyBundle } from './helpers/tiny-bundle.js';

describe('HandlerInput', () => {
  it('reads the deadline signal only when asked, from a prototype accessor shared by every input', () => {
    let reads = 0;
    const ac = new AbortController();
    const deadline = {
      get signal() {
        reads++;
        return ac.signal;
      },
    };
    const req = {} as IncomingMessage;
    const res = {} as ServerResponse;
    const a = new HandlerInput({ id: 'x' }, { limit: 5 }, undefined, req, res, deadline);
    expect(reads).toBe(0);
    expect(a.params).toEqual({ id: 'x' });
    expect(a.query).toEqual({ limit: 5 });
    expect(a.req).toBe(req);
    expect(a.res).toBe(res);
    expect(a.signal).toBe(ac.signal);
    expect(reads).toBe(1);
    const b = new HandlerInput({}, {}, { items: [] }, req, res, deadline);
    // no own accessor per object: the getter is the prototype's, the same function for both
    expect(Object.getOwnPropertyDescriptor(a, 'signal')).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(b, 'signal')).toBeUndefined();
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b));
    expect(typeof Object.getOwnPropertyDescriptor(HandlerInput.prototype, 'signal')?.get).toBe('function');
  });

  it('routes still answer through both dispatchers with it (a session list, and a 404 through Express)', async () => {
    const NOW = Date.UTC(2026, 10, 1, 12);
    const store = new Proxy({}, { get: (_t, k) => (k === 'then' ? undefined : async () => null) }) as unknown as Store;
    const { listener } = createApp({
      store,
      source: staticModelSource(tinyBundle({ tea: 'c-tea', mug: 'c-mug', novec: 'c-novec' }, NOW, 'tiny-1')),
      inventory: new InventorySnapshot(async () => new Map()),
      logger: createLogger('silent'),
      apiKeys: parseApiKeys('handler-key-0001:storefront'),
      chain: ['personal', 'neighbours', 'segment', 'popular'],
      defaultMetrics: false,
      offers: { decide: null },
    });
    const r = await request(listener).post('/v1/sessions/recommendations').set('x-api-key', 'handler-key-0001').send({ items: ['TEA-1'], limit: 3 });
    expect(r.status).toBe(200);
    expect(r.body.items.length).toBeGreaterThan(0);
    expect(r.body.model.version).toBe('tiny-1');
    expect((await request(listener).get('/v1/nothing-here')).status).toBe(404);
  });
});
