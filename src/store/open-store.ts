import type { PGlite } from '@electric-sql/pglite';
import type { Config } from '../config.js';
import type { PgTimeouts } from './pg-client.js';
import { ConfigError } from '../config-store.js';
import { envMs } from '../core/deadline.js';
import { SqlStore } from './sql-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /** Work inside this schema (created if missing) instead of public: test isolation. */
  schema?: string;
  /** Embedded backend only: share this PGlite instance instead of starting one. */
  pglite?: PGlite;
  /** PostgreSQL pool size (default 4). */
  poolSize?: number;
  /** Called with each identity link refused by the conflict policy. */
  onConflict?: (message: string) => void;
  /**
   * PostgreSQL deadlines of every call (a serving instance: PG_CONNECT_TIMEOUT_MS,
   * PG_STATEMENT_TIMEOUT_MS); migrations run before, on a connection without a statement timeout.
   * Unset: a command's (commandPgTimeouts): connecting bounded, and no progress at all.
   */
  timeouts?: PgTimeouts;
}

/** A command's connect deadline when PG_CONNECT_TIMEOUT_MS is unset (a serving instance's default is 2 s). */
export const COMMAND_CONNECT_TIMEOUT_MS = 10_000;
/** A command's no-progress deadline when PG_STALL_TIMEOUT_MS is unset (then a SELECT 1 on a new connection, within the connect deadline). */
export const COMMAND_STALL_TIMEOUT_MS = 30_000;

/**
 * The PostgreSQL deadlines of a command (import, train, evaluate, migrate, check:store, publish…): connecting
 * within PG_CONNECT_TIMEOUT_MS (default 10 s; the wait for a free pooled connection is not bounded, a long COPY may
 * hold one), TCP keepalive, and no statement timeout (a 20M-line import's statements, a migration rewriting a table
 * legitimately take minutes) but a no-progress watch: calls in progress and none finished for PG_STALL_TIMEOUT_MS
 * (default 30 s) → the server is asked SELECT 1 on a new connection; no answer fails the command, naming the wait.
 */
export function commandPgTimeouts(env: Record<string, string | undefined> = process.env): PgTimeouts {
  const ms = (key: string, fallback: number): number => envMs(env, key, fallback, ConfigError);
  const connectTimeoutMs = ms('PG_CONNECT_TIMEOUT_MS', COMMAND_CONNECT_TIMEOUT_MS);
  return { connectTimeoutMs, connectOnly: true, keepAliveMs: Math.min(10_000, connectTimeoutMs), stallMs: ms('PG_STALL_TIMEOUT_MS', COMMAND_STALL_TIMEOUT_MS) };
}

let pgLoaded = false;
/**
 * The PostgreSQL client module. Loading pg runs its probe for Cloudflare Workers, `new Response(…)` when
 * there is no `navigator` (Node 20): that loads Node's fetch implementation (undici), ~25 ms of CPU at
 * every command's start, for nothing (nothing else of a command like `npm run import` uses it). While pg
 * loads, the first time, the global `Response` (still Node's lazy getter, untouched) reads as undefined,
 * and the probe answers "not Cloudflare" straight away; the getter is put back as it was.
 */
async function loadPgClient(): Promise<typeof import('./pg-client.js')> {
  const d = pgLoaded ? undefined : Object.getOwnPropertyDescriptor(globalThis, 'Response');
  const hide = d !== undefined && d.configurable === true && typeof d.get === 'function' && typeof (globalThis as { navigator?: unknown }).navigator === 'undefined';
  if (hide) Object.defineProperty(globalThis, 'Response', { value: undefined, configurable: true, writable: true, enumerable: false });
  try {
    return await import('./pg-client.js');
  } finally {
    if (hide) Object.defineProperty(globalThis, 'Response', d);
    pgLoaded = true;
  }
}

/**
 * The history store chosen by configuration: DATABASE_URL set → PostgreSQL through a pg pool;
 * otherwise the embedded PGlite persisted in PGLITE_DIR ("memory://" keeps nothing).
 * @example const store = await openStore(config()); await store.totals();
 */
export async function openStore(
  cfg: Pick<Config, 'DATABASE_URL' | 'PGLITE_DIR'> & Partial<Pick<Config, 'MAX_IDENTIFIERS_PER_CUSTOMER' | 'CONSENT_DEFAULTS' | 'ERASURE_KEY'>>,
  options: OpenStoreOptions = {},
): Promise<SqlStore & Store> {
  const timeouts = cfg.DATABASE_URL ? (options.timeouts ?? commandPgTimeouts()) : undefined;
  // a statement timeout (a serving instance's) is not one a migration can keep: it runs first on connections without it
  const timed = timeouts?.statementTimeoutMs !== undefined;
  if (timed && (options.migrate ?? true)) {
    // a migration may rewrite a large table: no statement timeout for it, but a command's no-progress watch (a server
    // that stops answering, or a connection lost, fails the start instead of holding it for ever) and TCP keepalive
    const command = commandPgTimeouts();
    const untimed = await openStore(cfg, {
      ...options,
      timeouts: { ...timeouts, statementTimeoutMs: undefined, stallMs: timeouts.stallMs ?? command.stallMs, keepAliveMs: timeouts.keepAliveMs ?? Math.min(10_000, timeouts.connectTimeoutMs ?? command.connectTimeoutMs!) },
    });
    await untimed.close();
  }
  // each backend's client (and its driver) is loaded only when chosen: a command's start-up pays for one
  const db = cfg.DATABASE_URL
    ? await (await loadPgClient()).pgClient(cfg.DATABASE_URL, { schema: options.schema, max: options.poolSize, ...timeouts })
    : await (await import('./pglite-client.js')).pgliteClient({ dataDir: cfg.PGLITE_DIR, instance: options.pglite, schema: options.schema });
  const store = new SqlStore(db, {
    maxIdentifiers: cfg.MAX_IDENTIFIERS_PER_CUSTOMER,
    consentDefaults: cfg.CONSENT_DEFAULTS,
    erasureKey: cfg.ERASURE_KEY,
    onConflict: options.onConflict,
  });
  if (!timed && (options.migrate ?? true)) {
    try {
      await store.migrate();
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }
  return store;
}
