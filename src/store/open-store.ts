import type { PGlite } from '@electric-sql/pglite';
import type { Config } from '../config.js';
import type { PgTimeouts } from './pg-client.js';
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
   * PG_STATEMENT_TIMEOUT_MS); migrations run before, on a connection without them.
   */
  timeouts?: PgTimeouts;
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
  const timed = cfg.DATABASE_URL !== undefined && options.timeouts !== undefined;
  if (timed && (options.migrate ?? true)) {
    // a migration may rewrite a large table: no statement timeout for it
    const untimed = await openStore(cfg, { ...options, timeouts: undefined });
    await untimed.close();
  }
  // each backend's client (and its driver) is loaded only when chosen: a command's start-up pays for one
  const db = cfg.DATABASE_URL
    ? await (await import('./pg-client.js')).pgClient(cfg.DATABASE_URL, { schema: options.schema, max: options.poolSize, ...options.timeouts })
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
