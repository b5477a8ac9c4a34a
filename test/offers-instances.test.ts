/**
 * Next best offer across two instances: two apps on one history store and one cache: the embedded
 * cache's pub/sub in process always, and two connections to a real Redis when REDIS_URL is set (as
 * two servers share one), like test/cache-customer-changes.test.ts.
 * Offer changes made on one reach the other's decisions; responses recorded on one hold the contact
 * cap, the decline suppression and the acceptance cap on the other; a change nobody announced (written
 * to the store behind the service's back) still shows within the periodic reload.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheKeys } from '../src/cache/keys.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import type { VectorCache } from '../src/cache/vector-cache.js';
import { parseOffer } from '../src/core/offer-schema.js';
import { mulberry32 } from '../src/core/random.js';
import type { Store } from '../src/store/store.js';
import { storeBackends } from './helpers/backends.js';
import { type Ids, KEYS, type ServedWorld, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';

/** Waits for an eventually-consistent condition (announces are asynchronous), with a deadline. */
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 5000, interval: 20 });

/** Two connections to one cache, as two servers hold them. */
const cacheBackends: { name: string; pair: () => Promise<VectorCache[]> }[] = [
  {
    name: 'embedded cache',
    pair: async () => {
      const name = `memory://offers-${randomBytes(4).toString('hex')}`;
      return [new MemoryCache(name), new MemoryCache(name)];
    },
  },
];
if (process.env.REDIS_URL) {
  const url = process.env.REDIS_URL;
  cacheBackends.push({ name: 'redis', pair: () => Promise.all([RedisCache.open(url, { require: true }), RedisCache.open(url, { require: true })]) });
}

