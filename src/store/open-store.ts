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
  const timed = cfg.DATABASE_URL !== undefined && options.timeouts !== undefined;
  if (timed && (options.migrate ?? true)) {
    // a migration may rewrite a large table: no statement timeout for it
    const untimed = await openStore(cfg, { ...options, timeouts: undefined });
    await untimed.close();
  }
  // each backend's client (and its driver) is loaded only when chosen: a command's start-up pays for one
  const db = cfg.DATABASE_URL
    ? await (await loadPgClient()).pgClient(cfg.DATABASE_URL, { schema: options.schema, max: options.poolSize, ...options.timeouts })
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
