import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { SqlClient } from './sql-client.js';

/** A numbered migration: `NNN_name.sql` in src/store/migrations/. */
export interface Migration {
  name: string;
  sql: string;
}

/** The migrations directory (next to this file; from a build in dist/, the source tree's). */
export function migrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'migrations'), path.resolve(here, '../../../src/store/migrations')];
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new Error(`migrations not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Every migration in name order. */
export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ name: f.replace(/\.sql$/, ''), sql: readFileSync(path.join(dir, f), 'utf8') }));
}

/**
 * Applies the migrations not yet recorded in schema_migrations, all pending ones in one transaction
 * (PostgreSQL: under an advisory lock, so concurrent starters apply each once; a failing one leaves
 * the store as it was, none of them applied; one transaction, one commit: a fresh database, which
 * takes them all, is ready in one WAL flush instead of one per migration). Returns the names applied,
 * in order; [] when up to date (found by two lookups, without the lock: the usual start). The record table is created
 * in that transaction (a fresh database: one commit, and a failure leaves not even the table).
 * With `durable: false` the commit does not wait for the disk (synchronous_commit off): for a caller whose
 * own work ends with a synchronous commit (an import's finishImport), which flushes the write-ahead log up to
 * it, migrations included (a server crash before that loses both, in order: the next start migrates again);
 * a fresh database's first import then does not wait for one more flush before it can write.
 */
export async function migrate(db: SqlClient, migrations: Migration[] = loadMigrations(), options: { durable?: boolean } = {}): Promise<string[]> {
  // no record table: a fresh database (the table is created below, under the lock, in the migrations' transaction).
  // Asked, not found by a failing lookup: a failed statement costs the pool its connection (a new one is opened)
  const table = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  const recorded = table.rows[0].t === null ? [] : (await db.query<{ name: string }>(RECORDED, [migrations.map((m) => m.name)])).rows;
  const seen = new Set(recorded.map((r) => r.name));
  const pending = migrations.filter((m) => !seen.has(m.name));
  if (pending.length === 0) return [];
  return db.transaction(async (tx) => {
    // the record table created with the migrations: a fresh database's start commits once (a statement of its own,
    // in autocommit, was one more synchronous commit, a WAL flush on the start's critical path), and a failure
    // leaves the database as it was, without it
    await tx.exec(RECORD_TABLE);
    // again under the lock: another starter may have applied some meanwhile
    const again = await tx.query<{ name: string }>(RECORDED, [pending.map((m) => m.name)]);
    const done = new Set(again.rows.map((r) => r.name));
    const applied: string[] = [];
    for (const m of pending) {
      if (done.has(m.name)) continue;
      await tx.exec(m.sql);
      applied.push(m.name);
    }
    if (applied.length > 0) await tx.query('INSERT INTO schema_migrations (name) SELECT unnest($1::text[])', [applied]);
    return applied;
  }, { lock: 7262540, asyncCommit: options.durable === false });
}

const RECORD_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())';
const RECORDED = 'SELECT name FROM schema_migrations WHERE name = ANY($1::text[])';