for (const [backend, cacheBackend] of storeBackends().flatMap((s) => cacheBackends.map((c) => [s, c] as const))) {
  describe(`next best offer on two instances (${backend.name}, ${cacheBackend.name})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let ids: Ids;
    let caches: VectorCache[];
    let a: ServedWorld;
    let b: ServedWorld;
    let n = 0;
    const oid = (name: string) => `${name}-${++n}`;
    const put = (w: ServedWorld, id: string, extra: Record<string, unknown> = {}) =>
      request(w.listener).put(`/v1/admin/offers/${id}`).set('x-api-key', KEYS.admin).send({ id, title: id, kind: 'amount_off', value: 5, ...extra }).expect(200);
    const shown = async (w: ServedWorld, customerId: string) => {
      const r = await request(w.listener).get(`/v1/customers/${customerId}/next-best-offer?channel=web&limit=10`).set('x-api-key', KEYS.storefront).expect(200);
      return (r.body.offers as { offerId: string }[]).map((o) => o.offerId).sort();
    };
    let e = 0;
    const respond = (w: ServedWorld, customerId: string, offerId: string, type: string, channel = 'web') =>
      request(w.listener).post('/v1/events/offers').set('x-api-key', KEYS.events).send({ eventId: `i-${process.pid}-${++e}`, offerId, customerId, channel, type }).expect(200);

    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      ids = await seedStore(store);
    });
    afterAll(async () => {
      await cleanup?.();
    });
    beforeEach(async () => {
      for (const o of await store.offers()) await store.deleteOffer(o.id);
      // a prefix of its own per test: announces of another test (or run) sharing the Redis never reach it
      const keys = cacheKeys(`omnirec_t_${randomBytes(4).toString('hex')}`);
      caches = await cacheBackend.pair();
      const world = (cache: VectorCache, reloadMs = 0) =>
        serveTinyWorld(store, { ids, offers: { bus: { cache, keys }, holdoutShare: 0, reloadMs, random: mulberry32(3) } });
      a = await world(caches[0]);
      b = await world(caches[1], 300);
      // both loaded (and subscribed) before anything changes
      await Promise.all([a.offers.start(), b.offers.start()]);
    });
    afterEach(async () => {
      await a.offers.close();
      await b.offers.close();
      for (const c of caches) await c.close();
    });

    it('an offer put or deleted on one instance shows in the other\'s decisions', async () => {
      const id = oid('shared');
      expect(await shown(b, ids.mug)).toEqual([]);
      await put(a, id);
      await eventually(async () => expect(await shown(b, ids.mug)).toEqual([id]));
      await put(b, id, { eligibility: { segments: ['vip'] } });
      await eventually(async () => expect(await shown(a, ids.mug)).toEqual([]));
      expect(await shown(a, ids.tea)).toEqual([id]);
      await request(b.listener).delete(`/v1/admin/offers/${id}`).set('x-api-key', KEYS.admin).expect(200);
      await eventually(async () => expect(await shown(a, ids.tea)).toEqual([]));
    });

    it('the contact cap and decline suppression hold across instances and channels', async () => {
      const capped = oid('capped');
      const suppressed = oid('suppressed');
      await put(a, capped, { contact: { maxImpressions: 1, perDays: 30 } });
      await put(a, suppressed, { contact: { suppressDaysAfterDecline: 30 } });
      await eventually(async () => expect(await shown(b, ids.mug)).toEqual([capped, suppressed].sort()));
      // b holds mug's counters now; the impression is recorded on a, through another channel
      await respond(a, ids.mug, capped, 'impression', 'store');
      await eventually(async () => expect(await shown(b, ids.mug)).toEqual([suppressed]));
      await respond(b, ids.mug, suppressed, 'declined', 'app');
      await eventually(async () => expect(await shown(a, ids.mug)).toEqual([]));
      expect(await shown(b, ids.mug)).toEqual([]);
      expect(await shown(a, ids.novec)).toEqual([capped, suppressed].sort());
    });

    it('the acceptance cap holds across instances', async () => {
      const budget = oid('budget');
      await put(a, budget, { contact: { maxAcceptances: 2 } });
      await eventually(async () => expect(await shown(b, ids.tea)).toEqual([budget]));
      await respond(a, ids.mug, budget, 'accepted');
      await respond(b, ids.novec, budget, 'accepted');
      await eventually(async () => expect(await shown(a, ids.tea)).toEqual([]));
      await eventually(async () => expect(await shown(b, ids.tea)).toEqual([]));
    });

    it("an impression's exposure (affinity lift) reaches the other instance's counts as the store holds it", async () => {
      const teas = oid('teas');
      await put(a, teas, { targets: { skus: [], categories: ['tea'] } });
      const posterior = async (w: ServedWorld) => {
        const r = await request(w.listener).get(`/v1/customers/${ids.tea}/next-best-offer?channel=web&limit=10`).set('x-api-key', KEYS.storefront).expect(200);
        const o = (r.body.offers as { offerId: string; reason: { parts: { posteriorMean: number; affinityLift: number } } }[]).find((x) => x.offerId === teas);
        return o?.reason.parts;
      };
      const fresh = (await posterior(a))!.posteriorMean;
      expect((await posterior(a))!.affinityLift).toBeCloseTo(1.75, 12);
      // recorded on b; a (which never reloads by itself) hears of them
      await eventually(async () => expect(await posterior(b)).toBeDefined());
      for (let i = 0; i < 5; i++) await respond(b, ids.tea, teas, 'impression');
      expect((await store.offerResponseStats()).find((c) => c.offerId === teas)).toMatchObject({ impressions: 5, exposure: 8.75 });
      // a applies the announced impressions (their exposure) ...
      await eventually(async () => expect((await posterior(a))!.posteriorMean).toBeLessThan(fresh));
      const heard = (await posterior(a))!.posteriorMean;
      // ... exactly as it reads them back from the store
      await a.offers.reload();
      expect((await posterior(a))!.posteriorMean).toBe(heard);
    });

    it('a change nobody announced shows within the periodic reload', async () => {
      const quiet = parseOffer({ id: oid('quiet'), title: 'q', kind: 'service', value: 1 });
      if (!quiet.ok) throw new Error('bad offer');
      await store.putOffers([quiet.offer]);
      await eventually(async () => expect(await shown(b, ids.mug)).toEqual([quiet.offer.id])); // b reloads every 300 ms
      expect(await shown(a, ids.mug)).toEqual([]); // a never reloads on its own
    });
  });
}
