/**
 * Which history-store backends a test can run against: always the embedded PGlite, plus a
 * real PostgreSQL when DATABASE_URL is set (as in CI). Each open() is isolated:
 * - pglite: a fresh schema in one in-memory PGlite shared by the test file (starting a
 *   PGlite costs seconds, a schema milliseconds; the initdb result is cached in the OS temp dir);
 * - postgres: a fresh database `omnirec_t_<random>` created via DATABASE_URL, dropped by cleanup().
 * @example
 *   for (const backend of storeBackends()) describe(backend.name, () => {
 *     it('...', async () => { const { store, cleanup } = await backend.open(); try { ... } finally { await cleanup(); } });
 *   });
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';

export interface OpenedStore {
  store: Store;
  /**
   * Another store on the same data, as another instance of the service holds it (postgres: its own pool of
   * connections; pglite: another client of the same instance and schema). Closed by cleanup().
   */
  twin(): Promise<Store>;
  cleanup(): Promise<void>;
}

export interface StoreBackend {
  name: 'pglite' | 'postgres';
  open(options?: { migrate?: boolean }): Promise<OpenedStore>;
}

const randomName = () => `omnirec_t_${randomBytes(6).toString('hex')}`;

let shared: Promise<PGlite> | undefined;

/**
 * An in-memory PGlite, started from a data directory snapshot cached in the OS temp dir when
 * there is one (loading it takes about a third of the time of initdb), else created and snapshotted.
 */
async function startPglite(): Promise<PGlite> {
  let version: string;
  try {
    const pkg = new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url);
    version = (JSON.parse(await readFile(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return PGlite.create('memory://'); // unknown version: no snapshot that could mismatch
  }
  const file = path.join(os.tmpdir(), `omnirec-pglite-${version}-initdb.tar`);
  try {
    const snapshot = await readFile(file);
    return await PGlite.create({ loadDataDir: new Blob([snapshot]) });
  } catch {
    // no (usable) snapshot yet
  }
  const db = await PGlite.create('memory://');
  try {
    const dump = await db.dumpDataDir('none');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
    await rename(tmp, file);
  } catch {
    // caching is an optimisation only
  }
  return db;
}

const pgliteBackend: StoreBackend = {
  name: 'pglite',
  async open(options = {}) {
    shared ??= startPglite();
    const instance = await shared;
    const schema = randomName();
    const store = await openStore({ PGLITE_DIR: 'memory://' }, { pglite: instance, schema, migrate: options.migrate });
    const twins: Store[] = [];
    return {
      store,
      async twin() {
        const t = await openStore({ PGLITE_DIR: 'memory://' }, { pglite: instance, schema, migrate: false });
        twins.push(t);
        return t;
      },
      async cleanup() {
        for (const t of twins) await t.close();
        await store.close();
        await instance.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; SET search_path TO public`);
      },
    };
  },
};

function postgresBackend(url: string): StoreBackend {
  return {
    name: 'postgres',
    async open(options = {}) {
      const name = randomName();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const u = new URL(url);
      u.pathname = `/${name}`;
      const store = await openStore({ DATABASE_URL: u.toString(), PGLITE_DIR: 'memory://' }, { migrate: options.migrate, poolSize: 2 });
      const twins: Store[] = [];
      return {
        store,
        async twin() {
          const t = await openStore({ DATABASE_URL: u.toString(), PGLITE_DIR: 'memory://' }, { migrate: false, poolSize: 2 });
          twins.push(t);
          return t;
        },
        async cleanup() {
          for (const t of twins) await t.close();
          await store.close();
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          try {
            await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          } finally {
            await c.end();
          }
        },
      };
    },
  };
}

/** The backends available here: pglite always, postgres when DATABASE_URL is set. */
export function storeBackends(env: Record<string, string | undefined> = process.env): StoreBackend[] {
  const out: StoreBackend[] = [pgliteBackend];
  if (env.DATABASE_URL) out.push(postgresBackend(env.DATABASE_URL));
  return out;
}
