import pg from 'pg';
import { from as copyFromStream } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { UnavailableError } from '../core/errors.js';
import { checkSchemaName, type SqlClient, type SqlExecutor, type SqlResult } from './sql-client.js';

/** The subset of a pooled pg connection the adapter uses. */
type PgConn = Pick<pg.PoolClient, 'query'>;

function executor(conn: PgConn): SqlExecutor {
  return {
    async query<R>(sql: string, params?: unknown[]): Promise<SqlResult<R>> {
      const r = await conn.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await conn.query(sql);
    },
    async copyFrom(copySql: string, data: string | Buffer): Promise<number> {
      const stream = (conn as pg.PoolClient).query(copyFromStream(copySql));
      await pipeline(Readable.from([typeof data === 'string' ? Buffer.from(data) : data]), stream);
      return Number(stream.rowCount ?? 0);
    },
  };
}

/** A SqlClient over a pg Pool; `schema` (created if missing) becomes the search_path. */
export async function pgClient(url: string, options: { schema?: string; max?: number } = {}): Promise<SqlClient> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    // JIT compiles for ~100 ms whenever estimates are large (right after a bulk load, before
    // statistics catch up): never worth it for the store's short keyset and lookup queries
    options: `-c jit=off${options.schema ? ` -c search_path=${checkSchemaName(options.schema)}` : ''}`,
  });
  pool.on('error', () => {
    /* idle client errors surface on the next query */
  });
  try {
    if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    else await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => {});
    throw new UnavailableError(`PostgreSQL unreachable: ${(e as Error).message}`, { url: redact(url) });
  }

  let closed = false;
  const withConn = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    try {
      return await fn(c);
    } finally {
      c.release();
    }
  };

  return {
    dialect: 'postgres',
    capabilities: { concurrentWriters: true, createDatabase: true, persistent: true },
    query: (sql, params) => executor(pool as unknown as PgConn).query(sql, params),
    exec: (sql) => executor(pool as unknown as PgConn).exec(sql),
    copyFrom: (sql, data) => withConn((c) => executor(c).copyFrom(sql, data)),
    transaction: (fn, options = {}) =>
      withConn(async (c) => {
        let begin = 'BEGIN';
        if (options.durable) begin += '; SET LOCAL synchronous_commit = on';
        else if (options.asyncCommit) begin += '; SET LOCAL synchronous_commit = off';
        if (options.lock !== undefined) begin += `; SELECT pg_advisory_xact_lock(${Math.trunc(options.lock)})`;
        await c.query(begin);
        try {
          const r = await fn(executor(c));
          await c.query('COMMIT');
          return r;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => {});
          throw e;
        }
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
