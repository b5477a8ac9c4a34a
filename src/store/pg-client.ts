import pg from 'pg';
import { from as copyFromStream } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { RETRY_AFTER_S, seconds } from '../core/deadline.js';
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

function plainExecutor(conn: PgConn): SqlExecutor {
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
 * Deadlines of a connection pool. A serving instance: a server that refuses connections fails a call at
 * once; one that accepts and never answers fails it after connectTimeoutMs (connecting, or waiting for a
 * pooled connection) or after statementTimeoutMs (+ 500 ms on the client's side, for a server that stopped
 * answering altogether); the connection is then dropped, never reused. A command (import, train,
 * migrations: statements that legitimately run for minutes, connections held by a long COPY) bounds
 * connecting only (connectOnly) and, instead of a statement timeout, watches for no progress at all
 * (stallMs): see commandPgTimeouts (src/store/open-store.ts).
 */
export interface PgTimeouts {
  /** Connecting, and (unless connectOnly) waiting for a free connection of the pool (pg-pool connectionTimeoutMillis). */
  connectTimeoutMs?: number;
  /** connectTimeoutMs bounds establishing each connection only, not the wait for a free one (held by a long statement). */
  connectOnly?: boolean;
  /** statement_timeout (server side) and, 500 ms later, the client's query_timeout. */
  statementTimeoutMs?: number;
  /** TCP keepalive's idle time on every connection (a host gone or a network cut is noticed by the kernel). */
  keepAliveMs?: number;
  /**
   * No progress: when calls are in progress and none has finished for this long, a fresh connection asks
   * the server `SELECT 1` (within connectTimeoutMs); a server that answers is working (a long statement,
   * a lock wait) and the watch goes on; one that does not fails every call in progress, naming the wait.
   */
  stallMs?: number;
}

/** "127.0.0.1:5432": where a URL points, for messages. */
export function pgLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}`;
  } catch {
    return redact(url);
  }
}


/** What pg says when its connection timeout fires. */
const CONNECT_TIMEOUT = /timeout expired|Connection terminated due to connection timeout|timeout exceeded when trying to connect/i;

/** A SqlClient over a pg Pool; `schema` (created if missing) becomes the search_path. */
export async function pgClient(url: string, options: { schema?: string; max?: number } & PgTimeouts = {}): Promise<SqlClient> {
  const st = options.statementTimeoutMs;
  const where = pgLocation(url);
  const settings = [
    // JIT compiles for ~100 ms whenever estimates are large (right after a bulk load, before
    // statistics catch up): never worth it for the store's short keyset and lookup queries
    '-c jit=off',
    ...(options.schema ? [`-c search_path=${checkSchemaName(options.schema)}`] : []),
    // a transaction left open by a client that stopped answering does not hold its locks for long
    ...(st ? [`-c statement_timeout=${Math.trunc(st)}`, `-c idle_in_transaction_session_timeout=${Math.trunc(st) * 2}`] : []),
  ];
  const connectMs = options.connectTimeoutMs;
  const keepAlive = options.keepAliveMs ? { keepAlive: true, keepAliveInitialDelayMillis: options.keepAliveMs } : {};
  // connectOnly: the timeout given to each client as it connects, not to the pool (whose connectionTimeoutMillis also bounds the wait for a free connection)
  const TimedClient = connectMs && options.connectOnly
    ? class extends pg.Client {
        constructor(c?: pg.ClientConfig) {
          super({ ...c, connectionTimeoutMillis: connectMs });
        }
      }
    : undefined;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    options: settings.join(' '),
    ...keepAlive,
    ...(TimedClient ? { Client: TimedClient } : connectMs ? { connectionTimeoutMillis: connectMs } : {}),
    ...(st ? { query_timeout: st + 500 } : {}),
  });
  pool.on('error', () => {
    /* idle client errors surface on the next query */
  });
  // (watching from the first connection on: it stays in the pool)
  const watch = options.stallMs && connectMs ? stallWatch(pool, url, where, options.stallMs, connectMs, keepAlive) : null;
  try {
    if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    else await pool.query('SELECT 1');
  } catch (e) {
    watch?.stop();
    await pool.end().catch(() => {});
    const msg = (e as Error).message;
    if (connectMs && CONNECT_TIMEOUT.test(msg)) throw new UnavailableError(`PostgreSQL at ${where} did not answer within ${seconds(connectMs)} (connect)`, { url: redact(url) });
    throw new UnavailableError(`PostgreSQL at ${where} unreachable: ${msg}`, { url: redact(url) });
  }
  const executor = (conn: PgConn) => watch ? watch.watched(plainExecutor(conn)) : plainExecutor(conn);

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
      watch?.stop();
      await pool.end();
    },
  };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/**
 * The no-progress watch of a command's pool (PgTimeouts.stallMs): every call is counted while in progress; when
 * some are and none has finished for stallMs, a fresh connection asks `SELECT 1` within connectMs. An answer means
 * the server works (the watch starts over); none fails every call in progress with an UnavailableError naming the
 * wait, their connections destroyed (so that nothing waits on them any longer).
 */
function stallWatch(pool: pg.Pool, url: string, where: string, stallMs: number, connectMs: number, keepAlive: object) {
  const clients = new Set<pg.Client>();
  pool.on('connect', (c) => clients.add(c as unknown as pg.Client));
  pool.on('remove', (c) => clients.delete(c as unknown as pg.Client));
  let inFlight = 0;
  let last = Date.now();
  let probing = false;
  let failed: UnavailableError | null = null;
  // the probe's deadline is its own: when its timer fires, what the socket received meanwhile is read first
  // (setImmediate runs after the poll phase), so a main thread busy for longer than connectMs (a long synchronous
  // fit, a GC pause) does not pass for a server that did not answer
  const probe = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const c = new pg.Client({ connectionString: url, ...keepAlive });
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        resolve(ok);
        // (a connection that never answered is destroyed, not ended politely)
        (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      };
      const t = setTimeout(() => setImmediate(() => finish(false)), connectMs);
      c.on('error', () => {});
      c.connect()
        .then(() => c.query('SELECT 1'))
        .then(
          () => finish(true),
          // an error from the server (too many connections, shutting down…) is an answer: it is there
          (e: unknown) => finish(e instanceof pg.DatabaseError),
        );
    });
  const timer = setInterval(() => {
    if (probing || inFlight === 0 || Date.now() - last < stallMs) return;
    probing = true;
    void probe().then((ok) => {
      probing = false;
      if (ok || inFlight === 0) {
        last = Date.now();
        return;
      }
      failed = new UnavailableError(`PostgreSQL at ${where} did not answer within ${seconds(stallMs + connectMs)} (a statement in progress, then a new connection's SELECT 1)`, { retryAfterS: RETRY_AFTER_S });
      for (const c of clients) (c as unknown as { connection?: { stream?: { destroy(e?: Error): void } } }).connection?.stream?.destroy(failed);
    });
  }, Math.max(50, Math.min(1000, stallMs / 4)));
  timer.unref();
  const track = async <T>(p: () => Promise<T>): Promise<T> => {
    if (failed) throw failed;
    if (inFlight++ === 0) last = Date.now();
    try {
      return await p();
    } catch (e) {
      throw failed ?? e;
    } finally {
      inFlight--;
      last = Date.now();
    }
  };
  return {
    watched: (x: SqlExecutor): SqlExecutor => ({
      query: (sql, params, o) => track(() => x.query(sql, params, o)),
      exec: (sql) => track(() => x.exec(sql)),
      copyFrom: (sql, data) => track(() => x.copyFrom(sql, data)),
    }),
    stop: () => clearInterval(timer),
  };
}
