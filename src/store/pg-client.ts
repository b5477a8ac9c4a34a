import pg from 'pg';
import { from as copyFromStream } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { RETRY_AFTER_S } from '../core/deadline.js';
import { UnavailableError } from '../core/errors.js';
import { withArrayLiterals } from './pg-array-literal.js';
import { checkSchemaName, type QueryOptions, type SqlClient, type SqlExecutor, type SqlResult } from './sql-client.js';

/** The subset of a pooled pg connection the adapter uses. */
type PgConn = Pick<pg.PoolClient, 'query'>;

/** Socket errors of a server that is down, refusing or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATEs of a server that cannot answer now: connection exceptions (class 08), too many
 * connections, shutting down or starting up, and statement_timeout (query_canceled).
 */
const UNAVAILABLE_STATES = new Set(['53300', '57P01', '57P02', '57P03', '57014']);
/** What pg and pg-pool say when a connection is lost or a timeout of theirs fires. */
const UNAVAILABLE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection terminated due to connection timeout/i;

/** True when `e` says PostgreSQL is down, refusing, unreachable or too slow (a retry later may succeed). */
export function isUnavailable(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (!err) return false;
  const code = typeof err.code === 'string' ? err.code : '';
  return NETWORK_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_STATES.has(code) || (typeof err.message === 'string' && UNAVAILABLE_MESSAGE.test(err.message));
}

/** `e` as an UnavailableError (the API answers 503 with Retry-After) when it says the server cannot answer now. */
function classify(e: unknown): unknown {
  if (e instanceof UnavailableError || !isUnavailable(e)) return e;
  return new UnavailableError(`PostgreSQL unavailable: ${(e as Error).message}`, { retryAfterS: RETRY_AFTER_S, cause: e });
}

function executor(conn: PgConn): SqlExecutor {
  return {
    async query<R>(sql: string, params?: unknown[], options?: QueryOptions): Promise<SqlResult<R>> {
      try {
        // arrays as literals built here: the bytes pg would send, without its per-element regular expressions
        const values = withArrayLiterals(params);
        const r = options?.name ? await conn.query({ name: options.name, text: sql, values }) : await conn.query(sql, values);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
      } catch (e) {
        throw classify(e);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await conn.query(sql);
      } catch (e) {
        throw classify(e);
      }
    },
    async copyFrom(copySql: string, data: string | Buffer): Promise<number> {
      const stream = (conn as pg.PoolClient).query(copyFromStream(copySql));
      try {
        await pipeline(Readable.from([typeof data === 'string' ? Buffer.from(data) : data]), stream);
      } catch (e) {
        throw classify(e);
      }
      return Number(stream.rowCount ?? 0);
    },
  };
}

/**
 * Deadlines of a serving instance's connections (unset: none, as CLIs run long imports and
 * migrations). A server that refuses connections fails a call at once; one that accepts and never
 * answers fails it after connectTimeoutMs (connecting, or waiting for a pooled connection) or
 * after statementTimeoutMs (+ 500 ms on the client's side, for a server that stopped answering
 * altogether); the connection is then dropped, never reused.
 */
export interface PgTimeouts {
  /** Connecting, and waiting for a free connection of the pool (pg-pool connectionTimeoutMillis). */
  connectTimeoutMs?: number;
  /** statement_timeout (server side) and, 500 ms later, the client's query_timeout. */
  statementTimeoutMs?: number;
}

/** A SqlClient over a pg Pool; `schema` (created if missing) becomes the search_path. */
export async function pgClient(url: string, options: { schema?: string; max?: number } & PgTimeouts = {}): Promise<SqlClient> {
  const st = options.statementTimeoutMs;
  const settings = [
    // JIT compiles for ~100 ms whenever estimates are large (right after a bulk load, before
    // statistics catch up): never worth it for the store's short keyset and lookup queries
    '-c jit=off',
    ...(options.schema ? [`-c search_path=${checkSchemaName(options.schema)}`] : []),
    // a transaction left open by a client that stopped answering does not hold its locks for long
    ...(st ? [`-c statement_timeout=${Math.trunc(st)}`, `-c idle_in_transaction_session_timeout=${Math.trunc(st) * 2}`] : []),
  ];
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    options: settings.join(' '),
    ...(options.connectTimeoutMs ? { connectionTimeoutMillis: options.connectTimeoutMs } : {}),
    ...(st ? { query_timeout: st + 500 } : {}),
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
  // a connection whose call failed for want of the server is dropped (a timed-out query may still be on it)
  const withConn = async <T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    let c: pg.PoolClient;
    try {
      c = await pool.connect();
    } catch (e) {
      throw classify(e);
    }
    // a checked-out connection that the server resets emits 'error': without a listener that kills
    // the process (the call in progress fails by itself and drops the connection)
    let lost: Error | undefined;
    const onError = (e: Error) => void (lost = e);
    c.on('error', onError);
    try {
      const r = await fn(c);
      c.off('error', onError);
      c.release(lost);
      return r;
    } catch (e) {
      c.off('error', onError);
      c.release(lost ?? (e instanceof UnavailableError ? e : undefined));
      throw e;
    }
  };

  return {
    dialect: 'postgres',
    capabilities: { concurrentWriters: true, createDatabase: true, persistent: true },
    query: (sql, params, options) => executor(pool as unknown as PgConn).query(sql, params, options),
    exec: (sql) => executor(pool as unknown as PgConn).exec(sql),
    copyFrom: (sql, data) => withConn((c) => executor(c).copyFrom(sql, data)),
    transaction: (fn, options = {}) =>
      withConn(async (c) => {
        let begin = 'BEGIN';
        if (options.durable) begin += '; SET LOCAL synchronous_commit = on';
        else if (options.asyncCommit) begin += '; SET LOCAL synchronous_commit = off';
        if (options.lock !== undefined) begin += `; SELECT pg_advisory_xact_lock(${Math.trunc(options.lock)})`;
        await executor(c).exec(begin);
        try {
          const r = await fn(executor(c));
          await executor(c).exec('COMMIT');
          return r;
        } catch (e) {
          // a server that stopped answering rolls back when the dropped connection closes
          if (!(e instanceof UnavailableError)) await c.query('ROLLBACK').catch(() => {});
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
