/**
 * Acknowledged means durable: the write a purchase event is answered after (Store.importLines) commits
 * synchronously, and on PostgreSQL a durable transaction runs with synchronous_commit = on whatever
 * the session's default; bulk imports may commit asynchronously.
 */
import { describe, expect, it } from 'vitest';
import { recordPurchase } from '../src/api/purchase-events.js';
import type { ModelSource } from '../src/cache/model-source.js';
import { pgClient } from '../src/store/pg-client.js';
import { pgliteClient } from '../src/store/pglite-client.js';
import type { SqlClient, TransactionOptions } from '../src/store/sql-client.js';
import { SqlStore } from '../src/store/sql-store.js';

/** A SqlClient that records the options of every transaction. */
function recording(db: SqlClient, seen: TransactionOptions[]): SqlClient {
  return {
    dialect: db.dialect,
    capabilities: db.capabilities,
    query: (s, p) => db.query(s, p),
    exec: (s) => db.exec(s),
    copyFrom: (s, d) => db.copyFrom(s, d),
    transaction: (fn, options = {}) => {
      seen.push(options);
      return db.transaction(fn, options);
    },
    close: () => db.close(),
  };
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
