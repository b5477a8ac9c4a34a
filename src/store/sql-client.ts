/**
 * The narrow SQL surface the history store is written against (in the spirit of kysely's
 * drivers): one store implementation in SQL, two tiny adapters (pg pool, embedded PGlite).
 * Differences between backends are declared as capability flags, not scattered `if`s.
 */

export interface SqlResult<R> {
  rows: R[];
  /** Rows returned or affected. */
  rowCount: number;
}

/** What can run statements: the client itself or an open transaction. */
export interface QueryOptions {
  /** Prepare the statement under this name (PostgreSQL; ignored by PGlite). */
  name?: string;
}

export interface SqlExecutor {
  /**
   * One statement with positional parameters ($1, $2, ...); arrays bind as SQL arrays. With `name`
   * (PostgreSQL), a prepared statement: parsed once per connection, its plan kept by the server
   * (the hot read paths, whose planning costs as much as running them). A name always carries the
   * same text.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<SqlResult<R>>;
  /** Several statements separated by semicolons, without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * `COPY <table> (<cols>) FROM STDIN WITH (FORMAT csv)` fed with `data` (CSV text, no header);
   * returns the number of rows copied.
   * @example await tx.copyFrom('COPY staging (a, b) FROM STDIN WITH (FORMAT csv)', 'x,1\ny,2\n')
   */
  copyFrom(copySql: string, data: string | Buffer): Promise<number>;
}

export interface SqlCapabilities {
  /** Several connections run statements at the same time (a pool), so writers must lock. */
  concurrentWriters: boolean;
  /** `CREATE DATABASE` gives test isolation (false: one embedded database, isolate by schema). */
  createDatabase: boolean;
  /** Data survives close() (false for in-memory PGlite). */
  persistent: boolean;
}

/** Set up in the same round trip as BEGIN. */
export interface TransactionOptions {
  /** Take this transaction-scoped advisory lock first (only where concurrentWriters). */
  lock?: number;
  /**
   * Take this transaction-scoped advisory lock in shared mode first (only where concurrentWriters): writers that
   * may run side by side, excluded by the one that takes it exclusively (`lock`), e.g. writes keyed by a customer
   * against an erasure (ERASURE_LOCK, src/store/erasure-list.ts).
   */
  sharedLock?: number;
  /**
   * Do not wait for the commit to reach disk (synchronous_commit = off): for idempotent bulk
   * writes, where a crash can lose the last batches but never corrupts, and re-running repairs.
   */
  asyncCommit?: boolean;
  /**
   * Wait for the commit to reach disk whatever the server's default (synchronous_commit = on):
   * for writes acknowledged to a client (purchase events), where a 200 must survive a crash.
   */
  durable?: boolean;
}

export interface SqlClient extends SqlExecutor {
  readonly dialect: 'postgres' | 'pglite';
  readonly capabilities: SqlCapabilities;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

/** SQL for a timestamptz expression as epoch milliseconds (float8), the store's one time unit in JS. */
export const EPOCH_MS = (col: string): string => `(extract(epoch FROM ${col}) * 1000)::float8`;

/** A schema name safe to interpolate (letters, digits, underscore). */
export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  return schema;
}
