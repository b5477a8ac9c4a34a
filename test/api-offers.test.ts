/**
 * Next best offer through the API, over a real history store (every backend available) and the tiny
 * world (test/helpers/serve-fixture.ts): admin routes and 400s naming the field, eligibility edge cases
 * (windows, segments, stores, stock, order counts), consent per channel, contact caps and decline
 * suppression across channels, the acceptance cap, idempotent events and 409s, merged and unknown
 * customers, guests' sessions, and the decision log.
 *
 * Customers: tea (vip, bought teas; loyalty id `merged` merged into them), mug (bought a mug and
 * soap), novec, nocons (no personalisation consent). Stock: S1 → TEA-1, MUG-1; S2 → TEA-2.
 */
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/store.js';
import { evaluateOfferLog } from '../src/eval/offer-evaluation.js';
import { readStoredOfferLog, type OfferLogSource } from '../src/eval/offer-log-store.js';
import { storeBackends } from './helpers/backends.js';
import { mulberry32 } from '../src/core/random.js';
import { decide } from '../src/core/offers/decide.js';
import { type Ids, KEYS, NOW, type ServedWorld, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';

const DAY = 86_400_000;
/** The service's decision core, seeded, without holdout (a holdout decision draws at random). */
const OFFERS = () => ({ holdoutShare: 0, reloadMs: 0, random: mulberry32(7) });
const iso = (ms: number) => new Date(ms).toISOString();
type Answer = { offers: { offerId: string; reason: { type: string; details: Record<string, unknown>[] } }[]; decisionId: string; customerId?: string; fallback: boolean; fallbackReason?: string };

for (const backend of storeBackends()) {
  describe(`next best offer API (${backend.name})`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let ids: Ids;
    let w: ServedWorld;
    let n = 0;
    const oid = (name: string) => `${name}-${++n}`;
    const admin = () => ({
      put: (id: string, body: unknown) => request(w.listener).put(`/v1/admin/offers/${id}`).set('x-api-key', KEYS.admin).send(body as object),
      get: (path = '') => request(w.listener).get(`/v1/admin/offers${path}`).set('x-api-key', KEYS.admin),
      del: (id: string) => request(w.listener).delete(`/v1/admin/offers/${id}`).set('x-api-key', KEYS.admin),
    });
    const offer = async (id: string, extra: Record<string, unknown> = {}) => {
      const r = await admin().put(id, { id, title: `Offer ${id}`, kind: 'percent_off', value: 10, ...extra });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };
    const nbo = async (customerId: string, query: string, world = w): Promise<Answer> => {
      const r = await request(world.listener).get(`/v1/customers/${customerId}/next-best-offer?${query}`).set('x-api-key', KEYS.storefront);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body as Answer;
    };
    const shown = async (customerId: string, query = 'channel=web&limit=10', world = w) => (await nbo(customerId, query, world)).offers.map((o) => o.offerId).sort();
    const event = (body: Record<string, unknown>, world = w) => request(world.listener).post('/v1/events/offers').set('x-api-key', KEYS.events).send(body);
    let eventNo = 0;
    const respond = async (customerId: string, offerId: string, type: string, extra: Record<string, unknown> = {}, world = w) => {
      const r = await event({ eventId: `e-${process.pid}-${++eventNo}`, offerId, customerId, channel: 'web', type, ...extra }, world);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };

    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      ids = await seedStore(store);
    });
    afterAll(async () => {
      await cleanup?.();
    });
    beforeEach(async () => {
      for (const o of await store.offers()) await store.deleteOffer(o.id);
      w = await serveTinyWorld(store, { ids, offers: OFFERS() });
    });
    afterEach(async () => {
      await w.offers.close();
    });

    it('admin: PUT creates and replaces, GET returns every field, DELETE removes; admin scope only; in /openapi.json', async () => {
      const id = oid('winback');
      const body = await offer(id, {
        description: 'welcome back',
        cost: 2,
        targets: { skus: [], categories: ['tea'] },
        channels: ['store', 'app', 'email'],
        startsAt: '2026-01-01T00:00:00Z',
        eligibility: { segments: ['lapsed', 'at_risk'], minOrders: 1, minDaysSinceLastPurchase: 60 },
        contact: { maxImpressions: 3, perDays: 30, suppressDaysAfterDecline: 14, maxAcceptances: 1000 },
      });
      expect(body).toEqual({
        id,
        title: `Offer ${id}`,
        description: 'welcome back',
        kind: 'percent_off',
        value: 10,
        cost: 2,
        targets: { skus: [], categories: ['tea'] },
        channels: ['store', 'app', 'email'],
        stores: [],
        startsAt: '2026-01-01T00:00:00.000Z',
        endsAt: null,
        eligibility: { segments: ['lapsed', 'at_risk'], minOrders: 1, maxOrders: null, minSpend: null, minDaysSinceLastPurchase: 60, newCustomersOnly: null },
        contact: { maxImpressions: 3, perDays: 30, suppressDaysAfterDecline: 14, maxAcceptances: 1000 },
        weight: 1,
      });
      expect((await admin().get(`/${id}`).expect(200)).body).toEqual(body);
      await offer(id, { title: 'replaced' });
      expect((await admin().get().expect(200)).body.offers.map((o: { id: string; title: string }) => [o.id, o.title])).toEqual([[id, 'replaced']]);
      await request(w.listener).get('/v1/admin/offers').set('x-api-key', KEYS.storefront).expect(403);
      await request(w.listener).put(`/v1/admin/offers/${id}`).send({}).expect(401);
      expect((await admin().del(id).expect(200)).body).toEqual({ id, deleted: true });
      await admin().del(id).expect(404);
      await admin().get(`/${id}`).expect(404);
      const doc = (await request(w.listener).get('/openapi.json').expect(200)).body;
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/admin/offers', '/v1/admin/offers/{id}', '/v1/customers/{id}/next-best-offer', '/v1/sessions/next-best-offer', '/v1/events/offers']));
      expect(Object.keys(doc.paths['/v1/admin/offers/{id}']).sort()).toEqual(['delete', 'get', 'put']);
    });

    it('a bad offer is a 400 naming the field', async () => {
      const base = { id: 'x-1', title: 'x', kind: 'percent_off', value: 1 };
      const cases: [Record<string, unknown>, string][] = [
        [{ kind: 'half_price' }, 'body.kind'],
        [{ value: -1 }, 'body.value'],
        [{ value: 'ten' }, 'body.value'],
        [{ title: '' }, 'body.title'],
        [{ channels: ['fax'] }, 'body.channels.0'],
        [{ eligibility: { segments: ['gold'] } }, 'body.eligibility.segments.0'],
        [{ eligibility: { minOrders: 3, maxOrders: 1 } }, 'body.eligibility.maxOrders'],
        [{ eligibility: { minOrder: 3 } }, 'body.eligibility'],
        [{ contact: { perDays: 400 } }, 'body.contact.perDays'],
        [{ startsAt: 'yesterday' }, 'body.startsAt'],
        [{ startsAt: '2026-02-01T00:00:00Z', endsAt: '2026-01-01T00:00:00Z' }, 'body.endsAt'],
        [{ targets: { skus: 'TEA-1' } }, 'body.targets.skus'],
        [{ weight: -2 }, 'body.weight'],
        [{ stores: ['S\ud8001'] }, 'body.stores.0'], // a lone surrogate: PostgreSQL cannot store it (was a 500)
        [{ title: 'Caf\udc00' }, 'body.title'],
        [{ colour: 'red' }, 'body'],
        [{ id: 'other' }, 'body.id'],
      ];
      for (const [bad, field] of cases) {
        const r = await admin().put('x-1', { ...base, ...bad });
        expect(r.status, JSON.stringify(bad)).toBe(400);
        expect(r.body.fields.map((f: { field: string }) => f.field), JSON.stringify(bad)).toContain(field);
      }
      const noKind = await admin().put('x-1', { id: 'x-1', title: 'x', value: 1 });
      expect(noKind.body.fields.map((f: { field: string }) => f.field)).toEqual(['body.kind']);
      await admin().put('bad id!', base).expect(400);
      expect((await admin().get().expect(200)).body.offers).toEqual([]);
    });

    it('eligibility: validity window (ends exclusive), channels, segments, order counts, spend, days since the last purchase', async () => {
      const live = oid('live');
      const future = oid('future');
      const ended = oid('ended');
      const endsNow = oid('ends-now');
      const storeOnly = oid('store-only');
      const vip = oid('vip');
      const loyal = oid('loyal');
      const many = oid('many-orders');
      const few = oid('few-orders');
      const rich = oid('rich');
      const lapsed = oid('lapsed-60');
      const recent = oid('winback-30');
      await offer(live, { startsAt: iso(NOW - DAY), endsAt: iso(NOW + DAY) });
      await offer(future, { startsAt: iso(NOW + 1) });
      await offer(ended, { endsAt: iso(NOW - DAY) });
      await offer(endsNow, { endsAt: iso(NOW) });
      await offer(storeOnly, { channels: ['store', 'app'] });
      await offer(vip, { eligibility: { segments: ['vip'] } });
      await offer(loyal, { eligibility: { segments: ['loyal'] } });
      await offer(many, { eligibility: { minOrders: 3 } });
      await offer(few, { eligibility: { maxOrders: 1 } });
      await offer(rich, { eligibility: { minSpend: 1000 } });
      await offer(lapsed, { eligibility: { minDaysSinceLastPurchase: 60 } });
      await offer(recent, { eligibility: { minDaysSinceLastPurchase: 30 } });
      // tea: vip, three orders, last one 49 days ago
      expect(await shown(ids.tea)).toEqual([live, many, recent, vip].sort());
      // mug: no segment, one order
      expect(await shown(ids.mug)).toEqual([few, live, recent].sort());
      expect(await shown(ids.mug, 'channel=store&limit=10')).toEqual([few, live, recent, storeOnly].sort());
      const a = await nbo(ids.tea, 'channel=web&limit=10');
      expect(a.offers.find((o) => o.offerId === recent)!.reason.details).toContainEqual({ type: 'win_back', daysSinceLastPurchase: 49 });
      expect(a).toMatchObject({ customerId: ids.tea, fallback: false, policy: { name: expect.any(String), version: expect.any(String) } });
      expect(a.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('eligibility: stores and stock (targets in stock in that store; unknown store: none)', async () => {
      const s1 = oid('s1-only');
      const tea2 = oid('tea2');
      const teas = oid('teas');
      const soaps = oid('soaps');
      const shipping = oid('free-shipping');
      await offer(s1, { stores: ['S1'] });
      await offer(tea2, { targets: { skus: ['TEA-2'], categories: [] } });
      await offer(teas, { targets: { skus: [], categories: ['tea'] } });
      await offer(soaps, { targets: { skus: [], categories: ['soap'] } }); // SOAP-1 has quantity 0 at S1
      await offer(shipping, { kind: 'free_shipping' });
      expect(await shown(ids.mug, 'channel=store&store=S1&limit=10')).toEqual([s1, shipping, teas].sort());
      expect(await shown(ids.mug, 'channel=store&store=S2&limit=10')).toEqual([shipping, tea2, teas].sort()); // TEA-2 is a tea
      expect(await shown(ids.mug, 'channel=store&store=NOWHERE&limit=10')).toEqual([shipping]);
      // online: no store, no stock rule
      expect(await shown(ids.mug, 'channel=web&limit=10')).toEqual([shipping, soaps, tea2, teas].sort());
    });

    it('never two offers on the same target; limit', async () => {
      const a = oid('tea-a');
      const b = oid('tea-b');
      await offer(a, { targets: { skus: ['TEA-1'], categories: [] }, value: 20 });
      await offer(b, { targets: { skus: ['TEA-1'], categories: [] }, value: 10 });
      await offer(oid('other'), { value: 1 });
      const other = `other-${n}`;
      for (let i = 0; i < 20; i++) {
        // Thompson sampling may put either tea offer first, never both
        const all = (await nbo(ids.mug, 'channel=web&limit=10')).offers.map((o) => o.offerId);
        expect(all).toHaveLength(2);
        expect(all).toContain(other);
        expect([a, b]).toContain(all.find((x) => x !== other));
        expect((await nbo(ids.mug, 'channel=web')).offers).toHaveLength(1);
      }
    });

    it('consent per channel: email needs email consent, refused means nothing through it; web and store need none', async () => {
      const any = oid('any');
      await offer(any);
      expect(await shown(ids.mug, 'channel=email')).toEqual([]); // never asked
      expect(await shown(ids.mug, 'channel=web')).toEqual([any]);
      await store.setConsent(ids.mug, 'email', true, 'test', new Date(NOW - DAY));
      w.access.invalidate(ids.mug);
      expect(await shown(ids.mug, 'channel=email')).toEqual([any]);
      expect(await shown(ids.mug, 'channel=push')).toEqual([]);
      expect(await shown(ids.mug, 'channel=app')).toEqual([]); // app needs push by default
      await store.setConsent(ids.mug, 'email', false, 'test', new Date(NOW));
      w.access.invalidate(ids.mug);
      expect(await shown(ids.mug, 'channel=email')).toEqual([]);
      expect(await shown(ids.mug, 'channel=store')).toEqual([any]);
    });

    it('OFFER_CHANNEL_CONSENT is configuration', async () => {
      await w.offers.close();
      w = await serveTinyWorld(store, { ids, offers: { ...OFFERS(), channelConsent: { web: 'email' } } });
      const any = oid('any');
      await offer(any);
      expect(await shown(ids.novec, 'channel=web')).toEqual([]);
      expect(await shown(ids.novec, 'channel=app')).toEqual([any]);
    });

    it('without personalisation consent: non-personalised offers only (no segment, no affinity), and the answer says so', async () => {
      const plain = oid('plain');
      const vip = oid('vip');
      const teas = oid('teas');
      await offer(plain);
      await offer(vip, { eligibility: { segments: ['vip'] } });
      await offer(teas, { targets: { skus: [], categories: ['tea'] } });
      const a = await nbo(ids.nocons, 'channel=web&limit=10');
      expect(a).toMatchObject({ customerId: ids.nocons, fallback: true, fallbackReason: 'no_consent' });
      expect(a.offers.map((o) => o.offerId).sort()).toEqual([plain, teas].sort());
      for (const o of a.offers) {
        expect(o.reason.details).toContainEqual({ type: 'non_personalised', why: 'no_consent' });
        expect(o.reason.details.some((d) => d.type === 'affinity')).toBe(false);
      }
      // with consent, the tea lover's tea offer carries its affinity
      const t = await nbo(ids.tea, 'channel=web&limit=10');
      expect(t.offers.find((o) => o.offerId === teas)!.reason.details).toContainEqual({ type: 'affinity', affinity: 1, sku: 'TEA-1' });
    });

    it('a merged-away id resolves to the survivor; an unknown id gets a guest decision that says so', async () => {
      const vip = oid('vip');
      const plain = oid('plain');
      await offer(vip, { eligibility: { segments: ['vip'] } });
      await offer(plain);
      const m = await nbo(ids.merged, 'channel=web&limit=10');
      expect(m.customerId).toBe(ids.tea);
      expect(m.offers.map((o) => o.offerId).sort()).toEqual([plain, vip].sort());
      const u = await nbo('99999999', 'channel=web&limit=10');
      expect(u).toMatchObject({ fallback: true, fallbackReason: 'unknown_customer' });
      expect(u.customerId).toBeUndefined();
      expect(u.offers.map((o) => o.offerId)).toEqual([plain]);
      expect(u.offers[0].reason.details).toContainEqual({ type: 'non_personalised', why: 'unknown_customer' });
    });

    it("guests: POST /v1/sessions/next-best-offer decides from the session's items", async () => {
      const teas = oid('teas');
      const mugs = oid('mugs');
      await offer(teas, { targets: { skus: [], categories: ['tea'] } });
      await offer(mugs, { targets: { skus: [], categories: ['mug'] } });
      const r = await request(w.listener).post('/v1/sessions/next-best-offer').set('x-api-key', KEYS.storefront).send({ items: ['TEA-1', 'TEA-2'], channel: 'web' }).expect(200);
      expect(r.body.offers.map((o: { offerId: string }) => o.offerId)).toEqual([teas]);
      expect(r.body.customerId).toBeUndefined();
      expect(r.body.fallback).toBe(false);
      const bad = await request(w.listener).post('/v1/sessions/next-best-offer').set('x-api-key', KEYS.storefront).send({ items: [], channel: 'telegram' });
      expect(bad.status).toBe(400);
      expect(bad.body.fields.map((f: { field: string }) => f.field)).toEqual(['body.channel']);
      const badLimit = await request(w.listener).get(`/v1/customers/${ids.tea}/next-best-offer?channel=web&limit=0`).set('x-api-key', KEYS.storefront);
      expect(badLimit.body.fields.map((f: { field: string }) => f.field)).toEqual(['query.limit']);
      await request(w.listener).get(`/v1/customers/${ids.tea}/next-best-offer?channel=web`).set('x-api-key', KEYS.events).expect(403);
      await request(w.listener).get(`/v1/customers/${ids.tea}/next-best-offer?channel=web`).set('x-api-key', KEYS.associate).expect(200);
    });

    it('contact cap across channels, and decline suppression across channels', async () => {
      const capped = oid('capped');
      const suppressed = oid('suppressed');
      await offer(capped, { contact: { maxImpressions: 2, perDays: 30 } });
      await offer(suppressed, { contact: { suppressDaysAfterDecline: 14 } });
      await respond(ids.mug, capped, 'impression', { channel: 'web', time: iso(NOW - 40 * DAY) }); // outside the window
      await respond(ids.mug, capped, 'impression', { channel: 'web' });
      expect(await shown(ids.mug)).toEqual([capped, suppressed].sort());
      await respond(ids.mug, capped, 'impression', { channel: 'app' });
      expect(await shown(ids.mug, 'channel=store&limit=10')).toEqual([suppressed]);
      await respond(ids.mug, suppressed, 'declined', { channel: 'store', time: iso(NOW - 13 * DAY) });
      expect(await shown(ids.mug, 'channel=web&limit=10')).toEqual([]);
      // another customer is not affected
      expect(await shown(ids.novec)).toEqual([capped, suppressed].sort());
      // a decline more than 14 days ago no longer suppresses
      await respond(ids.novec, suppressed, 'declined', { time: iso(NOW - 15 * DAY) });
      expect(await shown(ids.novec)).toEqual([capped, suppressed].sort());
      // a new instance (counters read from the store) agrees
      await w.offers.close();
      w = await serveTinyWorld(store, { ids, offers: OFFERS() });
      expect(await shown(ids.mug)).toEqual([]);
      // events for a merged-away id count for the survivor
      const merged = oid('merged-cap');
      await offer(merged, { contact: { maxImpressions: 1 } });
      await respond(ids.merged, merged, 'impression');
      expect(await shown(ids.tea)).not.toContain(merged);
    });

    it('acceptance cap: the offer stops once accepted so many times in all', async () => {
      const budget = oid('budget');
      await offer(budget, { contact: { maxAcceptances: 1 } });
      expect(await shown(ids.tea)).toEqual([budget]);
      await respond(ids.mug, budget, 'accepted');
      expect(await shown(ids.tea)).toEqual([]);
    });

    it('events: idempotent by eventId, 409 for the same id with other content, 404s and 400s naming the field', async () => {
      const o = oid('ev');
      await offer(o);
      const body = { eventId: `dup-${process.pid}`, offerId: o, customerId: ids.tea, channel: 'app', type: 'impression', time: iso(NOW - DAY) };
      expect((await event(body).expect(200)).body).toEqual({ eventId: body.eventId, customerId: ids.tea, recorded: true, duplicate: false });
      expect((await event(body).expect(200)).body).toEqual({ eventId: body.eventId, customerId: ids.tea, recorded: false, duplicate: true });
      const conflict = await event({ ...body, type: 'accepted' }).expect(409);
      expect(conflict.body).toMatchObject({ error: 'conflict' });
      // an offer without targets: no affinity, the impression counts 1
      expect((await store.offerCounts()).get(o)).toEqual({ impressions: 1, accepted: 0, declined: 0, ignored: 0, exposure: 1 });
      expect((await event({ ...body, eventId: 'x1', customerId: '99999999' }).expect(404)).body.message).toMatch(/customer/);
      expect((await event({ ...body, eventId: 'x2', offerId: 'no-such-offer' }).expect(404)).body.message).toMatch(/offer/);
      const bad: [Record<string, unknown>, string][] = [
        [{ type: 'clicked' }, 'body.type'],
        [{ channel: 'fax' }, 'body.channel'],
        [{ eventId: '' }, 'body.eventId'],
        [{ time: 'soon' }, 'body.time'],
        [{ time: iso(Date.now() + 3 * DAY) }, 'body.time'],
        [{ offerId: 'bad id!' }, 'body.offerId'],
        [{ extra: 1 }, 'body'],
      ];
      for (const [b, field] of bad) {
        const r = await event({ ...body, eventId: 'y', ...b });
        expect(r.status, JSON.stringify(b)).toBe(400);
        expect(r.body.fields.map((f: { field: string }) => f.field), JSON.stringify(b)).toContain(field);
      }
      const { customerId: _c, ...noCustomer } = body;
      expect((await event({ ...noCustomer, eventId: 'z' }).expect(400)).body.fields.map((f: { field: string }) => f.field)).toEqual(['body.customerId']);
      await request(w.listener).post('/v1/events/offers').set('x-api-key', KEYS.storefront).send(body).expect(403);
    });

    it('the decision log holds the context, the offers considered, those shown and the probability of each', async () => {
      const a = oid('log-a');
      const b = oid('log-b');
      await offer(a, { value: 20 });
      await offer(b, { eligibility: { segments: ['loyal'] } });
      const d = await nbo(ids.tea, 'channel=store&store=S1&limit=2');
      const g = await request(w.listener).post('/v1/sessions/next-best-offer').set('x-api-key', KEYS.storefront).send({ items: ['TEA-1'], channel: 'web' }).expect(200);
      await w.offers.flushDecisions();
      const log = await store.decisionLog({ customerId: ids.tea });
      const entry = log.find((e) => e.decisionId === d.decisionId)!;
      expect(entry).toMatchObject({
        customerId: ids.tea,
        context: { channel: 'store', store: 'S1', limit: 2, segment: 'vip', personalised: true },
        shown: [{ offerId: a, position: 0, probability: expect.any(Number) }],
        holdout: false,
        policy: { name: expect.any(String), version: expect.any(String) },
      });
      expect(entry.shown[0].probability).toBeGreaterThan(0);
      expect(entry.shown[0].probability).toBeLessThanOrEqual(1);
      expect(entry.considered).toEqual(expect.arrayContaining([{ offerId: a, outcome: 'shown' }, { offerId: b, outcome: 'ineligible', why: 'segment' }]));
      const guest = (await store.decisionLog()).find((e) => e.decisionId === g.body.decisionId)!;
      expect(guest).toMatchObject({ customerId: null, context: { channel: 'web', items: ['TEA-1'] } });
    });

    it('the decision log the service wrote evaluates from the store (evaluate:offers --from-store): top offers at position 1, accepted events as rewards', async () => {
      const a = oid('eval-a');
      const b = oid('eval-b');
      await offer(a, { value: 20 });
      await offer(b, { value: 5, channels: ['web'] });
      const decisions: Answer[] = [];
      for (let i = 0; i < 6; i++) decisions.push(await nbo(i % 2 ? ids.tea : ids.mug, 'channel=web&limit=2'));
      // the first decision's top offer accepted (its impression first), the second's declined
      const d0 = decisions[0];
      const d1 = decisions[1];
      await respond(ids.mug, d0.offers[0].offerId, 'impression', { decisionId: d0.decisionId });
      await respond(ids.mug, d0.offers[0].offerId, 'accepted', { decisionId: d0.decisionId });
      await respond(ids.tea, d1.offers[0].offerId, 'declined', { decisionId: d1.decisionId });
      await w.offers.flushDecisions();
      const { rows, offers, notes } = await readStoredOfferLog(store as unknown as OfferLogSource);
      const mine = rows.filter((r) => decisions.some((d) => d.decisionId === r.decisionId));
      expect(mine.filter((r) => r.position === 1).map((r) => r.decisionId).sort()).toEqual(decisions.map((d) => d.decisionId).sort());
      for (const r of mine) {
        const d = decisions.find((x) => x.decisionId === r.decisionId)!;
        expect(r.offerId).toBe(d.offers[r.position - 1].offerId);
        expect(r.probability).toBeGreaterThan(0);
        expect(r.probability).toBeLessThanOrEqual(1);
        expect(r.channel).toBe('web');
        expect(r.candidates).toEqual(expect.arrayContaining([a, b]));
        const value = r.offerId === a ? 20 : 5;
        const accepted = r.decisionId === d0.decisionId && r.position === 1;
        expect([r.accepted, r.reward]).toEqual([accepted, accepted ? value : 0]);
      }
      expect(notes.decisions).toBeGreaterThanOrEqual(decisions.length);
      expect(offers.map((o) => o.id)).toEqual(expect.arrayContaining([a, b]));
      const report = evaluateOfferLog(mine, { offers, draws: 50 });
      expect(report.decisions).toBe(decisions.length);
      expect(report.onPolicy.value).toBeCloseTo((d0.offers[0].offerId === a ? 20 : 5) / decisions.length, 10);
      for (const [name, p] of Object.entries(report.policies)) {
        for (const e of [p.ips, p.dr]) expect(e.value, name).toSatisfy(Number.isFinite);
        // SNIPS is undefined (NaN, null in JSON) only when the policy never chose what the log shows: no weight at all
        if (Number.isNaN(p.snips.value)) expect(p.ips.value, name).toBe(0);
        else expect(p.snips.value, name).toSatisfy(Number.isFinite);
      }
    });

    it('an impression counts as the affinity lift the decision applies (exposure), in the store and in memory alike', async () => {
      const teas = oid('teas');
      const plain = oid('plain');
      await offer(teas, { targets: { skus: [], categories: ['tea'] } });
      await offer(plain);
      const d = await nbo(ids.tea, 'channel=web&limit=10');
      const parts = (id: string, a: Answer) => a.offers.find((o) => o.offerId === id)!.reason as unknown as { parts: { affinityLift: number; posteriorMean: number } };
      // the tea lover's affinity to teas is 1: lift 1 + 1.5 × ½
      expect(parts(teas, d).parts.affinityLift).toBeCloseTo(1.75, 12);
      await respond(ids.tea, teas, 'impression', { decisionId: d.decisionId });
      await respond(ids.tea, plain, 'impression', { decisionId: d.decisionId });
      await respond(ids.nocons, teas, 'impression'); // no personalisation: no affinity, lift 1
      await respond(ids.tea, teas, 'accepted', { decisionId: d.decisionId }); // adds no exposure
      const cells = (await store.offerResponseStats()).filter((c) => c.offerId === teas || c.offerId === plain);
      expect(cells.map((c) => [c.offerId, c.segment, c.impressions, c.accepted, c.exposure])).toEqual(
        [
          [teas, 'unsegmented', 1, 0, 1],
          [teas, 'vip', 1, 1, 1.75],
          [plain, 'vip', 1, 0, 1],
        ].sort((x, y) => (`${x[0]}|${x[1]}` < `${y[0]}|${y[1]}` ? -1 : 1)),
      );
      expect((await store.offerCounts()).get(teas)).toMatchObject({ impressions: 2, accepted: 1, exposure: 2.75 });
      // what this instance applied in memory is what it reads back from the store
      const before = parts(teas, await nbo(ids.tea, 'channel=web&limit=10')).parts.posteriorMean;
      await w.offers.reload();
      expect(parts(teas, await nbo(ids.tea, 'channel=web&limit=10')).parts.posteriorMean).toBe(before);
      // the stored log carries the impression's exposure for the evaluator
      await w.offers.flushDecisions();
      const { rows } = await readStoredOfferLog(store as unknown as OfferLogSource);
      const mine = rows.filter((r) => r.decisionId === d.decisionId);
      expect(Object.fromEntries(mine.map((r) => [r.offerId, r.exposure]))).toEqual({ [teas]: 1.75, [plain]: 1 });
    });

    it('a reload that reads the offers held keeps them (nothing derived from them is rebuilt); a changed offer replaces them', async () => {
      const a = oid('kept');
      await offer(a);
      const seen: unknown[] = [];
      const world = await serveTinyWorld(store, {
        ids,
        offers: { ...OFFERS(), decide: (offers, subject, ctx, stats) => (seen.push(offers), decide(offers, subject, ctx, stats)) },
      });
      try {
        await nbo(ids.tea, 'channel=web', world);
        await world.offers.reload();
        await world.offers.reload();
        await nbo(ids.tea, 'channel=web', world);
        expect(seen).toHaveLength(2);
        expect(seen[1]).toBe(seen[0]);
        await store.putOffers([{ ...(await store.offer(a))!, title: 'changed' }]);
        await world.offers.reload();
        const after = await nbo(ids.tea, 'channel=web&limit=10', world);
        expect(seen[2]).not.toBe(seen[0]);
        expect(after.offers.find((o) => o.offerId === a)).toMatchObject({ title: 'changed' });
      } finally {
        await world.offers.close();
      }
    });

    it('a reload that reads the response counts held keeps them (the same stats to decide on); counts changed in the store replace them', async () => {
      const budget = oid('kept-budget');
      const other = oid('kept-other');
      await offer(budget, { contact: { maxAcceptances: 1 } });
      await offer(other);
      const seen: unknown[] = [];
      const world = await serveTinyWorld(store, {
        ids,
        offers: { ...OFFERS(), decide: (offers, subject, ctx, stats) => (seen.push(stats), decide(offers, subject, ctx, stats)) },
      });
      try {
        await respond(ids.mug, other, 'impression', {}, world);
        await respond(ids.mug, other, 'declined', {}, world);
        expect(await shown(ids.tea, 'channel=web&limit=10', world)).toEqual([budget, other].sort());
        await world.offers.reload();
        await world.offers.reload();
        expect(await shown(ids.tea, 'channel=web&limit=10', world)).toEqual([budget, other].sort());
        // the counts read are those applied in memory: kept (and with them what decide derived from them)
        expect(seen).toHaveLength(2);
        expect(seen[1]).toBe(seen[0]);
        // an acceptance stored by a writer nobody heard of: the next reload reads other counts and replaces them
        const outcome = await store.recordOfferEvents([
          { eventId: `kept-${process.pid}-${++eventNo}`, decisionId: null, offerId: budget, customerId: ids.mug, channel: 'web', type: 'accepted', time: NOW, segment: 'vip', content: '{}' },
        ]);
        expect(outcome).toEqual(['recorded']);
        await world.offers.reload();
        expect(await shown(ids.tea, 'channel=web&limit=10', world)).toEqual([other]);
        expect(seen[2]).not.toBe(seen[0]);
      } finally {
        await world.offers.close();
      }
    });

    it('a clean shutdown writes every decision queued', async () => {
      await offer(oid('shutdown'));
      const before = (await store.decisionLog()).length;
      for (let i = 0; i < 5; i++) await nbo(ids.tea, 'channel=web');
      await w.offers.close();
      expect((await store.decisionLog()).length).toBe(before + 5);
    });
  });
}
