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
 * connections, shutting down or starting up, statement_timeout (query_canceled) and lock_timeout (lock_not_available).
 */
const UNAVAILABLE_STATES = new Set(['53300', '57P01', '57P02', '57P03', '57014', '55P03']);
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
  // a watched pool knows each connection's backend, asked before its first use (see stallWatch)
  const backends = options.stallMs && connectMs ? new WeakMap<pg.Client, Backend>() : null;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    options: settings.join(' '),
    ...keepAlive,
    ...(TimedClient ? { Client: TimedClient } : connectMs ? { connectionTimeoutMillis: connectMs } : {}),
    ...(st ? { query_timeout: st + 500 } : {}),
    ...(backends && connectMs ? { verify: identify(backends, where, connectMs) } : {}),
  });
  pool.on('error', () => {
    /* idle client errors surface on the next query */
  });
  // (watching from the first connection on: it stays in the pool)
  const watch = backends && options.stallMs && connectMs ? stallWatch(pool, url, where, options.stallMs, connectMs, keepAlive, backends) : null;
  try {
    if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    else await pool.query('SELECT 1');
  } catch (e) {
    watch?.stop();
    await pool.end().catch(() => {});
    if (e instanceof UnavailableError) throw e;
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
        if (options.sharedLock !== undefined) begin += `; SELECT pg_advisory_xact_lock_shared(${Math.trunc(options.sharedLock)})`;
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

/** A connection's backend as the server knows it: which server (its postmaster's start), which process, since when. */
interface Backend {
  pid: number;
  server: string;
  since: string;
}

/** Asked on each new connection of a watched pool (one round trip): its Backend. Times as whole microseconds since the epoch (exact, whatever the session's TimeZone). */
const BACKEND_SQL = `SELECT pg_backend_pid() AS pid, (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint::text AS server,
  (SELECT (extract(epoch FROM backend_start) * 1000000)::bigint::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS since`;
/** The probe with connections to ask about: the probe's own backend and server, and those backends (pid, start, state). */
const PROBE_SQL = `SELECT pg_backend_pid() AS me, (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint::text AS server,
  (SELECT coalesce(json_agg(json_build_object('pid', pid, 'since', (extract(epoch FROM backend_start) * 1000000)::bigint::text, 'state', state)), '[]'::json)
     FROM pg_stat_activity WHERE pid = ANY($1::int[])) AS backends`;
/** A connection found lost by one probe is taken for lost when a probe at least this much later finds it so again. */
const CONFIRM_MS = 1000;
/** A backend in these states runs no statement: a connection still waiting for a statement's answer from it is lost. */
const IDLE_STATES = new Set(['idle', 'idle in transaction', 'idle in transaction (aborted)']);

/**
 * A watched pool's check of each new connection before its first use (pg-pool's verify): its Backend, asked within
 * the connect deadline (a connection that does not answer its first statement within it fails, as one that does not
 * connect: destroyed, the call that wanted it fails naming the wait). An error from the server leaves the connection
 * unidentified (the watch then decides nothing about it).
 */
function identify(backends: WeakMap<pg.Client, Backend>, where: string, connectMs: number) {
  return (client: pg.PoolClient, done: (err?: Error) => void): void => {
    const c = client as unknown as pg.Client;
    // a connection reset while checked out emits 'error', which kills the process when nothing listens (the call
    // in progress fails by itself, and the pool drops the connection)
    c.on('error', () => {});
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      done(err);
    };
    const t = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          const e = new UnavailableError(`PostgreSQL at ${where} did not answer within ${seconds(connectMs)} (connect)`, { retryAfterS: RETRY_AFTER_S });
          destroy(c, e);
          finish(e);
        }),
      connectMs,
    );
    c.query(BACKEND_SQL).then(
      (r) => {
        const row = r.rows[0] as { pid: number; server: string; since: string | null } | undefined;
        if (row?.since) backends.set(c, { pid: Number(row.pid), server: row.server, since: row.since });
        finish();
      },
      (e: unknown) => finish(e instanceof pg.DatabaseError ? undefined : (classify(e) as Error)),
    );
  };
}

