/**
 * Erasure for good against the writes that race it (issue 13): the decision log (written in batches off the request
 * path, every ≤200 ms), offer events and their contact counters. Two instances of the service, each with a store of its
 * own on one database (postgres: two pools, as two processes hold them; pglite: two clients of one instance), no bus
 * between them (the other instance is not told: it still holds the customer's access answer and facts). The
 * interleavings are forced, not timed:
 *  - held flush: decisions queued on both instances, the customer erased on one, then both flush;
 *  - after: the other instance decides for and posts an event of the erased customer;
 *  - in flight: a log write (an event write) of the other store reaches its COPY (INSERT) and the erasure starts
 *    then; the write goes on once the erasure has either finished or is seen waiting for a lock (postgres), or
 *    queued behind it (pglite, one operation at a time).
 * Then every table is read directly for the erased ids (customer columns of every table, new tables too).
 */
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlClient, SqlExecutor } from '../src/store/sql-client.js';
import { SqlStore } from '../src/store/sql-store.js';
import { ERASURE_LOCK } from '../src/store/erasure-list.js';
import { UnavailableError } from '../src/core/errors.js';
import type { DecisionToLog, OfferEventInput, Store } from '../src/store/store.js';
import { storeBackends, type OpenedStore } from './helpers/backends.js';
import { hooked } from './helpers/hooked-client.js';
import { type Ids, KEYS, NOW, type ServedWorld, seedStore, serveTinyWorld } from './helpers/serve-fixture.js';

const CUSTOMER_COLUMN = /(^|_)(customer_id|survivor_id|merged_id)$/;

/** Every row of every table naming one of `ids` in a customer column (customers.id included). */
async function rowsOf(store: Store, ids: readonly string[]): Promise<string[]> {
  const db = (store as SqlStore).db;
  const tables = await db.query<{ t: string }>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const found: string[] = [];
  for (const { t } of tables.rows) {
    for (const row of (await db.query<Record<string, unknown>>(`SELECT * FROM "${t}"`)).rows) {
      for (const [col, v] of Object.entries(row)) {
        if (v === null || v === undefined) continue;
        if ((CUSTOMER_COLUMN.test(col) || (t === 'customers' && col === 'id')) && ids.includes(String(v))) found.push(`${t}.${col} = ${String(v)}`);
      }
    }
  }
  return found;
}

const decision = (decisionId: string, customerId: string | null): DecisionToLog => ({
  decisionId,
  time: NOW,
  customerId,
  context: { channel: 'web', store: null, limit: 1 },
  considered: [{ offerId: 'race', outcome: 'shown' }],
  shown: [{ offerId: 'race', position: 0, probability: 1, score: 1, propensity: 0.1 }],
  policy: { name: 'p', version: '1' },
  holdout: false,
});

const event = (eventId: string, customerId: string): OfferEventInput => ({
  eventId,
  decisionId: null,
  offerId: 'race',
  customerId,
  channel: 'web',
  type: 'impression',
  time: NOW,
  segment: 'unsegmented',
  content: eventId,
});

