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
 * Applies the migrations not yet recorded in schema_migrations, each in its own transaction
 * (PostgreSQL: under an advisory lock, so concurrent starters apply each once). Returns the
 * names applied, in order; [] when up to date (found by one lookup, without the lock: the usual start).
 */
export async function migrate(db: SqlClient, migrations: Migration[] = loadMigrations()): Promise<string[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const recorded = await db.query<{ name: string }>('SELECT name FROM schema_migrations WHERE name = ANY($1::text[])', [migrations.map((m) => m.name)]);
  const seen = new Set(recorded.rows.map((r) => r.name));
  const applied: string[] = [];
  for (const m of migrations) {
    if (seen.has(m.name)) continue;
    const done = await db.transaction(async (tx) => {
      // again under the lock: another starter may have applied it meanwhile
      const again = await tx.query('SELECT 1 FROM schema_migrations WHERE name = $1', [m.name]);
      if (again.rowCount > 0) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [m.name]);
      return true;
    }, { lock: 7262540 });
    if (done) applied.push(m.name);
  }
  return applied;
}