/** pg's internals read by the watch: the query a connection waits on (null when none), its socket. */
type Internals = { _activeQuery?: object | null; processID?: number | null; connection?: { stream?: { destroy(e?: Error): void } } };
const activeQuery = (c: pg.Client): object | null => (c as unknown as Internals)._activeQuery ?? null;
const destroy = (c: pg.Client, e?: Error): void => (c as unknown as Internals).connection?.stream?.destroy(e);

/**
 * The no-progress watch of a command's pool (PgTimeouts.stallMs): every call is counted while in progress; when
 * some are and none has finished for stallMs, a fresh connection asks `SELECT 1` within connectMs. An answer means
 * the server works (the watch starts over); none fails every call in progress with an UnavailableError naming the
 * wait, their connections destroyed (so that nothing waits on them any longer).
 *
 * A server that answers on new connections while one open connection is lost (its packets dropped by the network or a
 * firewall, its backend killed without the client being told) is told apart by asking the probe's server about the
 * backend of each connection whose statement has had no answer for stallMs (also while other calls progress): that
 * backend gone, or idle (running no statement) while the client still waits for one's answer, for the same statement
 * in two probes CONFIRM_MS apart with no byte received on its socket between them (an answer still arriving over a
 * slow link is not a lost connection) → that connection is lost: its call fails naming the wait, the connection is
 * destroyed, the others go on. A backend is known by its pid and start time and its server's start time (asked once
 * per connection, by identify), so a probe that reaches another server (a load balancer) or a pooler (whose pids are
 * not the server's) decides nothing.
 */
/** What a connection's socket has received so far (-1 when its socket is not at hand). */
function bytesReceived(c: pg.Client): number {
  return (c as unknown as { connection?: { stream?: { bytesRead?: number } } }).connection?.stream?.bytesRead ?? -1;
}