for (const backend of storeBackends()) {
  describe(`a write racing an erasure never survives it (${backend.name})`, () => {
    let opened: OpenedStore;
    let store: Store;
    let other: Store;
    let ids: Ids;
    let a: ServedWorld;
    let b: ServedWorld;

    beforeEach(async () => {
      opened = await backend.open();
      store = opened.store;
      other = await opened.twin();
      ids = await seedStore(store);
      // the writer's flush is held (an interval far longer than the test): the tests flush
      const offers = { holdoutShare: 0, reloadMs: 0, decisionLog: { intervalMs: 600_000 } };
      a = await serveTinyWorld(store, { ids, offers });
      b = await serveTinyWorld(other, { ids, offers });
      await request(a.listener).put('/v1/admin/offers/race').set('x-api-key', KEYS.admin).send({ id: 'race', title: 'race', kind: 'amount_off', value: 5 }).expect(200);
      await Promise.all([a.offers.start(), b.offers.start()]);
    });
    afterEach(async () => {
      await a.offers.close();
      await b.offers.close();
      await opened.cleanup();
    });

    const nbo = (w: ServedWorld, id: string) => request(w.listener).get(`/v1/customers/${id}/next-best-offer?channel=web&limit=1`).set('x-api-key', KEYS.storefront).expect(200);

    it('decisions queued before the erasure (held flush, both instances) and made after it on the instance not told leave no row', async () => {
      const erased = [ids.tea, ids.merged];
      // queued: on a (tea), on b (tea, and the merged-away id: resolves to tea); mug's must stay
      await nbo(a, ids.tea);
      await nbo(b, ids.merged);
      await nbo(b, ids.tea);
      await nbo(b, ids.mug);
      expect(a.offers.stats().decisionsQueued + b.offers.stats().decisionsQueued).toBe(4);
      await request(a.listener).delete(`/v1/customers/${ids.tea}`).set('x-api-key', KEYS.admin).expect(200);
      // after the erasure: the erasing instance answers as for anyone unknown (not personalised, logged as a guest's)
      const after = await nbo(a, ids.tea);
      expect(after.body.fallback).toBe(true);
      expect(after.body.fallbackReason).toBe('unknown_customer');
      // the instance not told still holds tea's facts: it decides for them, and posts their response
      // (its facts held for tea's access answer: the decision before the erasure was tea's, after the merged id's)
      const held = await nbo(b, ids.tea);
      expect(held.body.fallback).toBe(false);
      const posted = await request(b.listener)
        .post('/v1/events/offers')
        .set('x-api-key', KEYS.events)
        .send({ eventId: 'after-erasure', offerId: 'race', customerId: ids.tea, channel: 'web', type: 'impression' });
      await a.offers.flushDecisions();
      await b.offers.flushDecisions();
      expect(await rowsOf(store, erased)).toEqual([]);
      expect(posted.status).toBe(404);
      // the others' rows are written (the check above is not passed by writing nothing)
      const log = await store.decisionLog();
      expect(log.map((d) => d.customerId).sort()).toEqual([ids.mug, null].sort());
      // every decision left out is counted: a's one queued before the erasure, b's three
      expect(a.offers.stats().decisionsErased).toBe(1);
      expect(b.offers.stats().decisionsErased).toBe(3);
      expect(b.offers.stats().eventsErased).toBe(1);
      const metric = await b.metrics.erasedWritesDropped.get();
      expect(Object.fromEntries(metric.values.map((v) => [v.labels.kind, v.value]))).toEqual({ decision: 3, event: 1 });
      expect(b.logs.some((l) => l.msg === 'decision log: decisions of erased customers not written')).toBe(true);
    });

    it('a log write in flight when the erasure starts: its rows are deleted with the rest (store level, two stores)', async () => {
      const erased = [ids.tea, ids.merged];
      let erasing: Promise<boolean> | undefined;
      const hook = async (sql: string) => {
        if (erasing || !/^(COPY|INSERT INTO) offer_decision_log/.test(sql)) return;
        erasing = store.eraseCustomer(ids.tea);
        seen = await erasureStartedOrDone(store, erasing);
      };
      let seen = '';
      const racer = new SqlStore(hooked((other as SqlStore).db, hook));
      await racer.logDecisions([decision('d-tea', ids.tea), decision('d-merged', ids.merged), decision('d-mug', ids.mug), decision('d-guest', null)]);
      expect(await erasing).toBe(true);
      expect(await rowsOf(store, erased)).toEqual([]);
      // the erasure came while the write was in flight, and (postgres) waited for it
      expect(seen).toBe(backend.name === 'postgres' ? 'waiting' : 'queued');
      expect((await store.decisionLog()).map((d) => d.decisionId).sort()).toEqual(['d-guest', 'd-mug']);
    });

    it('an offer event in flight when the erasure starts: no event, no contact counter is left', async () => {
      const erased = [ids.tea, ids.merged];
      let erasing: Promise<boolean> | undefined;
      const hook = async (sql: string) => {
        if (erasing || !/^INSERT INTO offer_events/.test(sql)) return;
        erasing = store.eraseCustomer(ids.tea);
        seen = await erasureStartedOrDone(store, erasing);
      };
      let seen = '';
      const racer = new SqlStore(hooked((other as SqlStore).db, hook));
      await racer.recordOfferEvents([event('e-tea', ids.tea), event('e-merged', ids.merged), event('e-mug', ids.mug)]);
      expect(await erasing).toBe(true);
      expect(await rowsOf(store, erased)).toEqual([]);
      // the erasure came while the write was in flight, and (postgres) waited for it
      expect(seen).toBe(backend.name === 'postgres' ? 'waiting' : 'queued');
      expect((await store.offerSubjectFacts(ids.mug))!.contacts.get('race')!.impressions).toEqual([NOW]);
    });

    it('any write to the erasure list moves the epoch (an erasure by an earlier version, which knows no epoch, included)', async () => {
      const db = (store as SqlStore).db;
      const epoch = async () => Number((await db.query<{ n: string }>('SELECT n::text AS n FROM erasure_epoch')).rows[0].n);
      const before = await epoch();
      // as session 13's eraseCustomer did: the list written, no epoch named
      await db.query("INSERT INTO erasure_list (hash, erased_at) VALUES ('older-version-erasure', now()) ON CONFLICT DO NOTHING");
      expect(await epoch()).toBe(before + 1);
      expect(await store.eraseCustomer(ids.tea)).toBe(true);
      expect(await epoch()).toBe(before + 2);
      // a write remembering mug present is not confused by an epoch that moved without mug's erasure
      expect(await other.logDecisions([decision('m-mug', ids.mug)])).toEqual({ written: 1, erased: 0 });
    });

    it('an erasure that cannot get ERASURE_LOCK within its wait fails as unavailable (a 503 to retry), holding nothing', async () => {
      if (backend.name !== 'postgres') return expect((store as SqlStore).db.capabilities.concurrentWriters).toBe(false);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let holding!: () => void;
      const taken = new Promise<void>((r) => (holding = r));
      // a write keyed by a customer that does not finish (another instance stuck mid-transaction)
      const stuck = (other as SqlStore).db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        holding();
        await held;
      }, { sharedLock: ERASURE_LOCK });
      await taken;
      const failed = await store.eraseCustomer(ids.tea).then(() => 'erased', (e: unknown) => e);
      expect(failed).toBeInstanceOf(UnavailableError);
      expect((failed as UnavailableError).message).toMatch(/lock timeout/);
      release();
      await stuck;
      // nothing of the failed erasure was kept, and it succeeds once retried
      expect((await rowsOf(store, [ids.tea])).length).toBeGreaterThan(0);
      expect(await store.eraseCustomer(ids.tea)).toBe(true);
      expect(await rowsOf(store, [ids.tea, ids.merged])).toEqual([]);
    });

    it('writes after the erasure through the other store: left out and counted', async () => {
      // the other store has written for tea before (and remembers them present: src/store/erasure-list.ts)
      expect(await other.logDecisions([decision('w-tea', ids.tea), decision('w-merged', ids.merged)])).toEqual({ written: 2, erased: 0 });
      expect(await other.recordOfferEvents([event('w-tea', ids.tea)])).toEqual(['recorded']);
      expect(await store.eraseCustomer(ids.tea)).toBe(true);
      // only customers it remembers present: the erasure since is seen (their ids looked up again)
      expect(await other.logDecisions([decision('z-tea', ids.tea)])).toEqual({ written: 0, erased: 1 });
      const logged = await other.logDecisions([decision('x-tea', ids.tea), decision('x-merged', ids.merged), decision('x-mug', ids.mug)]);
      const outcomes = await other.recordOfferEvents([event('y-tea', ids.tea), event('y-mug', ids.mug), event('y-merged', ids.merged)]);
      // a consent write for the erased id: refused as unknown (the foreign key, even when looked up before)
      await expect(other.setConsent(ids.tea, 'email', true, 'test')).rejects.toThrow(/unknown customer/);
      expect(await rowsOf(store, [ids.tea, ids.merged])).toEqual([]);
      expect(logged).toEqual({ written: 1, erased: 2 });
      expect(outcomes).toEqual(['erased', 'recorded', 'erased']);
      // the counters count only what was stored (tea's impression before the erasure, mug's after)
      expect((await store.offerCounts()).get('race')!.impressions).toBe(2);
    });
  });
}

/**
 * Resolves once the erasure has finished, or (postgres) is seen waiting for a lock held by the caller's open
 * transaction; on pglite at once (one operation at a time: it runs after the caller's).
 */
async function erasureStartedOrDone(store: Store, erasing: Promise<boolean>): Promise<'queued' | 'waiting' | 'done'> {
  const db = (store as SqlStore).db;
  if (db.dialect !== 'postgres') return 'queued';
  let done = false;
  void erasing.finally(() => (done = true)).catch(() => undefined);
  for (let i = 0; i < 2000 && !done; i++) {
    const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (r.rows[0].n > 0) return 'waiting';
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!done) throw new Error('the erasure neither finished nor waited for a lock');
  return 'done';
}
