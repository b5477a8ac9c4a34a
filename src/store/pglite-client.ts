import { PGlite, type Transaction } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { lockDirectory, type DirLock } from './dir-lock.js';
import { checkSchemaName, type SqlClient, type SqlExecutor, type SqlResult } from './sql-client.js';

type PgliteConn = Pick<Transaction, 'query' | 'exec'>;

function executor(conn: PgliteConn): SqlExecutor {
  return {
    async query<R>(sql: string, params?: unknown[]): Promise<SqlResult<R>> {
      const r = await conn.query<R>(sql, params as unknown[] | undefined);
      // affectedRows is 0 for a SELECT: count the rows returned then
      return { rows: r.rows, rowCount: r.rows.length > 0 ? r.rows.length : (r.affectedRows ?? 0) };
    },
    async exec(sql: string): Promise<void> {
      await conn.exec(sql);
    },
    async copyFrom(copySql: string, data: string | Buffer): Promise<number> {
      const sql = copySql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'");
      const r = await conn.query(sql, [], { blob: new Blob([data]) });
      return r.affectedRows ?? 0;
    },
  };
}

/** Which schema each shared PGlite instance's search_path points at now. */
const currentSchema = new WeakMap<PGlite, string>();
/** One queue per instance: an operation (query or whole transaction) runs alone. */
const queues = new WeakMap<PGlite, Promise<unknown>>();

/**
 * A SqlClient over embedded PGlite. `dataDir` is a directory (created if missing) or
 * "memory://". Pass `instance` to share one PGlite between several clients, each in its
 * own `schema` (cheap isolation for tests: a PGlite takes seconds to start); closing such
 * a client leaves the shared instance open.
 */
export async function pgliteClient(options: { dataDir?: string; instance?: PGlite; schema?: string }): Promise<SqlClient> {
  let db = options.instance;
  const owned = !db;
  let lock: DirLock | undefined;
  if (!db) {
    const dir = options.dataDir ?? 'memory://';
    if (!dir.startsWith('memory://')) {
      mkdirSync(dir, { recursive: true });
      // one process at a time on a directory (src/store/dir-lock.ts): fails at once when another holds it
      lock = lockDirectory(dir, { onStale: (m) => process.stderr.write(`${m}\n`) });
    }
    try {
      db = await PGlite.create(dir);
    } catch (e) {
      lock?.release();
      throw e;
    }
  }
  const inst = db;
  const schema = options.schema ? checkSchemaName(options.schema) : 'public';
  if (options.schema) await inst.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);

  const run = <T>(fn: () => Promise<T>): Promise<T> => {
    const prev = queues.get(inst) ?? Promise.resolve();
    const next = prev.then(async () => {
      if ((currentSchema.get(inst) ?? 'public') !== schema) {
        await inst.exec(`SET search_path TO ${schema}`);
        currentSchema.set(inst, schema);
      }
      return fn();
    });
    queues.set(inst, next.catch(() => {}));
    return next;
  };
  const direct = executor(inst);

  return {
    dialect: 'pglite',
    capabilities: { concurrentWriters: false, createDatabase: false, persistent: !(options.dataDir ?? 'memory://').startsWith('memory://') },
    query: (sql, params) => run(() => direct.query(sql, params)),
    exec: (sql) => run(() => direct.exec(sql)),
    copyFrom: (sql, data) => run(() => direct.copyFrom(sql, data)),
    // one connection: no advisory lock needed; asyncCommit is moot in memory, harmless on disk
    transaction: (fn) => run(() => inst.transaction((tx) => fn(executor(tx)))),
    close: async () => {
      if (!owned) return;
      try {
        await run(() => inst.close());
      } finally {
        lock?.release();
      }
    },
  };
}
