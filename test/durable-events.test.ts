/**
 * Acknowledged means durable: the write a purchase event is answered after (Store.importLines) and the
 * one an offer event is answered after (Store.recordOfferEvents) commit synchronously, and on PostgreSQL
 * a durable transaction runs with synchronous_commit = on whatever the session's default; bulk imports
 * may commit asynchronously.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { recordPurchase } from '../src/api/purchase-events.js';
import type { ModelSource } from '../src/cache/model-source.js';
import { pgClient } from '../src/store/pg-client.js';
import { pgliteClient } from '../src/store/pglite-client.js';
import type { SqlClient, TransactionOptions } from '../src/store/sql-client.js';
import { SqlStore } from '../src/store/sql-store.js';
import type { OfferEventInput } from '../src/store/store.js';
import { offer } from './helpers/offers.js';

/**
 * A SqlClient that records the options of every transaction and, when `settings` is given, the
 * synchronous_commit in force inside it (read first thing in the transaction, as its statements see it).
 */
function recording(db: SqlClient, seen: TransactionOptions[], settings?: string[]): SqlClient {
  return {
    dialect: db.dialect,
    capabilities: db.capabilities,
    query: (s, p) => db.query(s, p),
    exec: (s) => db.exec(s),
    copyFrom: (s, d) => db.copyFrom(s, d),
    transaction: (fn, options = {}) => {
      seen.push(options);
      if (!settings) return db.transaction(fn, options);
      return db.transaction(async (tx) => {
        settings.push((await tx.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0].synchronous_commit);
        return fn(tx);
      }, options);
    },
    close: () => db.close(),
  };
}

function offerEvent(eventId: string, customerId: string, type: OfferEventInput['type']): OfferEventInput {
  const e = { eventId, decisionId: 'd1', offerId: 'A', customerId, channel: 'web' as const, type, time: Date.UTC(2026, 0, 5), segment: 'repeat' as const };
  return { ...e, content: JSON.stringify([e.decisionId, e.offerId, e.customerId, e.channel, e.type, e.time]) };
}

/** Records two offer events through `store` (migrated) after the offer they name and a customer exist. */
async function recordTwoOfferEvents(store: SqlStore, before: () => void): Promise<void> {
  await store.putOffers([offer('A')]);
  const customerId = await store.resolveIdentity([{ kind: 'email', value: 'b@x.io' }]);
  before();
  const outcomes = await store.recordOfferEvents([offerEvent('e1', customerId, 'impression'), offerEvent('e2', customerId, 'accepted')]);
  expect(outcomes).toEqual(['recorded', 'recorded']);
}

describe('durable acknowledgements', () => {
  it('a purchase event writes in durable transactions only', async () => {
    const seen: TransactionOptions[] = [];
    const store = new SqlStore(recording(await pgliteClient({}), seen));
    await store.migrate();
    seen.length = 0;
    const r = await recordPurchase(
      { store, source: { current: () => null } as unknown as ModelSource, invalidate: async () => {} },
      { orderId: 'E1', channel: 'web', time: Date.UTC(2026, 0, 5), identifiers: [{ kind: 'email', value: 'a@x.io' }], lines: [{ sku: 'S1', quantity: 1, unitPrice: 2 }] },
    );
    expect(r.imported).toBe(1);
    const writes = seen.filter((o) => o.lock !== undefined || o.asyncCommit !== undefined || o.durable !== undefined);
    expect(writes.length).toBeGreaterThan(0);
    for (const o of writes) expect(o).toMatchObject({ durable: true, asyncCommit: false });
    await store.close();
  });

  it('offer events are recorded in a durable transaction only (the 200 of POST /v1/events/offers waits for it)', async () => {
    const seen: TransactionOptions[] = [];
    const store = new SqlStore(recording(await pgliteClient({}), seen));
    await store.migrate();
    await recordTwoOfferEvents(store, () => (seen.length = 0));
    expect(seen.length).toBeGreaterThan(0);
    for (const o of seen) expect(o).toMatchObject({ durable: true });
    await store.close();
  });

  if (process.env.DATABASE_URL) it('on PostgreSQL offer events commit with synchronous_commit on when the session default is off', async () => {
    const url = process.env.DATABASE_URL!;
    const name = `omnirec_t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(url);
    u.pathname = `/${name}`;
    const db = await pgClient(u.toString(), { max: 1 });
    try {
      await db.query('SET synchronous_commit = off'); // the session default of the pool's one connection
      const seen: TransactionOptions[] = [];
      const settings: string[] = [];
      const store = new SqlStore(recording(db, seen, settings));
      await store.migrate();
      await recordTwoOfferEvents(store, () => {
        seen.length = 0;
        settings.length = 0;
      });
      expect(settings.length).toBeGreaterThan(0);
      expect(settings).toEqual(settings.map(() => 'on'));
      // the same connection outside such a transaction is still at the session default: the setting was the transaction's
      expect((await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('off');
    } finally {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  if (process.env.DATABASE_URL) it('on PostgreSQL a durable transaction commits with synchronous_commit on, an async one off', async () => {
    const db = await pgClient(process.env.DATABASE_URL!, { max: 1 });
    try {
      await db.query('SET synchronous_commit = off'); // the session default of the pool's one connection
      const show = (options: TransactionOptions) => db.transaction(async (tx) => (await tx.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0].synchronous_commit, options);
      expect(await show({ durable: true })).toBe('on');
      expect(await show({ asyncCommit: true })).toBe('off');
    } finally {
      await db.close();
    }
  });
});
