import type { SqlClient, SqlExecutor } from '../../src/store/sql-client.js';
import type { SqlStore } from '../../src/store/sql-store.js';
import type { Store } from '../../src/store/store.js';

/**
 * The client with `hook` run before every statement (in transactions too), given the statement's text and the executor
 * it runs on (a transaction's own connection inside one), so the hook may hold it, record it, query beside it or throw.
 */
export function hooked(db: SqlClient, hook: (sql: string, ex: SqlExecutor) => Promise<void> | void): SqlClient {
  const wrap = (ex: SqlExecutor): SqlExecutor => ({
    query: async (sql, params, options) => (await hook(sql, ex), ex.query(sql, params, options)),
    exec: async (sql) => (await hook(sql, ex), ex.exec(sql)),
    copyFrom: async (sql, data) => (await hook(sql, ex), ex.copyFrom(sql, data)),
  });
  return { ...wrap(db), dialect: db.dialect, capabilities: db.capabilities, transaction: (fn, o) => db.transaction((tx) => fn(wrap(tx)), o), close: () => db.close() };
}

/** Puts `hook` in front of every statement an opened SQL store runs from now on (see hooked). */
export function hookStore(store: Store, hook: (sql: string, ex: SqlExecutor) => Promise<void> | void): void {
  const s = store as unknown as { db: SqlClient };
  s.db = hooked((store as SqlStore).db, hook);
}