function stallWatch(pool: pg.Pool, url: string, where: string, stallMs: number, connectMs: number, keepAlive: object, backends: WeakMap<pg.Client, Backend>) {
  const clients = new Set<pg.Client>();
  pool.on('connect', (c) => clients.add(c as unknown as pg.Client));
  pool.on('remove', (c) => {
    clients.delete(c as unknown as pg.Client);
    suspects.delete(c as unknown as pg.Client);
  });
  let inFlight = 0;
  let last = Date.now();
  let lastProbe = 0;
  let probing = false;
  let failed: UnavailableError | null = null;
  /** When each statement in progress was first seen waiting (at a tick of the watch). */
  const seen = new WeakMap<object, number>();
  /**
   * Connections whose backend the last probe found gone or idle: the statement they waited on then, when, and how many
   * bytes their socket had received. A backend is idle as soon as it has handed its last answer to the OS, while a slow
   * link may still be carrying it: a connection that received anything since is not lost, and is suspected afresh.
   */
  const suspects = new Map<pg.Client, { q: object; at: number; bytes: number }>();
  // the probe's deadline is its own: when its timer fires, what the socket received meanwhile is read first
  // (setImmediate runs after the poll phase), so a main thread busy for longer than connectMs (a long synchronous
  // fit, a GC pause) does not pass for a server that did not answer
  type Answer = { ok: boolean; lost: Map<pg.Client, string> };
  const probe = (ask: [pg.Client, Backend][]): Promise<Answer> =>
    new Promise<Answer>((resolve) => {
      const c = new pg.Client({ connectionString: url, ...keepAlive });
      let done = false;
      const finish = (ok: boolean, lost = new Map<pg.Client, string>()) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        resolve({ ok, lost });
        // (a connection that never answered is destroyed, not ended politely)
        destroy(c);
      };
      const t = setTimeout(() => setImmediate(() => finish(false)), connectMs);
      c.on('error', () => {});
      c.connect()
        .then(() => (ask.length ? c.query(PROBE_SQL, [ask.map(([, b]) => b.pid)]) : c.query('SELECT 1')))
        .then(
          (r) => {
            const lost = new Map<pg.Client, string>();
            const row = r.rows[0] as { me?: number; server?: string; backends?: { pid: number; since: string; state: string | null }[] } | undefined;
            // a pooler's pids are not the server's: only a probe on the server itself (its pid the one it was told) decides
            if (ask.length && row && Number(row.me) === (c as unknown as Internals).processID) {
              for (const [conn, b] of ask) {
                if (b.server !== row.server) continue;
                const now = (row.backends ?? []).find((x) => Number(x.pid) === b.pid && x.since === b.since);
                if (!now) lost.set(conn, `backend ${b.pid} is gone`);
                else if (now.state !== null && IDLE_STATES.has(now.state)) lost.set(conn, `backend ${b.pid} is ${now.state}, running no statement`);
              }
            }
            finish(true, lost);
          },
          // an error from the server (too many connections, shutting down…) is an answer: it is there
          (e: unknown) => finish(e instanceof pg.DatabaseError),
        );
    });
  const tick = Math.max(50, Math.min(1000, stallMs / 4));
  const timer = setInterval(() => {
    if (probing || inFlight === 0) return;
    const now = Date.now();
    // statements waited on for stallMs or longer, on connections whose backend is known
    const old: [pg.Client, Backend][] = [];
    for (const c of clients) {
      const q = activeQuery(c);
      if (!q) continue;
      let t = seen.get(q);
      if (t === undefined) seen.set(q, (t = now));
      const b = backends.get(c);
      if (b && now - t >= stallMs) old.push([c, b]);
    }
    const stalled = now - last >= stallMs;
    // a suspect is confirmed (or cleared) by a probe at least CONFIRM_MS later: a statement just sent, or an answer
    // just sent, cannot pass for a lost connection on a busy machine
    const confirming = [...suspects.values()].some((x) => now - x.at >= CONFIRM_MS);
    // no progress at all; or a statement unanswered for stallMs (others may progress), asked about every stallMs; or a suspect to confirm
    if (!stalled && !confirming && !(old.length > 0 && now - lastProbe >= stallMs)) return;
    probing = true;
    const asked = new Map(old.map(([c]) => [c, activeQuery(c)]));
    void probe(old).then((answer) => {
      lastProbe = Date.now();
      // (what the lost connections' sockets received before the answer is read first)
      setImmediate(() => {
        probing = false;
        if (answer.ok) {
          const at = Date.now();
          if (stalled) last = at;
          for (const c of [...suspects.keys()]) if (!answer.lost.has(c)) suspects.delete(c);
          for (const [c, why] of answer.lost) {
            const q = asked.get(c);
            const was = suspects.get(c);
            // the same statement still waited on: a suspect, and lost when a probe at least CONFIRM_MS earlier said so too
            if (!q || activeQuery(c) !== q) {
              suspects.delete(c);
              continue;
            }
            const bytes = bytesReceived(c);
            if (was?.q !== q || was.bytes !== bytes) {
              suspects.set(c, { q, at, bytes });
              continue;
            }
            if (at - was.at < CONFIRM_MS) continue;
            suspects.delete(c);
            destroy(c, new UnavailableError(`PostgreSQL at ${where} did not answer a statement within ${seconds(stallMs)}: its connection is lost (${why}; the server answers new connections)`, { retryAfterS: RETRY_AFTER_S }));
          }
          return;
        }
        if (!stalled || inFlight === 0) return;
        failed = new UnavailableError(`PostgreSQL at ${where} did not answer within ${seconds(stallMs + connectMs)} (a statement in progress, then a new connection's SELECT 1)`, { retryAfterS: RETRY_AFTER_S });
        for (const c of clients) destroy(c, failed);
      });
    });
  }, tick);
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
